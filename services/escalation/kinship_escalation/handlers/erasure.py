"""Erasure: forgetting a person in the escalation service, in two halves.

``privacy.erasure.requested`` names the person by directory id: what this service keeps about
them as staff (peer responder, coordinator) goes — their directory facts and rest, their
places in rotations and policies, their id wherever they acted (audit actor, alert
recipient, a case's responder) — and an open case they hold goes back to the policy, as a
hand-over to whoever is alerted next.

``privacy.erasure.subjects`` (from the check-in service, the only one that can link the two)
names their subject ids: their observations, distress and self-care marks, timers, dead
letters and outreach preference go, their data key for case notes is shredded and the notes
deleted; an open case about them is closed without alerting or telling anyone, and every
case about them keeps only its unlinked measures (timings, rules, steps, outcome, consent,
feedback). Its subject becomes a random stand-in, one per person per erasure
(``domain.cases.erased_subject``): the programme's measures, whenever first computed, count
the erased person as before — one distinct person, apart from other erased people — with
their feedback, so no published week moves because of the erasure (decision 76).

Each half is done once per erasure (by event id), in one transaction with its progress note;
the receipt goes out when both are done. The subjects half also keeps a keyed hash of each
subject id (``kinship_runtime.erased_ids``) for as long as the check-in topics keep records:
``skip_erased`` drops check-ins about them consumed later (a backlog, a replay), which would
otherwise be observed again under the old subject id and could open a case about them.

The person half keeps a keyed hash of the person id too (``ErasedIds(kind="person")``), with
the time it ran (decision 82), for as long as the ingestion topics keep records:
``skip_replayed`` drops signals about the person produced at or before it and consumed
after the erasure (a backlog, a replay of ``wellbeing.signals.submitted``) before the vault
is asked for their subject id, which would mint the erased person a new one and act on the
old signal under it (exposure follow-ups, load feeding detection). A signal produced after
the erasure is a new one and acted on; a team's signal names no one and is never skipped.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.privacy import ErasureRequested, ErasureStage, SubjectsErased
from kinship_contracts.signals import SignalSubmitted
from kinship_escalation.domain.cases import AuditRecord, erased_subject
from kinship_escalation.handlers.alerts import alert_step
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import record_transitions
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.metrics import ERASED_SIGNALS_SKIPPED, ERASED_SKIPPED
from kinship_runtime.idempotency import first_seen

ACTOR = "erasure"


async def erase_people(
    requests: Sequence[ErasureRequested], uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """Carry out erasure requests, each once however often it arrives."""
    for request in await first_seen(uow, "erasure", requests):
        await erase_person(request, uow, ctx)


async def erase_person(
    request: ErasureRequested, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """Forget what is kept by the person's id; note the half done. The person is kept as
    erased (their id's digest, ``ctx.erased_people``) before anything of theirs is read, at
    the time the erasure holds the lock (``now``, or later if it waited:
    ``kinship_runtime.erased_ids.remember_erased``): a batch of signals that checked before
    has committed by then, and one checking after skips their signals produced up to then."""
    person_id, now = request.person_id, ctx.clock()
    people = ctx.erased_people
    await uow.erasure.remember_erased_people(
        people.digests([person_id]), now, now + people.keep_for
    )
    held = [stored.case.id for stored in await uow.cases.assigned_to(person_id, True)]
    # Their id goes everywhere first (they are never alerted again), then their places in
    # rotations and policies; what they held goes back to its policy: the next step is
    # alerted, as after a hand-over.
    removed = await uow.erasure.forget_person(person_id)
    removed |= await uow.casework.forget_person(person_id)
    removed |= await _forget_on_call(person_id, uow)
    for case_id in held:
        released = await uow.cases.get(case_id)  # locked
        if released is None or not released.case.is_open:
            continue
        events = released.case.responder_gone(now)
        await record_transitions(released, events, ACTOR, uow, ctx)
        step = released.policy.escalated(released.case.step)
        await alert_step(released, uow, ctx, step=step, attempt=1, now=now)
    removed["cases_released"] = len(held)
    await _done(request.id, ErasureStage.PERSON, removed, uow, ctx)


async def _forget_on_call(person_id: str, uow: EscalationUnitOfWork) -> dict[str, int]:
    """The person out of every rotation, schedule (turns, overrides, swaps) and policy,
    and out of the policy copies of the cases that name them; counts by kind."""
    rotations = 0
    for rotation in await uow.on_call.rotations():
        kept = rotation.without(person_id)
        if kept is None:
            await uow.on_call.delete_rotation(rotation.name)
        elif kept != rotation:
            await uow.on_call.save_rotation(kept)
        rotations += kept != rotation
    schedules = 0
    for schedule in await uow.on_call.schedules():
        left = schedule.without(person_id)
        if left is None:
            await uow.on_call.delete_schedule(schedule.name)
        elif left != schedule:
            await uow.on_call.save_schedule(left)
        schedules += left != schedule
    policies = 0
    for policy in await uow.on_call.policies():
        if (changed := policy.without_person(person_id)) != policy:
            await uow.on_call.save_policy(changed)
            policies += 1
    for stored in await uow.cases.following_person(person_id):
        stored.policy = stored.policy.without_person(person_id)
        await uow.cases.save(stored)
        policies += 1
    return {"rotations": rotations, "schedules": schedules, "policies": policies}


async def erase_subject_sets(
    events: Sequence[SubjectsErased], uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """Carry out the subject halves of erasures, each once however often it arrives."""
    for event in await first_seen(uow, "erasure-subjects", events):
        await erase_subjects(event, uow, ctx)


async def erase_subjects(
    event: SubjectsErased, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """Forget what is kept by the subject ids; note the half done."""
    now = ctx.clock()
    erased = ctx.erased_ids
    if event.subjects_in_vault:
        # Only ids the vault served: an old-style event names its ids inline, unchecked, and
        # one naming a person never erased would stop their check-ins being evaluated.
        await uow.erasure.remember_erased(erased.digests(event.subject_ids), now + erased.keep_for)
    cases = await uow.cases.about(event.subject_ids) if event.subject_ids else []
    stand_ins = {subject: erased_subject() for subject in event.subject_ids}
    closed = 0
    for stored in cases:
        closed += stored.case.is_open
        stored.case.forget_subject(now, stand_ins[stored.case.subject_id])
        await uow.cases.save(stored)
        await uow.cases.audit(AuditRecord.of(stored.case, "erased", ACTOR))
    case_ids = [stored.case.id for stored in cases]
    removed = await uow.erasure.forget_subjects(event.subject_ids, case_ids)
    removed |= await uow.casework.forget_subjects(event.subject_ids, case_ids)
    removed["outreach_preferences"] = await uow.preferences.forget(event.subject_ids)
    removed |= {"cases_anonymised": len(cases), "open_cases_closed": closed}
    await _done(event.erasure_id, ErasureStage.SUBJECTS, removed, uow, ctx)


async def _done(
    erasure_id: str,
    stage: ErasureStage,
    removed: dict[str, int],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> None:
    receipt = await uow.erasure.erasure_done(
        erasure_id, stage, removed, receipts_topic=ctx.receipts_topic, now=ctx.clock()
    )
    if receipt is not None:
        await uow.publish([receipt])


async def skip_erased(
    checkins: Sequence[CheckinRecorded], uow: EscalationUnitOfWork, ctx: EscalationContext
) -> list[CheckinRecorded]:
    """The check-ins not about an erased subject id, in their order: the others are skipped
    (valid events, so not dead-lettered; counted, never by id)."""
    if not checkins:
        return []
    erased = ctx.erased_ids
    found = await uow.erasure.erased_among(
        erased.digests(checkin.subject_id for checkin in checkins), ctx.clock()
    )
    if not found:
        return list(checkins)
    kept = erased.keep(checkins, _subject, found)
    ERASED_SKIPPED.add(len(checkins) - len(kept))
    return kept


def _subject(checkin: CheckinRecorded) -> str:
    return checkin.subject_id


@dataclass(frozen=True)
class Consumed:
    """A signal as consumed from Kafka, with when its record was produced (the record's
    timestamp; None when it has none), which the body cannot vouch for."""

    signal: SignalSubmitted
    produced_at: datetime | None


async def skip_replayed(
    consumed: Sequence[Consumed], uow: EscalationUnitOfWork, ctx: EscalationContext
) -> list[SignalSubmitted]:
    """The signals to act on, in their order: all but those about a person erased at or
    after their record was produced (skipped: valid events, so not dead-lettered; counted
    by consumer, never by id). A team's signal, one produced after the erasure, or one
    with no timestamp is kept: a person may be signalled about again after being erased,
    and a critical incident is never dropped on a guess. Call it before the vault lookup."""
    if not consumed:
        return []
    people = ctx.erased_people
    named = [item.signal.person_id for item in consumed if item.signal.person_id is not None]
    found = await uow.erasure.erased_since(people.digests(named), ctx.clock()) if named else {}
    kept = [item.signal for item in consumed if not _replayed(item, found, ctx)]
    if len(kept) < len(consumed):
        ERASED_SIGNALS_SKIPPED.add(len(consumed) - len(kept), {"consumer": "signals"})
    return kept


def _replayed(item: Consumed, found: dict[bytes, datetime], ctx: EscalationContext) -> bool:
    person_id = item.signal.person_id
    if person_id is None or item.produced_at is None or not found:
        return False
    erased_at = found.get(ctx.erased_people.digest(person_id))
    return erased_at is not None and item.produced_at <= erased_at
