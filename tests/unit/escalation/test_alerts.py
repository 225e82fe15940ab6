"""Alerting (``handlers.alerts``): who each kind of step target alerts, steps with nobody to
alert, repeats, and failed deliveries moving a step on."""

from datetime import timedelta

import pytest

from kinship_contracts.cases import Severity
from kinship_contracts.links import REQUEST_SIGNATURE_HEADER, request_signed
from kinship_escalation.domain.cases import Case, StoredCase
from kinship_escalation.domain.policies import EscalationPolicy, OnCallRotation
from kinship_escalation.domain.rules import Evidence
from kinship_escalation.handlers.alerts import alert_step, handle_receipts
from kinship_escalation.handlers.cases import acknowledge
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from tests.unit.escalation.conftest import (
    NOW,
    REQUEST_KEY,
    REQUESTS,
    checkin,
    person,
    policy,
    receipt,
    sent,
    subject,
)
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork, FakeVault


async def new_case(
    uow: FakeEscalationUnitOfWork,
    the_policy: EscalationPolicy,
    about: str = "worker-1",
    team: str | None = "team-x",
) -> StoredCase:
    """A case just opened (stored, nobody alerted yet)."""
    evidence = [Evidence("self_referral", Severity.HIGH, ("c-1",))]
    case, _ = Case.open(f"k-{about}", subject(about), team, evidence, NOW)
    stored = StoredCase(case, the_policy)
    await uow.cases.save(stored)
    return stored


