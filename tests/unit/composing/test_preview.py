"""`missedmail preview` with the built-in samples: composed in memory, no database."""

from __future__ import annotations

import io
from html.parser import HTMLParser
from pathlib import Path

import pytest

from missedmail.composing.preview import SampleSource, preview_command, render_preview
from missedmail.composing.samples import SampleKind, sample_email


class Texts(HTMLParser):
    def __init__(self, document: str) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.feed(document)

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.texts.append(data.strip())


@pytest.mark.parametrize(
    ("kind", "heading"),
    [
        (SampleKind.DM, "DMs with Othello, the Moor of Venice"),
        (SampleKind.GROUP, "Group DMs with Othello, the Moor of Venice, Iago, and Cordelia, "),
        (SampleKind.STREAM, "#Denmark > castle walls"),
        (SampleKind.HIDDEN, "New messages"),
    ],
)
def test_each_sample_renders_a_whole_email_document(kind: SampleKind, heading: str) -> None:
    document = render_preview(SampleSource(kind))

    assert document.startswith("<!DOCTYPE html>")
    texts = Texts(document).texts
    assert texts[1].startswith(heading)  # after the <title>


def test_the_stream_sample_shows_the_mention_with_its_context_senders_first() -> None:
    text = render_preview(SampleSource(SampleKind.STREAM), "plain")

    senders = [line for line in text.splitlines() if line.endswith(":") and line[0] != ">"]
    assert senders[:3] == ["Iago:", "Cordelia, Lear's daughter:", "Othello, the Moor of Venice:"]
    assert "You are receiving this because you were personally mentioned." in text


def test_the_hidden_sample_shows_no_content() -> None:
    for part in ("html", "plain"):
        shown = render_preview(SampleSource(SampleKind.HIDDEN), part)  # type: ignore[arg-type]
        for secret in ("castle walls", "cracked", "Othello", "Iago"):
            assert secret not in shown


def test_the_command_writes_the_html_part_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "dm.html"

    assert preview_command(["--sample", "dm", "--out", str(out)]) == 0

    assert out.read_text(encoding="utf-8") == sample_email(SampleKind.DM).html


def test_the_command_writes_the_text_part_to_stdout_in_the_chosen_language() -> None:
    stdout = io.StringIO()

    assert preview_command(["--sample", "group", "--text", "--language", "de"], stdout) == 0

    assert stdout.getvalue() == sample_email(SampleKind.GROUP, language="de").text
    assert "In Zulip Dev antworten:" in stdout.getvalue()


def test_the_sample_with_a_gateway_invites_replies_by_email() -> None:
    stdout = io.StringIO()

    assert preview_command(["--sample", "dm", "--text", "--reply-by-email"], stdout) == 0

    assert "Reply to this email directly, or view it in Zulip Dev:" in stdout.getvalue()


def test_the_default_is_the_stream_sample() -> None:
    stdout = io.StringIO()

    assert preview_command([], stdout) == 0

    assert "castle walls" in stdout.getvalue()


def test_an_unwritable_output_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert preview_command(["--out", str(tmp_path / "missing" / "x.html")]) == 1

    assert capsys.readouterr().err.startswith("missedmail: error: cannot write ")


def test_an_unknown_sample_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_:
        preview_command(["--sample", "nope"])
    assert exit_.value.code == 2
