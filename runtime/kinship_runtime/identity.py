"""Who is calling: a calling system (API key with scopes) or a person (an OIDC JWT).

API keys identify internal systems (HR portal, survey tool, chat bot) and carry explicit
scopes; a key never reads or acts on a case. JWTs identify people signed in through the
organisation's identity provider: issuer, audience, expiry and issue time are required, a
token may not live longer than ``KINSHIP_JWT_MAX_LIFETIME_SECONDS``, asymmetric keys come from
the provider's JWKS (found through OIDC discovery), and a shared HS secret must have at least
32 bytes. A token's claims never grant a role: roles come from the directory
(``kinship_runtime.access``). Neither identity nor token is ever logged.
"""

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import jwt
from jwt import PyJWK, PyJWKSet
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

if TYPE_CHECKING:
    from kinship_runtime.settings import KinshipSettings

log = logging.getLogger(__name__)


class Scope(StrEnum):
    """What an API key allows its calling system to do."""

    CHECKINS_SUBMIT = "checkins:submit"
    SIGNALS_SUBMIT = "signals:submit"
    """Submit signals (``POST /v1/signals``, escalation), as on ``wellbeing.signals.submitted``:
    keys only, never a person (a signal is about others)."""
    KUDOS_SUBMIT = "kudos:submit"
    PULSE_SUBMIT = "pulse:submit"
    DIRECTORY_PUBLISH = "directory:publish"
    """Keep the directory (``PUT``/``DELETE /v1/directory/people/{person_id}``, check-in), as
    on ``directory.people``: keys only (the HR system), never a person (it gives the roles)."""
    REPORTS_READ = "reports:read"
    """Programme reports (aggregates over k >= 5 people); never a case or a team trend."""
    ERASURE_REQUEST = "erasure:request"
    """Ask for a person's erasure on their behalf (the HR portal)."""
    SUBJECTS_LOOKUP = "subjects:lookup"
    """Kinship services only: a person's pseudonymous subject id (one-way)."""
    SUBJECTS_SCREEN = "subjects:screen"
    """Kinship services only: which of some staff is the subject of a case (conflicts)."""
    SUBJECTS_DELIVER = "subjects:deliver"
    """Kinship services only: where to deliver a message to a subject, audited."""
    SUBJECTS_ERASURE = "subjects:erasure"
    """Kinship services only: an open erasure's subject ids, to forget them; audited."""
    EMAIL_INBOUND = "email:inbound"
    """The mail system only: hand replies to alert emails to the escalation service."""


@dataclass(frozen=True)
class SystemIdentity:
    """A calling system, by the name its API key was issued under."""

    name: str
    scopes: frozenset[Scope]


@dataclass(frozen=True)
class PersonIdentity:
    """A person, by their directory ``person_id`` (from the configured token claim)."""

    person_id: str


Identity = SystemIdentity | PersonIdentity


