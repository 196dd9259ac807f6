"""Every shipped language, checked: the catalogue is complete and compiled, and an email
composed in it says everything in it (subject, summary, sentences, reasons, dates)."""

from __future__ import annotations

import gettext
import html
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from missedmail.composing.entries import NotifiedMessage
from missedmail.composing.languages import EMAIL_LANGUAGES
from missedmail.composing.mentions import GroupInfo
from missedmail.composing.samples import (
    SampleKind,
    compose_conversation,
    sample_email,
    sample_org,
    stream_message,
)
from missedmail.core.models import UserMessageFlag
from missedmail.events import Trigger
from tests.services import require
from tests.unit.composing.catalogues import LOCALE_DIR, read_po

TRANSLATED = [language for language in EMAIL_LANGUAGES if language != "en"]


@dataclass(frozen=True)
class Expected:
    dm_subject: str
    group_subject: str
    summary: str  # of the stream sample: one mention by Othello
    personal_reason: str
    stream_reason: str
    action: str
    hidden_subject: str
    hidden_notice: str
    spoiler_note: str
    time_12h: str  # <time:2026-11-28T15:00:00Z> for a reader in UTC
    time_24h: str  # the same in Berlin, 24-hour clock


EXPECTED = {
    "en": Expected(
        dm_subject="DMs with Othello, the Moor of Venice",
        group_subject="Group DMs with Othello, the Moor of Venice, Iago, and Cordelia, "
        "Lear's daughter",
        summary="1 new message, with mentions by Othello, the Moor of Venice",
        personal_reason="You are receiving this because you were personally mentioned.",
        stream_reason=(
            "You are receiving this because you have email notifications enabled for #Denmark."
        ),
        action="Reply in Zulip Dev:",
        hidden_subject="New messages",
        hidden_notice="This email does not include message content because you have "
        "disabled message content in email notifications.",
        spoiler_note="(Open the conversation to see the spoiler content)",
        time_12h="Sat, Nov 28, 2026, 3:00 PM UTC",
        time_24h="Sat, Nov 28, 2026, 16:00 CET",
    ),
    "de": Expected(
        dm_subject="Direktnachrichten mit Othello, the Moor of Venice",
        group_subject="Gruppen-Direktnachrichten mit Othello, the Moor of Venice, Iago und "
        "Cordelia, Lear's daughter",
        summary="1 neue Nachricht, mit Erwähnungen von Othello, the Moor of Venice",
        personal_reason="Sie erhalten diese E-Mail, weil Sie persönlich erwähnt wurden.",
        stream_reason="Sie erhalten diese E-Mail, weil Sie E-Mail-Benachrichtigungen für "
        "#Denmark aktiviert haben.",
        action="In Zulip Dev antworten:",
        hidden_subject="Neue Nachrichten",
        hidden_notice="Diese E-Mail enthält keine Nachrichteninhalte, weil Sie "
        "Nachrichteninhalte in E-Mail-Benachrichtigungen deaktiviert haben.",
        spoiler_note="(Öffnen Sie die Unterhaltung, um den Spoiler-Inhalt zu sehen)",
        time_12h="Sa., 28. November 2026, 3:00 PM UTC",
        time_24h="Sa., 28. November 2026, 16:00 CET",
    ),
    "fr": Expected(
        dm_subject="Messages directs avec Othello, the Moor of Venice",
        group_subject="Messages directs de groupe avec Othello, the Moor of Venice, Iago et "
        "Cordelia, Lear's daughter",
        summary="1 nouveau message, avec des mentions de Othello, the Moor of Venice",
        personal_reason=(
            "Vous recevez cet e-mail parce que vous avez été mentionné personnellement."
        ),
        stream_reason="Vous recevez cet e-mail parce que vous avez activé les notifications "
        "par e-mail pour #Denmark.",
        action="Répondez dans Zulip Dev\u00a0:",
        hidden_subject="Nouveaux messages",
        hidden_notice="Cet e-mail ne contient pas le contenu des messages, car vous avez "
        "désactivé le contenu des messages dans les notifications par e-mail.",
        spoiler_note="(Ouvrez la conversation pour voir le contenu masqué)",
        time_12h="samedi 28 novembre 2026 à 3:00 PM UTC",
        time_24h="samedi 28 novembre 2026 à 16:00 CET",
    ),
    "es": Expected(
        dm_subject="Mensajes directos con Othello, the Moor of Venice",
        group_subject="Mensajes directos de grupo con Othello, the Moor of Venice, Iago y "
        "Cordelia, Lear's daughter",
        summary="1 mensaje nuevo, con menciones de Othello, the Moor of Venice",
        personal_reason="Recibes este correo porque te mencionaron personalmente.",
        stream_reason="Recibes este correo porque tienes activadas las notificaciones por "
        "correo para #Denmark.",
        action="Responde en Zulip Dev:",
        hidden_subject="Mensajes nuevos",
        hidden_notice="Este correo no incluye el contenido de los mensajes porque has "
        "desactivado el contenido de los mensajes en las notificaciones por correo.",
        spoiler_note="(Abre la conversación para ver el contenido oculto)",
        time_12h="sábado, 28 de noviembre de 2026, 3:00 p.\u00a0m. UTC",
        time_24h="sábado, 28 de noviembre de 2026, 16:00 CET",
    ),
}


def test_every_shipped_language_has_its_expectations() -> None:
    assert set(EXPECTED) == set(EMAIL_LANGUAGES)


@pytest.mark.parametrize("language", EMAIL_LANGUAGES)
def test_the_subjects_are_translated(language: str) -> None:
    expected = EXPECTED[language]
    assert sample_email(SampleKind.DM, language=language).subject == expected.dm_subject
    assert sample_email(SampleKind.GROUP, language=language).subject == expected.group_subject
    assert sample_email(SampleKind.HIDDEN, language=language).subject == expected.hidden_subject


