"""Kafka subscriptions of the escalation service: thin functions over the handlers.

Each ``store`` function receives a batch of events; its other parameters are injected from
a fresh request scope (``kinship_runtime.ingest``). A batch is handled in one unit of work
and its offsets committed after it: at-least-once delivery, one effect per event id.
"""

from collections.abc import Sequence
from typing import Any

from dishka import FromDishka
from pydantic import ValidationError

from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.directory import DirectoryChange
from kinship_contracts.errors import safe_field_errors
from kinship_contracts.notifications import NotificationReceipt
from kinship_contracts.outreach import OutreachChanged
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_contracts.signals import SignalSubmitted
from kinship_contracts.topics import (
    CHECKINS_RECORDED,
    CHECKINS_URGENT,
    DIRECTORY_PEOPLE,
    ERASURE_REQUESTED,
    ERASURE_SUBJECTS,
    NOTIFICATION_RECEIPTS,
    OUTREACH_PREFERENCES,
    SIGNALS_SUBMITTED,
)
from kinship_escalation.domain.casework import PreferenceChange
from kinship_escalation.handlers.alerts import handle_receipts
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.directory import apply_directory
from kinship_escalation.handlers.erasure import (
    Consumed,
    erase_people,
    erase_subject_sets,
    skip_erased,
    skip_replayed,
)
from kinship_escalation.handlers.outreach import apply_preferences, remember_shared_notes
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.handlers.signals import handle_signals
from kinship_runtime.erasure import parse_erasure_requests, subjects_from_vault
from kinship_runtime.ingest import Subscription
from kinship_runtime.records import (
    Accepted,
    Record,
    Rejected,
    parse_directory,
    parse_records,
    produced_at,
)


async def store_checkins(
    checkins: Sequence[CheckinRecorded],
    uow: FromDishka[EscalationUnitOfWork],
    ctx: FromDishka[EscalationContext],
) -> None:
    """Evaluate a batch of recorded check-ins (from either lane: the observation id dedupes),
    except those about a subject id erased meanwhile."""
    async with uow:
        kept = await skip_erased(checkins, uow, ctx)
        if kept:
            await handle_checkins(kept, uow, ctx)
            await remember_shared_notes(kept, uow)


_parse_signals = parse_records(SignalSubmitted)


def parse_signals(records: Sequence[Record]) -> tuple[list[Accepted[Consumed]], list[Rejected]]:
    """Signals (rejections as ``parse_records``), each with its record's time."""
    accepted, rejected = _parse_signals(records)
    consumed = [
        Accepted(item.record, Consumed(item.event, produced_at(item.record))) for item in accepted
    ]
    return consumed, rejected


async def store_signals(
    consumed: Sequence[Consumed],
    uow: FromDishka[EscalationUnitOfWork],
    ctx: FromDishka[EscalationContext],
) -> None:
    """Act on a batch of signals, each once, but for those about a person erased after they
    were produced (a backlog or a replay: ``skip_replayed``, before the vault is asked; and
    the vault's own record, for an erasure this service has not carried out yet)."""
    async with uow:
        signals = await skip_replayed(consumed, uow, ctx)
        if signals:
            produced = {item.signal.id: item.produced_at for item in consumed}
            await handle_signals(signals, uow, ctx, produced)


async def store_receipts(
    receipts: Sequence[NotificationReceipt],
    uow: FromDishka[EscalationUnitOfWork],
    ctx: FromDishka[EscalationContext],
) -> None:
    """Act on a batch of delivery receipts, each once."""
    async with uow:
        await handle_receipts(receipts, uow, ctx)


async def store_directory(
    changes: Sequence[DirectoryChange], uow: FromDishka[EscalationUnitOfWork]
) -> None:
    """Apply a batch of directory changes."""
    async with uow:
        await apply_directory(changes, uow)


