"""The escalation service's use cases: each runs inside one unit of work (a transaction).

Events in, decisions by the pure domain, effects out through the outbox: case transitions
on ``escalation.cases``, messages on ``notifications.requests``, durable timers for what
must happen later. Consumers and timers may run on several replicas: row locks, unique
indexes and the processed-events table make every effect happen once.
"""

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import HttpUrl

from kinship_contracts.cases import (
    CaseEvent,
    CaseOutcome,
    GroupSessionKind,
    GroupSessionProposed,
    Severity,
)
from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.directory import DirectoryPerson, Role
from kinship_contracts.notifications import (
    Alert,
    DeliveryStatus,
    MessageKind,
    NotificationReceipt,
    NotificationRequest,
    Recipient,
)
from kinship_contracts.resources import ResourceKind, SupportResource
from kinship_contracts.signals import SignalKind, SignalSubmitted
from kinship_contracts.subjects import Pseudonymiser
from kinship_contracts.topics import ESCALATION_CASES, GROUP_SESSIONS, NOTIFICATION_REQUESTS
from kinship_escalation.adapters.postgres import AlertRecord, EscalationUnit, StoredCase, Timer
from kinship_escalation.domain.cases import Case
from kinship_escalation.domain.links import AckLinks
from kinship_escalation.domain.observations import CheckinObservation
from kinship_escalation.domain.policies import (
    EscalationPolicy,
    OnCallRotation,
    Responder,
    choose_responder,
)
from kinship_escalation.domain.resources import DEFAULT_CATALOGUE, country_of_timezone, select
from kinship_escalation.domain.rules import (
    CRITICAL_INCIDENT,
    REASONS,
    TEAM_CLUSTER,
    DetectionRules,
    Evidence,
    evaluate_checkin,
    needs_self_care,
    team_cluster,
    withdrawal,
    withdrawal_due,
)
from kinship_runtime.outbox import OutboxMessage, event_message
from kinship_runtime.telemetry import CASES_OPENED, TIME_TO_ACKNOWLEDGE

log = logging.getLogger(__name__)

SOURCE = "kinship/escalation"
HISTORY_DAYS = 80  # 60-day baseline + 14 recent days, with slack

ACK_TIMEOUT = "ack_timeout"
CONTACT_TIMEOUT = "contact_timeout"
CASE_FOLLOW_UP = "case_follow_up"
EXPOSURE_FOLLOW_UP = "exposure_follow_up"
MISSED_CHECKINS = "missed_checkins"
SUPPORT_SESSION = "support_session"


@dataclass(frozen=True)
class EscalationContext:
    """Everything the use cases need besides the unit of work."""

    rules: DetectionRules
    default_policy: EscalationPolicy
    links: AckLinks
    pseudonyms: Pseudonymiser
    cases_topic: str
    requests_topic: str
    responder_rest: timedelta
    resources: tuple[SupportResource, ...] = DEFAULT_CATALOGUE
    zone_table: str = ""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)


class CaseNotFoundError(LookupError):
    """No case with this id."""


class NotAllowedError(PermissionError):
    """The caller may not do this to the case."""


# ---- outgoing messages ---------------------------------------------------------------------


def _case_message(ctx: EscalationContext, event: CaseEvent) -> OutboxMessage:
    return event_message(
        ctx.cases_topic,
        event.case_id,
        event,
        event_id=event.id,
        event_type=ESCALATION_CASES.event_type,
        source=SOURCE,
        time=event.occurred_at,
    )


def _request_message(ctx: EscalationContext, request: NotificationRequest) -> OutboxMessage:
    key = request.recipient.person_id or request.recipient.subject_id or request.id
    return event_message(
        ctx.requests_topic,
        key,
        request,
        event_id=request.id,
        event_type=NOTIFICATION_REQUESTS.event_type,
        source=SOURCE,
        time=request.created_at,
    )


async def _record(
    unit: EscalationUnit,
    ctx: EscalationContext,
    stored: StoredCase,
    events: list[CaseEvent],
    actor: str,
) -> None:
    await unit.save_case(stored)
    for event in events:
        await unit.audit(stored.case.id, event.kind.value, actor, event.sequence)
    await unit.publish([_case_message(ctx, event) for event in events])