@pytest.mark.parametrize("language", EMAIL_LANGUAGES)
def test_the_body_sentences_and_reason_are_translated_in_both_parts(language: str) -> None:
    expected = EXPECTED[language]
    email = sample_email(SampleKind.STREAM, language=language)
    for part in (email.text, html.unescape(email.html)):
        for sentence in (expected.personal_reason, expected.action):
            assert sentence in part
    assert expected.summary in html.unescape(email.html)
    assert f'<html lang="{language}" dir="ltr">' in email.html
    assert email.language == language


@pytest.mark.parametrize("language", EMAIL_LANGUAGES)
def test_the_stream_notification_reason_is_translated(language: str) -> None:
    org = sample_org(language=language)
    message = stream_message(org, 5001, 11, "Denmark", "walls", "news")
    email = compose_conversation(
        org, [NotifiedMessage(message, Trigger.STREAM_EMAIL_NOTIFY, None, 0)]
    )
    assert EXPECTED[language].stream_reason in email.text


@pytest.mark.parametrize("language", EMAIL_LANGUAGES)
def test_the_hidden_content_notice_is_translated(language: str) -> None:
    email = sample_email(SampleKind.HIDDEN, language=language)
    assert EXPECTED[language].hidden_notice in email.text
    assert EXPECTED[language].hidden_notice in html.unescape(email.html)


@pytest.mark.parametrize("language", EMAIL_LANGUAGES)
def test_the_spoiler_note_and_times_are_translated(language: str) -> None:
    expected = EXPECTED[language]
    email = sample_email(SampleKind.DM, language=language)
    assert expected.spoiler_note in email.text
    assert expected.spoiler_note in html.unescape(email.html)
    assert expected.time_12h in email.text
    assert f">{expected.time_12h}</time>" in html.unescape(email.html)
    berlin = sample_email(
        SampleKind.DM, language=language, timezone="Europe/Berlin", twenty_four_hour_time=True
    )
    assert expected.time_24h in berlin.text


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_english_sentence_is_left_in_a_translated_email(language: str) -> None:
    """Every kind of email, every reason: the English words of our sentences never appear
    (the sample messages' own content is English, so only our sentences are checked)."""
    english = EXPECTED["en"]
    org = sample_org(language=language)
    triggers = [
        (Trigger.MENTIONED, 7),  # a group mention
        (Trigger.TOPIC_WILDCARD_MENTIONED, None),
        (Trigger.STREAM_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC, None),
        (Trigger.STREAM_WILDCARD_MENTIONED, None),
        (Trigger.FOLLOWED_TOPIC_EMAIL_NOTIFY, None),
    ]
    for number, (trigger, group) in enumerate(triggers):
        message = stream_message(org, 6001 + number, 11, "Denmark", "", "news")
        email = compose_conversation(
            org,
            [NotifiedMessage(message, trigger, group, UserMessageFlag.MENTIONED)],
            groups={7: GroupInfo(7, "actors", 3)},
            realm_name_in_subject=True,
        )
        assert "You are receiving this" not in email.text
        assert "general chat" not in email.subject
        assert email.subject.endswith(" [Zulip Dev]")
    for kind in SampleKind:
        email = sample_email(kind, language=language, reply_by_email=kind == SampleKind.DM)
        for sentence in (english.action, "Manage email preferences", "Open in", "new message"):
            assert sentence not in email.text
            assert sentence not in html.unescape(email.html)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_catalogue_is_complete_and_its_compiled_form_matches(language: str) -> None:
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    entries = [entry for entry in read_po(folder / "django.po") if entry.msgid]
    assert entries
    with (folder / "django.mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    for entry in entries:
        assert "fuzzy" not in entry.flags, entry.msgid
        assert all(entry.msgstr.values()), f"untranslated: {entry.msgid!r}"
        if entry.msgid_plural is None and entry.msgctxt is None:
            assert catalogue.gettext(entry.msgid) == entry.msgstr[0]
        elif entry.msgid_plural is None:
            assert catalogue.pgettext(entry.msgctxt, entry.msgid) == entry.msgstr[0]
        else:
            assert catalogue.ngettext(entry.msgid, entry.msgid_plural, 1) == entry.msgstr[0]
            assert catalogue.ngettext(entry.msgid, entry.msgid_plural, 5) == entry.msgstr[1]


def test_the_catalogues_hold_every_string_the_code_translates(tmp_path: Path) -> None:
    """`makemessages` on a copy finds nothing that the shipped catalogues lack: a new or
    changed sentence cannot ship untranslated unnoticed."""
    require(shutil.which("xgettext") is not None, "GNU gettext (xgettext)")
    package = LOCALE_DIR.parent
    copy = tmp_path / "missedmail"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    # No DJANGO_SETTINGS_MODULE: with the project's settings, makemessages would write into
    # LOCALE_PATHS (the real catalogues) rather than into the copy's locale folder.
    subprocess.run(
        [
            sys.executable,
            # -P: the package's own `queue` folder must not shadow the standard library's.
            *("-P", "-m", "django", "makemessages"),
            "--all",
            "--no-location",
            *("--ignore", "ops/*", "--ignore", "worker/*", "--ignore", "queue/*"),
        ],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
    )
    for language in TRANSLATED:
        fresh = read_po(copy / "locale" / language / "LC_MESSAGES" / "django.po")
        untranslated = [e.msgid for e in fresh if e.msgid and not all(e.msgstr.values())]
        fuzzy = [e.msgid for e in fresh if "fuzzy" in e.flags and e.msgid]
        assert (untranslated, fuzzy) == ([], []), language
