"""Who may call an endpoint, declared on the endpoint and enforced here, in one place.

Every route takes exactly one parameter typed ``Annotated[Actor, Depends(allow(...))]``, which
states its policy: which API-key
scopes a calling system needs, which programme roles a person needs (or whether any person in
the directory may call it). The dependency authenticates the bearer token
(``kinship_runtime.identity``), looks the person's roles up in the service's own directory
projection (never in the token), refuses with 401/403 otherwise, applies the submission rate
limits, and hands the route an ``Actor``: the real caller, for the route's row-level checks
("only as themselves", "only its responder") and for the audit trail.

``policies(app)`` lists each route's policy: a test asserts that no route goes without one.
"""

import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

import asyncpg
from dishka import AsyncContainer
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.routing import BaseRoute

from kinship_contracts.directory import Role
from kinship_runtime.identity import (
    IdentityVerifier,
    PersonIdentity,
    Scope,
    SystemIdentity,
)
from kinship_runtime.limits import IDENTITY_KEY

_bearer = HTTPBearer(
    auto_error=False, description="An API key issued to the calling system, or a person's JWT."
)


@dataclass(frozen=True)
class Person:
    """A signed-in person as this service's directory projection knows them."""

    person_id: str
    roles: frozenset[Role] = frozenset()
    team_id: str | None = None
    manages: frozenset[str] = frozenset()
    known: bool = True
    """False when the directory has not heard of them (yet): an employee with no role."""

    def has(self, role: Role) -> bool:
        """Whether the directory gives them ``role``."""
        return role in self.roles

    @property
    def managed_teams(self) -> frozenset[str]:
        """The teams a team manager reads trends of (their own when none are listed)."""
        if not self.has(Role.TEAM_MANAGER):
            return frozenset()
        if self.manages:
            return self.manages
        return frozenset({self.team_id}) if self.team_id else frozenset()


class PeopleDirectory(Protocol):
    """Looks a person up in the service's directory projection."""

    async def person(self, person_id: str) -> tuple[Person, bool] | None:
        """(the person, whether they are active), or None when unknown."""
        ...


class PostgresPeopleDirectory:
    """``PeopleDirectory`` over the runtime's ``directory_people`` table."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def person(self, person_id: str) -> tuple[Person, bool] | None:
        """The person and whether they are active, or None when the directory lacks them."""
        row = await self._pool.fetchrow(
            "SELECT roles, team_id, manages, active FROM directory_people WHERE person_id = $1",
            person_id,
        )
        if row is None:
            return None
        roles = frozenset(Role(role) for role in row["roles"] if role in Role._value2member_map_)
        return (
            Person(person_id, roles, row["team_id"], frozenset(row["manages"] or ())),
            bool(row["active"]),
        )


@dataclass(frozen=True)
class Actor:
    """The authenticated caller of a request: a calling system or a person."""

    system: SystemIdentity | None = None
    person: Person | None = None

    @property
    def audit_name(self) -> str:
        """How the audit trail names the caller: ``system:<name>`` or ``person:<id>``."""
        if self.system is not None:
            return f"system:{self.system.name}"
        assert self.person is not None
        return f"person:{self.person.person_id}"

    @property
    def person_id(self) -> str | None:
        """The signed-in person's id (None for a calling system)."""
        return self.person.person_id if self.person is not None else None

    def has(self, role: Role) -> bool:
        """Whether the caller is a person with ``role``."""
        return self.person is not None and self.person.has(role)

    @property
    def is_coordinator(self) -> bool:
        """A programme coordinator (a person: systems never are)."""
        return self.has(Role.COORDINATOR)

    def require_self(self, person_id: str, what: str) -> None:
        """A person may do ``what`` only as themselves (a calling system acts within the
        scope its key was issued for, on behalf of anyone)."""
        if self.person is not None and self.person.person_id != person_id:
            raise forbidden(f"{what} only as yourself: the person_id must be your own")


def forbidden(detail: str) -> HTTPException:
    """403 with a reason that says what would be allowed."""
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=detail)


@dataclass(frozen=True)
class Policy:
    """Who may call an endpoint."""

    scopes: frozenset[Scope] = frozenset()
    roles: frozenset[Role] = frozenset()
    everyone: bool = False
    rate_limited: bool = False
    bucket: str = "submissions"
    """The rate-limit bucket a ``rate_limited`` call counts in."""

    def describe(self) -> str:
        """The policy in words (OpenAPI, docs/security.md)."""
        parts = []
        if self.scopes:
            parts.append("systems with " + " or ".join(sorted(self.scopes)))
        if self.everyone:
            parts.append("any signed-in person")
        elif self.roles:
            parts.append("people who are " + " or ".join(sorted(self.roles)))
        return "; ".join(parts) or "nobody"


