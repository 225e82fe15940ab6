"""Bearer authentication of calling systems by API key."""

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

_bearer = HTTPBearer(auto_error=False, description="An API key issued to the calling system.")


@dataclass(frozen=True)
class Caller:
    """The authenticated calling system (never a person's identity)."""

    name: str


class ApiKeys:
    """The accepted API keys: ``caller=key`` pairs, or bare keys named by position."""

    def __init__(self, configured: SecretStr) -> None:
        self._keys: list[tuple[str, bytes]] = []
        for position, entry in enumerate(configured.get_secret_value().split(",")):
            entry = entry.strip()
            if not entry:
                continue
            name, separator, key = entry.partition("=")
            if not separator:
                name, key = f"api-key-{position + 1}", entry
            self._keys.append((name.strip(), key.strip().encode()))

    def caller_for(self, token: str) -> Caller | None:
        """The caller that owns ``token``; compares in constant time."""
        presented = token.encode()
        found = None
        for name, key in self._keys:
            if hmac.compare_digest(presented, key):
                found = Caller(name)
        return found

    def dependency(self) -> Callable[..., Awaitable[Caller]]:
        """A FastAPI dependency that answers 401 unless a known key is presented."""

        async def authenticate(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        ) -> Caller:
            caller = self.caller_for(credentials.credentials) if credentials else None
            if caller is None:
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED,
                    detail="send 'Authorization: Bearer <API key>' with your system's API key",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            return caller

        return authenticate
