"""Bearer authentication: an API key per calling system, or a signed JWT.

API keys identify internal systems (HR portal, chat bot). JWTs identify people acting in
Kinship (peer responders, coordinators): ``sub`` is their ``person_id`` and ``roles`` their
programme roles. Neither identity is ever logged.
"""

import hmac
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from dishka import AsyncContainer
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from kinship_runtime.settings import KinshipSettings

_bearer = HTTPBearer(
    auto_error=False, description="An API key issued to the calling system, or a signed JWT."
)


@dataclass(frozen=True)
class Caller:
    """The authenticated caller: a system (API key) or a person (JWT ``sub``)."""

    name: str
    person_id: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_system(self) -> bool:
        """True for a calling system authenticated by API key."""
        return self.person_id is None


_CALLER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


class ApiKeys:
    """The accepted API keys: ``caller=key`` pairs, or bare keys named by position."""

    def __init__(self, configured: SecretStr) -> None:
        self._keys: list[tuple[str, bytes]] = []
        text = configured.get_secret_value()
        if text.strip().startswith("["):
            # The scoped format (kinship_runtime.identity); scopes are not enforced here.
            from kinship_runtime.identity import parse_api_keys

            for scoped in parse_api_keys(text):
                if scoped.key is not None:
                    self._keys.append((scoped.name, scoped.key.get_secret_value().encode()))
            return
        for position, entry in enumerate(text.split(",")):
            entry = entry.strip()
            if not entry:
                continue
            name, separator, key = entry.partition("=")
            if not separator or not _CALLER_NAME.fullmatch(name.strip()) or not key.strip("= "):
                # A bare key (base64 padding may hold '='), named by its position.
                name, key = f"api-key-{position + 1}", entry
            self._keys.append((name.strip(), key.strip().encode()))

    def caller_for(self, token: str) -> Caller | None:
        """The caller that owns ``token``; compares against every key in constant time."""
        presented = token.encode()
        found = None
        for name, key in self._keys:
            if hmac.compare_digest(presented, key):
                found = Caller(name)
        return found


class JwtVerifier:
    """Verifies JWTs signed with a shared secret (HS256/384/512) or a public key (RS, PS, ES
    or EdDSA)."""

    def __init__(
        self,
        *,
        secret: SecretStr | None,
        public_key: str | None,
        audience: str,
        issuer: str | None,
        leeway_seconds: float = 30.0,
    ) -> None:
        self._keys: list[tuple[Any, list[str]]] = []
        if secret is not None and secret.get_secret_value():
            self._keys.append((secret.get_secret_value(), ["HS256", "HS384", "HS512"]))
        if public_key:
            algorithms = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
            self._keys.append((public_key, algorithms))
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway_seconds

    @property
    def enabled(self) -> bool:
        """Whether any verification key is configured."""
        return bool(self._keys)

    def caller_for(self, token: str) -> Caller | None:
        """The person a valid token names, or None for any invalid or expired token."""
        for key, algorithms in self._keys:
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=algorithms,
                    audience=self._audience,
                    issuer=self._issuer,
                    leeway=self._leeway,
                    options={"require": ["sub", "exp"]},
                )
            except jwt.PyJWTError:
                continue
            roles = claims.get("roles", [])
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                return None
            return Caller(name="person", person_id=str(claims["sub"]), roles=frozenset(roles))
        return None


class Authenticator:
    """Accepts an API key or, when configured, a JWT; answers 401 otherwise."""

    def __init__(self, api_keys: ApiKeys, jwts: JwtVerifier) -> None:
        self._api_keys = api_keys
        self._jwts = jwts

    @classmethod
    def from_settings(cls, settings: KinshipSettings) -> "Authenticator":
        """The authenticator the settings describe."""
        return cls(
            ApiKeys(settings.api_keys),
            JwtVerifier(
                secret=settings.jwt_secret,
                public_key=settings.jwt_public_key,
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
            ),
        )

    def caller_for(self, token: str) -> Caller | None:
        """The caller a bearer token identifies, if any."""
        # A JWT has two dots; API keys are opaque strings and are checked first.
        caller = self._api_keys.caller_for(token)
        if caller is None and self._jwts.enabled and token.count(".") == 2:
            caller = self._jwts.caller_for(token)
        return caller

    def dependency(self) -> Callable[..., Awaitable[Caller]]:
        """TRANSITIONAL: a FastAPI dependency bound to this authenticator (services not yet
        on dishka); use ``Authenticated`` instead."""

        async def authenticate(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        ) -> Caller:
            return _or_401(self.caller_for(credentials.credentials) if credentials else None)

        return authenticate


def _or_401(caller: Caller | None) -> Caller:
    if caller is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=(
                "send 'Authorization: Bearer <token>' with your system's API key "
                "or a valid, unexpired JWT"
            ),
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """A FastAPI dependency: the caller, or 401 unless a known key or valid JWT is presented.

    The ``Authenticator`` comes from the service's dishka container (set on the request by
    ``dishka.integrations.fastapi``).
    """
    container: AsyncContainer = request.state.dishka_container
    authenticator = await container.get(Authenticator)
    if credentials is None:
        return _or_401(None)
    caller = authenticator.caller_for(credentials.credentials)
    if caller is None:
        # People's tokens from an OIDC provider (JWKS, person claim) verified the new way.
        from dishka.exceptions import NoFactoryError

        from kinship_runtime.identity import IdentityVerifier, PersonIdentity

        try:
            verifier = await container.get(IdentityVerifier)
        except NoFactoryError:
            return _or_401(None)
        identity = await verifier.identify(credentials.credentials)
        if isinstance(identity, PersonIdentity):
            caller = Caller(name="person", person_id=identity.person_id)
    return _or_401(caller)


Authenticated = Annotated[Caller, Depends(authenticate)]
"""A route parameter for the authenticated caller (401 otherwise)."""
