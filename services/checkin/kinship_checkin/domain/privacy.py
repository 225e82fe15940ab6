"""Pseudonymous subject ids and note encryption."""

import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kinship_contracts.subjects import Pseudonymiser

__all__ = ["CheckinPrivacy", "NoteCipher", "NoteKeyUnknownError", "Pseudonymiser", "SealedNote"]

NONCE_BYTES = 12


@dataclass(frozen=True)
class SealedNote:
    """An encrypted note: nonce followed by AES-GCM ciphertext, and the id of its key."""

    key_id: str
    blob: bytes


class NoteKeyUnknownError(LookupError):
    """A note was sealed with a key id that is no longer configured."""


class NoteCipher:
    """AES-256-GCM for notes; the check-in id is bound in as associated data."""

    def __init__(self, keys: dict[str, bytes], active_key_id: str) -> None:
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active_key_id

    def seal(self, note: str, checkin_id: str) -> SealedNote:
        """Encrypt ``note`` with the active key."""
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._keys[self._active].encrypt(nonce, note.encode(), checkin_id.encode())
        return SealedNote(self._active, nonce + ciphertext)

    def seal_bytes(self, payload: bytes, associated: str) -> tuple[str, bytes]:
        """Encrypt raw bytes (a dead-lettered submission) with the active key."""
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._keys[self._active].encrypt(nonce, payload, associated.encode())
        return self._active, nonce + ciphertext

    def open_bytes(self, key_id: str, blob: bytes, associated: str) -> bytes:
        """Decrypt what ``seal_bytes`` sealed."""
        cipher = self._keys.get(key_id)
        if cipher is None:
            raise NoteKeyUnknownError(f"note key {key_id!r} is not configured")
        return cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated.encode())

    def open(self, sealed: SealedNote, checkin_id: str) -> str:
        """Decrypt a sealed note; raises if it was tampered with or moved to another check-in."""
        cipher = self._keys.get(sealed.key_id)
        if cipher is None:
            raise NoteKeyUnknownError(f"note key {sealed.key_id!r} is not configured")
        nonce, ciphertext = sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:]
        return cipher.decrypt(nonce, ciphertext, checkin_id.encode()).decode()


@dataclass(frozen=True)
class CheckinPrivacy:
    """The keyed operations that protect people's identity and notes."""

    pseudonyms: Pseudonymiser
    notes: NoteCipher
