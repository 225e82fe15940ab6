"""Erasure: forgetting a person in the notifications service, in two halves.

``privacy.erasure.requested`` names the person: their directory entry (name, channels),
preferences, deliveries addressed to their person id and the keys of dead letters naming
them go. ``privacy.erasure.subjects`` (from the check-in service) names their subject ids:
deliveries addressed to those subject ids and their dead letters go. Each half is done once
per event (``first_time``), noted with ``kinship_runtime.erasure.note_done`` in the same
transaction, and the second one queues this service's receipt. A replay changes nothing.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kinship_contracts.privacy import ErasureRequested, ErasureStage, SubjectsErased
from kinship_notifications.handlers.ports import NotificationsUnitOfWork
from kinship_runtime.idempotency import first_seen

SERVICE = "notifications"


@dataclass(frozen=True)
class ErasureConfig:
    """Where erasure receipts go (with the environment's prefix)."""

    receipts_topic: str


async def erase_people(
    requests: Sequence[ErasureRequested],
    uow: NotificationsUnitOfWork,
    config: ErasureConfig,
    now: datetime,
) -> None:
    """Forget what is kept by each requested person's id (each erasure once)."""
    for request in await first_seen(uow, "erasure.person", requests):
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
    """Forget what is kept by each erased person's subject ids (each event once)."""
    for event in await first_seen(uow, "erasure.subjects", events):
        removed = await uow.erase_subjects(event.subject_ids)
        await uow.erasure_done(
            event.erasure_id,
            ErasureStage.SUBJECTS,
            removed,
            receipts_topic=config.receipts_topic,
            now=now,
        )
