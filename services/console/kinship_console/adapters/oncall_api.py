"""The escalation service's on-call calls behind the console's on-call pages.

Who is on call now (``GET /v1/oncall/now``, peer responders and coordinators), the on-call
load report (``GET /v1/oncall/load``, coordinators), a schedule's overrides (coordinators)
the signed-in person's "away until" (``/v1/me/away``, peer responders and coordinators)
and their calendar feed (any person: a secret URL that can be replaced or
stopped). Answers carry person ids only; they are validated leniently and anything unusable
is an ``ApiError``. A feed's URL is shown once to the person who asked for it and never kept
or logged by the console.
"""

from datetime import datetime
from typing import Literal, Protocol, runtime_checkable
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from kinship_console.adapters.api import UnavailableError
from kinship_console.adapters.cases_api import HttpCasesApi


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class OnCallShift(_Lenient):
    """Who answers now, from which layer and why, and until when."""

    person_id: str
    layer: str | None = None
    source: str = "rotation"
    until: datetime


class ScheduleNow(_Lenient):
    """One schedule (or rotation) at the instant asked about."""

    schedule: str
    kind: Literal["schedule", "rotation"] = "schedule"
    time_zone: str = "UTC"
    on_call: OnCallShift | None = None
    order: list[str] = Field(default_factory=list)
    resting: list[str] = Field(default_factory=list)
    away: list[str] = Field(default_factory=list)
    next_handoff: datetime | None = None
    next_on_call: list[str] = Field(default_factory=list)


class OnCallNow(_Lenient):
    """Every schedule and rotation at one instant."""

    at: datetime
    schedules: list[ScheduleNow] = Field(default_factory=list)


class PersonLoad(_Lenient):
    """One person's on-call load over the report's period."""

    person_id: str
    on_call_hours: float = 0.0
    night_hours: float = 0.0
    pages: int = 0
    night_pages: int = 0
    cases: int = 0


class ParticipantShare(_Lenient):
    """One participant's part of a schedule's covered time, against an even split."""

    person_id: str
    share: float
    even_share: float


class FairShare(_Lenient):
    """How a schedule's covered time was split."""

    participants: list[ParticipantShare] = Field(default_factory=list)


class OnCallLoadReport(_Lenient):
    """On-call load per person and each schedule's fair shares over a period."""

    start: datetime
    end: datetime
    people: list[PersonLoad] = Field(default_factory=list)
    schedules: dict[str, FairShare] = Field(default_factory=dict)


class ScheduledOverride(_Lenient):
    """Someone on call for a window in place of the schedule's responder."""

    id: str
    person_id: str
    start: datetime
    end: datetime
    layer: str | None = None


class Away(_Lenient):
    """Until when the person is away (None: they are not)."""

    away_until: datetime | None = None


class CalendarFeed(_Lenient):
    """A feed the person has (its URL is only shown when it is issued)."""

    kind: Literal["person", "schedule"]
    subject: str
    created_at: datetime


@runtime_checkable
class OnCallApi(Protocol):
    """What the on-call pages ask of the escalation service."""

    async def oncall_now(self, token: str) -> OnCallNow:
        """``GET /v1/oncall/now`` (peer responders and coordinators)."""
        ...

    async def oncall_load(self, token: str) -> OnCallLoadReport:
        """``GET /v1/oncall/load`` (coordinators): the last 28 days."""
        ...

    async def overrides(self, token: str, schedule: str) -> list[ScheduledOverride]:
        """``GET /v1/schedules/{name}/overrides`` (coordinators)."""
        ...

    async def add_override(
        self, token: str, schedule: str, person_id: str, start: datetime, end: datetime
    ) -> ScheduledOverride:
        """``POST /v1/schedules/{name}/overrides`` (coordinators)."""
        ...

    async def remove_override(self, token: str, schedule: str, override_id: str) -> None:
        """``DELETE /v1/schedules/{name}/overrides/{id}`` (coordinators)."""
        ...

    async def calendar_feeds(self, token: str) -> list[CalendarFeed]:
        """``GET /v1/calendar-feeds``: the person's feeds (without URLs)."""
        ...

    async def new_calendar_feed(self, token: str) -> str:
        """``POST /v1/calendar-feeds`` for the person's own shifts: the new secret URL (the
        one they had stops working)."""
        ...

    async def stop_calendar_feed(self, token: str) -> None:
        """``DELETE /v1/calendar-feeds/person/me``: the person's feed URL stops working."""
        ...

    async def away(self, token: str) -> datetime | None:
        """``GET /v1/me/away``: until when the person is away (None: they are not)."""
        ...

    async def set_away(self, token: str, until: datetime) -> datetime | None:
        """``PUT /v1/me/away``: the person is away until ``until`` (a 422 names the field)."""
        ...

    async def end_away(self, token: str) -> None:
        """``DELETE /v1/me/away``: the person is back now."""
        ...


def _part(value: str) -> str:
    return quote(value, safe="")


class HttpOnCallApi(HttpCasesApi):
    """The on-call calls over HTTP, with the case work's: the console's HTTP client."""

    async def oncall_now(self, token: str) -> OnCallNow:
        answer = await self._call("escalation", "GET", "/v1/oncall/now", token)
        return self._parse("escalation", OnCallNow, answer)

    async def oncall_load(self, token: str) -> OnCallLoadReport:
        answer = await self._call("escalation", "GET", "/v1/oncall/load", token)
        return self._parse("escalation", OnCallLoadReport, answer)

    async def overrides(self, token: str, schedule: str) -> list[ScheduledOverride]:
        path = f"/v1/schedules/{_part(schedule)}/overrides"
        answer = await self._call("escalation", "GET", path, token)
        if not isinstance(answer, list):
            raise UnavailableError("escalation", 200)
        return [self._parse("escalation", ScheduledOverride, item) for item in answer]

    async def add_override(
        self, token: str, schedule: str, person_id: str, start: datetime, end: datetime
    ) -> ScheduledOverride:
        path = f"/v1/schedules/{_part(schedule)}/overrides"
        body = {"person_id": person_id, "start": start.isoformat(), "end": end.isoformat()}
        answer = await self._configure("POST", path, token, body)
        return self._parse("escalation", ScheduledOverride, answer)

    async def remove_override(self, token: str, schedule: str, override_id: str) -> None:
        path = f"/v1/schedules/{_part(schedule)}/overrides/{_part(override_id)}"
        await self._configure("DELETE", path, token, None)

    async def calendar_feeds(self, token: str) -> list[CalendarFeed]:
        answer = await self._call("escalation", "GET", "/v1/calendar-feeds", token)
        if not isinstance(answer, list):
            raise UnavailableError("escalation", 200)
        return [self._parse("escalation", CalendarFeed, item) for item in answer]

    async def new_calendar_feed(self, token: str) -> str:
        answer = await self._configure("POST", "/v1/calendar-feeds", token, {"person": "me"})
        url = answer.get("url") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise UnavailableError("escalation", 201)
        return url

    async def stop_calendar_feed(self, token: str) -> None:
        await self._configure("DELETE", "/v1/calendar-feeds/person/me", token, None)

    async def away(self, token: str) -> datetime | None:
        answer = await self._call("escalation", "GET", "/v1/me/away", token)
        return self._parse("escalation", Away, answer).away_until

    async def set_away(self, token: str, until: datetime) -> datetime | None:
        answer = await self._configure("PUT", "/v1/me/away", token, {"until": until.isoformat()})
        return self._parse("escalation", Away, answer).away_until

    async def end_away(self, token: str) -> None:
        await self._configure("DELETE", "/v1/me/away", token, None)
