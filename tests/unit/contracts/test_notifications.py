"""Which messages are care (never limited or dropped): a property of the kind, and of a
check-in reminder's purpose (kinship_contracts.notifications)."""

from datetime import UTC, datetime

import pytest

from kinship_contracts.notifications import (
    CARE_KINDS,
    MessageKind,
    NotificationRequest,
    Recipient,
    ReminderPurpose,
)

NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)


def request(kind: MessageKind, **fields: object) -> NotificationRequest:
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


@pytest.mark.parametrize(
    ("kind", "care"),
    [
        (MessageKind.ALERT, True),
        (MessageKind.CRISIS_RESOURCES, True),
        (MessageKind.SELF_CARE, True),
        (MessageKind.FEEDBACK_REQUEST, True),
        (MessageKind.GROUP_SESSION_OFFER, True),
        (MessageKind.CONSENT_REQUEST, True),
        (MessageKind.CELEBRATION, False),
        (MessageKind.CHECKIN_REMINDER, False),
    ],
)
def test_care_is_a_property_of_the_kind(kind: MessageKind, care: bool) -> None:
    assert kind.care is care
    assert (kind in CARE_KINDS) is care
    assert request(kind).care is care
    assert request(kind).limited is not care


def test_every_kind_is_classified() -> None:
    assert set(MessageKind) - CARE_KINDS == {MessageKind.CELEBRATION, MessageKind.CHECKIN_REMINDER}


@pytest.mark.parametrize(
    ("purpose", "care"),
    [("follow_up", True), ("exposure_follow_up", True), ("overdue", False), ("", False)],
)
def test_a_reminder_is_care_when_it_is_a_follow_up(purpose: str, care: bool) -> None:
    reminder = request(MessageKind.CHECKIN_REMINDER, params={"purpose": purpose})
    assert reminder.care is care
    assert reminder.limited is not care
    if purpose:
        assert reminder.purpose is ReminderPurpose(purpose)


def test_a_purpose_makes_only_reminders_care() -> None:
    celebration = request(MessageKind.CELEBRATION, params={"purpose": "follow_up"})
    assert not celebration.care and celebration.limited
    unknown = request(MessageKind.CHECKIN_REMINDER, params={"purpose": "because"})
    assert unknown.purpose is None and unknown.limited


def test_critical_messages_are_never_limited_and_urgent_is_optional() -> None:
    assert not request(MessageKind.CELEBRATION, critical=True).limited
    assert request(MessageKind.ALERT).urgent is False
    assert request(MessageKind.ALERT, urgent=True).urgent is True
