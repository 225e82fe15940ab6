"""Durable timers: what must happen later, each kind with its id scheme and payload.

A timer's id says what it is for, so scheduling the same thing twice keeps one timer.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from kinship_escalation.domain.observations import CheckinObservation, SignalObservation


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
    ABSENCE = "absence"
    """After a low trend, an absence before the watch came due: withdrawal (judged again)."""
    SUPPORT_SESSION = "support_session"
    """The support-session window after a critical incident opens: offer one."""
    UNANSWERED = "unanswered"
    """Every step was spent unacknowledged: page the coordinators (again)."""
    RESPONDER_FOLLOW_UP = "responder_follow_up"
    """The responder's planned follow-up has come: remind them."""
    CONSENT_EXPIRY = "consent_expiry"
    """The person never answered whether a peer may reach out: the case closes."""
    CHECKIN_REMINDER = "checkin_reminder"
    """A regular check-in is overdue: remind the person (``domain/reminders.py``)."""


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


def ack_timeout(
    case_id: str, step: int, attempt: int, due_at: datetime, assigned_at: datetime | None = None
) -> Timer:
    """The acknowledgement timeout of one alerting of a case's step: it fires only while the
    case is still alerted as it was then (``assigned_at``). Alerting the same step and
    attempt again later (the last step, after a contact timeout) arms the same timer again
    (``Timers.schedule(..., replace=True)``)."""
    payload: dict[str, Any] = {"step": step, "attempt": attempt}
    if assigned_at is not None:
        payload["assigned_at"] = assigned_at.isoformat()
    return Timer(
        f"{TimerKind.ACK_TIMEOUT}:{case_id}:{step}:{attempt}",
        TimerKind.ACK_TIMEOUT,
        due_at,
        case_id=case_id,
        payload=payload,
    )


def contact_timeout(
    case_id: str, sequence: int, due_at: datetime, acknowledged_at: datetime | None = None
) -> Timer:
    """First contact is due: it fires unless the person was reached, or the case was taken
    again (acknowledged at another time) or closed. New evidence does not disarm it."""
    payload: dict[str, Any] = {"sequence": sequence}
    if acknowledged_at is not None:
        payload["acknowledged_at"] = acknowledged_at.isoformat()
    return Timer(
        f"{TimerKind.CONTACT_TIMEOUT}:{case_id}:{sequence}",
        TimerKind.CONTACT_TIMEOUT,
        due_at,
        case_id=case_id,
        payload=payload,
    )


def case_follow_up(
    case_id: str, due_at: datetime, resolution: int | None = None, hours: int | None = None
) -> Timer:
    """A follow-up ``hours`` after a case's ``resolution``-th resolution."""
    if resolution is None or hours is None:
        timer_id = f"{TimerKind.CASE_FOLLOW_UP}:{case_id}"  # one per case, before 0.3
        return Timer(timer_id, TimerKind.CASE_FOLLOW_UP, due_at, case_id)
    return Timer(
        f"{TimerKind.CASE_FOLLOW_UP}:{case_id}:{resolution}:{hours}",
        TimerKind.CASE_FOLLOW_UP,
        due_at,
        case_id,
        payload={"resolution": resolution, "hours": hours},
    )


