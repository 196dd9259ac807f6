"""How the operator page writes numbers people read at a glance."""

from __future__ import annotations

UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def duration(seconds: float | None) -> str:
    """`None` → "—"; otherwise the two largest units, e.g. "2 min 5 s", "3 h 0 min"."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{max(seconds, 0.0):.1f} s"
    remaining = int(seconds)
    parts: list[str] = []
    for unit, size in UNITS:
        if remaining >= size or parts:
            parts.append(f"{remaining // size} {unit}")
            remaining %= size
        if len(parts) == 2:
            break
    return " ".join(parts)
