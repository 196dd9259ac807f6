"""The rendering cache is bounded by the characters it holds (content, rendering and a
fixed overhead per entry), and forgets the least recently used renderings first."""

from __future__ import annotations

from missedmail.composing.content import ENTRY_OVERHEAD, RenderContext, _Renderings

CTX = RenderContext(realm_url="https://chat.example.com", timezone="", twenty_four_hour_time=False)


class CountingRenderer:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, text: str) -> str:
        self.calls.append(text)
        return f"<p>{text}</p>"


def render(cache: _Renderings, text: str, renderer: CountingRenderer) -> str:
    return cache.rendering(("html", text, None), CTX, lambda _ctx: renderer(text))


def entry_cost(text: str) -> int:
    # One content entry and one rendering entry.
    return len(text) + ENTRY_OVERHEAD + len(f"<p>{text}</p>") + ENTRY_OVERHEAD


def test_what_the_cache_holds_never_exceeds_its_budget() -> None:
    budget = 10 * entry_cost("message 00")
    cache = _Renderings(budget)
    renderer = CountingRenderer()

    for n in range(100):
        render(cache, f"message {n:02d}", renderer)
        assert cache.held() <= budget

    assert cache.held() == budget  # ten entries of equal size fill it exactly
    assert len(renderer.calls) == 100


def test_a_rendering_used_again_is_kept_and_the_least_recently_used_one_goes() -> None:
    cache = _Renderings(3 * entry_cost("message 0"))
    renderer = CountingRenderer()
    for text in ("message 0", "message 1", "message 2"):
        render(cache, text, renderer)

    render(cache, "message 0", renderer)  # a hit: now the most recently used
    render(cache, "message 3", renderer)  # evicts "message 1", the least recently used
    render(cache, "message 0", renderer)
    render(cache, "message 2", renderer)
    render(cache, "message 1", renderer)  # rendered again

    assert renderer.calls == ["message 0", "message 1", "message 2", "message 3", "message 1"]


def test_a_long_message_takes_the_room_of_several_short_ones() -> None:
    shorts = [f"short {n}" for n in range(6)]
    budget = 6 * entry_cost(shorts[0])
    cache = _Renderings(budget)
    renderer = CountingRenderer()
    for text in shorts:
        render(cache, text, renderer)
    # Costs as much as three short ones: 2 * len + the rendering's `<p></p>` + overheads.
    long = "l" * ((3 * entry_cost(shorts[0]) - 7 - 2 * ENTRY_OVERHEAD) // 2)
    assert entry_cost(long) == 3 * entry_cost(shorts[0])

    render(cache, long, renderer)
    assert cache.held() == budget
    for text in [long, *shorts[3:]]:
        render(cache, text, renderer)  # all still held
    render(cache, shorts[0], renderer)  # gone with the two after it

    assert renderer.calls == [*shorts, long, shorts[0]]


def test_clearing_gives_back_the_whole_budget() -> None:
    cache = _Renderings(10_000)
    render(cache, "hello", CountingRenderer())
    assert cache.held() == entry_cost("hello")

    cache.clear()

    assert cache.held() == 0
