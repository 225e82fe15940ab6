"""A typed client for the other services' HTTP APIs, called as the signed-in person.

Every call forwards the person's access token as ``Authorization: Bearer``; permissions are
decided by the service that owns the data. Answers the console cannot use become typed
errors (``ApiError`` subclasses) that pages turn into clear states, never a 500.
Nothing here logs a token, a URL with a query, or a response body.
"""

from datetime import date, datetime
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.kudos import KudosSubmitted

Service = Literal["checkin", "escalation", "notifications", "recognition"]
SERVICES: tuple[Service, ...] = ("checkin", "recognition", "notifications", "escalation")
"""Every service that holds something about a person (the order of a download)."""
M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """A service did not do what was asked; ``service`` says which one."""

    def __init__(self, service: Service, status: int | None = None) -> None:
        super().__init__(f"{service} answered {status if status is not None else 'nothing'}")
        self.service = service
        self.status = status


class NotSignedInError(ApiError):
    """401: the service did not accept the person's token."""


class NotAllowedError(ApiError):
    """403: the person may not do or see this."""


class NotFoundError(ApiError):
    """404: no such thing (or not visible to this person)."""


class ConflictError(ApiError):
    """409: the thing changed meanwhile (a case already taken, say)."""


class RejectedError(ApiError):
    """422 (or another 4xx): the service refused the request's content."""

    def __init__(
        self, service: Service, status: int | None, fields: list[str] | None = None
    ) -> None:
        super().__init__(service, status)
        self.fields = fields or []


class UnavailableError(ApiError):
    """503, another 5xx, a timeout, a refused connection or an answer that makes no sense."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SupportResource(_Lenient):
    """A place to get help now, as the check-in service sends it."""

    name: str
    description: str = ""
    contact: str


class CheckinReceipt(_Lenient):
    """The check-in service's answer to a check-in."""

    id: str
    status: Literal["accepted", "duplicate"]
    immediate_support: list[SupportResource] | None = None


class CaseSummary(_Lenient):
    """A case as the escalation service shows it to its responder (no answers, no notes)."""

    case_id: str
    status: str
    severity: str
    opened_at: datetime
    acknowledged_at: datetime | None = None
    contacted_at: datetime | None = None
    responder_id: str | None = None
    ack_due_at: datetime | None = None
    """Unacknowledged: when the current step's acknowledgement timeout fires."""
    contact_due_at: datetime | None = None
    """Acknowledged, nobody reached yet: when the contact timeout fires."""


class Me(_Lenient):
    """Who the signed-in person is to Kinship (the check-in service's directory copy)."""

    person_id: str
    display_name: str | None = None
    team_id: str | None = None
    roles: list[str] = []
    managed_teams: list[str] = []
    support: list[SupportResource] = []


class PersonFound(_Lenient):
    """A colleague found by name."""

    person_id: str
    display_name: str


class KudosReceipt(_Lenient):
    """The recognition service's answer to kudos."""

    id: str
    status: Literal["accepted", "duplicate"]


class Streak(_Lenient):
    """The person's weekly check-in streak."""

    current_weeks: int
    longest_weeks: int
    last_week: date | None = None
    weeks_with_checkin: int = 0


class ErasureStarted(_Lenient):
    """An erasure under way."""

    erasure_id: str


class ErasureProgress(_Lenient):
    """How far an erasure got: each service's completion time, or null while pending."""

    erasure_id: str
    requested_at: datetime
    complete: bool
    services: dict[str, datetime | None]


class ErasureRecord(ErasureProgress):
    """An erasure as coordinators list them: also who asked (``the person``, ``a
    coordinator`` or the calling system's name; never whom it erases)."""

    requested_by: str


class TrendFigures(_Lenient):
    """A week's (or the period's) aggregate figures."""

    people: int | None = None
    checkins: int
    mood_mean: float | None = None
    stress_mean: float | None = None
    energy_mean: float | None = None
    who5_percent_mean: float | None = None


class TrendWeek(_Lenient):
    """One closed week of a team trend; no figures when withheld."""

    week_start: date
    suppressed: bool
    figures: TrendFigures | None = None


