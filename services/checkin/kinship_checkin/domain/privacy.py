"""Notes sealed with a key of the person's own, so that erasing the key erases every copy.

Each person (subject) has a data key (AES-256), stored wrapped with a master note key
(``KINSHIP_NOTE_KEYS``, id kept for rotation). A note is sealed with AES-GCM under the
person's key, bound to its check-in id. Erasure deletes the wrapped key: the ciphertext left
anywhere (a backup, a replica) cannot be opened by anyone, operators holding every master
key included. Notes sealed before per-person keys existed open with a master key directly.
"""

import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["NoteCipher", "NoteKeyUnknownError", "PersonKey", "SealedNote"]

NONCE_BYTES = 12


@dataclass(frozen=True)
class SealedNote:
    """An encrypted note: nonce followed by AES-GCM ciphertext, and the id of its master key.

    ``per_person`` notes are sealed under the person's data key (wrapped by that master key);
    older ones under the master key itself.
    """

    key_id: str
    blob: bytes
    per_person: bool = True


@dataclass(frozen=True)
class PersonKey:
    """A person's data key as stored: wrapped with the master key ``master_key_id``."""

    master_key_id: str
    wrapped: bytes


class NoteKeyUnknownError(LookupError):
    """A note or a person's key was sealed with a master key id that is no longer configured."""


class NoteCipher:
    """AES-256-GCM for notes under per-person keys, wrapped by rotating master keys."""

    def __init__(self, keys: dict[str, bytes], active_key_id: str) -> None:
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active_key_id

    def new_person_key(self, subject_id: str) -> PersonKey:
        """A fresh data key for a person, wrapped with the active master key."""
        key = AESGCM.generate_key(256)
        return PersonKey(self._active, self._encrypt(self._active, key, f"person:{subject_id}"))

    def seal(
        self, note: str, checkin_id: str, person_key: PersonKey, subject_id: str
    ) -> SealedNote:
        """Encrypt ``note`` under the person's data key, bound to its check-in."""
        key = self._unwrap(person_key, subject_id)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(key).encrypt(nonce, note.encode(), checkin_id.encode())
        return SealedNote(person_key.master_key_id, nonce + ciphertext)

    def open(
        self, sealed: SealedNote, checkin_id: str, person_key: PersonKey | None, subject_id: str
    ) -> str:
        """Decrypt a note; raises if it was tampered with, moved, or its key is gone."""
        nonce, ciphertext = sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:]
        if not sealed.per_person:
            return (
                self._cipher(sealed.key_id).decrypt(nonce, ciphertext, checkin_id.encode()).decode()
            )
        if person_key is None:
            raise NoteKeyUnknownError("the person's data key is gone (erased)")
        key = self._unwrap(person_key, subject_id)
        return AESGCM(key).decrypt(nonce, ciphertext, checkin_id.encode()).decode()

    def rewrap(self, person_key: PersonKey, subject_id: str) -> PersonKey:
        """The same data key wrapped with the active master key (key rotation)."""
        key = self._unwrap(person_key, subject_id)
        return PersonKey(self._active, self._encrypt(self._active, key, f"person:{subject_id}"))

    def _unwrap(self, person_key: PersonKey, subject_id: str) -> bytes:
        blob = person_key.wrapped
        cipher = self._cipher(person_key.master_key_id)
        return cipher.decrypt(
            blob[:NONCE_BYTES], blob[NONCE_BYTES:], f"person:{subject_id}".encode()
        )

    def _encrypt(self, key_id: str, plaintext: bytes, associated: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._cipher(key_id).encrypt(nonce, plaintext, associated.encode())

    def _cipher(self, key_id: str) -> AESGCM:
        cipher = self._keys.get(key_id)
        if cipher is None:
            raise NoteKeyUnknownError(f"note key {key_id!r} is not configured")
        return cipher
