"""The check-in service's vault, as Kinship's other services call it.

Only the check-in service can link a person to their pseudonymous subject id. The others ask
it, with their own API key and scope, for exactly what they need:

- ``subjects``: the subject ids of people they already know by id (one-way; scope
  ``subjects:lookup``), e.g. the recipient of kudos, whose award is published by subject id;
  ``subjects_as_of`` the same for people named by Kafka records, with when each person's
  newest record was produced: the vault refuses a person it erased at or after that time
  and says when it erased each person asked about, so the caller skips their older records
  (a caller whose own erasure consumer lags gets no new subject id for an erased person);
- ``conflicts``: which of some staff is the subject of a case (``subjects:screen``), so that
  nobody is paged about themself;
- ``delivery_target``: the person to deliver one message to (``subjects:deliver``; audited).
- ``erasure_subjects``: the subject ids of an open erasure, to forget them
  (``subjects:erasure``; audited): they are never on Kafka.

Nothing they learn is stored next to a subject id. Each call states its ``purpose`` (kept in
the vault's audit trail with the caller and the count, never the people) and asks about at
most as many people as the vault answers per call (``LOOKUP_BATCH``, one for a lookup that
must not create a subject id, ``SCREEN_BATCH``): larger sets are split. An unreachable or
rate-limiting vault is a transient failure (``VaultUnavailableError`` is an ``OSError``):
the caller's work is retried later. A call split into several that is rate-limited after its
first part was answered waits (``Retry-After``, ``max_wait_seconds`` in all) and resumes
from the part that was refused, instead of failing and spending the budget again on a retry
from the start: a batch larger than one window's budget completes, slower, rather than never.
The wait (120 s by default) stays well inside a Kafka consumer's poll deadline (300 s), so a
consumer waiting on the vault is not taken for dead and its batch is not handed elsewhere.
Path segments are percent-quoted; a 404 that is not the vault's own answer (a route that did
not match) is a ``VaultRefusedError``, never taken for "erased" or "closed", so nothing is
skipped silently.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

log = logging.getLogger(__name__)

LOOKUP_BATCH = 1000
"""People per lookup that may create subject ids (the vault's cap)."""
LOOKUP_EXISTING_BATCH = 1
"""People per lookup that may not (``create=False``: one person's own data)."""
SCREEN_BATCH = 500
"""People per screen (the vault's cap)."""


class VaultUnavailableError(ConnectionError):
    """The check-in service did not answer (or answered 429/5xx): try again later."""


class VaultRateLimitedError(VaultUnavailableError):
    """The check-in service answered 429: this key asked too much in this window."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class VaultRefusedError(RuntimeError):
    """The check-in service refused the call (a missing scope or bad input): a bug or a
    configuration error, not an outage."""


class VaultInvalidRequestError(VaultRefusedError):
    """The vault did not accept the request's body (422): a field it does not know, i.e. a
    check-in service older than this one."""


class VaultNotFoundError(LookupError):
    """The vault answered that what was asked about does not exist (its own 404)."""


class VaultGoneError(LookupError):
    """The vault no longer serves what was asked for (410: e.g. a closed erasure)."""


@dataclass(frozen=True)
class SubjectsAsOf:
    """The vault's answer to ``subjects_as_of``.

    ``subjects``: each person's subject id, but for the ``refused``: people erased at or
    after their newest record (no subject id is made or answered for them). ``erased_at``:
    for each person asked about whom the vault erased (within its record's keeping time),
    when; a record about them produced at or before it is to be skipped, one produced after
    it is new and is processed."""

    subjects: dict[str, str]
    refused: frozenset[str] = frozenset()
    erased_at: dict[str, datetime] = field(default_factory=dict)

    def replayed(self, person_id: str, produced_at: datetime | None) -> bool:
        """Whether a record about ``person_id`` produced at ``produced_at`` predates (or is
        at) their erasure: never for a person not erased or a record without a timestamp."""
        erased_at = self.erased_at.get(person_id)
        return erased_at is not None and produced_at is not None and produced_at <= erased_at


def newest(
    times: Mapping[str, datetime | None], people_of: Mapping[str, Sequence[str]]
) -> dict[str, datetime]:
    """Each person's newest record time: ``times`` by record id (None: no timestamp),
    ``people_of`` the people each record names; people named only by undated records are
    left out (asked about as before)."""
    found: dict[str, datetime] = {}
    for record_id, people in people_of.items():
        at = times.get(record_id)
        if at is None:
            continue
        for person in people:
            found[person] = max(found.get(person, at), at)
    return found


CLOSED_ERASURE = "no open erasure with this id (complete, past its deadline, or unknown)"
"""What a check-in service before 410 answered, with 404, for a closed erasure."""


def segment(value: str) -> str:
    """``value`` as one URL path segment: percent-quoted, and never ``.``/``..`` (which a
    client or server would resolve against the path)."""
    if value in {"", ".", ".."}:
        raise VaultRefusedError(f"{value!r} cannot name a vault resource")
    return quote(value, safe="")


class VaultClient:
    """HTTP client of the check-in service's subject endpoints."""

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_seconds: float = 3.0,
        max_wait_seconds: float = 120.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._max_wait_seconds = max_wait_seconds
        self._warned_undated = False
        self._sleep = sleep
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key.get_secret_value()}"},
            timeout=timeout_seconds,
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        """Close the connections."""
        await self._client.aclose()

    async def subjects(
        self, person_ids: Sequence[str], *, create: bool = True, purpose: str = "unstated"
    ) -> dict[str, str]:
        """Each person's subject id (a person seen for the first time gets a new one; with
        ``create=False`` only people who have one are answered, e.g. for a person's own data
        download, which must not give a subject id to someone who never checked in).
        ``purpose`` (lowercase letters and underscores) is kept in the vault's audit trail."""
        return (await self._lookup(person_ids, {}, create=create, purpose=purpose)).subjects

    async def subjects_as_of(
        self,
        person_ids: Sequence[str],
        produced_at: Mapping[str, datetime],
        *,
        purpose: str = "unstated",
    ) -> SubjectsAsOf:
        """Like ``subjects`` (creating), for people named by Kafka records: ``produced_at``
        gives, per person, when the newest record naming them was produced (people left out,
        e.g. named only by records without a timestamp, are answered as by ``subjects``).
        The vault refuses a person it erased at or after that time, and says when it erased
        each person asked about (``SubjectsAsOf.replayed`` tells which records to skip)."""
        return await self._lookup(person_ids, produced_at, create=True, purpose=purpose)

    async def _lookup(
        self,
        person_ids: Sequence[str],
        produced_at: Mapping[str, datetime],
        *,
        create: bool,
        purpose: str,
    ) -> SubjectsAsOf:
        wanted = sorted(set(person_ids))
        batch = LOOKUP_BATCH if create else LOOKUP_EXISTING_BATCH
        found: dict[str, str] = {}
        refused: set[str] = set()
        erased_at: dict[str, datetime] = {}
        for start in range(0, len(wanted), batch):
            part = wanted[start : start + batch]
            body: dict[str, Any] = {"person_ids": part}
            if not create:
                body["create"] = False
            body["purpose"] = purpose
            dated = {p: produced_at[p].isoformat() for p in part if p in produced_at}
            if dated:  # only then: a vault from before produced_at answers the others
                body["produced_at"] = dated
            try:
                answer = await self._part("/v1/subjects/lookup", body, resumed=start > 0)
            except VaultInvalidRequestError:
                if "produced_at" not in body:
                    raise
                # A check-in service from before dated lookups (an upgrade in progress: it
                # must be upgraded first, docs/operations.md). Ask as before rather than fail
                # the batch, which would hold back crisis signals: until it is upgraded, a
                # lagging erasure consumer can again be given a new subject id (decision 86).
                if not self._warned_undated:
                    self._warned_undated = True
                    log.warning(
                        "the check-in service does not take dated lookups (produced_at): "
                        "upgrade it; asking without the dates meanwhile"
                    )
                del body["produced_at"]
                answer = await self._part("/v1/subjects/lookup", body, resumed=start > 0)
            found.update(answer["subjects"])
            refused.update(str(person) for person in answer.get("refused", []))
            erased_at.update(
                (str(person), datetime.fromisoformat(str(at)))
                for person, at in answer.get("erased_at", {}).items()
            )
        return SubjectsAsOf(found, frozenset(refused), erased_at)

    async def conflicts(
        self, subject_id: str, person_ids: Sequence[str], *, purpose: str = "unstated"
    ) -> list[str]:
        """Those of ``person_ids`` who are the subject ``subject_id`` (``purpose`` as for
        ``subjects``)."""
        wanted = sorted(set(person_ids))
        found: list[str] = []
        for start in range(0, len(wanted), SCREEN_BATCH):
            body = {"person_ids": wanted[start : start + SCREEN_BATCH], "purpose": purpose}
            path = f"/v1/subjects/{segment(subject_id)}/screen"
            answer = await self._part(path, body, resumed=start > 0)
            found += [str(person) for person in answer["conflicts"]]
        return found

    async def delivery_target(self, subject_id: str, request_id: str) -> str | None:
        """The person to deliver ``request_id`` to, or None when the subject was erased."""
        try:
            answer = await self._post(
                f"/v1/subjects/{segment(subject_id)}/delivery", {"request_id": request_id}
            )
        except VaultNotFoundError:
            return None
        return str(answer["person_id"])

    async def erasure_subjects(self, erasure_id: str) -> list[str] | None:
        """The subject ids erasure ``erasure_id`` concerns, or None once it is closed
        (complete everywhere, past its deadline, or unknown: the vault answers 410). Any
        other answer, a 404 from a route that did not match included, raises."""
        try:
            answer = await self._request("GET", f"/v1/erasures/{segment(erasure_id)}/subjects")
        except VaultGoneError:
            return None
        except VaultNotFoundError as error:
            if error.args and error.args[0] == CLOSED_ERASURE:  # a check-in before 410
                return None
            raise VaultRefusedError(
                "the check-in service has no route for this erasure's subjects "
                "(an id it cannot route, or an older check-in service)"
            ) from None
        return [str(subject) for subject in answer["subject_ids"]]

    async def _part(self, path: str, body: dict[str, Any], *, resumed: bool) -> dict[str, Any]:
        """One part of a split call; once an earlier part was answered, a 429 is waited out
        (up to ``max_wait_seconds`` in all) instead of failing the whole call."""
        waited = 0.0
        while True:
            try:
                return await self._post(path, body)
            except VaultRateLimitedError as error:
                if not resumed or waited >= self._max_wait_seconds:
                    raise
                pause = min(error.retry_after, self._max_wait_seconds - waited)
                await self._sleep(pause)
                waited += pause

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._request("POST", path, body)

    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            response = await self._client.request(method, path, json=body)
        except httpx.HTTPError as error:
            raise VaultUnavailableError(
                f"the check-in service is unreachable ({type(error).__name__})"
            ) from None
        if response.status_code == 410:
            raise VaultGoneError(_detail(response))
        if response.status_code == 404:
            # The vault's own 404s carry their reason; a route that did not match says
            # "Not Found". Only the former is an answer about the thing asked for.
            detail = _detail(response)
            if detail in {None, "Not Found"}:
                raise VaultRefusedError(
                    f"the check-in service has no route {path!r} (404): an id it cannot "
                    "route, or a check-in service of another version"
                )
            raise VaultNotFoundError(detail)
        if response.status_code == 429:
            raise VaultRateLimitedError("the check-in service answered 429", _retry_after(response))
        if response.status_code >= 500:
            raise VaultUnavailableError(f"the check-in service answered {response.status_code}")
        if response.status_code == 422:
            raise VaultInvalidRequestError(
                f"the check-in service did not accept the request to {path} (422): a check-in "
                "service older than this service? Upgrade the check-in service first"
            )
        if response.status_code >= 400:
            raise VaultRefusedError(
                f"the check-in service refused {path} ({response.status_code}); "
                "check this service's KINSHIP_CHECKIN_API_KEY and its scopes"
            )
        answer: dict[str, Any] = response.json()
        return answer


def _detail(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else None


def _retry_after(response: httpx.Response) -> float:
    try:
        seconds = float(response.headers.get("retry-after", "1"))
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 1.0), 60.0)
