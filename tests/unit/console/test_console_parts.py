"""The console's parts without pages: the check-in form, case rows, languages, sealing,
the German catalog and the vendored htmx."""

import hashlib
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from kinship_console.adapters.sessions import SessionSealer, session_hash
from kinship_console.domain.cases import CaseFacts, case_rows
from kinship_console.domain.checkin_form import parse_checkin_form
from kinship_console.entrypoints.i18n import (
    Catalogs,
    date_text,
    language_of,
    negotiate_locale,
    preferred_languages,
)
from kinship_console.settings import DEV_SESSION_KEY
from tests.unit.console.conftest import console_settings

REPO = Path(__file__).resolve().parents[3]
CONSOLE = REPO / "services" / "console" / "kinship_console"
SUBMISSION = "console-" + "0" * 32


def test_a_full_form_becomes_a_submission_of_the_person() -> None:
    form = {
        "submission_id": SUBMISSION,
        "mood": "1",
        "stress": "5",
        "energy": "2",
        **{f"who5_{n}": str(n - 1) for n in range(1, 6)},
        **{f"phq9_{n}": "3" for n in range(1, 10)},
        "note": "hello\r\nthere",
        "wants_contact": "yes",
    }
    parsed = parse_checkin_form(form)
    assert parsed.valid
    at = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    submission = parsed.answers.submission(SUBMISSION, "ada", at)
    assert submission.who5 == [0, 1, 2, 3, 4]
    assert submission.phq9 == [3] * 9
    assert submission.note == "hello\nthere"
    assert submission.occurred_at == at


@pytest.mark.parametrize(
    ("form", "field", "code"),
    [
        ({"mood": "6"}, "mood", "out_of_range"),
        ({"mood": "0"}, "mood", "out_of_range"),
        ({"stress": "two"}, "stress", "out_of_range"),
        ({"mood": "\u00b2"}, "mood", "out_of_range"),  # a digit to str.isdigit, not to int()
        ({"energy": "\u0663"}, "energy", "out_of_range"),  # Arabic-Indic three
        ({"phq9_1": "4", "mood": "3"}, "phq9_1", "out_of_range"),
        ({"phq9_1": "1", "phq9_2": "1"}, "phq9_3", "phq9_incomplete"),
        ({"who5_5": "1"}, "who5_1", "who5_incomplete"),
        ({"note": "x" * 2001, "mood": "3"}, "note", "note_too_long"),
        ({"note": "a\x00b", "mood": "3"}, "note", "note_invalid"),
        ({}, "mood", "nothing_answered"),
        ({"wants_contact": "on"}, "mood", "nothing_answered"),
    ],
)
def test_what_cannot_be_sent_is_named(form: dict[str, str], field: str, code: str) -> None:
    parsed = parse_checkin_form({"submission_id": SUBMISSION, **form})
    assert not parsed.valid
    assert parsed.errors[field] == code


def test_a_note_alone_or_a_request_for_contact_alone_is_a_check_in() -> None:
    assert parse_checkin_form({"submission_id": SUBMISSION, "note": "hi"}).valid
    alone = parse_checkin_form({"submission_id": SUBMISSION, "wants_contact": "yes"})
    assert alone.valid
    assert alone.answers.submission(SUBMISSION, "ada", datetime.now(UTC)).wants_contact


@pytest.mark.parametrize("submission_id", ["", "console-xyz", "other-" + "0" * 32])
def test_a_form_without_its_own_id_is_out_of_date(submission_id: str) -> None:
    parsed = parse_checkin_form({"submission_id": submission_id, "mood": "3"})
    assert parsed.errors == {"submission_id": "form_expired"}
    assert parsed.submission_id is None


