"""Header values that cannot inject anything, and the email policy that writes them.

Everything that goes into a header passes through `one_line` first: a CR, LF or any other
control or line-separator character becomes a space, so no value can end a header and start
another (behaviour §9, "header injection is impossible"). `str.splitlines`, which the email
package uses in places, also breaks on \\v, \\f, \\x1c-\\x1e, \\x85, U+2028 and U+2029; all of
them are covered.

Addresses, display names and the subject are written here rather than by
`email.headerregistry`, which quietly drops comments (`a(b)@c` becomes `a@c`), writes an
internationalised domain as an encoded word (no mail server accepts that), turns long
message ids into encoded words (threading breaks), and writes text that looks like an
encoded word (`=?utf-8?q?x?=`) as is, so that readers decode it into something else.
Here, any text that is not plain ASCII words becomes RFC 2047 encoded words, and the
header is written exactly as built (`VerbatimHeader`).
"""

from __future__ import annotations

import re
from base64 import b64encode
from email import policy as email_policy
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy, Policy

# RFC 5322 atext; a local part is a dot-atom of it (quoted local parts are not accepted).
ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-"
LOCAL_PART = re.compile(rf"[{ATEXT}]+(?:\.[{ATEXT}]+)*")
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN = re.compile(rf"{LABEL}(?:\.{LABEL})*")
PHRASE_ATOMS = re.compile(rf"[{ATEXT} ]+")
# RFC 2047: an encoded word is at most 75 characters; "=?utf-8?b?" + "?=" leave 63 for
# base64, i.e. 45 bytes of UTF-8.
ENCODED_WORD_MAX_BYTES = 45
FOLD_AT = 78  # RFC 5322's "SHOULD"
MAX_LINE = 998  # RFC 5322's "MUST" (and SMTP's limit), CRLF not counted
MAX_PLAIN_WORD = 75
REPLACEMENT = "\N{REPLACEMENT CHARACTER}"
LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # Cc, Zl, Zp
SURROGATE = re.compile(r"[\ud800-\udfff]")  # Cs
UNSAFE_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


class InvalidAddressError(ValueError):
    """An email address we cannot put in a header or an SMTP envelope."""


def one_line(value: str) -> str:
    """`value` with every control, line- or paragraph-separator character replaced by a space
    (a lone surrogate, which cannot be encoded, by U+FFFD)."""
    # Regular expressions rather than a `unicodedata.category` call per character: this runs
    # on every header of every email. The classes are the categories Cc (U+0000-001F,
    # U+007F-009F), Zl (U+2028), Zp (U+2029) and Cs (U+D800-DFFF), which the old per-character
    # check used; a test compares them with `unicodedata` over every code point.
    if UNSAFE_CHARACTER.search(value) is None:
        return value
    return SURROGATE.sub(REPLACEMENT, LINE_BREAKING.sub(" ", value))


def ascii_domain(domain: str) -> str:
    """The domain in ASCII (IDNA for an internationalised one); InvalidAddressError if it is
    not a host name."""
    try:
        encoded = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        raise InvalidAddressError("domain cannot be encoded") from None
    if len(encoded) > 253 or not DOMAIN.fullmatch(encoded):
        raise InvalidAddressError("domain is not a host name")
    return encoded.lower()