def _reason(case: Case) -> str:
    for rule in REASONS:
        if rule in case.rules:
            return REASONS[rule]
    return "A colleague may need support."


async def _message(
    unit: EscalationUnit,
    ctx: EscalationContext,
    kind: MessageKind,
    recipient: Recipient,
    *,
    request_id: str,
    critical: bool = False,
    case_id: str | None = None,
    params: dict[str, str] | None = None,
    alert: Alert | None = None,
    resources: list[SupportResource] | None = None,
) -> None:
    request = NotificationRequest(
        id=request_id,
        kind=kind,
        recipient=recipient,
        critical=critical,
        alert=alert,
        template=kind.value,
        params=params or {},
        resources=resources or [],
        case_id=case_id,
        created_at=ctx.clock(),
    )
    await unit.publish([_request_message(ctx, request)])


# ---- detection -----------------------------------------------------------------------------


async def handle_checkins(
    unit: EscalationUnit, ctx: EscalationContext, events: Sequence[CheckinRecorded]
) -> int:
    """Evaluate recorded check-ins (a batch, in order); returns how many were new."""
    new_ids = await unit.add_observations(
        [(event.subject_id, event.team_id, CheckinObservation.of(event)) for event in events]
    )
    fresh = [event for event in events if event.id in new_ids]
    if not fresh:
        return 0
    now = ctx.clock()
    since = min(event.occurred_at for event in fresh) - timedelta(days=HISTORY_DAYS)
    histories = await unit.histories(sorted({event.subject_id for event in fresh}), since)
    no_watch: list[str] = []
    for event in fresh:
        history = [item for item in histories[event.subject_id] if item.at <= event.occurred_at]
        await _evaluate(unit, ctx, event.subject_id, event.team_id, history, now)
        if history and history[-1].id == event.id:
            watching = await _watch_for_withdrawal(
                unit, ctx, event.subject_id, event.team_id, history
            )
            if not watching:
                no_watch.append(f"{MISSED_CHECKINS}:{event.subject_id}")
    await unit.cancel_timers(no_watch)  # one statement for the batch: the common case
    return len(fresh)


async def _evaluate(
    unit: EscalationUnit,
    ctx: EscalationContext,
    subject_id: str,
    team_id: str | None,
    history: list[CheckinObservation],
    now: datetime,
) -> None:
    newest = history[-1]
    evidence = evaluate_checkin(history, ctx.rules)
    if evidence:
        await open_or_update_case(unit, ctx, subject_id, team_id, evidence, now)
    elif (
        needs_self_care(newest, ctx.rules)
        and await unit.open_case_of(subject_id) is None
        and await unit.self_care_due(subject_id, now, ctx.rules.self_care_every_days)
    ):
        await _message(
            unit,
            ctx,
            MessageKind.SELF_CARE,
            Recipient(subject_id=subject_id),
            request_id=f"self-care:{newest.id}",
        )


async def _watch_for_withdrawal(
    unit: EscalationUnit,
    ctx: EscalationContext,
    subject_id: str,
    team_id: str | None,
    history: list[CheckinObservation],
) -> bool:
    """Schedule (or move) the missed-check-ins timer after a low trend; False if none is due."""
    timer_id = f"{MISSED_CHECKINS}:{subject_id}"
    due = withdrawal_due(history, ctx.rules)
    if due is None:
        return False
    await unit.schedule(
        timer_id,
        MISSED_CHECKINS,
        due,
        subject_id=subject_id,
        team_id=team_id,
        payload={"last_checkin": history[-1].id},
        replace=True,
    )
    return True