def test_cases_are_ordered_by_severity_then_age() -> None:
    now = datetime.now(UTC)
    rows = case_rows(
        [
            CaseFacts("m-old", "medium", "opened", now - timedelta(days=3)),
            CaseFacts("c-new", "critical", "assigned", now - timedelta(minutes=1)),
            CaseFacts("h", "high", "acknowledged", now - timedelta(hours=1)),
            CaseFacts("c-old", "critical", "assigned", now - timedelta(hours=2)),
            CaseFacts("future", "medium", "opened", now + timedelta(seconds=5)),
        ],
        now,
    )
    assert [row.case_id for row in rows] == ["c-old", "c-new", "h", "m-old", "future"]
    assert rows[-1].age == timedelta(0)  # a clock ahead of ours is not a negative age


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("de-DE", "de-DE"),
        ("de", "de"),
        ("de_AT", "de-AT"),
        ("en-US,en;q=0.9,de;q=0.8", "en-US"),
        ("en-gb", "en-GB"),
        ("fr-FR, en-GB;q=0.5", "en-GB"),
        ("de-ZZ", "de"),
        ("en-GB-oxendict", "en"),
        ('en-GB"><script>', "en"),
        ("fr;q=1, de;q=0.7, en;q=0.3", "de"),
        ("de;q=0, en", "en"),
        ("*", "en"),
        ("", "en"),
        (None, "en"),
        ("de;q=oops", "en"),
    ],
)
def test_browser_language_negotiation(header: str | None, locale: str) -> None:
    assert negotiate_locale(header) == locale


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en-GB", "29 Nov 2026"),
        ("en-US", "Nov 29, 2026"),
        ("en", "Nov 29, 2026"),
        ("de-AT", "29.11.2026"),
    ],
)
def test_dates_follow_the_browsers_region(locale: str, expected: str) -> None:
    assert date_text(date(2026, 11, 29), locale) == expected


def test_a_regional_locale_reads_its_languages_catalog() -> None:
    catalogs = Catalogs()
    assert language_of("de-AT") == "de"
    assert catalogs.get("de-AT") is catalogs.get("de")
    assert catalogs.get("en-GB") is catalogs.get("en")


def test_accept_language_is_ordered_by_quality_then_position() -> None:
    assert preferred_languages("a;q=0.5, b, c;q=0.9, d") == ["b", "d", "c", "a"]


def test_sealed_sessions_open_only_under_their_key_and_id() -> None:
    key = os.urandom(32)
    sealer = SessionSealer(key, "k1")
    sealed = sealer.seal(session_hash("one"), {"access_token": "secret-token"})
    assert b"secret-token" not in sealed
    assert sealer.open(session_hash("one"), sealed) == {"access_token": "secret-token"}
    assert sealer.open(session_hash("two"), sealed) is None  # moved to another id
    assert SessionSealer(os.urandom(32), "k2").open(session_hash("one"), sealed) is None
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    assert sealer.open(session_hash("one"), tampered) is None


def test_production_refuses_the_local_stacks_keys_and_plain_http() -> None:
    with pytest.raises(ValueError, match="session key"):
        console_settings(console_session_key=DEV_SESSION_KEY)
    with pytest.raises(ValueError, match="client secret"):
        console_settings(console_oidc_client_secret="kinship-console-dev-secret")
    with pytest.raises(ValueError, match="https"):
        console_settings(console_public_url="http://console.internal.test")
    with pytest.raises(ValueError, match="32 bytes"):
        console_settings(console_session_key="c2hvcnQ=")
    dev = console_settings(
        env="dev",
        console_session_key=DEV_SESSION_KEY,
        console_oidc_client_secret="kinship-console-dev-secret",
    )
    assert not dev.https
    assert console_settings(console_public_url="https://console.kinship.test").https


def _german() -> dict[str, object]:
    path = CONSOLE / "translations" / "de" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale="de")
    return {
        (message.id if isinstance(message.id, str) else message.id[0]): message
        for message in catalog
        if message.id
    }


def test_every_message_in_the_code_and_templates_has_a_german_translation() -> None:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = {
        (message if isinstance(message, str) else message[0])
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(CONSOLE), method_map=method_map, keywords=keywords
        )
    }
    german = _german()
    missing = sorted(found - set(german))
    assert missing == [], "run pybabel extract/update (see services/console/babel.cfg)"
    untranslated = sorted(
        key
        for key, message in german.items()
        if message.fuzzy  # type: ignore[attr-defined]
        or not all(message.string if isinstance(message.string, tuple) else [message.string])  # type: ignore[attr-defined]
    )
    assert untranslated == []


def test_vendored_htmx_is_the_pinned_npm_release() -> None:
    vendored = CONSOLE / "static" / "htmx.min.js"
    npm = REPO / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"
    assert npm.exists(), "run scripts/bootstrap.sh (npm ci) first"
    assert (
        hashlib.sha256(vendored.read_bytes()).digest() == hashlib.sha256(npm.read_bytes()).digest()
    )
