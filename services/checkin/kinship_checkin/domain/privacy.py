"""Notes sealed with a key of the person's own, so that erasing the key erases every copy.

Each person (subject) has a data key (AES-256), stored wrapped with a master note key
(``KINSHIP_NOTE_KEYS``, id kept for rotation). A note is sealed with AES-GCM under the
person's key, bound to its check-in id. Erasure deletes the wrapped key: the ciphertext left
anywhere (a backup, a replica) cannot be opened by anyone, operators holding every master
key included. Notes sealed before per-person keys existed open with a master key directly.
"""

from dataclasses import dataclass

from kinship_runtime.envelope import NONCE_BYTES, EnvelopeCipher, KeyUnknownError, WrappedKey

__all__ = ["NONCE_BYTES", "NoteCipher", "NoteKeyUnknownError", "PersonKey", "SealedNote"]

PersonKey = WrappedKey
"""A person's data key as stored: wrapped with the master key ``master_key_id``."""

NoteKeyUnknownError = KeyUnknownError
"""A note or a person's key was sealed with a master key id that is no longer configured."""


@dataclass(frozen=True)
class SealedNote:
    """An encrypted note: nonce followed by AES-GCM ciphertext, and the id of its master key.

    ``per_person`` notes are sealed under the person's data key (wrapped by that master key);
    older ones under the master key itself.
    """

    key_id: str
    blob: bytes
    per_person: bool = True


class NoteCipher:
    """Notes under per-person data keys wrapped by rotating master keys
    (``kinship_runtime.envelope``), each bound to its check-in."""

    def __init__(self, keys: dict[str, bytes], active_key_id: str) -> None:
        self._envelope = EnvelopeCipher(
            keys,
            active_key_id,
            key_context=lambda subject: f"person:{subject}".encode(),
            what="note key",
        )

    def new_person_key(self, subject_id: str) -> PersonKey:
        """A fresh data key for a person, wrapped with the active master key."""
        return self._envelope.new_key(subject_id)

    def seal(
        self, note: str, checkin_id: str, person_key: PersonKey, subject_id: str
    ) -> SealedNote:
        """Encrypt ``note`` under the person's data key, bound to its check-in."""
        blob = self._envelope.seal(note.encode(), person_key, subject_id, checkin_id.encode())
        return SealedNote(person_key.master_key_id, blob)

    def open(
        self, sealed: SealedNote, checkin_id: str, person_key: PersonKey | None, subject_id: str
    ) -> str:
        """Decrypt a note; raises if it was tampered with, moved, or its key is gone."""
        if not sealed.per_person:
            nonce, ciphertext = sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:]
            master = self._envelope.master(sealed.key_id)
            return master.decrypt(nonce, ciphertext, checkin_id.encode()).decode()
        return self._envelope.open(
            sealed.blob, person_key, subject_id, checkin_id.encode()
        ).decode()

    def rewrap(self, person_key: PersonKey, subject_id: str) -> PersonKey:
        """The same data key wrapped with the active master key (key rotation)."""
        return self._envelope.rewrap(person_key, subject_id)
