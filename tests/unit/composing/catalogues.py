"""Reading gettext catalogues (.po) without a gettext installation, for the tests that
check the shipped translations are complete and compiled."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import missedmail

LOCALE_DIR = Path(missedmail.__file__).resolve().parent / "locale"


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file (the header entry, with the empty msgid, included)."""
    entries: list[Entry] = []
    entry = Entry()
    target: tuple[str, int] | None = None

    def finish() -> None:
        nonlocal entry, target
        if target is not None:
            entries.append(entry)
        entry, target = Entry(), None

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            finish()
        elif line.startswith("#,"):
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            assert target is not None, line
            _append(entry, target, ast.literal_eval(line))
        else:
            keyword, _, quoted = line.partition(" ")
            if keyword.startswith("msgstr["):
                target = ("msgstr", int(keyword[7:-1]))
            else:
                target = (keyword, 0)
            _append(entry, target, ast.literal_eval(quoted), start=True)
    finish()
    return entries


def _append(entry: Entry, target: tuple[str, int], text: str, *, start: bool = False) -> None:
    keyword, index = target
    if keyword == "msgstr":
        entry.msgstr[index] = ("" if start else entry.msgstr[index]) + text
    elif keyword == "msgid":
        entry.msgid = ("" if start else entry.msgid) + text
    elif keyword == "msgid_plural":
        entry.msgid_plural = ("" if start else entry.msgid_plural or "") + text
    elif keyword == "msgctxt":
        entry.msgctxt = ("" if start else entry.msgctxt or "") + text
    else:
        raise AssertionError(f"unknown keyword {keyword}")
