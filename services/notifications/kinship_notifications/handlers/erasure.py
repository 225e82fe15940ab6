"""Erasure: forgetting a person in the notifications service, in two halves.

``privacy.erasure.requested`` names the person: their directory entry (name, channels),
preferences, deliveries addressed to their person id and the keys of dead letters naming
them go. ``privacy.erasure.subjects`` (from the check-in service) names their subject ids:
deliveries addressed to those subject ids and their dead letters go. Each half is done once
per event (``first_time``), noted with ``kinship_runtime.erasure.note_done`` in the same
transaction, and the second one queues this service's receipt. A replay changes nothing.

Requests about the person consumed after the erasure (a backlog after an outage, a
consumer-group reset or a replay of ``notifications.requests``) would be stored again as
deliveries naming them. So each half keeps keyed hashes of what it erased
(``kinship_runtime.erased_ids``) for as long as that topic can serve a record, written first
in its transaction under the erased-ids lock, and ``screen_erased`` looks at every batch:

- a request addressed to an erased **subject id** is skipped: nothing can be delivered to it
  (the vault no longer resolves it), whenever it was produced;
- a request addressed to an erased **person id** whose Kafka record was produced at or before
  the erasure is skipped, except an alert: that one is queued *without its recipient*, so it
  names nobody (an alert's request id and body carry only its own ids), fails at once
  (``unknown_recipient``), and its failed receipt still moves the policy on to the next step:
  a case is never left waiting on a page to someone who is gone. Other kinds have nothing
  waiting on their receipts, and their request ids may name the person (a group offer's
  does), so they are not stored at all. One produced after the erasure is new (the person
  may be in the directory again) and is queued as it is.
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from kinship_contracts.notifications import NotificationRequest, Recipient
from kinship_contracts.privacy import ErasureRequested, ErasureStage, SubjectsErased
from kinship_notifications.domain.deliveries import QueuedRequest
from kinship_notifications.handlers.ports import NotificationsUnitOfWork
from kinship_notifications.metrics import ERASED_REQUESTS
from kinship_runtime.erased_ids import SEGMENT_DAYS, ErasedIds
from kinship_runtime.idempotency import first_seen

SERVICE = "notifications"


def _erased_ids() -> ErasedIds:
    """A record of erased subject ids under a random key (tests; the service derives it)."""
    return ErasedIds(secrets.token_bytes(32), timedelta(days=7 + SEGMENT_DAYS))


def _erased_people() -> ErasedIds:
    """A record of erased person ids under a random key (tests; the service derives it)."""
    return ErasedIds(secrets.token_bytes(32), timedelta(days=7 + SEGMENT_DAYS), kind="person")


@dataclass(frozen=True)
class ErasureConfig:
    """Where erasure receipts go (with the environment's prefix), and how erased subject ids
    and person ids are recognised (keyed digests) and how long each is kept
    (``KINSHIP_ERASED_IDS_DAYS``, ``KINSHIP_ERASED_PEOPLE_DAYS``)."""

    receipts_topic: str
    erased_ids: ErasedIds = field(default_factory=_erased_ids)
    erased_people: ErasedIds = field(default_factory=_erased_people)


async def erase_people(
    requests: Sequence[ErasureRequested],
    uow: NotificationsUnitOfWork,
    config: ErasureConfig,
    now: datetime,
) -> None:
    """Forget what is kept by each requested person's id (each erasure once), after keeping
    its digest with the erasure's time, so no request to them queued before it names them
    again."""
    people = config.erased_people
    for request in await first_seen(uow, "erasure.person", requests):
        await uow.remember_erased(
            people.digests([request.person_id]), now + people.keep_for, erased_at=now
        )
        removed = await uow.erase_person(request.person_id)
        await uow.erasure_done(
            request.id,
            ErasureStage.PERSON,
            removed,
            receipts_topic=config.receipts_topic,
            now=now,
        )


async def erase_subjects(
    events: Sequence[SubjectsErased],
    uow: NotificationsUnitOfWork,
    config: ErasureConfig,
    now: datetime,
) -> None:
    """Forget what is kept by each erased person's subject ids (each event once), after
    keeping their digests, so no request about them is queued again."""
    erased = config.erased_ids
    for event in await first_seen(uow, "erasure.subjects", events):
        await uow.remember_erased(erased.digests(event.subject_ids), now + erased.keep_for)
        removed = await uow.erase_subjects(event.subject_ids)
        await uow.erasure_done(
            event.erasure_id,
            ErasureStage.SUBJECTS,
            removed,
            receipts_topic=config.receipts_topic,
            now=now,
        )


async def screen_erased(
    requests: Sequence[QueuedRequest],
    uow: NotificationsUnitOfWork,
    config: ErasureConfig,
    now: datetime,
) -> list[QueuedRequest]:
    """The requests to queue, in their order: without those addressed to an erased subject
    id, or to a person erased at or after their record was produced (skipped: valid events,
    so not dead-lettered), but alerts of the latter kind kept with no recipient (module
    docstring). Counted by action, never by id. Requests with no record timestamp are kept
    as they are."""
    subjects, people = config.erased_ids, config.erased_people
    to_subject = [q.request.recipient.subject_id for q in requests]
    to_person = [q.request.recipient.person_id if q.produced_at else None for q in requests]
    erased = await uow.erased_among(subjects.digests(s for s in to_subject if s), now)
    since = await uow.erased_since(people.digests(p for p in to_person if p), now)
    if not erased and not since:
        return list(requests)
    kept: list[QueuedRequest] = []
    for queued, subject, person in zip(requests, to_subject, to_person, strict=True):
        if subject is not None and subjects.digest(subject) in erased:
            ERASED_REQUESTS.add(1, {"action": "skipped"})
            continue
        if person is not None and queued.produced_at is not None:
            erased_at = since.get(people.digest(person))
            if erased_at is not None and queued.produced_at <= erased_at:
                if queued.request.alert is None:
                    ERASED_REQUESTS.add(1, {"action": "skipped"})
                    continue
                ERASED_REQUESTS.add(1, {"action": "unaddressed"})
                queued = replace(queued, request=unaddressed(queued.request))
        kept.append(queued)
    return kept


def unaddressed(request: NotificationRequest) -> NotificationRequest:
    """``request`` addressed to nobody: it fails at once as ``unknown_recipient``."""
    return request.model_copy(update={"recipient": Recipient()})
