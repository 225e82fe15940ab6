"""Revealing a case's person to its assigned responder, with an audit record.

The escalation service decides who may see whom (assigned, acknowledged, consent or immediate
risk) and signs a short-lived grant; only the check-in service can turn it into a name. The
note of the triggering check-in is shown only when the grant says the person allowed it.
"""

from datetime import datetime

from cryptography.exceptions import InvalidTag

from kinship_checkin.domain.people import Revealed
from kinship_checkin.domain.privacy import NoteCipher, NoteKeyUnknownError
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_contracts.grants import GrantError, read_grant


class RevealRefusedError(PermissionError):
    """The caller may not see this person (the reason says why, naming no one)."""


class PersonGoneError(LookupError):
    """The person was erased, or left the directory."""


async def reveal(
    grant_token: str,
    responder_id: str,
    uow: CheckinUnitOfWork,
    notes: NoteCipher,
    grant_key: bytes,
    now: datetime,
) -> Revealed:
    """Who the case is about and how to reach them, for the responder the grant names."""
    try:
        grant = read_grant(grant_token, grant_key, now)
    except GrantError as error:
        raise RevealRefusedError(str(error)) from None
    if grant.responder_id != responder_id:
        raise RevealRefusedError("this grant was issued to another responder")
    person_id = await uow.person_of(grant.subject_id)
    if person_id is None:
        raise PersonGoneError("this person's data was erased")
    if person_id == responder_id:
        raise RevealRefusedError("this case is about you: hand it over to another responder")
    contact = await uow.contact_of(person_id)
    if contact is None:
        raise PersonGoneError("this person is no longer in the directory")
    note, unreadable = None, False
    if grant.note_checkin_id is not None:
        sealed = await uow.note_of(grant.note_checkin_id, grant.subject_id)
        if sealed is not None:
            keys = await uow.person_keys([grant.subject_id])
            try:
                note = notes.open(
                    sealed, grant.note_checkin_id, keys.get(grant.subject_id), grant.subject_id
                )
            except (NoteKeyUnknownError, InvalidTag, ValueError):
                # A master key retired before rewrapping, or a damaged note (a wrong tag; a
                # blob too short for its nonce, or a plaintext not UTF-8: both ValueError):
                # the responder of a possibly urgent case still gets the name, and is told
                # the note is unreadable.
                unreadable = True
    detail: dict[str, bool] = {"note": note is not None}
    if unreadable:
        detail["note_unreadable"] = True
    await uow.audit(
        "reveal",
        f"person:{responder_id}",
        subject_id=grant.subject_id,
        case_id=grant.case_id,
        detail=detail,
    )
    return Revealed(
        case_id=grant.case_id,
        contact=contact.for_a_responder(),
        note=note,
        note_unreadable=unreadable,
    )