async def open_or_update_case(
    unit: EscalationUnit,
    ctx: EscalationContext,
    subject_id: str,
    team_id: str | None,
    evidence: list[Evidence],
    now: datetime,
) -> StoredCase:
    """One open case per subject: open it and alert step 1, or attach the new evidence."""
    stored = await unit.open_case_of(subject_id)
    if stored is None:
        policy = await unit.policy() or ctx.default_policy
        case, events = Case.open(ctx.new_id(), subject_id, team_id, evidence, now)
        stored = StoredCase(case, policy, [])
        await _record(unit, ctx, stored, events, "detection")
        CASES_OPENED.add(1, {"severity": case.severity.value})
        if case.severity is Severity.CRITICAL:
            await _crisis_resources(unit, ctx, case)
        await alert_step(unit, ctx, stored, step=1, attempt=1, now=now)
    else:
        was_critical = stored.case.severity is Severity.CRITICAL
        events = stored.case.add_evidence(evidence, now)
        if events:
            await _record(unit, ctx, stored, events, "detection")
        if stored.case.severity is Severity.CRITICAL and not was_critical:
            await _crisis_resources(unit, ctx, stored.case)
    if team_id is not None:
        await _note_team_distress(unit, ctx, team_id, subject_id, now)
    return stored


async def _resources_for(
    unit: EscalationUnit, ctx: EscalationContext, subject_id: str, kinds: set[ResourceKind]
) -> list[SupportResource]:
    timezone = await unit.timezone_of_subject(subject_id)
    country = country_of_timezone(timezone, ctx.zone_table) if timezone else None
    return select(ctx.resources, kinds, country)


async def _crisis_resources(unit: EscalationUnit, ctx: EscalationContext, case: Case) -> None:
    kinds = {ResourceKind.CRISIS, ResourceKind.EMPLOYEE_ASSISTANCE}
    await _message(
        unit,
        ctx,
        MessageKind.CRISIS_RESOURCES,
        Recipient(subject_id=case.subject_id),
        request_id=f"crisis:{case.id}",
        critical=True,
        case_id=case.id,
        resources=await _resources_for(unit, ctx, case.subject_id, kinds),
    )


async def _note_team_distress(
    unit: EscalationUnit, ctx: EscalationContext, team_id: str, subject_id: str, now: datetime
) -> None:
    await unit.mark_distress(team_id, subject_id, now)
    window = timedelta(hours=ctx.rules.cluster_window_hours)
    if not team_cluster(await unit.team_distress(team_id, now - window), now, ctx.rules):
        return
    last = await unit.last_group_offer(team_id, TEAM_CLUSTER)
    if last is not None and last > now - window:
        return
    await propose_group_session(
        unit, ctx, team_id, GroupSessionKind.SUPPORT_SESSION, TEAM_CLUSTER, now, now
    )


# ---- escalation ----------------------------------------------------------------------------


async def _recipients(
    unit: EscalationUnit, ctx: EscalationContext, stored: StoredCase, target: str, now: datetime
) -> tuple[str | None, list[str]]:
    """(assigned responder or None, people to alert) for a policy step's target."""
    case = stored.case
    staff = await unit.staff()
    if target == "coordinators":
        people = [m.person_id for m in staff if m.coordinator and m.subject_id != case.subject_id]
        return None, people
    if target.startswith("person:"):
        person = await unit.person(target.removeprefix("person:"))
        if person is None or person.subject_id == case.subject_id:
            return None, []
        return person.person_id, [person.person_id]
    by_id = {member.person_id: member for member in staff}
    balance = True
    if target.startswith("rotation:"):
        rotation: OnCallRotation | None = await unit.rotation(target.removeprefix("rotation:"))
        members = rotation.order_at(now) if rotation else []
        candidates = [by_id[p].as_responder() for p in members if p in by_id]
        balance = False
    else:
        candidates = [m.as_responder() for m in staff if m.responder]
    chosen: Responder | None = choose_responder(
        candidates,
        subject_id=case.subject_id,
        team_id=case.team_id,
        load=await unit.loads(now),
        already_alerted=set(stored.alerted),
        now=now,
        balance=balance,
    )
    return (chosen.person_id, [chosen.person_id]) if chosen else (None, [])


