"""Erasure: forgetting a person everywhere, and showing coordinators that it happened.

The request goes on ``privacy.erasure.requested`` (from here or from the HR portal); every
service consumes it. The check-in service, the only one that can link a person to their
subject ids, erases what it holds (check-ins, notes and the keys that sealed them, the vault
entries, directory facts, audit records about them, the keys of their dead letters), tells
the other services on ``privacy.erasure.subjects`` that the erasure's subject ids are ready,
tombstones the person on ``directory.people``, and sends its receipt. It then follows the
other services' receipts, so that a coordinator sees when the erasure is complete everywhere.

The subject ids never go on Kafka: the event names only the erasure, whose request names the
person, so the two together would link the person to every record under those ids. They are
kept here instead and served to the other services (``subjects_of_erasure``, scope
``subjects:erasure``, audited) until every receipt is in (``record_receipts``) or the
deadline (``SUBJECTS_KEPT``, the subjects topic's retention) has passed.

The erasure also keeps a keyed hash of the person id with its time (``kinship_runtime.
erased_ids``, kind "person") for as long as the ingestion topics keep records:
``skip_replayed`` drops the person's submitted check-ins produced at or before the erasure
and consumed after it (a backlog, a replay), which the vault would otherwise file under a
new subject id, bringing their answers and notes back. A check-in produced after the
erasure is a new one and is recorded: an erased person may check in again.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kinship_checkin.domain.people import ErasureStatus
from kinship_checkin.handlers.outreach import forgotten
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_checkin.metrics import ERASED_SKIPPED
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.privacy import ErasureReceipt, ErasureRequested, SubjectsErased
from kinship_contracts.topics import (
    DIRECTORY_PEOPLE,
    ERASURE_RECEIPTS,
    ERASURE_REQUESTED,
    ERASURE_SUBJECTS,
    OUTREACH_PREFERENCES,
)
from kinship_runtime.access import Actor
from kinship_runtime.erased_ids import ErasedIds
from kinship_runtime.idempotency import first_seen
from kinship_runtime.outbox import OutboxMessage, event_message

SOURCE = "kinship/checkin"
SERVICES = ("checkin", "escalation", "notifications", "recognition")
"""The services whose receipts complete an erasure."""
SUBJECTS_KEPT = timedelta(days=7)
"""How long an erasure's subject ids are served at most (a service lagging longer misses
them: the subjects event has aged off its topic by then too)."""


@dataclass(frozen=True)
class ErasureTopics:
    """Where erasure events go (with the environment's prefix)."""

    requested: str
    subjects: str
    receipts: str
    directory: str
    outreach: str


def requester(actor: Actor, person_id: str) -> str:
    """How an erasure request names who asked: the calling system, the person, or "a
    coordinator" (never which one, nor a person's id)."""
    if actor.system is not None:
        return actor.audit_name
    return "a coordinator" if actor.person_id != person_id else PERSON_REQUESTER


PERSON_REQUESTER = "the person"
"""``requested_by`` of an erasure a person asked for themself (``requester``)."""


def may_read_status(actor: Actor, status: ErasureStatus) -> bool:
    """Who may read an erasure's status: a calling system with ``erasure:request`` (the
    route's policy admits no other key), coordinators, and, for an erasure a person asked
    for themself, anyone signed in who holds its id: the id is Kinship's own and random, a
    capability (it cannot be checked that the caller is that person: nothing stored says
    who asked).
    The requester of any other erasure cannot be known (nothing links an erasure to a
    person), so an HR portal's id (perhaps guessable) gives nobody else its status."""
    if actor.system is not None or actor.is_coordinator:
        return True
    return status.requested_by == PERSON_REQUESTER


async def request_erasure(
    person_id: str,
    requested_by: str,
    source: str,
    uow: CheckinUnitOfWork,
    topics: ErasureTopics,
    now: datetime,
    new_id: Callable[[], str],
) -> str:
    """Ask every service to forget ``person_id``; returns the erasure id to follow."""
    erasure_id = new_id()
    request = ErasureRequested(id=erasure_id, person_id=person_id, requested_at=now, source=source)
    await uow.record_erasure(erasure_id, now, requested_by)
    await uow.publish(
        [
            event_message(
                topics.requested,
                person_id,
                request,
                event_id=erasure_id,
                event_type=ERASURE_REQUESTED.event_type,
                source=SOURCE,
                time=now,
            )
        ]
    )
    return erasure_id


async def erase_people(
    requests: Sequence[ErasureRequested],
    uow: CheckinUnitOfWork,
    topics: ErasureTopics,
    now: datetime,
    *,
    erased: ErasedIds,
    keep_subjects: timedelta = SUBJECTS_KEPT,
) -> None:
    """Carry out erasure requests (each once, however often it arrives); the subject ids
    are kept for the other services until the erasure completes, ``keep_subjects`` at most.
    Each person's id is kept as erased (its digest, ``erased``) before anything of theirs is
    read, at the time the erasure holds the lock (``now``, or later if it waited for a batch
    of check-ins in progress: ``kinship_runtime.erased_ids.remember_erased``): a batch that
    checked before waits for nothing after, and a check-in produced while the erasure waited
    is skipped when consumed after it."""
    for request in await first_seen(uow, "erasure", requests):
        digest = erased.digests([request.person_id])
        await uow.remember_erased(digest, now, now + erased.keep_for)
        subjects = sorted((await uow.subjects_for([request.person_id], create=False)).values())
        removed = await uow.erase(request.person_id, subjects)
        await uow.record_erasure(request.id, request.requested_at, f"system:{request.source}")
        await uow.mark_erased(request.id, now, len(subjects))
        await uow.hold_erasure_subjects(request.id, subjects, now + keep_subjects)
        await uow.publish(_announcements(request, subjects, removed, topics, now))


@dataclass(frozen=True)
class Consumed:
    """A submitted check-in as consumed from Kafka, with when its record was produced (the
    record's timestamp; None when it has none), which the body cannot vouch for."""

    submission: CheckinSubmitted
    produced_at: datetime | None


async def skip_replayed(
    consumed: Sequence[Consumed], uow: CheckinUnitOfWork, erased: ErasedIds, now: datetime
) -> list[CheckinSubmitted]:
    """The check-ins to record, in their order: all but those of a person erased at or after
    their record was produced (skipped: valid events, so not dead-lettered; counted, never
    by id). One produced after the erasure, or with no timestamp, is kept: a person may
    check in again after being erased, and a crisis check-in is never dropped on a guess."""
    if not consumed:
        return []
    found = await uow.erased_since(
        erased.digests(item.submission.person_id for item in consumed), now
    )
    kept = [
        item.submission
        for item in consumed
        if not _replayed(item, found.get(erased.digest(item.submission.person_id)))
    ]
    if len(kept) < len(consumed):
        ERASED_SKIPPED.add(len(consumed) - len(kept), {"consumer": "submissions"})
    return kept


def _replayed(item: Consumed, erased_at: datetime | None) -> bool:
    return erased_at is not None and item.produced_at is not None and item.produced_at <= erased_at


def _announcements(
    request: ErasureRequested,
    subjects: list[str],
    removed: dict[str, int],
    topics: ErasureTopics,
    now: datetime,
) -> list[OutboxMessage]:
    erased = SubjectsErased(
        id=f"{request.id}:subjects",
        erasure_id=request.id,
        subject_ids=[],  # asked of this service while the erasure is open: never on Kafka
        occurred_at=now,
        subjects_in_vault=True,
    )
    receipt = ErasureReceipt(
        id=f"{request.id}:checkin",
        erasure_id=request.id,
        service="checkin",
        completed_at=now,
        removed=removed,
    )
    return [
        event_message(
            topics.subjects,
            request.id,
            erased,
            event_id=erased.id,
            event_type=ERASURE_SUBJECTS.event_type,
            source=SOURCE,
            time=now,
        ),
        *forgotten(topics.outreach, subjects, request.id),
        # The directory record (name, channels) is removed from the compacted topic too.
        OutboxMessage(
            event_id=f"{request.id}:directory",
            topic=topics.directory,
            key=request.person_id.encode(),
            value=None,
            headers=[],
        ),
        event_message(
            topics.receipts,
            request.id,
            receipt,
            event_id=receipt.id,
            event_type=ERASURE_RECEIPTS.event_type,
            source=SOURCE,
            time=now,
        ),
    ]


async def record_receipts(
    receipts: Sequence[ErasureReceipt], uow: CheckinUnitOfWork, now: datetime
) -> None:
    """Note each service's erasure receipt (for the status coordinators read); an erasure
    every service completed forgets its subject ids, as does one past its deadline."""
    for receipt in receipts:
        await uow.add_receipt(receipt)
    for erasure_id in sorted({receipt.erasure_id for receipt in receipts}):
        status = await uow.erasure_status(erasure_id, SERVICES)
        if status is not None and status.complete:
            await uow.release_erasure_subjects(erasure_id, now)
    await uow.release_erasure_subjects(None, now)


async def subjects_of_erasure(
    erasure_id: str, actor: str, uow: CheckinUnitOfWork, now: datetime
) -> list[str] | None:
    """An open erasure's subject ids, for a service to forget them, or None once it is
    complete, past its deadline, or unknown; audited either way (the caller and how many,
    never the ids). Erasures past their deadline are forgotten now."""
    await uow.release_erasure_subjects(None, now)
    subjects = await uow.erasure_subjects(erasure_id, now)
    await uow.audit(
        "erasure_subjects",
        actor,
        detail={"erasure_id": erasure_id, "count": None if subjects is None else len(subjects)},
    )
    return subjects


async def erasure_status(erasure_id: str, uow: CheckinUnitOfWork) -> ErasureStatus | None:
    """How far an erasure got in every service."""
    return await uow.erasure_status(erasure_id, SERVICES)


async def recent_erasures(uow: CheckinUnitOfWork, limit: int = 100) -> list[ErasureStatus]:
    """The latest erasures and their progress, for coordinators."""
    return await uow.erasures(SERVICES, limit)


def erasure_topics(topic: Callable[[str], str]) -> ErasureTopics:
    """The erasure topics under an environment's prefix."""
    return ErasureTopics(
        requested=topic(ERASURE_REQUESTED.name),
        subjects=topic(ERASURE_SUBJECTS.name),
        receipts=topic(ERASURE_RECEIPTS.name),
        directory=topic(DIRECTORY_PEOPLE.name),
        outreach=topic(OUTREACH_PREFERENCES.name),
    )
