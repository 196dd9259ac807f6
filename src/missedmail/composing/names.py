"""Lists of people's names as the email writes them (behaviour §4.6)."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.translation import gettext, ngettext


def join_names(names: Sequence[str]) -> str:
    """ "A", "A and B", "A, B, and C", then "A, B, and N others" (N = count - 2): the
    group-DM rule, also used for the senders of an email."""
    match len(names):
        case 0:
            return ""
        case 1:
            return names[0]
        case 2:
            return gettext("%(first)s and %(second)s") % {"first": names[0], "second": names[1]}
        case 3:
            return gettext("%(first)s, %(second)s, and %(third)s") % {
                "first": names[0],
                "second": names[1],
                "third": names[2],
            }
    others = len(names) - 2
    return ngettext(
        "%(first)s, %(second)s, and %(count)d other",
        "%(first)s, %(second)s, and %(count)d others",
        others,
    ) % {"first": names[0], "second": names[1], "count": others}
