"""Erasure: forgetting a person everywhere, and showing coordinators that it happened.

The request goes on ``privacy.erasure.requested`` (from here or from the HR portal); every
service consumes it. The check-in service, the only one that can link a person to their
subject ids, erases what it holds (check-ins, notes and the keys that sealed them, the vault
entries, directory facts, audit records about them, the keys of their dead letters), names
the subject ids on ``privacy.erasure.subjects`` for the other services, tombstones the
person on ``directory.people``, and sends its receipt. It then follows the other services'
receipts, so that a coordinator sees when the erasure is complete everywhere.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from kinship_checkin.domain.people import ErasureStatus
from kinship_checkin.handlers.outreach import forgotten
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_contracts.privacy import ErasureReceipt, ErasureRequested, SubjectsErased
from kinship_contracts.topics import (
    DIRECTORY_PEOPLE,
    ERASURE_RECEIPTS,
    ERASURE_REQUESTED,
    ERASURE_SUBJECTS,
    OUTREACH_PREFERENCES,
)
from kinship_runtime.idempotency import first_seen
from kinship_runtime.outbox import OutboxMessage, event_message

SOURCE = "kinship/checkin"
SERVICES = ("checkin", "escalation", "notifications", "recognition")
"""The services whose receipts complete an erasure."""


@dataclass(frozen=True)
class ErasureTopics:
    """Where erasure events go (with the environment's prefix)."""

    requested: str
    subjects: str
    receipts: str
    directory: str
    outreach: str


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
) -> None:
    """Carry out erasure requests (each once, however often it arrives)."""
    for request in await first_seen(uow, "erasure", requests):
        subjects = sorted((await uow.subjects_for([request.person_id], create=False)).values())
        removed = await uow.erase(request.person_id, subjects)
        await uow.record_erasure(request.id, request.requested_at, f"system:{request.source}")
        await uow.mark_erased(request.id, now, len(subjects))
        await uow.publish(_announcements(request, subjects, removed, topics, now))


def _announcements(
    request: ErasureRequested,
    subjects: list[str],
    removed: dict[str, int],
    topics: ErasureTopics,
    now: datetime,
) -> list[OutboxMessage]:
    erased = SubjectsErased(
        id=f"{request.id}:subjects", erasure_id=request.id, subject_ids=subjects, occurred_at=now
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


async def record_receipts(receipts: Sequence[ErasureReceipt], uow: CheckinUnitOfWork) -> None:
    """Note each service's erasure receipt (for the status coordinators read)."""
    for receipt in receipts:
        await uow.add_receipt(receipt)


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
