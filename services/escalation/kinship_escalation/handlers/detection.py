"""Detection: recorded check-ins and load signals are evaluated against the rules; evidence
opens a case (or joins the open one) and is kept to explain it, a low reading without a case
earns self-care, a low trend starts a watch for withdrawal.

The outcome never depends on how records are batched: each check-in is judged on what had
arrived before it (``rules.history_at``), and the withdrawal and absence watches are decided
once per subject from everything observed, after the batch. Nor on whether signals or
check-ins arrive first: a check-in is judged with the load signals kept, a late load signal
judges again every low reading within its window, and an absence is judged by a timer from
everything observed when it fires (``absence_watch``). Each unit of work takes its subjects'
detection locks before it reads what was observed, so a check-in and a signal about one
person arriving at once are judged one after the other.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from kinship_contracts.cases import Severity
from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.notifications import MessageKind, Param, Recipient
from kinship_contracts.resources import ResourceKind
from kinship_contracts.signals import SignalKind
from kinship_escalation.domain.cases import Case, StoredCase
from kinship_escalation.domain.explanations import RecordedEvidence
from kinship_escalation.domain.observations import CheckinObservation, SignalObservation
from kinship_escalation.domain.resources import SELF_CARE_KINDS, general_resources
from kinship_escalation.domain.rules import (
    HISTORY_DAYS,
    SELF_REFERRAL,
    Evidence,
    absence_due,
    absence_withdrawal,
    evaluate_checkin,
    evaluate_signal,
    history_at,
    history_in,
    needs_self_care,
    withdrawal,
    withdrawal_due,
)
from kinship_escalation.domain.timers import (
    absence_watch,
    absence_watch_id,
    missed_checkins,
    missed_checkins_id,
)
from kinship_escalation.handlers.alerts import page_severity_rise, severity_rose
from kinship_escalation.handlers.configuration import policy_for
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
from kinship_escalation.handlers.reminders import arm_reminders
from kinship_escalation.metrics import CASES_OPENED

SELF_REFERRAL_PURPOSE = "self_referral"
"""A self-care message's ``purpose`` when it answers a request for contact."""

SubjectLoadSignal = tuple[str, str | None, SignalObservation]
"""(subject id, team id, load signal)."""


async def handle_checkins(
    events: Sequence[CheckinRecorded], uow: EscalationUnitOfWork, ctx: EscalationContext
) -> int:
    """Evaluate recorded check-ins (a batch, in order of arrival); returns how many were new.
    Each subject's newest check-in arms their overdue-check-in reminder again
    (``handlers/reminders.py``).

    The observation's id is the check-in's: a check-in seen before (on the other lane, or
    redelivered, or twice in the batch) has no effect.
    """
    unique: dict[str, tuple[CheckinRecorded, CheckinObservation]] = {}
    for event in events:
        if event.id not in unique:
            unique[event.id] = (event, CheckinObservation.of(event))
    new_ids = await uow.observations.add(
        [(event.subject_id, event.team_id, observed) for event, observed in unique.values()]
    )
    fresh = [item for item in unique.values() if item[0].id in new_ids]
    if not fresh:
        return 0
    now = ctx.clock()
    subjects = sorted({event.subject_id for event, _ in fresh})
    await uow.observations.serialise(subjects)
    earliest = min(event.occurred_at for event, _ in fresh)
    stored = await uow.observations.histories(subjects, earliest - timedelta(days=HISTORY_DAYS))
    signals = await uow.observations.signal_histories(
        subjects, earliest - timedelta(days=ctx.rules.load_window_days)
    )
    not_yet: dict[str, set[str]] = {}  # each subject's check-ins arriving later in the batch
    for event, _ in fresh:
        not_yet.setdefault(event.subject_id, set()).add(event.id)
    teams: dict[str, str | None] = {}
    for event, observed in fresh:
        later = not_yet[event.subject_id]
        later.discard(event.id)
        # The port returns each history oldest first by (time, id): found by bisection.
        history = history_in(stored.get(event.subject_id, []), observed, later)
        subject_signals = signals.get(event.subject_id, [])
        await _evaluate(event.subject_id, event.team_id, history, subject_signals, uow, ctx, now)
        teams[event.subject_id] = event.team_id
    no_watch = [
        missed_checkins_id(subject_id)
        for subject_id, team_id in teams.items()
        if not await _watch_for_withdrawal(subject_id, team_id, stored[subject_id], uow, ctx)
    ]
    no_watch += [
        absence_watch_id(subject_id)
        for subject_id, team_id in teams.items()
        if not await _watch_for_absence(
            subject_id, team_id, stored[subject_id], signals.get(subject_id, []), uow, ctx
        )
    ]
    await uow.timers.cancel(no_watch)  # one statement for the batch: the common case
    newest = {subject_id: stored[subject_id][-1] for subject_id in teams}
    await arm_reminders(newest, {event.id for event, _ in fresh}, uow, ctx)
    return len(fresh)


