from __future__ import annotations

import re

import pytest

from missedmail.outbox.headers import (
    InvalidAddressError,
    envelope_address,
    header_text,
    mailbox,
    one_line,
    phrase,
)


@pytest.mark.parametrize(
    "separator",
    [
        "\r",
        "\n",
        "\r\n",
        "\x00",
        "\t",
        "\x0b",
        "\x0c",
        "\x1c",
        "\x1d",
        "\x1e",
        "\x7f",
        "\x85",
        "\u2028",
        "\u2029",
    ],
)
def test_every_line_breaking_or_control_character_becomes_a_space(separator: str) -> None:
    assert one_line(f"topic{separator}Bcc: evil@example.com") == (
        "topic" + " " * len(separator) + "Bcc: evil@example.com"
    )


def test_one_line_keeps_ordinary_text_emoji_and_joiners() -> None:
    text = "Ünïcödé 👩‍💻 topic — «quoted» ✔ done"
    assert one_line(text) == text


def test_a_lone_surrogate_becomes_the_replacement_character() -> None:
    assert one_line("a\ud800b") == "a\ufffdb"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("King Hamlet", "King Hamlet"),
        ("Othello, the Moor of Venice", '"Othello, the Moor of Venice"'),
        ('Iago "honest" \\ Iago', '"Iago \\"honest\\" \\\\ Iago"'),
        ("  ", ""),
        ("=?utf-8?q?Admin?=", "=?utf-8?b?PT91dGYtOD9xP0FkbWluPz0=?="),
    ],
)
def test_a_phrase_is_atoms_a_quoted_string_or_encoded_words(name: str, expected: str) -> None:
    assert phrase(name) == expected


def test_long_non_ascii_text_becomes_encoded_words_of_at_most_75_characters() -> None:
    encoded = phrase("Zoë Ångström " * 20)

    words = encoded.split(" ")
    assert len(words) > 1
    assert all(re.fullmatch(r"=\?utf-8\?b\?[A-Za-z0-9+/=]+\?=", word) for word in words)
    assert max(len(word) for word in words) <= 75


def test_subject_text_that_is_plain_ascii_stays_readable() -> None:
    assert header_text("#Denmark > release plan") == "#Denmark > release plan"
    assert header_text("DMs with Zoë").startswith("=?utf-8?b?")


def test_a_mailbox_without_a_name_is_the_bare_address() -> None:
    assert mailbox("", "noreply@example.com") == "noreply@example.com"
    assert mailbox("Iago", "Iago@Example.COM") == "Iago <Iago@example.com>"


@pytest.mark.parametrize(
    "address", ["iago", "iago@", "iago@-example.com", "iago@exa_mple.com", "i ago@example.com"]
)
def test_an_address_that_is_not_local_at_host_is_refused(address: str) -> None:
    with pytest.raises(InvalidAddressError):
        envelope_address(address)