@dataclass
class RateLimits:
    """Moving-window limits on submissions, per person and per calling system.

    Counted in this replica's memory: with N replicas the effective limit is up to N times
    the configured one (docs/security.md).
    """

    per_person: RateLimitItem
    per_key: RateLimitItem
    _limiter: MovingWindowRateLimiter = field(
        default_factory=lambda: MovingWindowRateLimiter(MemoryStorage())
    )

    @classmethod
    def of(cls, per_person: str, per_key: str) -> "RateLimits":
        """Limits from the settings' notation (``"60/minute"``)."""
        return cls(parse(per_person), parse(per_key))

    async def hit(self, actor: Actor, bucket: str = "submissions", cost: int = 1) -> None:
        """Count one request in ``bucket`` (submissions by default; a search counts apart,
        so that searching never holds back a check-in) as ``cost`` units (e.g. the ids a
        vault call asks about); 429 with ``Retry-After`` when over the limit."""
        if actor.system is not None:
            item, key = self.per_key, f"{bucket}:key:{actor.system.name}"
        else:
            item, key = self.per_person, f"{bucket}:person:{actor.person_id}"
        if await self._limiter.hit(item, key, cost=max(1, cost)):
            return
        stats = await self._limiter.get_window_stats(item, key)
        retry_after = max(1, int(stats.reset_time - time.time()))
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail="too many requests; try again later",
            headers={"Retry-After": str(retry_after)},
        )


AccessCheck = Callable[..., Coroutine[Any, Any, Actor]]


def _unauthorized() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="send 'Authorization: Bearer <token>': your system's API key or a valid, "
        "unexpired token from your organisation's sign-in",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def identify_request(request: Request, token: str) -> Actor | None:
    """The actor a bearer token proves for this request (no policy applied), or None.

    ``RequestLimits`` may have verified the token already, before reading the body.
    """
    container: AsyncContainer = request.state.dishka_container
    identity = getattr(request.state, IDENTITY_KEY, None)
    if not isinstance(identity, SystemIdentity | PersonIdentity):
        identity = await (await container.get(IdentityVerifier)).identify(token)
    if identity is None:
        return None
    if isinstance(identity, SystemIdentity):
        return Actor(system=identity)
    return Actor(person=await _person(container, identity))


async def _person(container: AsyncContainer, identity: PersonIdentity) -> Person:
    directory: PeopleDirectory = await container.get(PeopleDirectory)
    found = await directory.person(identity.person_id)
    if found is None:
        return Person(identity.person_id, known=False)
    person, active = found
    if not active:
        raise forbidden("your directory entry is inactive; ask your HR system to restore it")
    return person


def _check(policy: Policy) -> AccessCheck:
    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Actor:
        actor = await identify_request(request, credentials.credentials) if credentials else None
        if actor is None:
            raise _unauthorized()
        if actor.system is not None:
            if not policy.scopes & actor.system.scopes:
                raise forbidden(f"this API key may not do this; it needs: {policy.describe()}")
        elif not (policy.everyone or (actor.person and policy.roles & actor.person.roles)):
            raise forbidden(f"only {policy.describe()} may do this")
        if policy.rate_limited:
            container: AsyncContainer = request.state.dishka_container
            await (await container.get(RateLimits)).hit(actor, bucket=policy.bucket)
        return actor

    check.__kinship_policy__ = policy  # type: ignore[attr-defined]
    return check


def allow(
    *,
    scopes: Iterable[Scope] = (),
    roles: Iterable[Role] = (),
    everyone: bool = False,
    rate_limited: bool = False,
    bucket: str = "submissions",
) -> AccessCheck:
    """The access check of a policy, for a route parameter type::

        CoordinatorsOnly = Annotated[Actor, Depends(allow(roles=[Role.COORDINATOR]))]

    ``scopes``: calling systems whose API key has any of them; ``roles``: people the
    directory gives any of them; ``everyone``: any signed-in person who is not inactive;
    ``rate_limited``: counts against the per-person and per-key limits, in ``bucket``
    (submissions unless told: e.g. ``OWN_DATA`` for the routes whose every call costs a
    vault lookup, so that a person can never spend a service's vault budget).
    """
    return _check(Policy(frozenset(scopes), frozenset(roles), everyone, rate_limited, bucket))


OWN_DATA = "own-data"
"""The rate-limit bucket of a person's own-data routes (each call asks the vault)."""


def policy_of(route: APIRoute) -> list[Policy]:
    """The access policies a route declares (exactly one is expected)."""
    found = []
    for dependency in route.dependant.dependencies:
        policy = getattr(dependency.call, "__kinship_policy__", None)
        if isinstance(policy, Policy):
            found.append(policy)
    return found


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route, including those of included routers (FastAPI keeps them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from api_routes(nested.routes)


def policies(app: FastAPI) -> dict[str, list[Policy]]:
    """``"METHOD /path"`` → the policies each API route declares."""
    table: dict[str, list[Policy]] = {}
    for route in api_routes(app.routes):
        for method in sorted(route.methods or ()):
            table[f"{method} {route.path}"] = policy_of(route)
    return table