def exposure_follow_up(signal_id: str, hours: int, subject_id: str, due_at: datetime) -> Timer:
    """A check-in reminder ``hours`` after a critical incident, for one person exposed (a
    team's incident brings one for each member)."""
    return Timer(
        f"{TimerKind.EXPOSURE_FOLLOW_UP}:{signal_id}:{subject_id}:{hours}",
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


def absence_watch_id(subject_id: str) -> str:
    """The one absence watch a subject can have."""
    return f"{TimerKind.ABSENCE}:{subject_id}"


def absence_watch(
    subject_id: str,
    team_id: str | None,
    last_checkin: CheckinObservation,
    absence: SignalObservation,
) -> Timer:
    """Judge an absence after a low trend when it begins (at once, if it has): it counts like
    withdrawal unless a check-in newer than ``last_checkin`` arrived meanwhile."""
    return Timer(
        absence_watch_id(subject_id),
        TimerKind.ABSENCE,
        absence.at,
        subject_id=subject_id,
        team_id=team_id,
        payload={
            "last_checkin": last_checkin.id,
            "last_at": last_checkin.at.isoformat(),
            "absence_at": absence.at.isoformat(),
            "absence_severity": absence.severity,
        },
    )


def checkin_reminder_id(subject_id: str) -> str:
    """The one overdue-check-in reminder a subject can have."""
    return f"{TimerKind.CHECKIN_REMINDER}:{subject_id}"


def checkin_reminder(
    subject_id: str, last_checkin: CheckinObservation, number: int, due_at: datetime
) -> Timer:
    """The ``number``-th reminder in a row after the subject's newest check-in
    ``last_checkin``: fires unless a newer check-in arrived meanwhile (which arms it again,
    from one)."""
    return Timer(
        checkin_reminder_id(subject_id),
        TimerKind.CHECKIN_REMINDER,
        due_at,
        subject_id=subject_id,
        payload={
            "last_checkin": last_checkin.id,
            "last_at": last_checkin.at.isoformat(),
            "number": number,
        },
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


def unanswered(
    case_id: str, sequence: int, page: int, case_at: dict[str, Any], due_at: datetime
) -> Timer:
    """The next "unanswered" page to the coordinators (``page`` counts them), while the case
    stays where ``case_at`` says (step, attempt, assigned_at) unacknowledged."""
    return Timer(
        f"{TimerKind.UNANSWERED}:{case_id}:{sequence}",
        TimerKind.UNANSWERED,
        due_at,
        case_id=case_id,
        payload={**case_at, "page": page},
    )


def responder_follow_up(case_id: str, sequence: int, due_at: datetime) -> Timer:
    """The responder's planned follow-up (``sequence``: the case's when it was planned)."""
    return Timer(
        f"{TimerKind.RESPONDER_FOLLOW_UP}:{case_id}:{sequence}",
        TimerKind.RESPONDER_FOLLOW_UP,
        due_at,
        case_id=case_id,
        payload={"at": due_at.isoformat()},
    )


def consent_expiry(case_id: str, consent_id: str, due_at: datetime) -> Timer:
    """The consent question ``consent_id`` expires unanswered."""
    return Timer(
        f"{TimerKind.CONSENT_EXPIRY}:{case_id}",
        TimerKind.CONSENT_EXPIRY,
        due_at,
        case_id=case_id,
        payload={"consent_id": consent_id},
    )


@dataclass(frozen=True)
class CaseDeadlines:
    """When a case's current wait ends, from its pending timers: ``ack_due_at`` while its
    step is unacknowledged (the step's acknowledgement timeout), ``contact_due_at`` once
    acknowledged with no first contact yet (the contact timeout)."""

    ack_due_at: datetime | None = None
    contact_due_at: datetime | None = None


def case_deadlines(
    status: str,
    step: int,
    attempt: int,
    contacted: bool,
    pending: list[Timer],
) -> CaseDeadlines:
    """The deadlines of a case in ``status`` at ``step``/``attempt`` from its timers that
    have not fired: the current step's acknowledgement timeout while it is opened or
    assigned; the latest contact timeout while it is acknowledged and nobody was reached.
    Timers a later state leaves behind (they fire and do nothing) are not deadlines."""
    if status in ("opened", "assigned"):
        current = [
            t.due_at
            for t in pending
            if t.kind is TimerKind.ACK_TIMEOUT
            and t.payload.get("step") == step
            and t.payload.get("attempt") == attempt
        ]
        return CaseDeadlines(ack_due_at=min(current, default=None))
    if status == "acknowledged" and not contacted:
        contact = [t.due_at for t in pending if t.kind is TimerKind.CONTACT_TIMEOUT]
        return CaseDeadlines(contact_due_at=max(contact, default=None))
    return CaseDeadlines()