class ApiKeyEntry(BaseModel):
    """One configured API key: a name, its scopes, and the key or its SHA-256."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
    scopes: list[Scope] = Field(default_factory=list)
    key: SecretStr | None = None
    key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    def digest(self) -> bytes:
        """SHA-256 of the key (what is compared)."""
        if self.key_sha256 is not None:
            return bytes.fromhex(self.key_sha256)
        if self.key is None:
            raise ValueError(f"API key {self.name!r} needs 'key' or 'key_sha256'")
        return hashlib.sha256(self.key.get_secret_value().encode()).digest()


class ApiKeyConfigError(ValueError):
    """``KINSHIP_API_KEYS`` is not a JSON list of keys; the message never quotes a key."""


def parse_api_keys(configured: str) -> list[ApiKeyEntry]:
    """The keys in ``KINSHIP_API_KEYS``: a JSON list of ``{name, scopes, key | key_sha256}``."""
    if not configured.strip():
        return []
    try:
        raw = json.loads(configured)
        entries = [ApiKeyEntry.model_validate(item) for item in raw]
    except (json.JSONDecodeError, TypeError, ValidationError) as error:
        raise ApiKeyConfigError(
            "KINSHIP_API_KEYS must be a JSON list like "
            '[{"name": "hr-portal", "scopes": ["checkins:submit"], "key": "<32+ chars>"}] '
            "(or key_sha256 instead of key)"
        ) from error
    names = [entry.name for entry in entries]
    if len(set(names)) != len(names):
        raise ApiKeyConfigError("KINSHIP_API_KEYS: every key needs its own name")
    for entry in entries:
        if entry.key is None and entry.key_sha256 is None:
            raise ApiKeyConfigError(f"KINSHIP_API_KEYS: {entry.name!r} needs key or key_sha256")
    return entries


class ApiKeys:
    """The accepted API keys, compared by SHA-256 in constant time."""

    def __init__(self, entries: Sequence[ApiKeyEntry]) -> None:
        self._keys = [(entry.digest(), entry) for entry in entries]

    def identify(self, token: str) -> SystemIdentity | None:
        """The system that owns ``token``, if any (every key is compared)."""
        presented = hashlib.sha256(token.encode()).digest()
        found = None
        for digest, entry in self._keys:
            if hmac.compare_digest(presented, digest):
                found = SystemIdentity(entry.name, frozenset(entry.scopes))
        return found


ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]
SYMMETRIC = ["HS256", "HS384", "HS512"]


def loopback_url(url: str) -> bool:
    """Whether ``url`` points at this machine (plain http is only acceptable there)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class JwksCache:
    """The identity provider's signing keys, fetched from its JWKS (found by discovery).

    An unknown ``kid`` refreshes the keys, at most once per ``min_refresh_seconds``, so a
    key rotation is picked up and a flood of forged kids cannot hammer the provider.
    """

    issuer: str | None
    jwks_url: str | None
    client: httpx.AsyncClient | None = None
    min_refresh_seconds: float = 60.0
    _keys: dict[str, PyJWK] = field(default_factory=dict)
    _fetched_at: float | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def key(self, kid: str | None) -> PyJWK | None:
        """The key ``kid`` names (the only key when the token names none)."""
        found = self._pick(kid)
        if found is None and self._may_refresh():
            async with self._lock:
                if self._may_refresh():
                    await self._refresh()
            found = self._pick(kid)
        return found

    def _may_refresh(self) -> bool:
        fetched = self._fetched_at
        return fetched is None or time.monotonic() - fetched >= self.min_refresh_seconds

    def _pick(self, kid: str | None) -> PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        self._fetched_at = time.monotonic()
        client = self.client or httpx.AsyncClient(timeout=5.0, follow_redirects=False)
        try:
            url = self.jwks_url or await self._discover(client)
            response = await client.get(url)
            response.raise_for_status()
            key_set = PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as error:
            log.warning("could not fetch the identity provider's keys: %s", type(error).__name__)
            return
        finally:
            if self.client is None:
                await client.aclose()
        self._keys = {
            str(key.key_id or index): key
            for index, key in enumerate(key_set.keys)
            if getattr(key, "public_key_use", None) in (None, "sig")
        }

    async def _discover(self, client: httpx.AsyncClient) -> str:
        if not self.issuer:
            raise ValueError("no JWKS URL and no OIDC issuer to discover it from")
        response = await client.get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        response.raise_for_status()
        document = response.json()
        if document.get("issuer") != self.issuer:
            raise ValueError("the discovery document names another issuer")
        return str(document["jwks_uri"])


@dataclass(frozen=True)
class JwtRules:
    """What a person's token must satisfy."""

    issuer: str
    audience: str
    max_lifetime_seconds: int
    person_claim: str = "sub"
    leeway_seconds: float = 30.0


