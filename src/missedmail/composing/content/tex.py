"""Math in an email: mail clients run no KaTeX and most drop MathML, so a formula is shown
as its TeX source between `$$`, in `<code>` so it reads as source rather than prose."""

from __future__ import annotations

import html


def tex_source(tex: str) -> str:
    return f"$${tex.strip()}$$"


def tex_html(tex: str) -> str:
    return f"<code>{html.escape(tex_source(tex), quote=False)}</code>"