async def test_responders_step_alerts_the_least_loaded_responder_outside_the_team(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    first = await new_case(uow, policy(("responders", 60)), "worker-1")
    await alert_step(first, uow, ctx, step=1, attempt=1, now=NOW)
    second = await new_case(uow, policy(("responders", 60)), "worker-2")
    await alert_step(second, uow, ctx, step=1, attempt=1, now=NOW)
    # About a teammate of resp-a: resp-b, though both have a case now.
    third = await new_case(uow, policy(("responders", 60)), "mate-of-a", team="team-r")
    await alert_step(third, uow, ctx, step=1, attempt=1, now=NOW)
    assert sent(uow).alerted() == [("resp-a", 1), ("resp-b", 1), ("resp-b", 1)]
    assert [uow.tables.cases[s.case.id].case.responder_id for s in (first, second, third)] == [
        "resp-a",
        "resp-b",
        "resp-b",
    ]


async def test_a_responder_is_never_alerted_about_themselves(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    stored = await new_case(uow, policy(("responders", 60)), "resp-a", team="team-r")
    await alert_step(stored, uow, ctx, step=1, attempt=1, now=NOW)
    assert sent(uow).alerted() == [("resp-b", 1)]


async def test_the_vault_screens_the_candidates_and_the_one_chosen_never_is_the_person(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault
) -> None:
    stored = await new_case(uow, policy(("responders", 60)), "resp-a", team="team-r")
    await alert_step(stored, uow, ctx, step=1, attempt=1, now=NOW)
    assert vault.screens == [(subject("resp-a"), ["resp-a", "resp-b"])]
    assert not [r for r in uow.tables.audit if r.action == "screen_skipped"]


async def test_a_coordinator_is_never_alerted_about_themselves(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await uow.directory.apply([person("coord-2", "team-d", "coordinator")])
    stored = await new_case(uow, policy(("coordinators", 60)), "coord-2", team="team-d")
    await alert_step(stored, uow, ctx, step=1, attempt=1, now=NOW)
    assert sent(uow).alerted() == [("coord-1", 1)]


async def test_when_the_vault_is_away_the_alert_goes_out_unscreened_and_that_is_audited(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault
) -> None:
    vault.down = True
    stored = await new_case(uow, policy(("coordinators", 60), ("responders", 60)))
    await alert_step(stored, uow, ctx, step=1, attempt=1, now=NOW)
    assert sent(uow).alerted() == [("coord-1", 1)]  # a crisis does not wait
    (skipped,) = [r for r in uow.tables.audit if r.action == "screen_skipped"]
    assert (skipped.actor, skipped.case_ids, skipped.subject_ids) == (
        "escalation",
        (stored.case.id,),
        (subject("worker-1"),),
    )


async def test_every_notification_request_is_signed_for_the_notifications_service(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    stored = await new_case(uow, policy(("coordinators", 60)))
    await alert_step(stored, uow, ctx, step=1, attempt=1, now=NOW)
    requests = [m for m in uow.tables.outbox if m.topic == REQUESTS]
    assert requests
    for message in requests:
        assert message.value is not None
        headers = dict(message.headers)
        signature = headers[REQUEST_SIGNATURE_HEADER].decode()
        assert request_signed(REQUEST_KEY, message.value, signature)
        assert not request_signed(b"another-key-0123456789abcdef0123", message.value, signature)
        assert not request_signed(REQUEST_KEY, message.value + b" ", signature)


async def test_coordinators_step_alerts_every_coordinator_and_assigns_nobody(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await uow.directory.apply([person("coord-2", "team-d", "coordinator")])
    stored = await new_case(uow, policy(("coordinators", 60)))
    await alert_step(stored, uow, ctx, step=1, attempt=1, now=NOW)
    assert sent(uow).alerted() == [("coord-1", 1), ("coord-2", 1)]
    saved = uow.tables.cases[stored.case.id]
    assert saved.case.responder_id is None
    assert saved.alerted == ["coord-1", "coord-2"]


async def test_rotation_step_alerts_the_member_on_call(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    rotation = OnCallRotation(
        name="night", members=["resp-a", "resp-b"], shift_hours=24, starts_at=NOW
    )
    await uow.on_call.save_rotation(rotation)
    stored = await new_case(uow, policy(("rotation:night", 60)))
    await alert_step(stored, uow, ctx, step=1, attempt=1, now=NOW + timedelta(hours=25))
    assert sent(uow).alerted() == [("resp-b", 1)]


async def test_person_step_alerts_that_person_unless_the_case_is_about_them(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    mine = await new_case(uow, policy(("person:coord-1", 60)))
    await alert_step(mine, uow, ctx, step=1, attempt=1, now=NOW)
    about_them = await new_case(
        uow, policy(("person:coord-1", 60), ("responders", 60)), "coord-1", team="team-c"
    )
    await alert_step(about_them, uow, ctx, step=1, attempt=1, now=NOW)
    assert sent(uow).alerted() == [("coord-1", 1), ("resp-a", 2)]
    assert uow.tables.cases[mine.case.id].case.responder_id == "coord-1"


async def test_a_step_with_nobody_to_alert_is_skipped(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    stored = await new_case(uow, policy(("rotation:missing", 60), ("coordinators", 90)))
    await alert_step(stored, uow, ctx, step=1, attempt=1, now=NOW)
    assert sent(uow).alerted() == [("coord-1", 2)]
    assert uow.tables.cases[stored.case.id].case.step == 2
    timer = uow.timer(f"ack_timeout:{stored.case.id}:2:1")
    assert timer is not None and timer.timer.due_at == NOW + timedelta(seconds=90)
    assert uow.timer(f"ack_timeout:{stored.case.id}:1:1") is None


async def test_nobody_to_alert_on_the_last_step_still_starts_its_timer(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, caplog: pytest.LogCaptureFixture
) -> None:
    # The coordinators step that ends every policy has nobody: the one coordinator is the
    # person the case is about.
    stored = await new_case(uow, policy(("rotation:missing", 60)), "coord-1", team="team-c")
    await alert_step(stored, uow, ctx, step=1, attempt=1, now=NOW)
    assert sent(uow).alerted() == []
    saved = uow.tables.cases[stored.case.id].case
    assert (saved.status.value, saved.step, saved.responder_id) == ("assigned", 2, None)
    assert uow.timer(f"ack_timeout:{stored.case.id}:2:1") is not None
    assert "retrying after the step timeout" in caplog.text


async def test_a_repeat_alerts_the_same_responder_again(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    stored = await new_case(uow, policy(("responders", 60, 2)))
    await alert_step(stored, uow, ctx, step=1, attempt=1, now=NOW)
    await alert_step(stored, uow, ctx, step=1, attempt=2, now=NOW + timedelta(seconds=60))
    assert sent(uow).alerted() == [("resp-a", 1), ("resp-a", 1)]
    alerts = [a.record for a in uow.tables.alerts.values()]
    assert [(a.recipient_id, a.step, a.attempt) for a in alerts] == [
        ("resp-a", 1, 1),
        ("resp-a", 1, 2),
    ]
    assert len({a.id for a in alerts}) == 2  # each alert has its own one-time link


async def test_a_step_beyond_the_policy_alerts_its_last_step(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    stored = await new_case(uow, policy(("responders", 60), ("coordinators", 60)))
    await alert_step(stored, uow, ctx, step=5, attempt=1, now=NOW)
    assert sent(uow).alerted() == [("coord-1", 2)]


async def opened(uow: FakeEscalationUnitOfWork, ctx: EscalationContext) -> str:
    """A case opened by a self-referral (step 1 alerts resp-a); its id."""
    await handle_checkins([checkin("c-1", wants_contact=True, mood=1)], uow, ctx)
    (case_id,) = uow.tables.cases
    return case_id


def alert_ids(uow: FakeEscalationUnitOfWork, step: int) -> list[str]:
    return [a.record.id for a in uow.tables.alerts.values() if a.record.step == step]


async def test_a_failed_alert_moves_the_case_to_the_next_step_at_once(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await uow.on_call.save_policy(policy(("responders", 600), ("coordinators", 600)))
    case_id = await opened(uow, ctx)
    (alert_id,) = alert_ids(uow, 1)
    await handle_receipts([receipt(alert_id)], uow, ctx)
    assert sent(uow).alerted() == [("resp-a", 1), ("coord-1", 2)]
    assert uow.tables.alerts[alert_id].failed_at == NOW
    assert uow.tables.cases[case_id].case.step == 2


async def test_a_step_waits_while_someone_it_alerted_may_still_take_it(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await uow.directory.apply([person("coord-2", "team-d", "coordinator")])
    await uow.on_call.save_policy(policy(("coordinators", 600), ("responders", 600)))
    case_id = await opened(uow, ctx)
    first, second = alert_ids(uow, 1)
    await handle_receipts([receipt(first)], uow, ctx)
    assert uow.tables.cases[case_id].case.step == 1
    await handle_receipts([receipt(second)], uow, ctx)
    assert uow.tables.cases[case_id].case.step == 2


async def test_a_failed_alert_on_the_last_step_waits_for_its_timer(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await uow.on_call.save_policy(policy(("coordinators", 600)))
    case_id = await opened(uow, ctx)
    (alert_id,) = alert_ids(uow, 1)
    await handle_receipts([receipt(alert_id)], uow, ctx)
    assert uow.tables.alerts[alert_id].failed_at == NOW
    assert sent(uow).alerted() == [("coord-1", 1)]  # no tight re-alert loop
    assert uow.tables.cases[case_id].case.step == 1


async def test_receipts_that_are_not_failed_alerts_or_are_stale_change_nothing(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await uow.on_call.save_policy(policy(("responders", 600, 2), ("coordinators", 600)))
    case_id = await opened(uow, ctx)
    (alert_id,) = alert_ids(uow, 1)
    stored = await uow.cases.get(case_id)
    assert stored is not None
    await alert_step(stored, uow, ctx, step=1, attempt=2, now=NOW)  # the step moved on
    await handle_receipts(
        [
            receipt(alert_id, status="delivered"),
            receipt(alert_id, kind="self_care"),
            receipt("no-such-alert"),
            receipt(alert_id),  # failed, but for attempt 1 while the case is at attempt 2
        ],
        uow,
        ctx,
    )
    assert sent(uow).alerted() == [("resp-a", 1), ("resp-a", 1)]
    assert uow.tables.alerts[alert_id].failed_at == NOW
    assert (uow.tables.cases[case_id].case.step, uow.tables.cases[case_id].case.attempt) == (
        1,
        2,
    )


async def test_a_failed_alert_after_acknowledgement_changes_nothing(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await opened(uow, ctx)
    (alert_id,) = alert_ids(uow, 1)
    await acknowledge(case_id, "resp-a", uow, ctx)
    await handle_receipts([receipt(alert_id)], uow, ctx)
    assert sent(uow).alerted() == [("resp-a", 1)]
    assert uow.tables.cases[case_id].case.status.value == "acknowledged"