async def alert_step(
    unit: EscalationUnit,
    ctx: EscalationContext,
    stored: StoredCase,
    *,
    step: int,
    attempt: int,
    now: datetime,
) -> None:
    """Alert the case's policy step (skipping steps with nobody to alert) and start its timer."""
    steps = stored.policy.steps
    step = min(step, len(steps))
    policy_step = steps[step - 1]
    if attempt > 1 and stored.case.step == step:
        # A repeat alerts the same people again.
        responder, people = stored.case.responder_id, _current_recipients(stored)
    else:
        responder, people = await _recipients(unit, ctx, stored, policy_step.target, now)
    if not people and step < len(steps):
        await alert_step(unit, ctx, stored, step=step + 1, attempt=1, now=now)
        return
    events = stored.case.assign(responder, step, attempt, now)
    stored.alerted = [*stored.alerted, *(p for p in people if p not in stored.alerted)]
    await _record(unit, ctx, stored, events, "escalation")
    case = stored.case
    for person_id in people:
        alert_id = ctx.new_id()
        await unit.add_alert(AlertRecord(alert_id, case.id, person_id, step, attempt, None), now)
        alert = Alert(
            alert_id=alert_id,
            case_id=case.id,
            severity=case.severity,
            step=step,
            reason=_reason(case),
            opened_at=case.opened_at,
            ack_url=HttpUrl(ctx.links.url(alert_id)),
        )
        await _message(
            unit,
            ctx,
            MessageKind.ALERT,
            Recipient(person_id=person_id),
            request_id=f"alert:{alert_id}",
            critical=case.severity is Severity.CRITICAL,
            case_id=case.id,
            alert=alert,
        )
    if not people:
        log.warning("no responder or coordinator to alert; retrying after the step timeout")
    await unit.schedule(
        f"{ACK_TIMEOUT}:{case.id}:{step}:{attempt}",
        ACK_TIMEOUT,
        now + timedelta(seconds=policy_step.timeout_seconds),
        case_id=case.id,
        payload={"step": step, "attempt": attempt},
    )


def _current_recipients(stored: StoredCase) -> list[str]:
    if stored.case.responder_id is not None:
        return [stored.case.responder_id]
    return list(stored.alerted[-1:]) if stored.alerted else []


async def _step_timed_out(
    unit: EscalationUnit, ctx: EscalationContext, case_id: str, step: int, attempt: int
) -> None:
    stored = await unit.case(case_id)
    if stored is None:
        return
    case = stored.case
    if not case.awaiting_acknowledgement or (case.step, case.attempt) != (step, attempt):
        return  # acknowledged, or already moved on (e.g. after a failed delivery)
    now = ctx.clock()
    steps = stored.policy.steps
    if attempt < steps[step - 1].repeat:
        await alert_step(unit, ctx, stored, step=step, attempt=attempt + 1, now=now)
    elif step < len(steps):
        await alert_step(unit, ctx, stored, step=step + 1, attempt=1, now=now)
    else:
        # Nobody acknowledged even the last step: keep alerting it; nobody sits on a case.
        stored.alerted = []
        await alert_step(unit, ctx, stored, step=step, attempt=1, now=now)


async def handle_receipts(
    unit: EscalationUnit, ctx: EscalationContext, receipts: Sequence[NotificationReceipt]
) -> None:
    """A step whose alerts all failed moves on to the next step at once instead of waiting.

    On the last step there is nothing to move on to: its acknowledgement timer re-alerts it,
    so a recipient who cannot be reached never causes a tight loop of alerts.
    """
    for receipt in receipts:
        if receipt.kind is not MessageKind.ALERT or receipt.status is not DeliveryStatus.FAILED:
            continue
        if receipt.alert_id is None:
            continue
        alert = await unit.alert(receipt.alert_id)
        if alert is None:
            continue
        await unit.mark_alert_failed(alert.id, ctx.clock())
        if not await unit.all_alerts_failed(alert.case_id, alert.step, alert.attempt):
            continue  # someone else alerted at this step may still take it
        stored = await unit.case(alert.case_id)
        if stored is None or not stored.case.awaiting_acknowledgement:
            continue
        if (stored.case.step, stored.case.attempt) != (alert.step, alert.attempt):
            continue
        if alert.step < len(stored.policy.steps):
            await alert_step(unit, ctx, stored, step=alert.step + 1, attempt=1, now=ctx.clock())


