"""Every message in every locale: German for every ``de-*``, English otherwise, times in the
recipient's zone and locale (Babel), never a raw ISO timestamp, never a missing parameter,
and each message saying only what is true (adapters.templates, domain.locales)."""

import re
from datetime import UTC, datetime

import pytest

from kinship_contracts.notifications import Alert, MessageKind, NotificationRequest, Recipient
from kinship_contracts.resources import ResourceKind, SupportResource
from kinship_notifications.adapters.templates import TEMPLATES, Templates
from kinship_notifications.domain.channels import ALERT_FIELDS, TemplateFailedError
from kinship_notifications.domain.links import feedback_link
from kinship_notifications.domain.locales import LANGUAGES, Reader

NOW = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 23:30 in London, 00:30 in Berlin
RESOURCES = [
    SupportResource(
        kind=ResourceKind.SELF_CARE,
        name="Breathing guide",
        description="Five calm minutes.",
        contact="https://example.org/breathe",
    ),
    SupportResource(
        kind=ResourceKind.EMPLOYEE_ASSISTANCE,
        name="Employee assistance",
        description="",
        contact="0800 555 0100",
    ),
]
CONSOLE = "http://127.0.0.1:8005"
PERSON_FEEDBACK = feedback_link(CONSOLE, "k-1", "person")
ALERT = Alert(
    alert_id="a-1",
    case_id="k-1",
    severity="high",
    step=2,
    reason="The person asked a peer responder to reach out.",
    opened_at=NOW,
    ack_url="http://127.0.0.1:8002/v1/alerts/a-1/acknowledge?token=v1.1.abc",
)


def message(kind: MessageKind, **fields: object) -> NotificationRequest:
    return NotificationRequest.model_validate(
        {
            "id": "r-1",
            "kind": kind,
            "recipient": Recipient(subject_id="s-1"),
            "template": kind.value,
            "created_at": NOW,
            **fields,
        }
    )


# One representative request per kind and variant (as sent: links complete), with the phrase
# only its English and only its German text has.
VARIANTS: dict[str, tuple[NotificationRequest, str, str]] = {
    "alert": (message(MessageKind.ALERT, alert=ALERT), "Take the case", "Fall übernehmen"),
    "crisis_resources": (
        message(MessageKind.CRISIS_RESOURCES, critical=True, resources=RESOURCES),
        "If you are in danger now",
        "Wenn Sie jetzt in Gefahr sind",
    ),
    "self_care": (
        message(
            MessageKind.SELF_CARE, resources=RESOURCES, params={"checkin_at": "2026-11-24T23:30Z"}
        ),
        "These may help",
        "Das kann helfen",
    ),
    "self_referral": (
        message(
            MessageKind.SELF_CARE,
            resources=RESOURCES,
            params={"purpose": "self_referral", "checkin_at": "2026-11-24T23:30Z"},
        ),
        "We got your request: a peer responder has been asked to reach out to you.",
        "Eine Ansprechperson aus dem Peer-Support ist gebeten, sich bei Ihnen zu melden.",
    ),
    "reminder_follow_up": (
        message(
            MessageKind.CHECKIN_REMINDER,
            params={"purpose": "follow_up", "checkin_url": f"{CONSOLE}/checkin"},
        ),
        "following up after a recent difficult time",
        "nach einer zuletzt schwierigen Zeit",
    ),
    "reminder_exposure": (
        message(
            MessageKind.CHECKIN_REMINDER,
            params={
                "purpose": "exposure_follow_up",
                "checkin_url": f"{CONSOLE}/checkin?instrument=who5",
            },
        ),
        "After the recent critical incident",
        "Nach dem kritischen Ereignis",
    ),
    "reminder_overdue": (
        message(
            MessageKind.CHECKIN_REMINDER,
            params={
                "purpose": "overdue",
                "last_checkin_at": "2026-11-10T08:00:00+00:00",
                "checkin_url": f"{CONSOLE}/checkin",
            },
        ),
        "Your regular check-in is overdue",
        "Ihr regelmäßiger Check-in ist überfällig",
    ),
    "feedback_person": (
        message(
            MessageKind.FEEDBACK_REQUEST,
            params={"from": "person", "case_id": "k-1", "feedback_url": PERSON_FEEDBACK},
        ),
        "Thank you for talking with a peer responder",
        "Danke, dass Sie mit einer Ansprechperson aus dem Peer-Support gesprochen haben",
    ),
    "feedback_responder": (
        message(
            MessageKind.FEEDBACK_REQUEST,
            params={
                "from": "responder",
                "case_id": "k-1",
                "feedback_url": feedback_link(CONSOLE, "k-1", "responder"),
            },
        ),
        "Thank you for supporting a colleague",
        "Danke, dass Sie eine Kollegin oder einen Kollegen unterstützt haben",
    ),
    "group_session_offer": (
        message(
            MessageKind.GROUP_SESSION_OFFER,
            params={
                "team_id": "t-1",
                "kind": "support_session",
                "window_start": "2026-11-25T09:00:00+00:00",
                "window_end": "2026-11-27T17:00:00+00:00",
            },
        ),
        "Attendance is never compulsory",
        "Die Teilnahme ist nie verpflichtend",
    ),
    "celebration": (
        message(MessageKind.CELEBRATION, params={"text": "Ten check-ins in a row"}),
        "Something to celebrate",
        "Ein Grund zum Feiern",
    ),
    "consent_request": (
        message(
            MessageKind.CONSENT_REQUEST,
            params={
                "consent_id": "c-1",
                "consent_yes_url": "http://127.0.0.1:8002/v1/consents/c-1/yes?token=v1.1.y",
                "consent_no_url": "http://127.0.0.1:8002/v1/consents/c-1/no?token=v1.1.n",
                "consent_expires_at": "2026-11-27T23:30:00+00:00",
            },
        ),
        "Tap a link, then confirm your answer on the page it opens.",
        "Tippen Sie auf einen Link und bestätigen Sie Ihre Antwort auf der Seite",
    ),
}
GERMAN = ["de", "de-DE", "de-AT", "de_CH", "DE-de"]
ENGLISH = ["en", "en-GB", "en-US", "fr-FR", "xx", ""]
ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|T\d{2}:\d{2}(:\d{2})?([+-]\d{2}|Z)")


