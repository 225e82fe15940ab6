"""Durable timers of the domain: one id per purpose, so scheduling twice keeps one timer."""

from datetime import UTC, datetime, timedelta

from kinship_contracts.signals import SignalKind
from kinship_escalation.domain.observations import CheckinObservation, SignalObservation
from kinship_escalation.domain.timers import (
    TimerKind,
    absence_watch,
    ack_timeout,
    case_follow_up,
    contact_timeout,
    exposure_follow_up,
    missed_checkins,
    missed_checkins_id,
    support_session,
)

AT = datetime(2026, 11, 24, 9, tzinfo=UTC)
LAST = CheckinObservation(id="c-9", at=AT - timedelta(days=1), mood=2)
ABSENCE = SignalObservation(SignalKind.ABSENCE, 3, AT)


def test_each_timer_names_its_kind_and_what_it_is_about() -> None:
    timers = [
        ack_timeout("k1", 2, 1, AT),
        contact_timeout("k1", 7, AT),
        case_follow_up("k1", AT),
        exposure_follow_up("sig-1", 72, "s1", AT),
        missed_checkins("s1", "team-x", "c-9", AT),
        absence_watch("s1", "team-x", LAST, ABSENCE),
        support_session("sig-1", "team-x", "critical_incident", AT, AT),
    ]
    assert [(t.id, t.kind) for t in timers] == [
        ("ack_timeout:k1:2:1", TimerKind.ACK_TIMEOUT),
        ("contact_timeout:k1:7", TimerKind.CONTACT_TIMEOUT),
        ("case_follow_up:k1", TimerKind.CASE_FOLLOW_UP),
        ("exposure_follow_up:sig-1:s1:72", TimerKind.EXPOSURE_FOLLOW_UP),
        ("missed_checkins:s1", TimerKind.MISSED_CHECKINS),
        ("absence:s1", TimerKind.ABSENCE),
        ("support_session:sig-1", TimerKind.SUPPORT_SESSION),
    ]
    assert [(t.case_id, t.subject_id, t.team_id) for t in timers] == [
        ("k1", None, None),
        ("k1", None, None),
        ("k1", None, None),
        (None, "s1", None),
        (None, "s1", "team-x"),
        (None, "s1", "team-x"),
        (None, None, "team-x"),
    ]


def test_payloads_carry_what_the_timer_checks_when_it_fires() -> None:
    assert ack_timeout("k1", 2, 1, AT).payload == {"step": 2, "attempt": 1}
    assert contact_timeout("k1", 7, AT).payload == {"sequence": 7}
    assert missed_checkins("s1", None, "c-9", AT).payload == {"last_checkin": "c-9"}
    assert absence_watch("s1", None, LAST, ABSENCE).payload == {
        "last_checkin": "c-9",
        "last_at": (AT - timedelta(days=1)).isoformat(),
        "absence_at": AT.isoformat(),
        "absence_severity": 3,
    }
    assert absence_watch("s1", None, LAST, ABSENCE).due_at == AT  # judged when it begins
    session = support_session("sig-1", "team-x", "critical_incident", AT, AT)
    assert session.payload == {"reason": "critical_incident", "from": AT.isoformat()}


def test_a_subject_has_one_withdrawal_watch() -> None:
    assert missed_checkins("s1", None, "c-1", AT).id == missed_checkins_id("s1")
    assert missed_checkins("s1", None, "c-2", AT).id == missed_checkins_id("s1")