def split_address(address: str) -> tuple[str, str]:
    """(local part, ASCII domain) of a plain `local@domain` address."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not LOCAL_PART.fullmatch(local) or len(local) > 64:
        # A non-ASCII local part would need SMTPUTF8, which we do not assume of the server.
        raise InvalidAddressError("local part is not a plain ASCII dot-atom")
    return local, ascii_domain(domain)


def mailbox(display_name: str, address: str) -> str:
    """`Name <local@domain>` (or the bare address without a name), ready to write."""
    addr_spec = envelope_address(address)
    name = phrase(display_name)
    return f"{name} <{addr_spec}>" if name else addr_spec


def envelope_address(address: str) -> str:
    local, domain = split_address(address)
    return f"{local}@{domain}"


def _needs_encoding(text: str) -> bool:
    # "=?" would be read back as the start of an encoded word, and a word too long for a
    # line cannot be folded: both are written as encoded words, as non-ASCII text is.
    return (
        not text.isascii()
        or "=?" in text
        or any(len(word) > MAX_PLAIN_WORD for word in text.split(" "))
    )


def header_text(text: str) -> str:
    """Unstructured text (Subject) on one line, ASCII: as is, or as RFC 2047 encoded words."""
    text = one_line(text)
    return " ".join(_encoded_words(text)) if _needs_encoding(text) else text


def phrase(text: str) -> str:
    """`text` as an RFC 5322 phrase: bare atoms, a quoted string, or RFC 2047 encoded words."""
    text = one_line(text).strip()
    if not text:
        return ""
    if _needs_encoding(text):
        return " ".join(_encoded_words(text))
    if PHRASE_ATOMS.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _encoded_words(text: str) -> list[str]:
    # Whitespace between adjacent encoded words is dropped when decoding, so splitting a
    # string between any two characters (never inside one) loses nothing.
    chunks: list[bytes] = [b""]
    for char in text:
        data = char.encode("utf-8")
        if len(chunks[-1]) + len(data) > ENCODED_WORD_MAX_BYTES:
            chunks.append(b"")
        chunks[-1] += data
    return [f"=?utf-8?b?{b64encode(chunk).decode('ascii')}?=" for chunk in chunks]


def list_id(realm_name: str, realm_host: str) -> str:
    """RFC 2919 List-Id: `Realm Name <realm.host>`."""
    name = phrase(realm_name)
    host = ascii_domain(realm_host)
    return f"{name} <{host}>" if name else f"<{host}>"


class VerbatimHeader(UnstructuredHeader, BaseHeader):
    """A header written exactly as given (folded at spaces only: `fold_verbatim`).

    The default unstructured header turns any word longer than a line into an RFC 2047
    encoded word, which breaks Message-ID style values (`In-Reply-To` with a long topic
    stops threading) and URLs. The values given here are ASCII we built ourselves; a non-ASCII
    one, or one with a word too long for any line, falls back to the default folding rather
    than producing invalid bytes.
    """

    max_count = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, object]) -> None:
        super().parse(value, kwds)
        kwds["decoded"] = value  # as given: do not decode encoded words we wrote on purpose

    def fold(self, *, policy: Policy) -> str:
        folded = fold_verbatim(self.name, str(self), policy.linesep)
        return super().fold(policy=policy) if folded is None else folded


def fold_verbatim(name: str, value: str, linesep: str = "\r\n") -> str | None:
    """`Name: value` + linesep, folded at spaces only; None when `value` is not ASCII or
    would make a line longer than SMTP's 998 characters (a very long word or run of spaces),
    which the caller then writes as the `email` package's default does (RFC 2047 encoded
    words: they read back as the same text).

    `value` must already be one line (`one_line`, `mailbox`, `header_text`, `list_id`).
    """
    if not value.isascii():
        return None
    if len(name) + 2 + len(value) <= FOLD_AT:  # the usual case: it fits on one line
        return f"{name}: {value}{linesep}"
    lines: list[str] = []
    current = f"{name}:"
    for number, word in enumerate(value.split(" ")):
        # Never fold before an empty word: a whitespace-only line is obsolete syntax.
        if number and word and len(current) + 1 + len(word) > FOLD_AT:
            lines.append(current)
            current = ""
        current += f" {word}"
    lines.append(current)
    if max(len(line) for line in lines) > MAX_LINE:
        return None
    return linesep.join(lines) + linesep


# Every header whose value we build: written exactly as built, nothing re-encoded.
VERBATIM_HEADERS = (
    "from",
    "to",
    "reply-to",
    "subject",
    "message-id",
    "in-reply-to",
    "references",
    "list-id",
    "list-unsubscribe",
)


def outgoing_policy() -> EmailPolicy[EmailMessage]:
    """SMTP line endings (CRLF), 7-bit clean bodies, and our verbatim headers."""
    registry = HeaderRegistry()
    for name in VERBATIM_HEADERS:
        registry.map_to_type(name, VerbatimHeader)
    return email_policy.SMTP.clone(header_factory=registry, cte_type="7bit")