# ---- responders' actions -------------------------------------------------------------------


async def _case_for(unit: EscalationUnit, case_id: str) -> StoredCase:
    stored = await unit.case(case_id)
    if stored is None:
        raise CaseNotFoundError(f"no case {case_id}; check the id in your alert")
    return stored


async def acknowledge(
    unit: EscalationUnit, ctx: EscalationContext, case_id: str, by: str
) -> StoredCase:
    """The responder (or an alerted coordinator) takes the case."""
    stored = await _case_for(unit, case_id)
    if by not in stored.alerted and by != stored.case.responder_id:
        raise NotAllowedError("only someone alerted for this case can acknowledge it")
    now = ctx.clock()
    events = stored.case.acknowledge(by, now)
    await _record(unit, ctx, stored, events, by)
    waited = (now - stored.case.opened_at).total_seconds()
    TIME_TO_ACKNOWLEDGE.record(waited, {"severity": stored.case.severity.value})
    await unit.schedule(
        f"{CONTACT_TIMEOUT}:{case_id}:{stored.case.sequence}",
        CONTACT_TIMEOUT,
        now + timedelta(seconds=stored.policy.contact_timeout_seconds),
        case_id=case_id,
        payload={"sequence": stored.case.sequence},
    )
    return stored


async def acknowledge_by_link(
    unit: EscalationUnit, ctx: EscalationContext, alert_id: str, token: str
) -> StoredCase:
    """Acknowledge through an alert's one-time signed link."""
    if not ctx.links.valid(alert_id, token):
        raise NotAllowedError("this acknowledgement link is not valid")
    alert = await unit.alert(alert_id)
    if alert is None:
        raise CaseNotFoundError("no such alert")
    if alert.link_used_at is not None:
        raise NotAllowedError("this acknowledgement link was already used")
    await unit.use_link(alert_id, ctx.clock())
    return await acknowledge(unit, ctx, alert.case_id, alert.recipient_id)


async def record_contact(
    unit: EscalationUnit, ctx: EscalationContext, case_id: str, by: str
) -> StoredCase:
    """First contact made with the person."""
    stored = await _case_for(unit, case_id)
    events = stored.case.contact(by, ctx.clock())
    await _record(unit, ctx, stored, events, by)
    return stored


async def hand_over(
    unit: EscalationUnit, ctx: EscalationContext, case_id: str, by: str, to: str
) -> StoredCase:
    """Pass the case to another responder, who is alerted and must acknowledge."""
    stored = await _case_for(unit, case_id)
    target = await unit.person(to)
    if target is None or not (target.responder or target.coordinator):
        raise NotAllowedError(f"{to} is not an active peer responder or coordinator")
    if target.subject_id == stored.case.subject_id:
        raise NotAllowedError("a case cannot be handed to the person it is about")
    now = ctx.clock()
    events = stored.case.hand_over(by, to, now)
    await _record(unit, ctx, stored, events, by)
    stored.alerted = [to]
    await alert_step(
        unit, ctx, stored, step=stored.case.step, attempt=stored.case.attempt + 1, now=now
    )
    return stored


async def resolve(
    unit: EscalationUnit, ctx: EscalationContext, case_id: str, by: str, outcome: CaseOutcome
) -> StoredCase:
    """Close the case, ask both sides for feedback, schedule the follow-up."""
    stored = await _case_for(unit, case_id)
    now = ctx.clock()
    events = stored.case.resolve(by, outcome, now)
    await _record(unit, ctx, stored, events, by)
    if stored.case.severity is Severity.CRITICAL and ctx.responder_rest > timedelta(0):
        await unit.rest(by, now + ctx.responder_rest)
    for recipient, name in (
        (Recipient(subject_id=stored.case.subject_id), "person"),
        (Recipient(person_id=by), "responder"),
    ):
        await _message(
            unit,
            ctx,
            MessageKind.FEEDBACK_REQUEST,
            recipient,
            request_id=f"feedback:{case_id}:{name}",
            case_id=case_id,
            params={"case_id": case_id, "from": name},
        )
    await unit.schedule(
        f"{CASE_FOLLOW_UP}:{case_id}",
        CASE_FOLLOW_UP,
        now + timedelta(hours=ctx.rules.follow_up_after_hours[0]),
        case_id=case_id,
    )
    return stored


