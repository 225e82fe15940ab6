"""Durable timers of the domain: one id per purpose, so scheduling twice keeps one timer."""

from datetime import UTC, datetime

from kinship_escalation.domain.timers import (
    TimerKind,
    ack_timeout,
    case_follow_up,
    contact_timeout,
    exposure_follow_up,
    missed_checkins,
    missed_checkins_id,
    support_session,
)

AT = datetime(2026, 11, 24, 9, tzinfo=UTC)


def test_each_timer_names_its_kind_and_what_it_is_about() -> None:
    timers = [
        ack_timeout("k1", 2, 1, AT),
        contact_timeout("k1", 7, AT),
        case_follow_up("k1", AT),
        exposure_follow_up("sig-1", 72, "s1", AT),
        missed_checkins("s1", "team-x", "c-9", AT),
        support_session("sig-1", "team-x", "critical_incident", AT, AT),
    ]
    assert [(t.id, t.kind) for t in timers] == [
        ("ack_timeout:k1:2:1", TimerKind.ACK_TIMEOUT),
        ("contact_timeout:k1:7", TimerKind.CONTACT_TIMEOUT),
        ("case_follow_up:k1", TimerKind.CASE_FOLLOW_UP),
        ("exposure_follow_up:sig-1:72", TimerKind.EXPOSURE_FOLLOW_UP),
        ("missed_checkins:s1", TimerKind.MISSED_CHECKINS),
        ("support_session:sig-1", TimerKind.SUPPORT_SESSION),
    ]
    assert [(t.case_id, t.subject_id, t.team_id) for t in timers] == [
        ("k1", None, None),
        ("k1", None, None),
        ("k1", None, None),
        (None, "s1", None),
        (None, "s1", "team-x"),
        (None, None, "team-x"),
    ]


def test_payloads_carry_what_the_timer_checks_when_it_fires() -> None:
    assert ack_timeout("k1", 2, 1, AT).payload == {"step": 2, "attempt": 1}
    assert contact_timeout("k1", 7, AT).payload == {"sequence": 7}
    assert missed_checkins("s1", None, "c-9", AT).payload == {"last_checkin": "c-9"}
    session = support_session("sig-1", "team-x", "critical_incident", AT, AT)
    assert session.payload == {"reason": "critical_incident", "from": AT.isoformat()}


def test_a_subject_has_one_withdrawal_watch() -> None:
    assert missed_checkins("s1", None, "c-1", AT).id == missed_checkins_id("s1")
    assert missed_checkins("s1", None, "c-2", AT).id == missed_checkins_id("s1")
