"""Support for teams (``handlers.group_support``): critical-incident signals bring a defusing
offer, a support-session timer and follow-ups; a team cluster brings one offer per window."""

from datetime import timedelta

import pytest

from kinship_escalation.domain.timers import TimerKind
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.group_support import note_team_distress
from kinship_escalation.handlers.signals import handle_signals
from tests.unit.escalation.conftest import NOW, Clock, person, sent, signal, subject
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork, FakeVault


async def test_a_critical_incident_offers_defusing_to_the_teams_coordinators_and_schedules_more(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await uow.directory.apply([person("coord-x", "team-x", "coordinator")])
    incident = NOW - timedelta(minutes=30)
    await handle_signals([signal("sig-1", incident, person_id="worker-1")], uow, ctx)

    (proposal,) = sent(uow).proposals
    assert proposal == {
        "id": "defusing:sig-1",
        "team_id": "team-x",
        "kind": "defusing",
        "reason": "critical_incident",
        "offer_by": (incident + timedelta(hours=3)).isoformat().replace("+00:00", "Z"),
        "window_start": NOW.isoformat().replace("+00:00", "Z"),
        "window_end": (incident + timedelta(hours=3)).isoformat().replace("+00:00", "Z"),
        "occurred_at": NOW.isoformat().replace("+00:00", "Z"),
    }
    offers = sent(uow).of_kind("group_session_offer")
    assert [(o["recipient"], o["id"]) for o in offers] == [
        ({"person_id": "coord-x"}, "group:defusing:sig-1:coord-x")
    ]
    assert offers[0]["params"]["kind"] == "defusing"
    due = {
        armed.timer.id: (armed.timer.due_at - incident, armed.timer.subject_id, armed.timer.team_id)
        for armed in uow.tables.timers.values()
    }
    assert due == {
        "support_session:sig-1": (timedelta(hours=24), None, "team-x"),
        f"exposure_follow_up:sig-1:{subject('worker-1')}:72": (
            timedelta(hours=72),
            subject("worker-1"),
            None,
        ),
        f"exposure_follow_up:sig-1:{subject('worker-1')}:720": (
            timedelta(hours=720),
            subject("worker-1"),
            None,
        ),
    }
    assert uow.tables.cases == {}


async def test_a_team_without_coordinators_has_every_coordinator_offered_the_session(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await uow.directory.apply([person("coord-2", "team-d", "coordinator")])
    await handle_signals([signal("sig-1", NOW, team_id="team-q")], uow, ctx)
    offers = sent(uow).of_kind("group_session_offer")
    assert [o["recipient"]["person_id"] for o in offers] == ["coord-1", "coord-2"]
    # A team nobody is in (as the directory knows it): no follow-ups for anyone.
    assert [armed.timer.id for armed in uow.tables.timers.values()] == ["support_session:sig-1"]


async def test_the_same_incident_twice_is_offered_once_and_load_signals_bring_no_group_offer(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    overtime = signal("sig-2", NOW, person_id="worker-1").model_copy(update={"kind": "overtime"})
    await handle_signals([signal("sig-1", NOW, team_id="team-q"), overtime], uow, ctx)
    await handle_signals([signal("sig-1", NOW, team_id="team-q")], uow, ctx)
    assert len(sent(uow).proposals) == 1
    assert len(sent(uow).of_kind("group_session_offer")) == 1
    assert not [t for t in uow.tables.timers if "sig-2" in t]


async def test_a_signals_person_gets_their_subject_id_from_the_vault_once_per_batch(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault
) -> None:
    await handle_signals(
        [
            signal("sig-1", NOW, person_id="worker-1"),
            signal("sig-2", NOW, person_id="worker-2"),
            signal("sig-3", NOW, person_id="worker-1"),
        ],
        uow,
        ctx,
    )
    assert vault.lookups == [["worker-1", "worker-2"]]
    followed = {armed.timer.subject_id for armed in uow.tables.timers.values()}
    assert followed >= {subject("worker-1"), subject("worker-2")}


async def test_an_unreachable_vault_fails_the_batch_to_be_retried(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault
) -> None:
    vault.down = True
    with pytest.raises(OSError, match="unreachable"):
        await handle_signals([signal("sig-1", NOW, person_id="worker-1")], uow, ctx)
    assert uow.tables.timers == {} and sent(uow).proposals == []
    # Team signals need no vault.
    await handle_signals([signal("sig-2", NOW, team_id="team-q")], uow, ctx)
    assert len(sent(uow).proposals) == 1


async def test_a_person_unknown_to_the_directory_still_gets_follow_ups_but_no_team_offer(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await handle_signals([signal("sig-1", NOW, person_id="stranger")], uow, ctx)
    assert sent(uow).proposals == []
    assert sorted(uow.tables.timers) == [
        f"exposure_follow_up:sig-1:{subject('stranger')}:72",
        f"exposure_follow_up:sig-1:{subject('stranger')}:720",
    ]


async def test_a_teams_incident_brings_each_member_their_own_follow_ups(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault
) -> None:
    """The SPEC's individual follow-ups at about 72 h and 1 month, for a team's incident."""
    await uow.directory.apply(
        [person("worker-2", "team-x"), person("gone", "team-x", active=False)]
    )
    await handle_signals([signal("sig-1", NOW, team_id="team-x")], uow, ctx)
    assert vault.lookups == [["worker-1", "worker-2"]]  # active members, one call
    follow_ups = sorted(
        (armed.timer.subject_id, armed.timer.due_at - NOW)
        for armed in uow.tables.timers.values()
        if armed.timer.kind is TimerKind.EXPOSURE_FOLLOW_UP
    )
    assert follow_ups == sorted(
        (subject(who), timedelta(hours=hours))
        for who in ("worker-1", "worker-2")
        for hours in (72, 720)
    )
    assert len(sent(uow).proposals) == 1  # one defusing offer to the team, as before


async def test_three_people_of_a_team_in_distress_bring_one_offer_per_window(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    for number in range(2):
        await note_team_distress("team-q", f"s-{number}", uow, ctx, clock.now)
    assert sent(uow).proposals == []
    await note_team_distress("team-q", "s-2", uow, ctx, clock.advance(hours=1))
    await note_team_distress("team-q", "s-3", uow, ctx, clock.advance(hours=1))
    (proposal,) = sent(uow).proposals
    assert (proposal["kind"], proposal["reason"]) == ("support_session", "team_cluster")
    assert proposal["window_start"] == (NOW + timedelta(hours=25)).isoformat().replace(
        "+00:00", "Z"
    )
    assert [o["recipient"]["person_id"] for o in sent(uow).of_kind("group_session_offer")] == [
        "coord-1"
    ]
    # A new cluster once the window has passed brings a new offer.
    later = clock.advance(hours=80)
    for number in range(3):
        await note_team_distress("team-q", f"s-{number}", uow, ctx, later)
    assert len(sent(uow).proposals) == 2


async def test_distress_of_one_person_again_is_no_cluster(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    for _ in range(3):
        await note_team_distress("team-q", "s-0", uow, ctx, clock.advance(hours=1))
    assert sent(uow).proposals == []
