"""Durable timers: what must happen later, each kind with its id scheme and payload.

A timer's id says what it is for, so scheduling the same thing twice keeps one timer.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class TimerKind(StrEnum):
    """What a timer does when it comes due."""

    ACK_TIMEOUT = "ack_timeout"
    """A step's alerts went unacknowledged: repeat it or move on."""
    CONTACT_TIMEOUT = "contact_timeout"
    """Acknowledged, but nobody reached the person in time: escalate."""
    CASE_FOLLOW_UP = "case_follow_up"
    """After resolution: the follow-up event and a check-in reminder."""
    EXPOSURE_FOLLOW_UP = "exposure_follow_up"
    """After a critical incident: a follow-up check-in (a short WHO-5) for the person."""
    MISSED_CHECKINS = "missed_checkins"
    """After a low trend, the expected check-ins did not come: withdrawal."""
    SUPPORT_SESSION = "support_session"
    """The support-session window after a critical incident opens: offer one."""


@dataclass(frozen=True)
class Timer:
    """A durable timer: due at ``due_at``, about a case, a subject or a team."""

    id: str
    kind: TimerKind
    due_at: datetime
    case_id: str | None = None
    subject_id: str | None = None
    team_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


def ack_timeout(case_id: str, step: int, attempt: int, due_at: datetime) -> Timer:
    """The acknowledgement timeout of one alerting of a case's step."""
    return Timer(
        f"{TimerKind.ACK_TIMEOUT}:{case_id}:{step}:{attempt}",
        TimerKind.ACK_TIMEOUT,
        due_at,
        case_id=case_id,
        payload={"step": step, "attempt": attempt},
    )


def contact_timeout(case_id: str, sequence: int, due_at: datetime) -> Timer:
    """First contact is due: the case must still be at ``sequence`` when it fires."""
    return Timer(
        f"{TimerKind.CONTACT_TIMEOUT}:{case_id}:{sequence}",
        TimerKind.CONTACT_TIMEOUT,
        due_at,
        case_id=case_id,
        payload={"sequence": sequence},
    )


def case_follow_up(case_id: str, due_at: datetime) -> Timer:
    """The follow-up after a case was resolved."""
    return Timer(f"{TimerKind.CASE_FOLLOW_UP}:{case_id}", TimerKind.CASE_FOLLOW_UP, due_at, case_id)


def exposure_follow_up(signal_id: str, hours: int, subject_id: str, due_at: datetime) -> Timer:
    """A check-in reminder ``hours`` after a critical incident."""
    return Timer(
        f"{TimerKind.EXPOSURE_FOLLOW_UP}:{signal_id}:{hours}",
        TimerKind.EXPOSURE_FOLLOW_UP,
        due_at,
        subject_id=subject_id,
    )


def missed_checkins_id(subject_id: str) -> str:
    """The one withdrawal watch a subject can have."""
    return f"{TimerKind.MISSED_CHECKINS}:{subject_id}"


def missed_checkins(
    subject_id: str,
    team_id: str | None,
    last_checkin: str,
    due_at: datetime,
    last_at: datetime | None = None,
) -> Timer:
    """Watch for withdrawal: fires unless a check-in newer than ``last_checkin`` (made at
    ``last_at``: the history judged then is read from there) arrives."""
    payload = {"last_checkin": last_checkin}
    if last_at is not None:
        payload["last_at"] = last_at.isoformat()
    return Timer(
        missed_checkins_id(subject_id),
        TimerKind.MISSED_CHECKINS,
        due_at,
        subject_id=subject_id,
        team_id=team_id,
        payload=payload,
    )


def support_session(
    signal_id: str, team_id: str, reason: str, since: datetime, due_at: datetime
) -> Timer:
    """Offer a support session when its window after an incident at ``since`` opens."""
    return Timer(
        f"{TimerKind.SUPPORT_SESSION}:{signal_id}",
        TimerKind.SUPPORT_SESSION,
        due_at,
        team_id=team_id,
        payload={"reason": reason, "from": since.isoformat()},
    )