async def store_erasures(
    requests: Sequence[ErasureRequested],
    uow: FromDishka[EscalationUnitOfWork],
    ctx: FromDishka[EscalationContext],
) -> None:
    """Forget what is kept by the people's ids (each request once)."""
    async with uow:
        await erase_people(requests, uow, ctx)


async def store_erased_subjects(
    events: Sequence[SubjectsErased],
    uow: FromDishka[EscalationUnitOfWork],
    ctx: FromDishka[EscalationContext],
) -> None:
    """Forget what is kept by the people's subject ids (each event once), asked of the
    check-in service for the erasure (never on Kafka)."""
    opened = await subjects_from_vault(events, ctx.vault)
    async with uow:
        await erase_subject_sets(opened, uow, ctx)


async def store_outreach(
    changes: Sequence[PreferenceChange], uow: FromDishka[EscalationUnitOfWork]
) -> None:
    """Keep people's outreach preferences (by subject id)."""
    async with uow:
        await apply_preferences(changes, uow)


def parse_outreach(
    records: Sequence[Record],
) -> tuple[list[Accepted[PreferenceChange]], list[Rejected]]:
    """Preference changes keyed by subject id; a null value (tombstone) forgets the subject."""
    accepted: list[Accepted[PreferenceChange]] = []
    rejected: list[Rejected] = []
    for record in records:
        key = record.key.decode(errors="replace") if record.key else None
        if record.value is None:
            if key:
                accepted.append(Accepted(record, PreferenceChange(key, None)))
            else:
                rejected.append(Rejected(record, {"code": "missing_key", "errors": []}))
            continue
        try:
            event = OutreachChanged.model_validate_json(record.value)
        except ValidationError as error:
            errors = safe_field_errors(error, OutreachChanged)
            rejected.append(Rejected(record, {"code": "validation_failed", "errors": errors}))
            continue
        if key is not None and key != event.subject_id:
            reason = {"code": "key_mismatch", "errors": [{"loc": ["subject_id"], "msg": "key"}]}
            rejected.append(Rejected(record, reason))
            continue
        change = PreferenceChange(event.subject_id, event.preference, event.updated_at)
        accepted.append(Accepted(record, change))
    return accepted, rejected


SUBSCRIPTIONS: tuple[Subscription[Any], ...] = (
    Subscription(
        CHECKINS_RECORDED,
        "checkins",
        parse=parse_records(CheckinRecorded),
        store=store_checkins,
        description="Recorded check-ins: detection and cases.",
    ),
    Subscription(
        CHECKINS_URGENT,
        "urgent",
        parse=parse_records(CheckinRecorded),
        store=store_checkins,
        description="Immediate-risk check-ins on their own lane: no backlog delays them.",
    ),
    Subscription(
        SIGNALS_SUBMITTED,
        "signals",
        parse=parse_signals,
        store=store_signals,
        description="Signals: critical-incident exposure; overtime, on-call load and absence "
        "for detection. Those about a person, produced before that person's erasure (a backlog or "
        "a replay) are skipped.",
    ),
    Subscription(
        NOTIFICATION_RECEIPTS,
        "receipts",
        parse=parse_records(NotificationReceipt),
        store=store_receipts,
        description="Delivery receipts: failed alerts escalate.",
    ),
    Subscription(
        DIRECTORY_PEOPLE,
        "directory",
        parse=parse_directory,
        store=store_directory,
        description="The directory: teams and programme roles.",
    ),
    Subscription(
        OUTREACH_PREFERENCES,
        "outreach",
        parse=parse_outreach,
        store=store_outreach,
        description="People's outreach preferences by subject id: may a peer reach out?",
    ),
    Subscription(
        ERASURE_REQUESTED,
        "erasure",
        parse=parse_erasure_requests,
        store=store_erasures,
        description="Erasure requests: forget what is kept by the person's id.",
    ),
    Subscription(
        ERASURE_SUBJECTS,
        "erasure-subjects",
        parse=parse_records(SubjectsErased),
        store=store_erased_subjects,
        description="The subject ids of erasures: forget observations and cases about them.",
    ),
)
