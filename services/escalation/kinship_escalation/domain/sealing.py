"""Private case notes and safety plans, sealed under a data key of the person's own.

The check-in service's approach to notes (``kinship_checkin.domain.privacy``), here for what
responders write: each subject the service holds notes about has a data key (AES-256), stored
wrapped with a master key (``KINSHIP_CASE_NOTE_KEYS``, its id kept for rotation); a note is
sealed with AES-GCM under the subject's key, bound to the note and its case. Erasure deletes
the wrapped key: every copy of the notes left anywhere (a backup, a replica) is unreadable,
operators holding every master key included.
"""

import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class NoteKeyUnknownError(LookupError):
    """A subject key wrapped with a master key id that is no longer configured, or gone."""


@dataclass(frozen=True)
class SubjectKey:
    """A subject's data key as stored: wrapped with the master key ``master_key_id``."""

    master_key_id: str
    wrapped: bytes


class CaseNoteCipher:
    """AES-256-GCM for case notes under per-subject keys, wrapped by rotating master keys."""

    def __init__(self, keys: dict[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise ValueError(f"the active case note key {active_key_id!r} is not configured")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active_key_id

    def new_subject_key(self, subject_id: str) -> SubjectKey:
        """A fresh data key for a subject, wrapped with the active master key."""
        key = AESGCM.generate_key(256)
        return SubjectKey(self._active, self._encrypt(self._active, key, _bound(subject_id)))

    def seal(
        self, text: str, note_id: str, case_id: str, key: SubjectKey, subject_id: str
    ) -> bytes:
        """``text`` encrypted under the subject's data key, bound to its note and case."""
        nonce = os.urandom(NONCE_BYTES)
        data_key = AESGCM(self._unwrap(key, subject_id))
        return nonce + data_key.encrypt(nonce, text.encode(), _note(note_id, case_id))

    def open(
        self, sealed: bytes, note_id: str, case_id: str, key: SubjectKey | None, subject_id: str
    ) -> str:
        """The text of a note; raises if it was tampered with, moved, or its key is gone."""
        if key is None:
            raise NoteKeyUnknownError("the person's data key is gone (erased)")
        data_key = AESGCM(self._unwrap(key, subject_id))
        nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        return data_key.decrypt(nonce, ciphertext, _note(note_id, case_id)).decode()

    def rewrap(self, key: SubjectKey, subject_id: str) -> SubjectKey:
        """The same data key wrapped with the active master key (key rotation)."""
        plain = self._unwrap(key, subject_id)
        return SubjectKey(self._active, self._encrypt(self._active, plain, _bound(subject_id)))

    def _unwrap(self, key: SubjectKey, subject_id: str) -> bytes:
        blob = key.wrapped
        cipher = self._cipher(key.master_key_id)
        return cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _bound(subject_id))

    def _encrypt(self, key_id: str, plaintext: bytes, associated: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._cipher(key_id).encrypt(nonce, plaintext, associated)

    def _cipher(self, key_id: str) -> AESGCM:
        cipher = self._keys.get(key_id)
        if cipher is None:
            raise NoteKeyUnknownError(f"case note key {key_id!r} is not configured")
        return cipher


def _bound(subject_id: str) -> bytes:
    return f"kinship-case-subject:{subject_id}".encode()


def _note(note_id: str, case_id: str) -> bytes:
    return f"kinship-case-note:{note_id}:{case_id}".encode()
