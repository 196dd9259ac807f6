"""Regenerate the screenshots of docs/emails.md: `python docs/emails/screenshots.py`.

Renders the sample conversations with `missedmail preview` (in memory, no database) and
photographs them with headless Chromium (Debian's /usr/bin/chromium). The sample realm
(chat.example.com) does not exist, so for the photograph only, each emoji image is
replaced by an inline SVG of the same emoji: the email itself links the realm's images.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
EMOJI_IMAGE = re.compile(
    r"https://chat\.example\.com/static/generated/emoji/images-google-64/([0-9a-f-]+)\.png"
)
SHOTS = [
    # (file name, preview arguments, window height, dark mode)
    ("dm", ["--sample", "dm", "--reply-by-email"], 480, False),
    ("group-dm", ["--sample", "group"], 720, False),
    ("stream-mention", ["--sample", "stream"], 760, False),
    ("content-hidden", ["--sample", "hidden"], 420, False),
    ("stream-mention-dark", ["--sample", "stream"], 760, True),
    ("stream-mention-de", ["--sample", "stream", "--language", "de", "--24-hour"], 800, False),
]


def emoji_svg(match: re.Match[str]) -> str:
    glyph = "".join(chr(int(code, 16)) for code in match[1].split("-"))
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
        f'<text x="32" y="54" font-size="52" text-anchor="middle">{glyph}</text></svg>'
    )
    return "data:image/svg+xml," + quote(svg)


def preview(arguments: list[str]) -> str:
    code = (
        "import os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'tests.settings');"
        "import django; django.setup();"
        "from missedmail.composing.preview import preview_command;"
        "sys.exit(preview_command(sys.argv[1:]))"
    )
    done = subprocess.run(  # noqa: S603 -- our own interpreter and fixed arguments
        [sys.executable, "-c", code, *arguments],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for name, arguments, height, dark in SHOTS:
            page = Path(folder) / f"{name}.html"
            page.write_text(EMOJI_IMAGE.sub(emoji_svg, preview(arguments)), encoding="utf-8")
            command = [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--screenshot={HERE / (name + '.png')}",
                f"--window-size=800,{height}",
            ]
            if dark:
                command += ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]
            run = [*command, page.as_uri()]
            subprocess.run(run, check=True, capture_output=True)  # noqa: S603 -- fixed arguments
            print(f"docs/emails/{name}.png")


if __name__ == "__main__":
    main()
