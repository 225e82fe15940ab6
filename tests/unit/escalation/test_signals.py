"""Signals (``handlers.signals``): overtime, on-call load and absence feed detection (the
load rule; absence after a low trend counts like withdrawal), severity matters, a team's
load counts for each of its people; a critical incident's severity and lateness shape the
group offers and follow-ups."""

from datetime import datetime, timedelta
from typing import Any

import pytest

from kinship_contracts.signals import SignalSubmitted
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.signals import handle_signals
from kinship_escalation.handlers.timers import fire_due_timers
from tests.unit.escalation.conftest import NOW, checkin, person, sent, signal, subject
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork, FakeVault


def load(id_: str, kind: str, severity: int, at: datetime, **about: str) -> SignalSubmitted:
    body: dict[str, Any] = {
        "id": id_,
        "kind": kind,
        "severity": severity,
        "occurred_at": at.isoformat(),
        "source": "rota",
        **about,
    }
    return SignalSubmitted.model_validate(body)


def z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def test_a_severity_1_overtime_signal_alone_does_nothing(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await handle_checkins([checkin("c-1", at=NOW - timedelta(days=1), mood=2)], uow, ctx)
    await handle_signals([load("ot-1", "overtime", 1, NOW, person_id="worker-1")], uow, ctx)
    assert uow.tables.cases == {}


async def test_sustained_overtime_with_a_low_reading_opens_a_medium_peer_checkin_case(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await handle_checkins([checkin("c-1", at=NOW - timedelta(days=3), mood=2)], uow, ctx)
    await handle_signals(
        [load("ot-1", "overtime", 2, NOW - timedelta(days=6), person_id="worker-1")], uow, ctx
    )
    assert uow.tables.cases == {}  # one counted signal is not sustained
    await handle_signals(
        [load("oc-1", "on_call_load", 3, NOW - timedelta(days=1), person_id="worker-1")],
        uow,
        ctx,
    )
    (stored,) = uow.tables.cases.values()
    case = stored.case
    assert (case.subject_id, case.severity.value, case.rules) == (
        subject("worker-1"),
        "medium",
        ["sustained_load"],
    )
    assert case.observation_ids == ["c-1"]
    (alert,) = sent(uow).of_kind("alert")
    assert alert["alert"]["reason"].startswith("Sustained overtime or on-call load")
    explanation = await uow.evidence.explain(case.id)
    assert explanation is not None
    (fired,) = explanation.rules
    # The reading and the signals, by kind and severity: no signal id, nothing it said.
    assert [(o.checkin_id, o.signal_kind, o.scores) for o in fired.observations] == [
        (None, "overtime", {"severity": 2}),
        ("c-1", None, {"mood": 2}),
        (None, "on_call_load", {"severity": 3}),
    ]


async def test_one_severe_load_signal_before_a_low_checkin_opens_the_case_at_the_checkin(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await handle_signals(
        [load("oc-1", "on_call_load", 4, NOW - timedelta(days=2), person_id="worker-1")],
        uow,
        ctx,
    )
    assert uow.tables.cases == {}  # no reading yet
    await handle_checkins([checkin("c-1", at=NOW, mood=4)], uow, ctx)
    assert uow.tables.cases == {}  # a fine reading
    await handle_checkins([checkin("c-2", at=NOW + timedelta(hours=1), mood=2)], uow, ctx)
    (stored,) = uow.tables.cases.values()
    assert stored.case.rules == ["sustained_load"]


@pytest.mark.parametrize("signals_first", [True, False])
async def test_the_load_rule_does_not_depend_on_whether_the_reading_or_the_signals_came_first(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, signals_first: bool
) -> None:
    signals = [
        load("ot-1", "overtime", 2, NOW - timedelta(days=20), person_id="worker-1"),
        load("ot-2", "overtime", 2, NOW - timedelta(days=9), person_id="worker-1"),
        load("ot-3", "overtime", 2, NOW + timedelta(hours=2), person_id="worker-1"),
    ]
    reading = [checkin("c-1", at=NOW, mood=2)]
    if signals_first:
        await handle_signals(signals, uow, ctx)
        await handle_checkins(reading, uow, ctx)
    else:
        await handle_checkins(reading, uow, ctx)
        await handle_signals(signals, uow, ctx)
    (stored,) = uow.tables.cases.values()
    explanation = await uow.evidence.explain(stored.case.id)
    assert explanation is not None
    # The reading and the two signals within 14 days of it (not the one 20 days before).
    assert [o.at - NOW for o in explanation.rules[0].observations] == [
        -timedelta(days=9),
        timedelta(0),
        timedelta(hours=2),
    ]


async def test_an_absence_after_a_low_trend_counts_like_withdrawal(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    days = [NOW - timedelta(days=d) for d in (3, 2)]
    await handle_checkins([checkin(f"c-{i}", at=at, mood=2) for i, at in enumerate(days)], uow, ctx)
    await handle_signals([load("ab-1", "absence", 1, NOW, person_id="worker-1")], uow, ctx)
    assert await fire_due_timers(uow, ctx, 10) == 0  # severity 1: below the minimum
    assert uow.tables.cases == {}
    await handle_signals([load("ab-2", "absence", 3, NOW, person_id="worker-1")], uow, ctx)
    assert uow.tables.cases == {}  # judged by the absence watch, from all observed, at once
    assert await fire_due_timers(uow, ctx, 10) == 1
    (stored,) = uow.tables.cases.values()
    assert (stored.case.rules, stored.case.observation_ids) == (["withdrawal"], ["c-0", "c-1"])
    explanation = await uow.evidence.explain(stored.case.id)
    assert explanation is not None
    assert explanation.rules[0].observations[-1].signal_kind == "absence"


@pytest.mark.parametrize("absence_first", [True, False])
async def test_an_absence_counts_whether_it_or_the_low_checkins_arrived_first(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, absence_first: bool
) -> None:
    """The audit's probe: the absence first used to wait for the silence (about 2 weeks)."""
    absence = [load("ab-1", "absence", 3, NOW - timedelta(days=1), person_id="worker-1")]
    low = [checkin(f"c-{d}", at=NOW - timedelta(days=d), mood=2) for d in (3, 2)]
    if absence_first:
        await handle_signals(absence, uow, ctx)
        await handle_checkins(low, uow, ctx)
    else:
        await handle_checkins(low, uow, ctx)
        await handle_signals(absence, uow, ctx)
    assert await fire_due_timers(uow, ctx, 10) == 1
    (stored,) = uow.tables.cases.values()
    assert (stored.case.rules, stored.case.observation_ids) == (["withdrawal"], ["c-3", "c-2"])


async def test_a_checkin_after_the_absence_means_it_no_longer_counts(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await handle_signals(
        [load("ab-1", "absence", 3, NOW - timedelta(days=1), person_id="worker-1")], uow, ctx
    )
    low = [checkin(f"c-{d}", at=NOW - timedelta(days=d), mood=2) for d in (3, 2)]
    await handle_checkins(low, uow, ctx)
    await handle_checkins([checkin("c-0", at=NOW, mood=4)], uow, ctx)
    assert await fire_due_timers(uow, ctx, 10) == 0  # the watch was cancelled
    assert uow.tables.cases == {}


@pytest.mark.parametrize("signals_first", [True, False])
async def test_a_late_load_signal_judges_every_low_reading_in_its_window(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, signals_first: bool
) -> None:
    """The audit's probe: a low reading, then a fine one; the signals came before or after."""
    signals = [
        load(f"ot-{d}", "overtime", 3, NOW - timedelta(days=d), person_id="worker-1")
        for d in (2, 3)
    ]
    readings = [checkin("c-0", at=NOW - timedelta(days=1), mood=2), checkin("c-1", mood=4)]
    if signals_first:
        await handle_signals(signals, uow, ctx)
        await handle_checkins(readings, uow, ctx)
    else:
        await handle_checkins(readings, uow, ctx)
        await handle_signals(signals, uow, ctx)
    (stored,) = uow.tables.cases.values()
    assert (stored.case.rules, stored.case.observation_ids) == (["sustained_load"], ["c-0"])
    assert stored.case.severity.value == "medium"


async def test_a_teams_load_counts_for_each_of_its_people_with_one_vault_call(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault
) -> None:
    await uow.directory.apply([person("worker-2", "team-x"), person("worker-3", "team-y")])
    for who in ("worker-1", "worker-2", "worker-3"):
        await handle_checkins([checkin(f"c-{who}", who, NOW - timedelta(days=1), mood=2)], uow, ctx)
    await handle_signals(
        [
            load("ot-t", "overtime", 4, NOW, team_id="team-x"),
            load("ot-p", "overtime", 1, NOW, person_id="worker-3"),
        ],
        uow,
        ctx,
    )
    assert vault.lookups == [["worker-1", "worker-2", "worker-3"]]
    opened = {stored.case.subject_id: stored.case.rules for stored in uow.tables.cases.values()}
    assert opened == {
        subject("worker-1"): ["sustained_load"],
        subject("worker-2"): ["sustained_load"],
    }
    kept = {s for s, _ in uow.tables.signals}
    assert kept == {subject(w) for w in ("worker-1", "worker-2", "worker-3")}


async def test_other_signals_feed_no_rule(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault
) -> None:
    await handle_checkins([checkin("c-1", at=NOW - timedelta(days=1), mood=1)], uow, ctx)
    await handle_signals([load("x-1", "other", 5, NOW, person_id="worker-1")], uow, ctx)
    assert uow.tables.signals == [] and vault.lookups == []


async def test_a_severe_critical_incident_sends_the_defusing_offer_at_once_quiet_hours_or_not(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await uow.directory.apply([person("coord-x", "team-x", "coordinator")])
    severe = signal("sig-4", NOW, team_id="team-x")  # severity 5
    milder = signal("sig-3", NOW, team_id="team-x").model_copy(update={"severity": 3})
    edge = signal("sig-e", NOW, team_id="team-x").model_copy(update={"severity": 4})
    await handle_signals([severe, milder, edge], uow, ctx)
    offers = {o["id"]: o for o in sent(uow).of_kind("group_session_offer")}
    assert offers["group:defusing:sig-4:coord-x"]["critical"] is True
    assert offers["group:defusing:sig-e:coord-x"]["critical"] is True
    assert offers["group:defusing:sig-3:coord-x"]["critical"] is False
    assert offers["group:defusing:sig-4:coord-x"]["params"]["urgent"] == "true"
    assert offers["group:defusing:sig-3:coord-x"]["params"]["urgent"] == "false"


async def test_a_late_incident_gets_windows_that_start_now_and_follow_ups_not_in_the_past(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await uow.directory.apply([person("coord-x", "team-x", "coordinator")])
    incident = NOW - timedelta(hours=10)
    await handle_signals([signal("sig-1", incident, person_id="worker-1")], uow, ctx)
    (proposal,) = sent(uow).proposals
    # It used to end 7 hours before it started.
    assert (proposal["window_start"], proposal["window_end"], proposal["offer_by"]) == (
        z(NOW),
        z(NOW + timedelta(hours=1)),
        z(NOW + timedelta(hours=1)),
    )
    (offer,) = sent(uow).of_kind("group_session_offer")
    assert (offer["params"]["window_start"], offer["params"]["window_end"]) == (
        NOW.isoformat(),
        (NOW + timedelta(hours=1)).isoformat(),
    )
    due = {t.timer.id: t.timer.due_at for t in uow.tables.timers.values()}
    assert due[f"exposure_follow_up:sig-1:{subject('worker-1')}:72"] == incident + timedelta(
        hours=72
    )


async def test_a_month_late_incident_brings_one_follow_up_now(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    incident = NOW - timedelta(days=40)
    await handle_signals([signal("sig-1", incident, person_id="worker-1")], uow, ctx)
    follow_ups = {
        t.timer.id: t.timer.due_at for t in uow.tables.timers.values() if "exposure" in t.timer.id
    }
    assert follow_ups == {f"exposure_follow_up:sig-1:{subject('worker-1')}:720": NOW}