class JwtVerifier:
    """Verifies people's JWTs: signature, issuer, audience, exp, iat and maximum lifetime."""

    def __init__(
        self,
        rules: JwtRules,
        *,
        secret: SecretStr | None = None,
        public_key: str | None = None,
        jwks: JwksCache | None = None,
    ) -> None:
        if secret is not None and len(secret.get_secret_value().encode()) < 32:
            raise ValueError("KINSHIP_JWT_SECRET needs at least 32 bytes")
        self._rules = rules
        self._secret = secret
        self._public_key = public_key
        self._jwks = jwks

    async def identify(self, token: str) -> PersonIdentity | None:
        """The person a valid token names, or None for any invalid, expired or foreign one."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        algorithm = header.get("alg")
        key: Any
        if algorithm in SYMMETRIC and self._secret is not None:
            key = self._secret.get_secret_value()
        elif algorithm in ASYMMETRIC and self._public_key:
            key = self._public_key
        elif algorithm in ASYMMETRIC and self._jwks is not None:
            jwk = await self._jwks.key(header.get("kid"))
            if jwk is None:
                return None
            key = jwk.key
        else:
            return None  # "none", an algorithm we do not use, or no key of its kind
        return self._check(token, key, str(algorithm))

    def _check(self, token: str, key: Any, algorithm: str) -> PersonIdentity | None:
        rules = self._rules
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=rules.audience,
                issuer=rules.issuer,
                leeway=rules.leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", rules.person_claim]},
            )
        except jwt.PyJWTError:
            return None
        lifetime = claims["exp"] - claims["iat"]
        if not isinstance(lifetime, int | float) or lifetime > rules.max_lifetime_seconds:
            return None
        person_id = claims.get(rules.person_claim)
        if not isinstance(person_id, str) or not 0 < len(person_id) <= 200:
            return None
        return PersonIdentity(person_id)


class IdentityVerifier:
    """API keys first (opaque strings), then JWTs (three dot-separated parts)."""

    def __init__(self, api_keys: ApiKeys, jwts: JwtVerifier | None) -> None:
        self._api_keys = api_keys
        self._jwts = jwts

    async def identify(self, token: str) -> Identity | None:
        """The identity a bearer token proves, if any."""
        if not token or len(token) > 8192:
            return None
        system = self._api_keys.identify(token)
        if system is not None:
            return system
        if self._jwts is not None and token.count(".") == 2:
            return await self._jwts.identify(token)
        return None


def identity_verifier(settings: "KinshipSettings") -> IdentityVerifier:
    """The verifier the settings describe: API keys, and people's tokens when configured.

    Tokens need an issuer (``KINSHIP_JWT_ISSUER``, or the OIDC issuer) and a key: the OIDC
    provider's JWKS (``KINSHIP_OIDC_ISSUER`` discovery or ``KINSHIP_JWT_JWKS_URL``), a PEM
    public key, or a shared secret of at least 32 bytes. Plain-http identity providers are
    accepted on this machine only, unless ``KINSHIP_ENV=dev``.
    """
    keys = ApiKeys(parse_api_keys(settings.api_keys.get_secret_value()))
    issuer = settings.jwt_issuer or settings.oidc_issuer
    has_key = bool(
        settings.jwt_secret
        or settings.jwt_public_key
        or settings.jwt_jwks_url
        or settings.oidc_issuer
    )
    if not has_key:
        return IdentityVerifier(keys, None)
    if not issuer:
        raise ValueError("people's tokens need KINSHIP_JWT_ISSUER or KINSHIP_OIDC_ISSUER")
    for url in (settings.oidc_issuer, settings.jwt_jwks_url):
        if url and url.startswith("http://") and not loopback_url(url) and settings.env != "dev":
            raise ValueError("the identity provider must be reached over https")
    jwks = None
    if settings.oidc_issuer or settings.jwt_jwks_url:
        jwks = JwksCache(issuer=settings.oidc_issuer, jwks_url=settings.jwt_jwks_url)
    return IdentityVerifier(
        keys,
        JwtVerifier(
            JwtRules(
                issuer=issuer,
                audience=settings.jwt_audience,
                max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
                person_claim=settings.jwt_person_claim,
            ),
            secret=settings.jwt_secret,
            public_key=settings.jwt_public_key,
            jwks=jwks,
        ),
    )


def all_scopes_key(name: str, key: str) -> str:
    """``KINSHIP_API_KEYS`` with one key holding every scope (the local stack and tests)."""
    return json.dumps([{"name": name, "scopes": [scope.value for scope in Scope], "key": key}])