class TeamTrend(_Lenient):
    """A team's trend as its manager may see it (k-anonymous, closed weeks only)."""

    team_id: str
    available: bool
    min_people: int
    weeks: list[TrendWeek] = []
    overall: TrendFigures | None = None


class KinshipApi(Protocol):
    """What the console's pages ask of the other services."""

    async def submit_checkin(self, token: str, checkin: CheckinSubmitted) -> CheckinReceipt:
        """``POST /v1/checkins`` on the check-in service."""
        ...

    async def my_cases(self, token: str) -> list[CaseSummary]:
        """``GET /v1/cases?assigned_to=me`` on the escalation service."""
        ...

    async def me(self, token: str) -> Me:
        """``GET /v1/me`` on the check-in service."""
        ...

    async def find_people(self, token: str, text: str) -> list[PersonFound]:
        """``GET /v1/people?q=`` on the check-in service."""
        ...

    async def outreach(self, token: str) -> str:
        """``GET /v1/me/outreach`` on the check-in service: the preference's value."""
        ...

    async def set_outreach(self, token: str, preference: str) -> str:
        """``PUT /v1/me/outreach`` on the check-in service."""
        ...

    async def give_kudos(self, token: str, kudos: KudosSubmitted) -> KudosReceipt:
        """``POST /v1/kudos`` on the recognition service."""
        ...

    async def my_streak(self, token: str) -> Streak:
        """``GET /v1/me/streak`` on the recognition service."""
        ...

    async def my_data(self, token: str, service: Service) -> dict[str, Any]:
        """``GET /v1/me/data`` on one service: everything it holds about the person."""
        ...

    async def request_erasure(self, token: str, person_id: str) -> ErasureStarted:
        """``POST /v1/people/{person_id}/erasure`` on the check-in service."""
        ...

    async def erasure(self, token: str, erasure_id: str) -> ErasureProgress:
        """``GET /v1/erasures/{erasure_id}`` on the check-in service."""
        ...

    async def erasures(self, token: str, limit: int) -> list[ErasureRecord]:
        """``GET /v1/erasures`` on the check-in service: the latest, newest first
        (coordinators)."""
        ...

    async def team_trend(self, token: str, team_id: str, weeks: int) -> TeamTrend:
        """``GET /v1/teams/{team_id}/trends`` on the check-in service."""
        ...

    async def give_feedback(self, token: str, case_id: str, given_by: str, score: int) -> bool:
        """``POST /v1/cases/{case_id}/feedback`` on the escalation service: True when it was
        recorded, False when that side of the case had given its feedback already."""
        ...


def error_for(service: Service, response: httpx.Response) -> ApiError:
    status = response.status_code
    if status == 401:
        return NotSignedInError(service, status)
    if status == 403:
        return NotAllowedError(service, status)
    if status == 404:
        return NotFoundError(service, status)
    if status == 409:
        return ConflictError(service, status)
    if 400 <= status < 500:
        return RejectedError(service, status, _field_names(response))
    return UnavailableError(service, status)


