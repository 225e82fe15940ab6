"""Detection: recorded check-ins are evaluated against the rules; evidence opens a case (or
joins the open one), a low reading without a case earns self-care, a low trend starts a
watch for withdrawal."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from kinship_contracts.cases import Severity
from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.notifications import MessageKind, Recipient
from kinship_contracts.resources import ResourceKind
from kinship_escalation.domain.cases import Case, StoredCase
from kinship_escalation.domain.observations import CheckinObservation
from kinship_escalation.domain.resources import general_resources
from kinship_escalation.domain.rules import (
    Evidence,
    evaluate_checkin,
    needs_self_care,
    withdrawal,
    withdrawal_due,
)
from kinship_escalation.domain.timers import missed_checkins, missed_checkins_id
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.group_support import note_team_distress
from kinship_escalation.handlers.messages import record_transitions, request_notification
from kinship_escalation.handlers.outreach import (
    consent_at_opening,
    evidence_added,
    reach_out,
    resources_instead,
)
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.metrics import CASES_OPENED

HISTORY_DAYS = 80
"""How far back a subject's history is read: the 60-day baseline + 14 recent days, with slack."""


async def handle_checkins(
    events: Sequence[CheckinRecorded], uow: EscalationUnitOfWork, ctx: EscalationContext
) -> int:
    """Evaluate recorded check-ins (a batch, in order); returns how many were new.

    The observation's id is the check-in's: a check-in seen before (on the other lane, or
    redelivered) has no effect.
    """
    new_ids = await uow.observations.add(
        [(event.subject_id, event.team_id, CheckinObservation.of(event)) for event in events]
    )
    fresh = [event for event in events if event.id in new_ids]
    if not fresh:
        return 0
    now = ctx.clock()
    since = min(event.occurred_at for event in fresh) - timedelta(days=HISTORY_DAYS)
    histories = await uow.observations.histories(sorted({e.subject_id for e in fresh}), since)
    no_watch: list[str] = []
    for event in fresh:
        history = [item for item in histories[event.subject_id] if item.at <= event.occurred_at]
        await _evaluate(event.subject_id, event.team_id, history, uow, ctx, now)
        newest = bool(history) and history[-1].id == event.id
        if newest and not await _watch_for_withdrawal(
            event.subject_id, event.team_id, history, uow, ctx
        ):
            no_watch.append(missed_checkins_id(event.subject_id))
    await uow.timers.cancel(no_watch)  # one statement for the batch: the common case
    return len(fresh)


async def _evaluate(
    subject_id: str,
    team_id: str | None,
    history: list[CheckinObservation],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> None:
    evidence = evaluate_checkin(history, ctx.rules)
    if evidence:
        await open_or_update_case(subject_id, team_id, evidence, uow, ctx, now)
    else:
        await _offer_self_care(subject_id, history[-1], uow, ctx, now)


async def _offer_self_care(
    subject_id: str,
    newest: CheckinObservation,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> None:
    """Self-care resources for a low reading without a case, at most once per period."""
    if (
        needs_self_care(newest, ctx.rules)
        and await uow.cases.open_case_of(subject_id) is None
        and await uow.support.self_care_due(subject_id, now, ctx.rules.self_care_every_days)
    ):
        await request_notification(
            MessageKind.SELF_CARE,
            Recipient(subject_id=subject_id),
            uow,
            ctx,
            request_id=f"self-care:{newest.id}",
        )


async def _watch_for_withdrawal(
    subject_id: str,
    team_id: str | None,
    history: list[CheckinObservation],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> bool:
    """Schedule (or move) the missed-check-ins timer after a low trend; False if none is due."""
    due = withdrawal_due(history, ctx.rules)
    if due is None:
        return False
    timer = missed_checkins(subject_id, team_id, history[-1].id, due)
    await uow.timers.schedule(timer, replace=True)
    return True


async def open_or_update_case(
    subject_id: str,
    team_id: str | None,
    evidence: list[Evidence],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> StoredCase | None:
    """One open case per subject: open it and alert step 1, or attach the new evidence.
    (No case when the person wants resources only: ``handlers.outreach``.)"""
    stored = await uow.cases.open_case_of(subject_id)
    if stored is None:
        stored = await _open_case(subject_id, team_id, evidence, uow, ctx, now)
    else:
        await _add_evidence(stored, evidence, uow, ctx, now)
    if team_id is not None:
        await note_team_distress(team_id, subject_id, uow, ctx, now)
    return stored


async def _open_case(
    subject_id: str,
    team_id: str | None,
    evidence: list[Evidence],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> StoredCase | None:
    consent = await consent_at_opening(subject_id, evidence, uow)
    if consent is None:  # resources only: no case, no alert, no outreach
        await resources_instead(subject_id, evidence, uow, ctx, now)
        return None
    policy = await uow.on_call.policy() or ctx.default_policy
    case, events = Case.open(ctx.new_id(), subject_id, team_id, evidence, now)
    stored = StoredCase(case, policy, [])
    await record_transitions(stored, events, "detection", uow, ctx)
    CASES_OPENED.add(1, {"severity": case.severity.value})
    if case.severity is Severity.CRITICAL:
        await _crisis_resources(case, uow, ctx)
    await reach_out(stored, consent, uow, ctx, now)
    return stored


async def _add_evidence(
    stored: StoredCase,
    evidence: list[Evidence],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> None:
    was_critical = stored.case.severity is Severity.CRITICAL
    events = stored.case.add_evidence(evidence, now)
    if events:
        await record_transitions(stored, events, "detection", uow, ctx)
    if stored.case.severity is Severity.CRITICAL and not was_critical:
        await _crisis_resources(stored.case, uow, ctx)
    await evidence_added(stored, was_critical, uow, ctx, now)


async def _crisis_resources(case: Case, uow: EscalationUnitOfWork, ctx: EscalationContext) -> None:
    """Crisis lines and assistance for the person, at once (critical: quiet hours never apply)."""
    kinds = {ResourceKind.CRISIS, ResourceKind.EMPLOYEE_ASSISTANCE}
    await request_notification(
        MessageKind.CRISIS_RESOURCES,
        Recipient(subject_id=case.subject_id),
        uow,
        ctx,
        request_id=f"crisis:{case.id}",
        critical=True,
        case_id=case.id,
        # This service does not know where the person is (see domain/resources.py).
        resources=general_resources(ctx.resources, kinds),
    )


async def missed_checkins_due(
    subject_id: str,
    team_id: str | None,
    last_checkin: str | None,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> None:
    """The withdrawal watch came due: unless the person checked in since ``last_checkin``,
    the silence after their low trend is evidence of withdrawal."""
    now = ctx.clock()
    histories = await uow.observations.histories([subject_id], now - timedelta(days=HISTORY_DAYS))
    history = histories.get(subject_id, [])
    if not history or history[-1].id != last_checkin:
        return  # the person checked in since
    evidence = withdrawal(history, ctx.rules, now)
    if evidence is not None:
        await open_or_update_case(subject_id, team_id, [evidence], uow, ctx, now)
