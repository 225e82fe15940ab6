"""Private case notes and safety plans: sealed under the person's (subject's) data key in
this service (``domain.sealing``), opened only for the case's responder and coordinators.

Notes never leave the service in clear: no event, alert or log carries their text; erasure
shreds the subject's key (and deletes the notes), so a copy left in a backup stays unreadable.
"""

from dataclasses import dataclass
from datetime import datetime

from kinship_escalation.domain.cases import StoredCase
from kinship_escalation.domain.casework import CaseNote, NoteKind
from kinship_escalation.domain.sealing import CaseNoteCipher
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import person_actor
from kinship_escalation.handlers.ports import EscalationUnitOfWork


class NotesUnavailableError(RuntimeError):
    """The service has no case note keys (``KINSHIP_CASE_NOTE_KEYS``)."""


@dataclass(frozen=True)
class OpenedNote:
    """A note as its reader sees it."""

    id: str
    kind: NoteKind
    author: str
    written_at: datetime
    text: str


def _cipher(ctx: EscalationContext) -> CaseNoteCipher:
    if ctx.case_notes is None:
        raise NotesUnavailableError("case notes are not configured (KINSHIP_CASE_NOTE_KEYS)")
    return ctx.case_notes


async def seal_note(
    stored: StoredCase,
    kind: NoteKind,
    by: str,
    text: str,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> CaseNote:
    """Seal ``text`` under the case's subject's data key (made on first use) and keep it."""
    cipher, subject = _cipher(ctx), stored.case.subject_id
    key = await uow.casework.subject_key(subject)
    if key is None:
        key = await uow.casework.add_subject_key(subject, cipher.new_subject_key(subject))
    note_id = ctx.new_id()
    sealed = cipher.seal(text, note_id, stored.case.id, key, subject)
    note = CaseNote(note_id, stored.case.id, kind, person_actor(by), now, sealed)
    await uow.casework.add_note(note)
    return note


async def open_notes(
    stored: StoredCase, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> list[OpenedNote]:
    """Every note of the case, opened (oldest first)."""
    notes = await uow.casework.notes(stored.case.id)
    if not notes:
        return []
    cipher, subject = _cipher(ctx), stored.case.subject_id
    key = await uow.casework.subject_key(subject)
    return [
        OpenedNote(
            note.id,
            note.kind,
            note.author,
            note.written_at,
            cipher.open(note.sealed, note.id, note.case_id, key, subject),
        )
        for note in notes
    ]