def _field_names(response: httpx.Response) -> list[str]:
    """The names of the fields a 422 names (never the values, which may be answers)."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return []
    names: list[str] = []
    if isinstance(detail, list):
        for item in detail:
            location = item.get("loc") if isinstance(item, dict) else None
            if isinstance(location, list) and location:
                names.append(str(location[-1]))
    return names


class HttpKinshipApi:
    """The services over HTTP, with one connection pool for all of them."""

    def __init__(
        self,
        base_urls: dict[Service, str],
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_urls = {name: url.rstrip("/") for name, url in base_urls.items()}
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "kinship-console"},
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(
        self,
        service: Service,
        method: str,
        path: str,
        token: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        url = f"{self._base_urls[service]}{path}"
        try:
            response = await self._client.request(
                method,
                url,
                json=json,
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as error:  # refused, reset, timed out
            raise UnavailableError(service) from error
        if response.status_code >= 300:
            raise error_for(service, response)
        try:
            return response.json()
        except ValueError as error:
            raise UnavailableError(service, response.status_code) from error

    async def submit_checkin(self, token: str, checkin: CheckinSubmitted) -> CheckinReceipt:
        body = checkin.model_dump(mode="json", exclude_none=True)
        answer = await self._call("checkin", "POST", "/v1/checkins", token, json=body)
        try:
            return CheckinReceipt.model_validate(answer)
        except ValidationError as error:
            raise UnavailableError("checkin", 202) from error

    async def my_cases(self, token: str) -> list[CaseSummary]:
        answer = await self._call(
            "escalation", "GET", "/v1/cases", token, params={"assigned_to": "me"}
        )
        try:
            return [CaseSummary.model_validate(item) for item in answer]
        except (ValidationError, TypeError) as error:
            raise UnavailableError("escalation", 200) from error

    async def _read(
        self,
        service: Service,
        model: type[M],
        method: str,
        path: str,
        token: str,
        **options: Any,
    ) -> M:
        """One call whose answer must be a ``model`` (otherwise the service is unusable)."""
        answer = await self._call(service, method, path, token, **options)
        try:
            return model.model_validate(answer)
        except ValidationError as error:
            raise UnavailableError(service, 200) from error

    async def me(self, token: str) -> Me:
        return await self._read("checkin", Me, "GET", "/v1/me", token)

    async def find_people(self, token: str, text: str) -> list[PersonFound]:
        answer = await self._call("checkin", "GET", "/v1/people", token, params={"q": text})
        try:
            return [PersonFound.model_validate(item) for item in answer["people"]]
        except (ValidationError, TypeError, KeyError) as error:
            raise UnavailableError("checkin", 200) from error

    async def outreach(self, token: str) -> str:
        return (await self._read("checkin", _Outreach, "GET", "/v1/me/outreach", token)).preference

    async def set_outreach(self, token: str, preference: str) -> str:
        body = {"preference": preference}
        answer = await self._read("checkin", _Outreach, "PUT", "/v1/me/outreach", token, json=body)
        return answer.preference

    async def give_kudos(self, token: str, kudos: KudosSubmitted) -> KudosReceipt:
        body = kudos.model_dump(mode="json")
        return await self._read("recognition", KudosReceipt, "POST", "/v1/kudos", token, json=body)

    async def my_streak(self, token: str) -> Streak:
        return await self._read("recognition", Streak, "GET", "/v1/me/streak", token)

    async def my_data(self, token: str, service: Service) -> dict[str, Any]:
        answer = await self._call(service, "GET", "/v1/me/data", token)
        if not isinstance(answer, dict) or answer.get("service") != service:
            raise UnavailableError(service, 200)
        return answer

    async def request_erasure(self, token: str, person_id: str) -> ErasureStarted:
        path = f"/v1/people/{quote(person_id, safe='')}/erasure"
        return await self._read("checkin", ErasureStarted, "POST", path, token)

    async def erasure(self, token: str, erasure_id: str) -> ErasureProgress:
        path = f"/v1/erasures/{quote(erasure_id, safe='')}"
        return await self._read("checkin", ErasureProgress, "GET", path, token)

    async def erasures(self, token: str, limit: int) -> list[ErasureRecord]:
        answer = await self._call(
            "checkin", "GET", "/v1/erasures", token, params={"limit": str(limit)}
        )
        try:
            return [ErasureRecord.model_validate(item) for item in answer]
        except (ValidationError, TypeError) as error:
            raise UnavailableError("checkin", 200) from error

    async def team_trend(self, token: str, team_id: str, weeks: int) -> TeamTrend:
        path = f"/v1/teams/{quote(team_id, safe='')}/trends"
        return await self._read(
            "checkin", TeamTrend, "GET", path, token, params={"weeks": str(weeks)}
        )

    async def give_feedback(self, token: str, case_id: str, given_by: str, score: int) -> bool:
        path = f"/v1/cases/{quote(case_id, safe='')}/feedback"
        body = {"score": score, "given_by": given_by}
        answer = await self._read("escalation", _FeedbackAnswer, "POST", path, token, json=body)
        return answer.recorded


class _Outreach(_Lenient):
    preference: str


class _FeedbackAnswer(_Lenient):
    recorded: bool
