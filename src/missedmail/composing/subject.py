"""The Subject header (behaviour §4.8): one line, whatever names and topics contain."""

from __future__ import annotations

import re

from django.utils.translation import gettext

# Every character of the Unicode categories Cc (CR, LF, TAB, NEL and the other C0/C1
# controls), Zl (U+2028) and Zp (U+2029); the last two are line breaks for some mail
# clients and for Python's str.splitlines(). These sets are closed by Unicode's stability
# policy; a test checks the class against unicodedata over every code point. A regex, not a
# category lookup per character: names and subjects go through here several times per
# email.
LINE_BREAKING_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def single_line(text: str) -> str:
    """`text` with every control or line-separator character replaced by a space."""
    return _LINE_BREAKING.sub(" ", text)


def direct_title(sender_name: str) -> str:
    return gettext("DMs with %(name)s") % {"name": sender_name}


def group_direct_title(names: str) -> str:
    return gettext("Group DMs with %(names)s") % {"names": names}


def stream_title(stream_name: str, topic_name: str, *, resolved: bool) -> str:
    values = {"stream": stream_name, "topic": topic_name}
    if resolved:
        return gettext("[resolved] #%(stream)s > %(topic)s") % values
    return gettext("#%(stream)s > %(topic)s") % values


def hidden_content_title() -> str:
    return gettext("New messages")


def email_subject(title: str, realm_name: str | None) -> str:
    """`title` is the conversation's title (or `New messages`); `realm_name` is given when
    the recipient's realm-name policy asks for the suffix."""
    if realm_name is not None:
        title = gettext("%(title)s [%(realm)s]") % {"title": title, "realm": realm_name}
    return single_line(title)