def render(name: str, locale: str, zone: str = "Europe/Berlin") -> str:
    request, _, _ = VARIANTS[name]
    rendered = Templates().render(request, locale, zone)
    assert rendered.subject
    return f"{rendered.subject}\n{rendered.text}"


def test_every_kind_has_a_template_in_every_language() -> None:
    kinds = {kind.value for kind in MessageKind}
    for language in LANGUAGES:
        found = {path.stem for path in (TEMPLATES / language).glob("*.txt")}
        assert found == kinds, language
    assert {request.kind for request, _, _ in VARIANTS.values()} == set(MessageKind)


@pytest.mark.parametrize("locale", GERMAN + ENGLISH)
@pytest.mark.parametrize("name", sorted(VARIANTS))
@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "UTC"])
def test_every_template_renders_in_every_locale_with_local_times(
    name: str, locale: str, zone: str
) -> None:
    text = render(name, locale, zone)  # StrictUndefined: a missing parameter would raise
    _, english, german = VARIANTS[name]
    if locale in GERMAN:
        assert german in text and english not in text
    else:
        assert english in text and german not in text
    assert not ISO.search(text), text
    assert "None" not in text and "Undefined" not in text
    assert "a little while" not in text and "in touch with you recently" not in text
    # The consent links open a page whose button answers (mail scanners follow links): no
    # message may promise that one tap is enough.
    assert "One tap" not in text and "Ein Tippen" not in text


@pytest.mark.parametrize(
    ("locale", "zone", "expected"),
    [
        ("de-DE", "Europe/Berlin", "Mi., 25. November 2026, 00:30 (Mitteleuropäische Zeit)"),
        ("de", "Europe/Berlin", "Mi., 25. November 2026, 00:30 (Mitteleuropäische Zeit)"),
        ("en-GB", "Europe/London", "Tue, 24 November 2026, 23:30 (British Time)"),
        ("en", "America/New_York", "Tue, November 24, 2026, 6:30\u202fPM (Eastern Time)"),
        ("fr-FR", "Europe/Paris", "Wed, November 25, 2026, 12:30\u202fAM (Central European Time)"),
        ("en", "UTC", "Tue, November 24, 2026, 11:30\u202fPM UTC"),
        ("de", "No/Such_Zone", "Di., 24. November 2026, 23:30 UTC"),
    ],
)
def test_times_read_in_the_recipients_zone_and_locale(
    locale: str, zone: str, expected: str
) -> None:
    reader = Reader.of(locale, zone)
    assert reader.when(NOW) == expected
    assert reader.when("2026-11-24T23:30:00Z") == expected
    assert reader.when("2026-11-24T23:30:00") == expected  # no offset: UTC


@pytest.mark.parametrize(
    ("locale", "language", "babel"),
    [
        ("de", "de", "de"),
        ("de-DE", "de", "de_DE"),
        ("de_at", "de", "de_AT"),
        ("DE-ch", "de", "de_CH"),
        ("de-US", "de", "de"),  # no such Babel locale: German formats
        ("en-GB", "en", "en_GB"),
        ("fr-FR", "en", "en"),  # no French templates: English, with English formats
        ("", "en", "en"),
    ],
)
def test_a_locale_preference_picks_the_language_and_formats(
    locale: str, language: str, babel: str
) -> None:
    reader = Reader.of(locale, "UTC")
    assert (reader.language, str(reader.locale)) == (language, babel)