async def give_feedback(
    unit: EscalationUnit,
    ctx: EscalationContext,
    case_id: str,
    given_by: str,
    score: int,
    actor: str,
) -> bool:
    """Feedback after a case (once per giver); False when it was already given."""
    stored = await _case_for(unit, case_id)
    now = ctx.clock()
    events = stored.case.feedback(score, given_by, now)
    if not await unit.save_feedback(case_id, given_by, score, now):
        return False
    await _record(unit, ctx, stored, events, actor)
    return True


# ---- timers --------------------------------------------------------------------------------


async def fire_timer(unit: EscalationUnit, ctx: EscalationContext, timer: Timer) -> None:
    """Run one due timer (inside the transaction that claimed it: fires once)."""
    if timer.kind == ACK_TIMEOUT and timer.case_id:
        await _step_timed_out(
            unit, ctx, timer.case_id, int(timer.payload["step"]), int(timer.payload["attempt"])
        )
    elif timer.kind == CONTACT_TIMEOUT and timer.case_id:
        await _contact_timed_out(unit, ctx, timer.case_id, int(timer.payload["sequence"]))
    elif timer.kind == CASE_FOLLOW_UP and timer.case_id:
        stored = await unit.case(timer.case_id)
        if stored is not None:
            events = stored.case.follow_up_due(ctx.clock())
            await _record(unit, ctx, stored, events, "timer")
            await _checkin_reminder(unit, ctx, stored.case.subject_id, timer.id)
    elif timer.kind == EXPOSURE_FOLLOW_UP and timer.subject_id:
        await _checkin_reminder(unit, ctx, timer.subject_id, timer.id)
    elif timer.kind == MISSED_CHECKINS and timer.subject_id:
        await _missed_checkins(unit, ctx, timer)
    elif timer.kind == SUPPORT_SESSION and timer.team_id:
        await propose_group_session(
            unit,
            ctx,
            timer.team_id,
            GroupSessionKind.SUPPORT_SESSION,
            str(timer.payload["reason"]),
            datetime.fromisoformat(timer.payload["from"]),
            ctx.clock(),
        )
    else:
        log.warning("unknown or incomplete timer %s skipped", timer.kind)


async def _contact_timed_out(
    unit: EscalationUnit, ctx: EscalationContext, case_id: str, sequence: int
) -> None:
    stored = await unit.case(case_id)
    if stored is None or stored.case.sequence != sequence:
        return  # the case moved on (contacted, handed over, resolved)
    case = stored.case
    if case.contacted_at is not None or not case.is_open:
        return
    case.contact_overdue()
    await alert_step(unit, ctx, stored, step=case.step + 1, attempt=1, now=ctx.clock())


async def _checkin_reminder(
    unit: EscalationUnit, ctx: EscalationContext, subject_id: str, reason: str
) -> None:
    await _message(
        unit,
        ctx,
        MessageKind.CHECKIN_REMINDER,
        Recipient(subject_id=subject_id),
        request_id=f"reminder:{reason}",
        params={"purpose": "follow_up"},
    )


async def _missed_checkins(unit: EscalationUnit, ctx: EscalationContext, timer: Timer) -> None:
    assert timer.subject_id is not None
    now = ctx.clock()
    histories = await unit.histories([timer.subject_id], now - timedelta(days=HISTORY_DAYS))
    history = histories.get(timer.subject_id, [])
    if not history or history[-1].id != timer.payload.get("last_checkin"):
        return  # the person checked in since
    evidence = withdrawal(history, ctx.rules, now)
    if evidence is not None:
        await open_or_update_case(unit, ctx, timer.subject_id, timer.team_id, [evidence], now)


# ---- signals, group sessions and the directory ---------------------------------------------


