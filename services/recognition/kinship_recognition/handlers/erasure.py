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

The person half keeps a keyed hash of the person id with the erasure's time, first in its
transaction (``ErasedPeople``; decision 81): ``skip_replayed`` drops kudos whose sender or
recipient, and pulse answers whose respondent, was erased at or after their Kafka record
was produced (a backlog, a consumer-group reset or a replay of the ingestion topics, which
carry person ids), before the vault is asked for anyone's subject id; ``replayed_responder``
tells the cases consumer not to appreciate (award, celebrate) an erased responder named by
a case transition produced before their erasure. What the person produces after their
erasure is new and is processed.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from kinship_contracts.privacy import ErasureRequested, ErasureStage, SubjectsErased
from kinship_recognition.handlers.ports import RecognitionUnitOfWork
from kinship_recognition.metrics import ERASED_SKIPPED
from kinship_runtime.erased_ids import ErasedIds
from kinship_runtime.idempotency import first_seen

T = TypeVar("T")


class ErasedPeople(ErasedIds):
    """How erased *person* ids are recognised (``kind="person"``, a key of their own): a
    type apart from the subject ids' ``ErasedIds``, so each is injected where it belongs."""


@dataclass(frozen=True)
class Consumed(Generic[T]):
    """An event as consumed from Kafka, with when its record was produced (the record's
    timestamp; None when it has none), which the event's body cannot vouch for."""

    event: T
    produced_at: datetime | None


@dataclass(frozen=True)
class ErasureTopics:
    """Where erasure receipts go (with the environment's prefix)."""

    receipts: str


async def erase_people(
    requests: Sequence[ErasureRequested],
    uow: RecognitionUnitOfWork,
    topics: ErasureTopics,
    now: datetime,
    *,
    erased: ErasedPeople | None = None,
) -> None:
    """Carry out the person half of erasure requests (each once, however often it arrives).
    Each person's id is kept as erased (its digest, ``erased``; the consumer always passes it,
    None only in tests of other things) before anything of theirs is read, at the time the
    erasure holds the lock (``now``, or later if it waited for a batch in progress:
    ``kinship_runtime.erased_ids.remember_erased``): a batch that checked before waits for
    nothing after."""
    for request in await first_seen(uow, "erasure.person", requests):
        if erased is not None:
            digest = erased.digests([request.person_id])
            await uow.remember_erased(digest, now + erased.keep_for, erased_at=now)
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


async def skip_replayed(
    consumed: Sequence[Consumed[T]],
    people_of: Callable[[T], Iterable[str]],
    uow: RecognitionUnitOfWork,
    erased: ErasedPeople,
    now: datetime,
    *,
    consumer: str,
) -> list[Consumed[T]]:
    """The items to process, in their order: all but those naming a person (``people_of``)
    erased at or after their record was produced (skipped: valid events, so not
    dead-lettered; counted by ``consumer``, never by id). One produced after the erasure,
    or with no timestamp, is kept: the person may be named again after being erased. Call
    it first in the batch's transaction (it waits for an erasure in progress), before the
    vault is asked about anyone."""
    if not consumed:
        return []
    people = {person for item in consumed for person in people_of(item.event)}
    found = await erased_people(uow, erased, people, now)
    kept = [
        item
        for item in consumed
        if not any(replayed(item.produced_at, found.get(p)) for p in people_of(item.event))
    ]
    if len(kept) < len(consumed):
        ERASED_SKIPPED.add(len(consumed) - len(kept), {"consumer": consumer})
    return kept


async def erased_people(
    uow: RecognitionUnitOfWork, erased: ErasedPeople, people: Iterable[str], now: datetime
) -> dict[str, datetime]:
    """Those of ``people`` kept as erased (not expired at ``now``), with when each was
    (last) erased; one lookup."""
    wanted = sorted(set(people))
    if not wanted:
        return {}
    found = await uow.erased_since(erased.digests(wanted), now)
    return {p: found[erased.digest(p)] for p in wanted if erased.digest(p) in found}


def replayed(produced_at: datetime | None, erased_at: datetime | None) -> bool:
    """Whether a record produced at ``produced_at`` predates (or is at) its person's erasure:
    never for a person not erased or a record without a timestamp."""
    return erased_at is not None and produced_at is not None and produced_at <= erased_at


def replayed_responder(
    produced: Mapping[str, datetime | None], found: Mapping[str, datetime]
) -> Callable[[str, str], bool]:
    """For the cases consumer: whether the responder (a person id) of the case transition
    with this event id was erased at or after its record was produced (``produced``, by
    event id; ``found``, from ``erased_people``); such a responder is not appreciated."""

    def passed_over(event_id: str, responder: str) -> bool:
        if replayed(produced.get(event_id), found.get(responder)):
            ERASED_SKIPPED.add(1, {"consumer": "cases"})
            return True
        return False

    return passed_over