async def _evaluate(
    subject_id: str,
    team_id: str | None,
    history: list[CheckinObservation],
    signals: list[SignalObservation],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> None:
    evidence = evaluate_checkin(history, ctx.rules, signals)
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
            # This service does not know where the person is (see domain/resources.py).
            resources=general_resources(ctx.resources, SELF_CARE_KINDS),
        )


async def _watch_for_withdrawal(
    subject_id: str,
    team_id: str | None,
    observed: list[CheckinObservation],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> bool:
    """Schedule (or move) the missed-check-ins timer after a low trend, judged on the newest
    check-in of all observed (oldest first by (time, id), as the port returns them); False
    when none is due (the caller cancels it)."""
    newest = observed[-1]
    due = withdrawal_due(history_in(observed, newest), ctx.rules)
    if due is None:
        return False
    timer = missed_checkins(subject_id, team_id, newest.id, due, newest.at)
    await uow.timers.schedule(timer, replace=True)
    return True


async def _watch_for_absence(
    subject_id: str,
    team_id: str | None,
    observed: list[CheckinObservation],
    signals: list[SignalObservation],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> bool:
    """Arm (or move) the absence watch when an absence after the low trend of all observed
    check-ins counts like withdrawal; False when none does (the caller cancels it).

    Decided once per subject after each batch of check-ins or signals, from everything
    observed, like the withdrawal watch; judged again from everything observed when the
    timer fires (at the absence, or at once if it has begun), so which came first, the
    absence or the check-ins, does not matter."""
    absence = absence_due(observed, signals, ctx.rules)
    if absence is None:
        return False
    newest = max(observed, key=lambda o: (o.at, o.id))
    await uow.timers.schedule(absence_watch(subject_id, team_id, newest, absence), replace=True)
    return True


async def handle_load_signals(
    signals: Sequence[SubjectLoadSignal], uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """Keep load signals (overtime, on-call load, absence) about subjects and evaluate the
    rules they feed: sustained load, and absence after a low trend (withdrawal)."""
    if not signals:
        return
    await uow.observations.add_signals([(subject, signal) for subject, _, signal in signals])
    now = ctx.clock()
    subjects = sorted({subject for subject, _, _ in signals})
    await uow.observations.serialise(subjects)
    earliest = min(signal.at for _, _, signal in signals)
    histories = await uow.observations.histories(subjects, earliest - timedelta(days=HISTORY_DAYS))
    # A reading up to a window before the signal counts with signals a window before it.
    loads = await uow.observations.signal_histories(
        subjects, earliest - 2 * timedelta(days=ctx.rules.load_window_days)
    )
    for subject_id, team_id, signal in signals:
        history = histories.get(subject_id, [])
        evidence = evaluate_signal(history, loads.get(subject_id, []), signal, ctx.rules)
        if evidence:
            await open_or_update_case(subject_id, team_id, evidence, uow, ctx, now)
    absent = {
        subject_id: team_id
        for subject_id, team_id, signal in signals
        if signal.kind is SignalKind.ABSENCE
    }
    if absent:
        await _decide_absences(absent, earliest, loads, uow, ctx)


async def _decide_absences(
    absent: dict[str, str | None],
    earliest: datetime,
    loads: dict[str, list[SignalObservation]],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> None:
    """The absence watch of each subject an absence arrived about, from everything observed.

    The newest check-in may lie long before the absence (up to the watch's silence after
    it, ``withdrawal_missed_intervals`` x a usual interval of at most ``HISTORY_DAYS``), and
    its own history reaches ``HISTORY_DAYS`` further back."""
    reach = HISTORY_DAYS * (ctx.rules.withdrawal_missed_intervals + 1)
    observed = await uow.observations.histories(sorted(absent), earliest - timedelta(days=reach))
    no_watch = [
        absence_watch_id(subject_id)
        for subject_id, team_id in absent.items()
        if not await _watch_for_absence(
            subject_id,
            team_id,
            observed.get(subject_id, []),
            loads.get(subject_id, []),
            uow,
            ctx,
        )
    ]
    await uow.timers.cancel(no_watch)


async def open_or_update_case(
    subject_id: str,
    team_id: str | None,
    evidence: list[Evidence],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> StoredCase | None:
    """One open case per subject: open it and alert step 1, or attach the new evidence.
    Either way the evidence is kept to explain the case. (No case when the person wants
    resources only: ``handlers.outreach``.)"""
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
    version = ctx.rules.version
    case, events = Case.open(ctx.new_id(), subject_id, team_id, evidence, now, version)
    # The policy for the case's team and severity (else the default); the case keeps a copy.
    stored = StoredCase(case, await policy_for(team_id, case.severity, uow, ctx), [])
    await record_transitions(stored, events, "detection", uow, ctx)
    await uow.evidence.record(case.id, RecordedEvidence.of(evidence, version, now))
    CASES_OPENED.add(1, {"severity": case.severity.value})
    if case.severity is Severity.CRITICAL:
        await _crisis_resources(case, uow, ctx)
    elif SELF_REFERRAL in case.rules:
        await _referral_received(case, evidence, uow, ctx)
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
    before = stored.case.severity
    referred = SELF_REFERRAL in stored.case.rules
    version = ctx.rules.version
    events = stored.case.add_evidence(evidence, now, version)
    if events:
        await record_transitions(stored, events, "detection", uow, ctx)
    await uow.evidence.record(stored.case.id, RecordedEvidence.of(evidence, version, now))
    if stored.case.severity is Severity.CRITICAL and not was_critical:
        await _crisis_resources(stored.case, uow, ctx)
    elif not referred and SELF_REFERRAL in stored.case.rules and not was_critical:
        await _referral_received(stored.case, evidence, uow, ctx)
    # A rise before anyone took the case may move it to a more specific policy, whose first
    # step is alerted at once: that is the page a rise to critical calls for, so no other.
    rerouted = stored.case.severity is not before and await severity_rose(stored, uow, ctx, now)
    if stored.case.severity is not before and stored.case.severity is not Severity.CRITICAL:
        await page_severity_rise(stored, uow, ctx, now)  # a case someone holds: tell them
    await evidence_added(stored, was_critical or rerouted, uow, ctx, now)


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


async def _referral_received(
    case: Case, evidence: Sequence[Evidence], uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """The person asked a peer to reach out (not immediate risk: that sends crisis resources):
    a care message at once (urgent: they just asked, quiet hours or not; never rate-limited)
    says the request arrived, with self-care and assistance resources for the wait."""
    asked = [
        facts.at
        for item in evidence
        if item.rule == SELF_REFERRAL
        for facts in item.observed
        if facts.checkin_id is not None
    ]
    await request_notification(
        MessageKind.SELF_CARE,
        Recipient(subject_id=case.subject_id),
        uow,
        ctx,
        request_id=f"referral:{case.id}",
        urgent=True,
        case_id=case.id,
        params={
            Param.PURPOSE: SELF_REFERRAL_PURPOSE,
            **({Param.CHECKIN_AT: max(asked).isoformat()} if asked else {}),
        },
        # This service does not know where the person is (see domain/resources.py).
        resources=general_resources(ctx.resources, SELF_CARE_KINDS),
    )


async def missed_checkins_due(
    subject_id: str,
    team_id: str | None,
    last_checkin: str | None,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    last_at: datetime | None = None,
) -> None:
    """The withdrawal watch came due: unless the person checked in since ``last_checkin``
    (made at ``last_at``), the silence after their low trend is evidence of withdrawal.

    The history is read back from the last check-in, however long ago: a backfilled history
    whose silence began months ago is still judged.
    """
    now = ctx.clock()
    await uow.observations.serialise([subject_id])
    since = min(now, last_at or now) - timedelta(days=HISTORY_DAYS)
    histories = await uow.observations.histories([subject_id], since)
    observed = histories.get(subject_id, [])
    if not observed:
        return
    newest = max(observed, key=lambda o: (o.at, o.id))
    if newest.id != last_checkin:
        return  # the person checked in since
    evidence = withdrawal(history_at(observed, newest), ctx.rules, now)
    if evidence is not None:
        await open_or_update_case(subject_id, team_id, [evidence], uow, ctx, now)


async def absence_watch_due(
    subject_id: str,
    team_id: str | None,
    payload: dict[str, object],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> None:
    """The absence watch came due: unless the person checked in since, the absence after
    their low trend is judged again from everything observed (``rules.absence_withdrawal``)
    and counts like withdrawal."""
    now = ctx.clock()
    last_at = datetime.fromisoformat(str(payload["last_at"]))
    absence = SignalObservation(
        SignalKind.ABSENCE,
        int(str(payload["absence_severity"])),
        datetime.fromisoformat(str(payload["absence_at"])),
    )
    await uow.observations.serialise([subject_id])
    histories = await uow.observations.histories(
        [subject_id], last_at - timedelta(days=HISTORY_DAYS)
    )
    observed = histories.get(subject_id, [])
    if not observed:
        return
    newest = max(observed, key=lambda o: (o.at, o.id))
    if newest.id != payload["last_checkin"]:
        return  # the person checked in since
    evidence = absence_withdrawal(history_at(observed, newest), absence, ctx.rules)
    if evidence is not None:
        await open_or_update_case(subject_id, team_id, [evidence], uow, ctx, now)