async def handle_signals(
    unit: EscalationUnit, ctx: EscalationContext, signals: Sequence[SignalSubmitted]
) -> None:
    """Critical-incident exposure: group offers for the team, follow-ups for the person."""
    for signal in signals:
        if signal.kind is not SignalKind.CRITICAL_INCIDENT:
            continue
        subject_id = ctx.pseudonyms.subject_id(signal.person_id) if signal.person_id else None
        team_id = signal.team_id or (await unit.team_of_subject(subject_id) if subject_id else None)
        now = ctx.clock()
        if subject_id is not None:
            for hours in ctx.rules.follow_up_after_hours:
                await unit.schedule(
                    f"{EXPOSURE_FOLLOW_UP}:{signal.id}:{hours}",
                    EXPOSURE_FOLLOW_UP,
                    signal.occurred_at + timedelta(hours=hours),
                    subject_id=subject_id,
                )
        if team_id is None:
            continue
        await propose_group_session(
            unit,
            ctx,
            team_id,
            GroupSessionKind.DEFUSING,
            CRITICAL_INCIDENT,
            signal.occurred_at,
            now,
            offer_id=f"defusing:{signal.id}",
        )
        await unit.schedule(
            f"{SUPPORT_SESSION}:{signal.id}",
            SUPPORT_SESSION,
            signal.occurred_at + timedelta(hours=ctx.rules.support_session_from_hours),
            team_id=team_id,
            payload={"reason": CRITICAL_INCIDENT, "from": signal.occurred_at.isoformat()},
        )


async def propose_group_session(
    unit: EscalationUnit,
    ctx: EscalationContext,
    team_id: str,
    kind: GroupSessionKind,
    reason: str,
    since: datetime,
    now: datetime,
    offer_id: str | None = None,
) -> None:
    """Offer a voluntary group session to the team's coordinators (once per offer id)."""
    rules = ctx.rules
    if kind is GroupSessionKind.DEFUSING:
        start, end = now, since + timedelta(hours=rules.defusing_within_hours)
        offer_by = end
    else:
        start = since + timedelta(hours=rules.support_session_from_hours)
        end = since + timedelta(hours=rules.support_session_to_hours)
        offer_by = start
    offer_id = offer_id or f"{kind.value}:{reason}:{team_id}:{since.isoformat()}"
    if not await unit.record_group_offer(offer_id, team_id, reason, kind.value, now):
        return
    proposal = GroupSessionProposed(
        id=offer_id,
        team_id=team_id,
        kind=kind,
        reason=reason,
        offer_by=offer_by,
        window_start=start,
        window_end=max(start, end),
        occurred_at=now,
    )
    await unit.publish(
        [
            event_message(
                ctx.cases_topic,
                team_id,
                proposal,
                event_id=proposal.id,
                event_type=GROUP_SESSIONS.event_type,
                source=SOURCE,
                time=now,
            )
        ]
    )
    staff = await unit.staff()
    coordinators = [m for m in staff if m.coordinator and m.team_id == team_id] or [
        m for m in staff if m.coordinator
    ]
    for coordinator in coordinators:
        await _message(
            unit,
            ctx,
            MessageKind.GROUP_SESSION_OFFER,
            Recipient(person_id=coordinator.person_id),
            request_id=f"group:{offer_id}:{coordinator.person_id}",
            params={
                "team_id": team_id,
                "kind": kind.value,
                "window_start": start.isoformat(),
                "window_end": end.isoformat(),
            },
        )


async def handle_directory(
    unit: EscalationUnit,
    ctx: EscalationContext,
    changes: Sequence[tuple[str, DirectoryPerson | None]],
) -> None:
    """Apply directory changes (a None person removes them)."""
    for person_id, person in changes:
        if person is None:
            await unit.remove_person(person_id)
            continue
        await unit.upsert_person(
            person_id,
            ctx.pseudonyms.subject_id(person_id),
            person.team_id,
            person.timezone,
            Role.PEER_RESPONDER in person.roles,
            Role.COORDINATOR in person.roles,
            person.active,
        )
