"""A person's own copy of what the check-in service holds about them (``GET /v1/me/data``).

Their directory entry as this service keeps it, their outreach preference, every check-in
with its scores and their own note opened, and the audit records about them (when their
identity was revealed to a responder and for which case, when a message was addressed to
them, their own exports). Staff are not named in it (``staff``; the person's own actions
are ``you``): a responder's identity is theirs, and the person learns it when contacted.
The export itself is audited. Erasure records are not part of it: they never say whom they
concern.
"""

from dataclasses import dataclass

from kinship_checkin.domain.checkins import StoredCheckin
from kinship_checkin.domain.people import AuditEvent, DirectoryEntry
from kinship_checkin.domain.privacy import NoteCipher, NoteKeyUnknownError, PersonKey
from kinship_checkin.handlers.outreach import DEFAULT
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_contracts.directory import OutreachPreference


@dataclass(frozen=True)
class OpenedCheckin:
    """A stored check-in with its note opened for its own person."""

    checkin: StoredCheckin
    note: str | None
    note_unreadable: bool = False


@dataclass(frozen=True)
class PersonalData:
    """Everything this service holds about one person."""

    person_id: str
    directory: DirectoryEntry | None
    outreach: OutreachPreference
    outreach_chosen_by: str | None
    checkins: list[OpenedCheckin]
    audit: list[AuditEvent]


async def personal_data(person_id: str, uow: CheckinUnitOfWork, notes: NoteCipher) -> PersonalData:
    """What the service holds about ``person_id``, for them alone; the export is audited."""
    directory = await uow.directory_entry(person_id)
    subject_id = (await uow.subjects_for([person_id], create=False)).get(person_id)
    if subject_id is None:  # never checked in, never looked up: nothing kept by subject
        return PersonalData(person_id, directory, DEFAULT, None, [], [])
    outreach = await uow.outreach_of(subject_id)
    stored = await uow.checkins_of(subject_id)
    key = (await uow.person_keys([subject_id])).get(subject_id)
    opened = [_opened(item, key, subject_id, notes) for item in stored]
    audit = [
        AuditEvent(event.at, event.action, shown_actor(event.actor, person_id), event.case_id)
        for event in await uow.audit_about(subject_id)
    ]
    await uow.audit("export", f"person:{person_id}", subject_id=subject_id)
    return PersonalData(
        person_id=person_id,
        directory=directory,
        outreach=outreach[0] if outreach else DEFAULT,
        outreach_chosen_by=outreach[1] if outreach else None,
        checkins=opened,
        audit=audit,
    )


def shown_actor(actor: str, person_id: str) -> str:
    """Who acted, as the person's copy shows it: ``you``, ``staff`` (a responder or
    coordinator, never by id), or the calling system."""
    if actor == f"person:{person_id}":
        return "you"
    if actor.startswith("person:"):
        return "staff"
    return actor


def _opened(
    item: StoredCheckin, key: PersonKey | None, subject_id: str, notes: NoteCipher
) -> OpenedCheckin:
    if item.sealed_note is None:
        return OpenedCheckin(item, None)
    try:
        return OpenedCheckin(item, notes.open(item.sealed_note, item.id, key, subject_id))
    except NoteKeyUnknownError:  # a master key retired without rewrapping: say so
        return OpenedCheckin(item, None, note_unreadable=True)
