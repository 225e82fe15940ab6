"""A typed client for the other services' HTTP APIs, called as the signed-in person.

Every call forwards the person's access token as ``Authorization: Bearer``; permissions are
decided by the service that owns the data. Answers the console cannot use become typed
errors (``ApiError`` subclasses) that pages turn into clear states, never a 500.
Nothing here logs a token, a URL with a query, or a response body.
"""

from datetime import datetime
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from kinship_contracts.checkins import CheckinSubmitted

Service = Literal["checkin", "escalation", "notifications", "recognition"]


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


class KinshipApi(Protocol):
    """What the console's pages ask of the other services."""

    async def submit_checkin(self, token: str, checkin: CheckinSubmitted) -> CheckinReceipt:
        """``POST /v1/checkins`` on the check-in service."""
        ...

    async def my_cases(self, token: str) -> list[CaseSummary]:
        """``GET /v1/cases?assigned_to=me`` on the escalation service."""
        ...


def _error_for(service: Service, response: httpx.Response) -> ApiError:
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
            raise _error_for(service, response)
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
