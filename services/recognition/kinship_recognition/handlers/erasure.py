"""Erasure: forgetting a person, in two halves that may arrive in either order.

``privacy.erasure.requested`` names the person: what is kept by their id goes (kudos they
sent or received, with the text; awards to them; cases they supported; their directory row;
the keys of dead letters naming them). ``privacy.erasure.subjects``, from the check-in
service, names their subject ids: their streak awards and dead letters go, and the rows the
programme reports count (check-in weeks, pulse answers, the facts and feedback of cases about
them) are anonymised instead of deleted: random stand-ins replace their subject ids and case
ids (``domain.anonymise``), so no report week, whenever first computed here or in the
escalation service, moves because of the erasure. Each half is done once per event id, and
recorded in the transaction that did it; the receipt goes out when both are done.

The subjects half also keeps a keyed hash of each subject id (``kinship_runtime.erased_ids``)
for as long as the topics can still bring events about them: ``skip_erased`` drops such
events on every ingest path that stores by subject id, so a backlog or a replay consumed
after the erasure does not store the person's ids again.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from kinship_contracts.privacy import ErasureRequested, ErasureStage, SubjectsErased
from kinship_recognition.handlers.ports import RecognitionUnitOfWork
from kinship_recognition.metrics import ERASED_SKIPPED
from kinship_runtime.erased_ids import ErasedIds
from kinship_runtime.idempotency import first_seen

T = TypeVar("T")


@dataclass(frozen=True)
class ErasureTopics:
    """Where erasure receipts go (with the environment's prefix)."""

    receipts: str


async def erase_people(
    requests: Sequence[ErasureRequested],
    uow: RecognitionUnitOfWork,
    topics: ErasureTopics,
    now: datetime,
) -> None:
    """Carry out the person half of erasure requests (each once, however often it arrives)."""
    for request in await first_seen(uow, "erasure.person", requests):
        removed = await uow.erase_person(request.person_id)
        await _done(request.id, ErasureStage.PERSON, removed, uow, topics, now)


async def erase_subjects(
    events: Sequence[SubjectsErased],
    uow: RecognitionUnitOfWork,
    topics: ErasureTopics,
    erased: ErasedIds,
    now: datetime,
) -> None:
    """Carry out the subjects half of erasures (each once, however often it arrives), and
    remember the subject ids as erased (keyed hashes) for ``erased.keep_for``."""
    for event in await first_seen(uow, "erasure.subjects", events):
        if event.subjects_in_vault:  # ids the vault served, never an old event's inline ones
            await uow.remember_erased(erased.digests(event.subject_ids), now + erased.keep_for)
        removed = await uow.erase_subjects(event.subject_ids)
        await _done(event.erasure_id, ErasureStage.SUBJECTS, removed, uow, topics, now)


async def _done(
    erasure_id: str,
    stage: ErasureStage,
    removed: dict[str, int],
    uow: RecognitionUnitOfWork,
    topics: ErasureTopics,
    now: datetime,
) -> None:
    receipt = await uow.erasure_done(erasure_id, stage, removed, topics.receipts, now)
    if receipt is not None:
        await uow.publish([receipt])


async def skip_erased(
    items: Sequence[T],
    subject_of: Callable[[T], str],
    uow: RecognitionUnitOfWork,
    erased: ErasedIds,
    now: datetime,
    *,
    consumer: str,
) -> list[T]:
    """The items not about an erased subject id, in their order: the others are skipped
    (valid events, so not dead-lettered; counted by ``consumer``, never by id)."""
    if not items:
        return []
    found = await uow.erased_among(erased.digests(subject_of(item) for item in items), now)
    if not found:
        return list(items)
    kept = erased.keep(items, subject_of, found)
    ERASED_SKIPPED.add(len(items) - len(kept), {"consumer": consumer})
    return kept
