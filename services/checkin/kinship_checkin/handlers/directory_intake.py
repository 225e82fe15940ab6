"""Directory updates submitted over HTTP (``PUT``/``DELETE /v1/directory/people/{id}``):
queued through the outbox onto the compacted ``directory.people``, keyed by person id, as an
HR system without Kafka access would have published them. Every service (this one too)
takes them from the topic through its own consumer: there is one way a directory change
arrives, and a change is never applied here first.

A person's record replaces what the topic held; a removal is a tombstone (a null value),
which each service applies as the person leaving the directory (and compaction forgets
the record). Records of one person keep their order: one key, one partition, and the
outbox relays in commit order.
"""

import uuid
from collections.abc import Callable
from datetime import datetime

from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_contracts.directory import DirectoryPerson
from kinship_contracts.topics import DIRECTORY_PEOPLE
from kinship_runtime.outbox import OutboxMessage, event_message

SOURCE = "kinship/checkin"


def _new_id() -> str:
    return uuid.uuid4().hex


async def publish_person(
    person: DirectoryPerson,
    uow: CheckinUnitOfWork,
    topic: str,
    now: datetime,
    new_id: Callable[[], str] = _new_id,
) -> None:
    """Queue ``person``'s record for ``directory.people``."""
    message = event_message(
        topic,
        person.person_id,
        person,
        event_id=f"directory-{new_id()}",
        event_type=DIRECTORY_PEOPLE.event_type,
        source=SOURCE,
        time=now,
    )
    await uow.publish([message])


async def remove_person(
    person_id: str,
    uow: CheckinUnitOfWork,
    topic: str,
    new_id: Callable[[], str] = _new_id,
) -> None:
    """Queue a tombstone for ``person_id`` on ``directory.people``."""
    tombstone = OutboxMessage(
        event_id=f"directory-{new_id()}",
        topic=topic,
        key=person_id.encode(),
        value=None,
        headers=[],
    )
    await uow.publish([tombstone])