@pytest.mark.parametrize("locale", ["en", "de-DE"])
def test_an_email_alert_carries_every_field_of_the_webhook_alert(locale: str) -> None:
    # SPEC, Outgoing alerts: "Email alerts go over SMTP with the same content."
    text = render("alert", locale)
    words = {"high": {"en": "high", "de-DE": "hoch"}}
    for field in sorted(ALERT_FIELDS):
        value = getattr(ALERT, field)
        if field == "severity":
            assert words[value.value][locale] in text
        elif field == "opened_at":
            assert "25" in text and "2026" in text  # 25 November, in the reader's zone and words
        elif field == "ack_url":
            assert str(value) in text
        else:  # outside the link, which names the alert too
            assert str(value) in text.replace(str(ALERT.ack_url), ""), field


def test_the_alert_shows_when_the_case_opened_in_the_responders_zone() -> None:
    text = render("alert", "de-DE")
    assert "eröffnet am Mi., 25. November 2026, 00:30 (Mitteleuropäische Zeit)" in text
    assert "Kinship-Alarm" in text and "(hoch, Stufe 2)" in text


@pytest.mark.parametrize(
    ("locale", "checked_in"),
    [
        ("en", "on Wed, November 25, 2026, 12:30\u202fAM (Central European Time)"),
        ("de-DE", "vom Mi., 25. November 2026, 00:30 (Mitteleuropäische Zeit)"),
    ],
)
def test_a_self_care_message_carries_every_resource_it_was_given(
    locale: str, checked_in: str
) -> None:
    text = render("self_care", locale)
    for resource in RESOURCES:
        assert f"{resource.name}: {resource.contact}" in text
    assert checked_in in text  # the check-in, in Berlin time


@pytest.mark.parametrize("locale", ["en", "de-DE"])
def test_a_self_care_message_without_resources_promises_none(locale: str) -> None:
    text = Templates().render(message(MessageKind.SELF_CARE), locale, "UTC").text
    assert "may help" not in text and "kann helfen" not in text
    assert text.startswith(("Thank you for checking in.", "Danke für Ihren Check-in."))


def test_the_group_session_window_is_shown_in_the_coordinators_zone() -> None:
    text = render("group_session_offer", "de-DE")
    assert "zwischen Mi., 25. November 2026, 10:00 (Mitteleuropäische Zeit)" in text
    assert "und Fr., 27. November 2026, 18:00 (Mitteleuropäische Zeit)" in text
    assert "eine freiwillige Unterstützungsrunde" in text
    english = render("group_session_offer", "en", "America/New_York")
    assert "between Wed, November 25, 2026, 4:00\u202fAM (Eastern Time)" in english


@pytest.mark.parametrize(
    ("name", "subject", "link"),
    [
        ("reminder_follow_up", "Following up", f"{CONSOLE}/checkin"),
        ("reminder_exposure", "after the incident", f"{CONSOLE}/checkin?instrument=who5"),
        ("reminder_overdue", "Time for your check-in", f"{CONSOLE}/checkin"),
    ],
)
def test_a_reminder_says_why_and_links_to_the_check_in(name: str, subject: str, link: str) -> None:
    text = render(name, "en")
    assert subject in text.splitlines()[0]
    assert text.rstrip().endswith(link)


def test_an_overdue_reminder_says_when_the_last_check_in_was_only_if_it_knows() -> None:
    last = "your last one was on Tue, 10 November 2026, 09:00 (Central European Time)"
    assert last in render("reminder_overdue", "en-GB")
    bare = message(
        MessageKind.CHECKIN_REMINDER,
        params={"purpose": "overdue", "checkin_url": f"{CONSOLE}/checkin"},
    )
    assert "last one" not in Templates().render(bare, "en", "UTC").text


def test_a_reminder_without_a_purpose_claims_nothing_about_time() -> None:
    bare = message(MessageKind.CHECKIN_REMINDER, params={"checkin_url": f"{CONSOLE}/checkin"})
    text = Templates().render(bare, "en", "UTC").text
    assert text == f"A quick check-in helps us support you and your team:\n{CONSOLE}/checkin\n"


def test_the_persons_feedback_request_thanks_them_and_links_to_the_feedback() -> None:
    text = render("feedback_person", "en")
    assert "Thank you for talking with a peer responder" in text
    assert text.rstrip().endswith(f"{CONSOLE}/feedback/k-1?from=person")
    assert "colleague" not in text


def test_the_consent_question_carries_both_links_and_their_expiry() -> None:
    text = render("consent_request", "en")
    assert "Yes, please reach out: http://127.0.0.1:8002/v1/consents/c-1/yes?token=v1.1.y" in text
    assert "No, thank you: http://127.0.0.1:8002/v1/consents/c-1/no?token=v1.1.n" in text
    assert "The links work until Sat, November 28, 2026, 12:30\u202fAM" in text


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01T00:00:00Z", ""])
def test_a_time_that_is_not_one_is_a_template_failure(bad: str) -> None:
    request = message(
        MessageKind.CHECKIN_REMINDER,
        params={"purpose": "overdue", "last_checkin_at": bad, "checkin_url": f"{CONSOLE}/c"},
    )
    if bad == "":  # an empty time is no time: nothing claimed, nothing fails
        assert "last one" not in Templates().render(request, "en", "UTC").text
        return
    with pytest.raises(TemplateFailedError):
        Templates().render(request, "en", "UTC")
