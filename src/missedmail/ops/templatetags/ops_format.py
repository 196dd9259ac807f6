from __future__ import annotations

from django import template

from missedmail.ops import formatting

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    return formatting.duration(seconds)
