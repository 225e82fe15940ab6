"""Outreach preferences: may a peer reach out when someone's check-ins show they struggle?

``welcome``: yes; ``ask_first`` (the default): Kinship asks the person first, with a one-tap
yes/no, before anyone sees who they are; ``resources_only``: resources, no outreach. A
self-referral is consent, and immediate risk overrides the preference (duty of care): the
escalation service applies both. The person's own choice wins over the directory's default.
Escalation learns each preference by subject id only, on ``privacy.outreach.preferences``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_contracts.directory import DirectoryChange, OutreachPreference
from kinship_contracts.outreach import OutreachChanged
from kinship_contracts.topics import OUTREACH_PREFERENCES
from kinship_runtime.outbox import OutboxMessage, event_message

SOURCE = "kinship/checkin"
DEFAULT = OutreachPreference.ASK_FIRST


@dataclass(frozen=True)
class OutreachTopic:
    """Where preferences are published (with the environment's prefix)."""

    name: str


async def choose_outreach(
    person_id: str,
    preference: OutreachPreference,
    uow: CheckinUnitOfWork,
    topic: str,
    now: datetime,
) -> None:
    """The person's own choice (it wins over the directory's from now on)."""
    subject_id = (await uow.subjects_for([person_id]))[person_id]
    if await uow.set_outreach(subject_id, preference, "person", now):
        await uow.publish([changed(topic, subject_id, preference, "person", now)])


async def outreach_of_person(person_id: str, uow: CheckinUnitOfWork) -> OutreachPreference:
    """The preference that applies to the person (the default when none was chosen)."""
    subject_id = (await uow.subjects_for([person_id], create=False)).get(person_id)
    found = await uow.outreach_of(subject_id) if subject_id else None
    return found[0] if found else DEFAULT


async def apply_directory_defaults(
    changes: Sequence[DirectoryChange], uow: CheckinUnitOfWork, topic: str, now: datetime
) -> None:
    """Directory records that state a preference set it, unless the person chose their own."""
    stated = {
        change.person_id: change.person.outreach
        for change in changes
        if change.person is not None and change.person.outreach is not None
    }
    if not stated:
        return
    subjects = await uow.subjects_for(sorted(stated))
    messages = []
    for person_id, preference in stated.items():
        subject_id = subjects[person_id]
        if await uow.set_outreach(subject_id, preference, "directory", now):
            messages.append(changed(topic, subject_id, preference, "directory", now))
    await uow.publish(messages)


def changed(
    topic: str, subject_id: str, preference: OutreachPreference, chosen_by: str, now: datetime
) -> OutboxMessage:
    """The event telling escalation a subject's preference."""
    event = OutreachChanged(
        subject_id=subject_id, preference=preference, chosen_by=chosen_by, updated_at=now
    )
    return event_message(
        topic,
        subject_id,
        event,
        event_id=f"outreach:{subject_id}:{now.isoformat()}",
        event_type=OUTREACH_PREFERENCES.event_type,
        source=SOURCE,
        time=now,
    )


def forgotten(topic: str, subject_ids: Sequence[str], erasure_id: str) -> list[OutboxMessage]:
    """Tombstones removing erased subjects from the compacted preferences topic."""
    return [
        OutboxMessage(
            event_id=f"{erasure_id}:outreach:{subject_id}",
            topic=topic,
            key=subject_id.encode(),
            value=None,
        )
        for subject_id in subject_ids
    ]
