"""Delivery policy, channels and templates of the notifications service."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, time, timedelta

import pytest

from kinship_contracts.directory import Channels
from kinship_contracts.notifications import Alert, MessageKind, NotificationRequest, Recipient
from kinship_contracts.resources import ResourceKind, SupportResource
from kinship_notifications.adapters.templates import Templates
from kinship_notifications.domain.channels import (
    ChannelKind,
    TemplateFailedError,
    contact_plan,
    webhook_body,
)
from kinship_notifications.domain.policy import (
    Action,
    CircuitBreaker,
    Preferences,
    RetryPolicy,
    decide,
    quiet_until,
)
from kinship_notifications.domain.signing import endpoint_secret, endpoint_url, signature

NOW = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 23:30 in London, 00:30 in Berlin
NIGHT = Preferences(quiet_start=time(22), quiet_end=time(7))


def request(
    kind: MessageKind = MessageKind.CHECKIN_REMINDER, **fields: object
) -> NotificationRequest:
    return NotificationRequest.model_validate(
        {
            "id": "d-1",
            "kind": kind,
            "recipient": Recipient(person_id="p-1"),
            "template": kind.value,
            "created_at": NOW,
            **fields,
        }
    )


def alert_request() -> NotificationRequest:
    alert = Alert(
        alert_id="a-1",
        case_id="k-1",
        severity="critical",
        step=1,
        reason="The person asked a peer responder to reach out.",
        opened_at=NOW,
        ack_url="http://127.0.0.1:8002/v1/alerts/a-1/acknowledge",
    )
    return request(MessageKind.ALERT, critical=True, alert=alert)


def test_quiet_hours_across_midnight_in_the_recipients_zone() -> None:
    ends = quiet_until(NOW, "Europe/London", NIGHT)
    assert ends is not None
    assert ends.astimezone(UTC) == datetime(2026, 11, 25, 7, tzinfo=UTC)
    assert quiet_until(NOW.replace(hour=12), "Europe/London", NIGHT) is None
    assert quiet_until(NOW, "Europe/London", Preferences()) is None


def test_critical_messages_ignore_quiet_hours_limits_and_opt_outs() -> None:
    strict = Preferences(quiet_start=time(0), quiet_end=time(23, 59), max_per_day=0)
    assert decide(alert_request(), strict, "UTC", 99, NOW).action is Action.SEND


def test_non_critical_messages_wait_for_the_end_of_quiet_hours() -> None:
    decision = decide(request(), NIGHT, "Europe/Berlin", 0, NOW)
    assert decision.action is Action.DEFER
    assert decision.until is not None and decision.until.astimezone(UTC).hour == 6


def test_rate_limit_and_recognition_opt_out_suppress() -> None:
    assert decide(request(), Preferences(max_per_day=2), "UTC", 2, NOW).reason == "rate_limited"
    opted_out = Preferences(recognition_opt_out=True)
    celebration = request(MessageKind.CELEBRATION)
    assert decide(celebration, opted_out, "UTC", 0, NOW).reason == "opted_out"
    assert decide(request(), opted_out, "UTC", 0, NOW).action is Action.SEND


def test_backoff_doubles_within_the_jitter_band() -> None:
    policy = RetryPolicy(base_seconds=1, max_seconds=10, jitter=0.2)
    assert policy.delay(1, lambda: 0.5) == timedelta(seconds=1)
    assert policy.delay(3, lambda: 0.5) == timedelta(seconds=4)
    assert policy.delay(3, lambda: 0.0) == timedelta(seconds=3.2)
    assert policy.delay(3, lambda: 1.0) == timedelta(seconds=4.8)
    assert policy.delay(9, lambda: 0.5) == timedelta(seconds=10)


def test_circuit_opens_after_failures_and_closes_after_a_success() -> None:
    breaker = CircuitBreaker(threshold=2, cool_down=timedelta(seconds=30))
    breaker.failed("hooks.example", NOW)
    assert breaker.allows("hooks.example", NOW)
    breaker.failed("hooks.example", NOW)
    assert not breaker.allows("hooks.example", NOW + timedelta(seconds=29))
    assert breaker.allows("other.example", NOW)
    assert breaker.allows("hooks.example", NOW + timedelta(seconds=30))  # half-open trial
    breaker.succeeded("hooks.example")
    breaker.failed("hooks.example", NOW)
    assert breaker.allows("hooks.example", NOW)


def test_after_the_cool_down_only_one_trial_goes_through() -> None:
    breaker = CircuitBreaker(threshold=1, cool_down=timedelta(seconds=30))
    breaker.failed("hooks.example", NOW)
    later = NOW + timedelta(seconds=30)
    assert breaker.allows("hooks.example", later)  # the trial
    assert not breaker.allows("hooks.example", later)  # concurrent deliveries wait
    assert not breaker.allows("hooks.example", later + timedelta(seconds=29))
    breaker.failed("hooks.example", later + timedelta(seconds=1))  # the trial failed
    assert not breaker.allows("hooks.example", later + timedelta(seconds=30))
    assert breaker.allows("hooks.example", later + timedelta(seconds=31))  # the next trial
    breaker.succeeded("hooks.example")
    assert breaker.allows("hooks.example", later + timedelta(seconds=31))
    assert breaker.allows("hooks.example", later + timedelta(seconds=31))


def test_a_trial_that_never_reports_back_lets_another_through_after_the_cool_down() -> None:
    breaker = CircuitBreaker(threshold=1, cool_down=timedelta(seconds=30))
    breaker.failed("hooks.example", NOW)
    assert breaker.allows("hooks.example", NOW + timedelta(seconds=30))
    assert not breaker.allows("hooks.example", NOW + timedelta(seconds=59))
    assert breaker.allows("hooks.example", NOW + timedelta(seconds=60))


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"alert_id": "a-1"}'
    expected = hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert signature(b"secret", body) == f"sha256={expected}"


def test_channel_order_is_webhook_then_slack_then_email() -> None:
    both = Channels(email="p@example.org", webhook="https://hooks.example/p")
    address = contact_plan(both)[0].address
    assert address.channel is ChannelKind.WEBHOOK
    assert address.endpoint == "https://hooks.example/p"
    email = contact_plan(Channels(email="p@example.org"))[0].address
    assert email.endpoint == "smtp:example.org"
    assert contact_plan(Channels()) == []


def test_every_endpoint_has_its_own_secret_derived_from_the_master_secret() -> None:
    master = b"m" * 32
    one = endpoint_secret(master, "https://hooks.example/alerts/ann")
    assert len(one) == 64 and int(one, 16) >= 0
    assert one == endpoint_secret(master, "https://hooks.example/alerts/ann")
    assert one != endpoint_secret(master, "https://hooks.example/alerts/bob")
    assert one != endpoint_secret(b"n" * 32, "https://hooks.example/alerts/ann")
    expected = hmac.new(
        master, b"kinship-webhook-endpoint:v1:https://hooks.example/alerts/ann", hashlib.sha256
    ).hexdigest()
    assert one == expected
    # The URL as the directory keeps it: a bare host gains its slash, the host is lower case.
    assert endpoint_url("https://Hooks.Example") == "https://hooks.example/"
    assert endpoint_secret(master, "https://Hooks.Example") == endpoint_secret(
        master, "https://hooks.example/"
    )


def test_webhook_alert_body_is_the_spec_fields_with_delivery_id_and_sent_at() -> None:
    sent_at = datetime(2026, 11, 24, 23, 30, 5, 250000, tzinfo=UTC)
    body = json.loads(webhook_body(alert_request(), "ignored", sent_at))
    assert set(body) == {
        "alert_id",
        "case_id",
        "severity",
        "step",
        "reason",
        "opened_at",
        "ack_url",
        "delivery_id",
        "sent_at",
    }
    assert (body["delivery_id"], body["sent_at"]) == ("d-1", "2026-11-24T23:30:05.250Z")
    other = json.loads(webhook_body(request(), "Hello", sent_at))
    assert other == {
        "kind": "checkin_reminder",
        "text": "Hello",
        "delivery_id": "d-1",
        "sent_at": "2026-11-24T23:30:05.250Z",
    }


def test_a_missing_or_failing_template_is_a_template_failure() -> None:
    with pytest.raises(TemplateFailedError) as missing:
        Templates().render(request(template="no_such_template"), "en", "UTC")
    assert (missing.value.reason, missing.value.permanent) == ("template_error", True)
    with pytest.raises(TemplateFailedError):  # a group-session offer needs its params
        Templates().render(request(MessageKind.GROUP_SESSION_OFFER), "en", "UTC")
    with pytest.raises(TemplateFailedError):  # no way out of the template folder
        Templates().render(request(template="../../pyproject"), "en", "UTC")


@pytest.mark.parametrize("locale", ["en", "de", "fr"])
def test_templates_render_in_the_locale_or_english(locale: str) -> None:
    rendered = Templates().render(alert_request(), locale, "Europe/London")
    assert "a-1" in rendered.text
    assert rendered.subject.startswith("Kinship")
    german = "Fall übernehmen" in rendered.text
    assert german is (locale == "de")


def test_crisis_template_lists_the_resources() -> None:
    resources = [
        SupportResource(
            kind=ResourceKind.CRISIS, name="Samaritans", description="Any time.", contact="116 123"
        )
    ]
    rendered = Templates().render(
        request(MessageKind.CRISIS_RESOURCES, critical=True, resources=resources), "en", "UTC"
    )
    assert "Samaritans: 116 123" in rendered.text


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        (MessageKind.ALERT, {}),
        (MessageKind.CRISIS_RESOURCES, {}),
        (MessageKind.SELF_CARE, {}),
        (MessageKind.FEEDBACK_REQUEST, {"from": "person"}),
        (MessageKind.FEEDBACK_REQUEST, {"from": "responder"}),
        (MessageKind.GROUP_SESSION_OFFER, {}),
        (MessageKind.CONSENT_REQUEST, {}),
        (MessageKind.CHECKIN_REMINDER, {"purpose": "follow_up"}),
        (MessageKind.CHECKIN_REMINDER, {"purpose": "exposure_follow_up"}),
    ],
)
def test_care_messages_are_never_rate_limited_or_opted_out_of(
    kind: MessageKind, params: dict[str, str]
) -> None:
    strict = Preferences(max_per_day=0, recognition_opt_out=True, reminders_opt_out=True)
    decision = decide(request(kind, params=params), strict, "UTC", 50, NOW)
    assert decision.action is Action.SEND


@pytest.mark.parametrize(
    ("kind", "params", "reason"),
    [
        (MessageKind.CELEBRATION, {}, "rate_limited"),
        (MessageKind.CHECKIN_REMINDER, {"purpose": "overdue"}, "rate_limited"),
        (MessageKind.CHECKIN_REMINDER, {}, "rate_limited"),
    ],
)
def test_only_celebrations_and_plain_reminders_are_rate_limited(
    kind: MessageKind, params: dict[str, str], reason: str
) -> None:
    busy = Preferences(max_per_day=2)
    limited = request(kind, params=params)
    assert decide(limited, busy, "UTC", 2, NOW).reason == reason
    assert decide(limited, busy, "UTC", 1, NOW).action is Action.SEND


@pytest.mark.parametrize("kind", [k for k in MessageKind if k is not MessageKind.CELEBRATION])
def test_the_recognition_opt_out_holds_back_celebrations_only(kind: MessageKind) -> None:
    opted_out = Preferences(recognition_opt_out=True)
    assert decide(request(kind), opted_out, "UTC", 0, NOW).action is Action.SEND


@pytest.mark.parametrize("params", [{"purpose": "overdue"}, {}], ids=["overdue", "plain"])
def test_the_reminders_opt_out_holds_back_regular_reminders_only(params: dict[str, str]) -> None:
    opted_out = Preferences(reminders_opt_out=True)
    reminder = request(MessageKind.CHECKIN_REMINDER, params=params)
    assert decide(reminder, opted_out, "UTC", 0, NOW).reason == "opted_out"
    assert decide(reminder, Preferences(), "UTC", 0, NOW).action is Action.SEND
    for kind in MessageKind:
        if kind is not MessageKind.CHECKIN_REMINDER:
            assert decide(request(kind), opted_out, "UTC", 0, NOW).action is Action.SEND, kind
    follow_up = request(MessageKind.CHECKIN_REMINDER, params={"purpose": "follow_up"})
    assert decide(follow_up, opted_out, "UTC", 0, NOW).action is Action.SEND  # care


@pytest.mark.parametrize("kind", list(MessageKind))
def test_care_messages_still_wait_out_quiet_hours_unless_urgent(kind: MessageKind) -> None:
    assert decide(request(kind), NIGHT, "Europe/London", 0, NOW).action is Action.DEFER
    urgent = request(kind, urgent=True)
    assert decide(urgent, NIGHT, "Europe/London", 0, NOW).action is Action.SEND
    assert decide(request(kind, critical=True), NIGHT, "UTC", 0, NOW).action is Action.SEND


def test_an_urgent_message_is_still_held_to_the_limit_and_opt_outs() -> None:
    celebration = request(MessageKind.CELEBRATION, urgent=True)
    decision = decide(celebration, Preferences(recognition_opt_out=True), "UTC", 0, NOW)
    assert decision.reason == "opted_out"
    assert decide(celebration, Preferences(max_per_day=1), "UTC", 1, NOW).reason == "rate_limited"
