"""Envelope encryption under per-owner data keys wrapped by rotating master keys.

Each owner (a person's subject id) has a data key (AES-256) stored wrapped with a master key
whose id is kept for rotation; what is sealed is AES-GCM under the owner's data key, bound to
what it belongs to. Deleting the wrapped key (erasure) leaves every copy of what it sealed
unreadable, operators holding every master key included. The check-in service seals notes
this way, the escalation service case notes and safety plans; each names its own associated
data, so a key or a sealed text moved to another owner or record does not open.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class KeyUnknownError(LookupError):
    """A data key wrapped with a master key id that is no longer configured, or a data key
    that is gone (erased)."""


@dataclass(frozen=True)
class WrappedKey:
    """An owner's data key as stored: wrapped with the master key ``master_key_id``."""

    master_key_id: str
    wrapped: bytes


class EnvelopeCipher:
    """AES-256-GCM under per-owner data keys, wrapped by rotating master keys.

    ``key_context(owner)`` is the associated data that binds a wrapped key to its owner;
    ``what`` names the master keys in errors (e.g. "note key").
    """

    def __init__(
        self,
        keys: dict[str, bytes],
        active_key_id: str,
        *,
        key_context: Callable[[str], bytes],
        what: str,
    ) -> None:
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active_key_id
        self._context = key_context
        self._what = what

    def new_key(self, owner: str) -> WrappedKey:
        """A fresh data key for ``owner``, wrapped with the active master key."""
        return self._wrap(AESGCM.generate_key(256), owner)

    def rewrap(self, key: WrappedKey, owner: str) -> WrappedKey:
        """The same data key wrapped with the active master key (key rotation)."""
        return self._wrap(self._unwrap(key, owner), owner)

    def seal(self, plaintext: bytes, key: WrappedKey, owner: str, bound_to: bytes) -> bytes:
        """``plaintext`` under the owner's data key, bound to ``bound_to``: nonce + ciphertext."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self._unwrap(key, owner)).encrypt(nonce, plaintext, bound_to)

    def open(self, sealed: bytes, key: WrappedKey | None, owner: str, bound_to: bytes) -> bytes:
        """What ``seal`` sealed; raises if it was tampered with, moved, or its key is gone."""
        if key is None:
            raise KeyUnknownError("the person's data key is gone (erased)")
        nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        return AESGCM(self._unwrap(key, owner)).decrypt(nonce, ciphertext, bound_to)

    def master(self, key_id: str) -> AESGCM:
        """A configured master key (for what was sealed under it directly, before data keys)."""
        cipher = self._keys.get(key_id)
        if cipher is None:
            raise KeyUnknownError(f"{self._what} {key_id!r} is not configured")
        return cipher

    def _wrap(self, plain: bytes, owner: str) -> WrappedKey:
        nonce = os.urandom(NONCE_BYTES)
        wrapped = self.master(self._active).encrypt(nonce, plain, self._context(owner))
        return WrappedKey(self._active, nonce + wrapped)

    def _unwrap(self, key: WrappedKey, owner: str) -> bytes:
        blob = key.wrapped
        return self.master(key.master_key_id).decrypt(
            blob[:NONCE_BYTES], blob[NONCE_BYTES:], self._context(owner)
        )
