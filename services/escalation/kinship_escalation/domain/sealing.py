"""Private case notes and safety plans, sealed under a data key of the person's own.

The check-in service's approach to notes (``kinship_runtime.envelope``, shared), here for
what responders write: each subject the service holds notes about has a data key (AES-256), stored
wrapped with a master key (``KINSHIP_CASE_NOTE_KEYS``, its id kept for rotation); a note is
sealed with AES-GCM under the subject's key, bound to the note and its case. Erasure deletes
the wrapped key: every copy of the notes left anywhere (a backup, a replica) is unreadable,
operators holding every master key included.
"""

from kinship_runtime.envelope import EnvelopeCipher, KeyUnknownError, WrappedKey

NoteKeyUnknownError = KeyUnknownError
"""A subject key wrapped with a master key id that is no longer configured, or gone."""

SubjectKey = WrappedKey
"""A subject's data key as stored: wrapped with the master key ``master_key_id``."""


class CaseNoteCipher:
    """Case notes under per-subject data keys wrapped by rotating master keys
    (``kinship_runtime.envelope``), each bound to its note and case."""

    def __init__(self, keys: dict[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise ValueError(f"the active case note key {active_key_id!r} is not configured")
        self._envelope = EnvelopeCipher(
            keys, active_key_id, key_context=_bound, what="case note key"
        )

    def new_subject_key(self, subject_id: str) -> SubjectKey:
        """A fresh data key for a subject, wrapped with the active master key."""
        return self._envelope.new_key(subject_id)

    def seal(
        self, text: str, note_id: str, case_id: str, key: SubjectKey, subject_id: str
    ) -> bytes:
        """``text`` encrypted under the subject's data key, bound to its note and case."""
        return self._envelope.seal(text.encode(), key, subject_id, _note(note_id, case_id))

    def open(
        self, sealed: bytes, note_id: str, case_id: str, key: SubjectKey | None, subject_id: str
    ) -> str:
        """The text of a note; raises if it was tampered with, moved, or its key is gone."""
        return self._envelope.open(sealed, key, subject_id, _note(note_id, case_id)).decode()

    def rewrap(self, key: SubjectKey, subject_id: str) -> SubjectKey:
        """The same data key wrapped with the active master key (key rotation)."""
        return self._envelope.rewrap(key, subject_id)


def _bound(subject_id: str) -> bytes:
    return f"kinship-case-subject:{subject_id}".encode()


def _note(note_id: str, case_id: str) -> bytes:
    return f"kinship-case-note:{note_id}:{case_id}".encode()
