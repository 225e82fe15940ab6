"""Server-side sessions in the console's own PostgreSQL schema, encrypted at rest.

The browser holds only a random session id. The table holds the SHA-256 of that id (a copy
of the table gives no usable cookie) and the session data (tokens, CSRF token, sign-in
state) sealed with AES-256-GCM, bound to the id's hash. Sessions end after an idle time and
at an absolute expiry, whichever comes first.
"""

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SessionData = dict[str, Any]


@dataclass(frozen=True)
class StoredSession:
    """A live session: its data and when it ends at the latest."""

    data: SessionData
    expires_at: datetime
    last_seen_at: datetime


class SessionStore(Protocol):
    """Where sessions live (PostgreSQL; an in-memory fake in unit tests)."""

    async def load(self, session_id: str) -> StoredSession | None:
        """The session if it exists and has neither idled out nor expired."""
        ...

    async def save(self, session_id: str, data: SessionData, expires_at: datetime) -> None:
        """Create or replace a session (and mark it seen now)."""
        ...

    async def touch(self, session_id: str) -> None:
        """Mark the session seen now (idle expiry starts again)."""
        ...

    async def delete(self, session_id: str) -> None:
        """End the session; its id never works again."""
        ...


def session_hash(session_id: str) -> bytes:
    """What the table stores instead of the id."""
    return hashlib.sha256(session_id.encode()).digest()


class SessionSealer:
    """AES-256-GCM over the session's JSON, with the id's hash as associated data."""

    def __init__(self, key: bytes, key_id: str) -> None:
        self._aead = AESGCM(key)
        self.key_id = key_id

    def seal(self, id_hash: bytes, data: SessionData) -> bytes:
        nonce = os.urandom(12)
        plain = json.dumps(data, separators=(",", ":")).encode()
        return nonce + self._aead.encrypt(nonce, plain, id_hash)

    def open(self, id_hash: bytes, sealed: bytes) -> SessionData | None:
        """The data, or None when it was sealed under another key or tampered with."""
        try:
            plain = self._aead.decrypt(sealed[:12], sealed[12:], id_hash)
        except (InvalidTag, ValueError):
            return None
        data = json.loads(plain)
        return data if isinstance(data, dict) else None


class PostgresSessionStore:
    """Sessions in ``<schema>.sessions``."""

    def __init__(self, pool: asyncpg.Pool, sealer: SessionSealer, idle: timedelta) -> None:
        self._pool = pool
        self._sealer = sealer
        self._idle = idle

    async def load(self, session_id: str) -> StoredSession | None:
        id_hash = session_hash(session_id)
        row = await self._pool.fetchrow(
            "SELECT sealed, key_id, expires_at, last_seen_at FROM sessions"
            " WHERE id_hash = $1 AND expires_at > now() AND last_seen_at > now() - $2::interval",
            id_hash,
            self._idle,
        )
        if row is None or row["key_id"] != self._sealer.key_id:
            return None
        data = self._sealer.open(id_hash, row["sealed"])
        if data is None:
            return None
        return StoredSession(data, row["expires_at"], row["last_seen_at"])

    async def save(self, session_id: str, data: SessionData, expires_at: datetime) -> None:
        id_hash = session_hash(session_id)
        await self._pool.execute(
            "INSERT INTO sessions (id_hash, sealed, key_id, expires_at)"
            " VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (id_hash) DO UPDATE SET sealed = excluded.sealed,"
            " key_id = excluded.key_id, expires_at = excluded.expires_at, last_seen_at = now()",
            id_hash,
            self._sealer.seal(id_hash, data),
            self._sealer.key_id,
            expires_at,
        )

    async def touch(self, session_id: str) -> None:
        await self._pool.execute(
            "UPDATE sessions SET last_seen_at = now() WHERE id_hash = $1", session_hash(session_id)
        )

    async def delete(self, session_id: str) -> None:
        await self._pool.execute(
            "DELETE FROM sessions WHERE id_hash = $1", session_hash(session_id)
        )

    async def delete_expired(self) -> int:
        """Remove sessions past their expiry or idle time; returns how many."""
        result = await self._pool.execute(
            "DELETE FROM sessions"
            " WHERE expires_at <= now() OR last_seen_at <= now() - $1::interval",
            self._idle,
        )
        return int(result.split()[-1])
