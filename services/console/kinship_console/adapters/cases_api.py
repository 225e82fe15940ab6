"""The escalation, check-in and recognition calls behind the case page and the coordinator's
pages.

Kept apart from ``adapters.api`` (one module per area of the console): ``HttpCasesApi``
extends ``HttpKinshipApi`` with the case work (the explained case view, acknowledge, the
reveal grant and the check-in service's reveal, contact, notes, hand-over, follow-up,
resolve, safety plan), the coordinator's configuration (rotations, the escalation policies
per team and severity, the schedules' names) and the programme report (the recognition
service's closed weeks). Every call goes as the signed-in person; answers are validated
leniently and anything unusable is an ``ApiError``. A refused configuration (422) keeps the
full location of each refused field (``FieldsRejectedError``), never the values; a policy
clashing with another (409) names the policies (``PolicyClashError``). A change is sent
once: a refusal is never sent again.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kinship_console.adapters.api import (
    CaseSummary,
    ConflictError,
    HttpKinshipApi,
    RejectedError,
    Service,
    UnavailableError,
    error_for,
)

REPORT_WEEKS = 12
"""Closed weeks the programme report shows."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Threshold(_Lenient):
    """A threshold a rule applied: the setting, its condition with the number, its source."""

    setting: str
    condition: str
    source: str = ""


class FiredRule(_Lenient):
    """A rule that fired, what a responder is told about it, and what it rests on."""

    rule: str
    reason: str = ""
    thresholds: list[Threshold] = Field(default_factory=list)
    checkin_ids: list[str] = Field(default_factory=list)


class ObservedCheckin(_Lenient):
    """A check-in the case rests on: when, and its scores (never item answers)."""

    checkin_id: str
    at: datetime
    scores: dict[str, int | bool] = Field(default_factory=dict)


class Explanation(_Lenient):
    """Why the case is open."""

    rules_version: str | None = None
    rules: list[FiredRule] = Field(default_factory=list)
    checkins: list[ObservedCheckin] = Field(default_factory=list)


class TimelineItem(_Lenient):
    """What happened to the case, who did it (staff or a part of the service), when."""

    at: datetime | None = None
    action: str
    actor: str = ""
    sequence: int | None = None


class CaseDetail(CaseSummary):
    """The escalation service's explained case view (no personal data)."""

    rules: list[str] = Field(default_factory=list)
    step: int = 1
    resolved_at: datetime | None = None
    outcome: str | None = None
    consent: str = "welcome"
    consent_expires_at: datetime | None = None
    reveal_allowed: bool = False
    note_may_be_shown: bool = False
    contact_channel: str | None = None
    follow_up_at: datetime | None = None
    safety_plan_recorded: bool = False
    notes: int = 0
    explanation: Explanation = Field(default_factory=Explanation)
    timeline: list[TimelineItem] = Field(default_factory=list)


class CaseNote(_Lenient):
    """A private note: who wrote it, when, its text (shown, never stored by the console)."""

    note_id: str
    kind: str = "note"
    author: str = ""
    written_at: datetime
    text: str


class SafetyPlan(_Lenient):
    """A critical case's latest safety plan."""

    who_to_call: str
    what_helps: str
    author: str = ""
    written_at: datetime | None = None


class CaseNotes(_Lenient):
    """A case's private notes and safety plan."""

    notes: list[CaseNote] = Field(default_factory=list)
    safety_plan: SafetyPlan | None = None


class RevealGrant(_Lenient):
    """The escalation service's short-lived grant for the check-in service's reveal."""

    case_id: str
    grant: str
    expires_at: datetime


class RevealedPerson(_Lenient):
    """Who the case is about and how to reach them (shown once, never kept)."""

    case_id: str
    display_name: str
    channels: dict[str, str] = Field(default_factory=dict)
    timezone: str = ""
    note: str | None = None
    note_unreadable: bool = False
    """They allowed their note to be shown, but it cannot be opened (its key was retired, or
    it is damaged): not the same as having shared no note."""


class Rotation(_Lenient):
    """An on-call rotation as the escalation service keeps it."""

    name: str
    members: list[str]
    shift_hours: int
    starts_at: datetime


TARGET_KINDS = ("schedule", "people", "responders", "coordinators")


def _old_target(text: str) -> dict[str, Any]:
    """A target in the string form policies were stored in before (``rotation:<name>`` is
    a schedule, ``person:<id>`` a people target), as the object the service now sends."""
    kind, _, rest = text.partition(":")
    if kind == "rotation":
        return {"kind": "schedule", "schedule": rest}
    if kind == "person":
        return {"kind": "people", "people": [rest]}
    return {"kind": text}


class PolicyTarget(_Lenient):
    """Whom a step alerts: a schedule's on-call person, named people, a peer responder
    (the least busy) or every coordinator."""

    kind: str
    schedule: str | None = None
    people: list[str] = Field(default_factory=list)

    def body(self) -> dict[str, Any]:
        """The target as the service takes it (only the fields of its kind)."""
        if self.kind == "schedule":
            return {"kind": "schedule", "schedule": self.schedule}
        if self.kind == "people":
            return {"kind": "people", "people": list(self.people)}
        return {"kind": self.kind}


class PolicyStep(_Lenient):
    """One step of an escalation policy: its targets, alerted all at once or in turn."""

    targets: list[PolicyTarget]
    notify: str = "all"
    timeout_seconds: int
    repeat: int = 1

    @model_validator(mode="before")
    @classmethod
    def _one_target(cls, data: Any) -> Any:
        # Read leniently: a step stored before per-team policies has one ``target`` string.
        if isinstance(data, dict) and "targets" not in data and "target" in data:
            target = data["target"]
            rest = {key: value for key, value in data.items() if key != "target"}
            return {**rest, "targets": [_old_target(target) if isinstance(target, str) else target]}
        if isinstance(data, dict) and isinstance(data.get("targets"), list):
            targets = [_old_target(t) if isinstance(t, str) else t for t in data["targets"]]
            return {**data, "targets": targets}
        return data

    def body(self) -> dict[str, Any]:
        return {
            "targets": [target.body() for target in self.targets],
            "notify": self.notify,
            "timeout_seconds": self.timeout_seconds,
            "repeat": self.repeat,
        }


class Policy(_Lenient):
    """An escalation policy: for a team, a severity, both, or (``default``) every other case."""

    name: str = "default"
    team_id: str | None = None
    severity: str | None = None
    steps: list[PolicyStep]
    contact_timeout_seconds: int = 3600
    urgent_from: str = "high"
    unanswered_interval_seconds: int = 900

    def body(self) -> dict[str, Any]:
        """The body of ``PUT /v1/policies/{name}``."""
        return {
            "name": self.name,
            "team_id": self.team_id,
            "severity": self.severity,
            "steps": [step.body() for step in self.steps],
            "contact_timeout_seconds": self.contact_timeout_seconds,
            "urgent_from": self.urgent_from,
            "unanswered_interval_seconds": self.unanswered_interval_seconds,
        }


class _Named(_Lenient):
    name: str


class AuditEntry(_Lenient):
    """One audit record: when, what, who, about which case (a list read: how many cases)."""

    seq: int
    at: datetime | None = None
    action: str
    actor: str = ""
    case_id: str | None = None
    cases: int = 0


class AuditPage(_Lenient):
    """A page of the audit log, newest first; ``older``: the next page's ``before``."""

    entries: list[AuditEntry] = Field(default_factory=list)
    older: int | None = None


@dataclass(frozen=True)
class AuditQuery:
    """The audit log's filters (empty: any) and the cursor of the page asked for."""

    case_id: str = ""
    actor: str = ""
    action: str = ""
    before: int | None = None

    def params(self) -> dict[str, str]:
        """The query string of ``GET /v1/audit`` (empty filters left out)."""
        found = {"case_id": self.case_id, "actor": self.actor, "action": self.action}
        params = {name: value for name, value in found.items() if value}
        if self.before is not None:
            params["before"] = str(self.before)
        return params


M = TypeVar("M", bound=BaseModel)


class PolicyClashError(ConflictError):
    """409: another policy already applies to the same team and severity; ``names`` are
    the policies the service named (the one saved among them)."""

    def __init__(self, service: Service, names: list[str]) -> None:
        super().__init__(service, 409)
        self.names = names


class FieldsRejectedError(RejectedError):
    """A 422 with the full location of each refused field (``("steps", 0, "repeat")``)."""

    def __init__(
        self, service: Service, status: int | None, locations: list[tuple[str | int, ...]]
    ) -> None:
        super().__init__(service, status, [str(loc[-1]) for loc in locations if loc])
        self.locations = locations


@runtime_checkable
class CasesApi(Protocol):
    """What the case page and the coordinator's pages ask of the services."""

    async def case(self, token: str, case_id: str) -> CaseDetail:
        """``GET /v1/cases/{id}`` (escalation): the explained case view."""
        ...

    async def open_cases(self, token: str) -> list[CaseSummary]:
        """``GET /v1/cases`` (escalation): every open case the caller may see."""
        ...

    async def acknowledge(self, token: str, case_id: str) -> CaseSummary:
        """``POST /v1/cases/{id}/acknowledge`` (escalation)."""
        ...

    async def reveal_grant(self, token: str, case_id: str) -> RevealGrant:
        """``POST /v1/cases/{id}/reveal-grant`` (escalation)."""
        ...

    async def reveal(self, token: str, grant: str) -> RevealedPerson:
        """``POST /v1/reveal`` (check-in) with the grant."""
        ...

    async def record_contact(self, token: str, case_id: str, channel: str) -> CaseSummary:
        """``POST /v1/cases/{id}/contact`` (escalation)."""
        ...

    async def case_notes(self, token: str, case_id: str) -> CaseNotes:
        """``GET /v1/cases/{id}/notes`` (escalation)."""
        ...

    async def add_note(self, token: str, case_id: str, text: str) -> None:
        """``POST /v1/cases/{id}/notes`` (escalation)."""
        ...

    async def hand_over(
        self, token: str, case_id: str, to_person_id: str | None, reason: str, note: str | None
    ) -> CaseSummary:
        """``POST /v1/cases/{id}/handover`` (escalation)."""
        ...

    async def plan_follow_up(self, token: str, case_id: str, at: datetime) -> CaseSummary:
        """``POST /v1/cases/{id}/follow-up`` (escalation)."""
        ...

    async def resolve(self, token: str, case_id: str, outcome: str) -> CaseSummary:
        """``POST /v1/cases/{id}/resolve`` (escalation)."""
        ...

    async def write_safety_plan(
        self, token: str, case_id: str, who_to_call: str, what_helps: str
    ) -> None:
        """``PUT /v1/cases/{id}/safety-plan`` (escalation)."""
        ...

    async def rotations(self, token: str) -> list[Rotation]:
        """``GET /v1/rotations`` (escalation, coordinators)."""
        ...

    async def save_rotation(self, token: str, rotation: Rotation) -> Rotation:
        """``PUT /v1/rotations/{name}`` (escalation, coordinators)."""
        ...

    async def policies(self, token: str) -> list[Policy]:
        """``GET /v1/policies`` (escalation, coordinators): every policy, ``default`` too."""
        ...

    async def policy(self, token: str, name: str) -> Policy:
        """``GET /v1/policies/{name}`` (escalation, coordinators)."""
        ...

    async def save_policy(self, token: str, name: str, policy: Policy) -> Policy:
        """``PUT /v1/policies/{name}`` (escalation, coordinators); ``PolicyClashError`` on
        409, ``FieldsRejectedError`` on 422."""
        ...

    async def delete_policy(self, token: str, name: str) -> None:
        """``DELETE /v1/policies/{name}`` (escalation, coordinators)."""
        ...

    async def schedules(self, token: str) -> list[str]:
        """``GET /v1/schedules`` (escalation, coordinators): the schedules' names."""
        ...

    async def programme(self, token: str) -> dict[str, Any]:
        """``GET /v1/reports/programme`` (recognition, coordinators): the organisation's last
        ``REPORT_WEEKS`` closed weeks, every figure k >= 5 and safe from subtraction."""
        ...

    async def audit(self, token: str, query: AuditQuery) -> AuditPage:
        """``GET /v1/audit`` (escalation, coordinators): a page of the audit log."""
        ...


def refused_locations(response: httpx.Response) -> list[tuple[str | int, ...]]:
    """The locations a 422 names, without the leading ``body`` (never the values)."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return []
    found: list[tuple[str | int, ...]] = []
    if isinstance(detail, list):
        for item in detail:
            location = item.get("loc") if isinstance(item, dict) else None
            if isinstance(location, list) and location:
                parts = [p for p in location if isinstance(p, str | int)]
                if parts and parts[0] == "body":
                    parts = parts[1:]
                found.append(tuple(parts))
    return found


_QUOTED_NAME = re.compile(r"'([a-z0-9_-]{1,64})'")


def clashing_policies(response: httpx.Response) -> list[str]:
    """The policy names a 409 names (``policies ['a', 'b'] all apply to ...``); empty when
    the answer says nothing readable."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return []
    if not isinstance(detail, str):
        return []
    listed = detail.partition("]")[0]
    return _QUOTED_NAME.findall(listed)


class HttpCasesApi(HttpKinshipApi):
    """The services over HTTP: the calls of ``HttpKinshipApi`` and the case work's."""

    def _parse(self, service: Service, model: type[M], answer: Any) -> M:
        try:
            return model.model_validate(answer)
        except ValidationError as error:
            raise UnavailableError(service, 200) from error

    async def _configure(self, method: str, path: str, token: str, body: Any) -> Any:
        """A coordinator's change, sent once: a 422 keeps the refused fields' full
        locations; a 204 answers None."""
        url = f"{self._base_urls['escalation']}{path}"
        try:
            response = await self._client.request(
                method, url, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as error:
            raise UnavailableError("escalation") from error
        if response.status_code == 422:
            raise FieldsRejectedError("escalation", 422, refused_locations(response))
        if response.status_code == 409 and path.startswith("/v1/policies/"):
            raise PolicyClashError("escalation", clashing_policies(response))
        if response.status_code >= 300:
            raise error_for("escalation", response)  # never sent twice
        if response.status_code == 204:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise UnavailableError("escalation", response.status_code) from error

    async def case(self, token: str, case_id: str) -> CaseDetail:
        answer = await self._call("escalation", "GET", f"/v1/cases/{_id(case_id)}", token)
        return self._parse("escalation", CaseDetail, answer)

    async def open_cases(self, token: str) -> list[CaseSummary]:
        answer = await self._call("escalation", "GET", "/v1/cases", token)
        if not isinstance(answer, list):
            raise UnavailableError("escalation", 200)
        return [self._parse("escalation", CaseSummary, item) for item in answer]

    async def _case_action(
        self, token: str, case_id: str, action: str, body: Any = None
    ) -> CaseSummary:
        path = f"/v1/cases/{_id(case_id)}/{action}"
        answer = await self._call("escalation", "POST", path, token, json=body)
        return self._parse("escalation", CaseSummary, answer)

    async def acknowledge(self, token: str, case_id: str) -> CaseSummary:
        return await self._case_action(token, case_id, "acknowledge")

    async def reveal_grant(self, token: str, case_id: str) -> RevealGrant:
        path = f"/v1/cases/{_id(case_id)}/reveal-grant"
        answer = await self._call("escalation", "POST", path, token)
        return self._parse("escalation", RevealGrant, answer)

    async def reveal(self, token: str, grant: str) -> RevealedPerson:
        answer = await self._call("checkin", "POST", "/v1/reveal", token, json={"grant": grant})
        return self._parse("checkin", RevealedPerson, answer)

    async def record_contact(self, token: str, case_id: str, channel: str) -> CaseSummary:
        return await self._case_action(token, case_id, "contact", {"channel": channel})

    async def case_notes(self, token: str, case_id: str) -> CaseNotes:
        answer = await self._call("escalation", "GET", f"/v1/cases/{_id(case_id)}/notes", token)
        return self._parse("escalation", CaseNotes, answer)

    async def add_note(self, token: str, case_id: str, text: str) -> None:
        path = f"/v1/cases/{_id(case_id)}/notes"
        await self._call("escalation", "POST", path, token, json={"text": text})

    async def hand_over(
        self, token: str, case_id: str, to_person_id: str | None, reason: str, note: str | None
    ) -> CaseSummary:
        body: dict[str, str] = {"reason": reason}
        if to_person_id:
            body["to_person_id"] = to_person_id
        if note:
            body["note"] = note
        return await self._case_action(token, case_id, "handover", body)

    async def plan_follow_up(self, token: str, case_id: str, at: datetime) -> CaseSummary:
        return await self._case_action(token, case_id, "follow-up", {"at": at.isoformat()})

    async def resolve(self, token: str, case_id: str, outcome: str) -> CaseSummary:
        return await self._case_action(token, case_id, "resolve", {"outcome": outcome})

    async def write_safety_plan(
        self, token: str, case_id: str, who_to_call: str, what_helps: str
    ) -> None:
        path = f"/v1/cases/{_id(case_id)}/safety-plan"
        body = {"who_to_call": who_to_call, "what_helps": what_helps}
        await self._call_no_content("escalation", "PUT", path, token, body)

    async def _call_no_content(
        self, service: Service, method: str, path: str, token: str, body: Any
    ) -> None:
        """A call answered with 204 (no JSON to read)."""
        url = f"{self._base_urls[service]}{path}"
        try:
            response = await self._client.request(
                method, url, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as error:
            raise UnavailableError(service) from error
        if response.status_code >= 300:
            raise error_for(service, response)  # never sent twice

    async def rotations(self, token: str) -> list[Rotation]:
        answer = await self._call("escalation", "GET", "/v1/rotations", token)
        if not isinstance(answer, list):
            raise UnavailableError("escalation", 200)
        return [self._parse("escalation", Rotation, item) for item in answer]

    async def save_rotation(self, token: str, rotation: Rotation) -> Rotation:
        path = f"/v1/rotations/{_id(rotation.name)}"
        answer = await self._configure("PUT", path, token, rotation.model_dump(mode="json"))
        return self._parse("escalation", Rotation, answer)

    async def policies(self, token: str) -> list[Policy]:
        answer = await self._call("escalation", "GET", "/v1/policies", token)
        if not isinstance(answer, list):
            raise UnavailableError("escalation", 200)
        return [self._parse("escalation", Policy, item) for item in answer]

    async def policy(self, token: str, name: str) -> Policy:
        answer = await self._call("escalation", "GET", f"/v1/policies/{_id(name)}", token)
        return self._parse("escalation", Policy, answer)

    async def save_policy(self, token: str, name: str, policy: Policy) -> Policy:
        path = f"/v1/policies/{_id(name)}"
        answer = await self._configure("PUT", path, token, policy.body())
        return self._parse("escalation", Policy, answer)

    async def delete_policy(self, token: str, name: str) -> None:
        path = f"/v1/policies/{_id(name)}"
        await self._call_no_content("escalation", "DELETE", path, token, None)

    async def schedules(self, token: str) -> list[str]:
        answer = await self._call("escalation", "GET", "/v1/schedules", token)
        if not isinstance(answer, list):
            raise UnavailableError("escalation", 200)
        return [self._parse("escalation", _Named, item).name for item in answer]

    async def programme(self, token: str) -> dict[str, Any]:
        params = {"weeks": str(REPORT_WEEKS)}
        answer = await self._call(
            "recognition", "GET", "/v1/reports/programme", token, params=params
        )
        if not isinstance(answer, dict):
            raise UnavailableError("recognition", 200)
        return answer

    async def audit(self, token: str, query: AuditQuery) -> AuditPage:
        answer = await self._call("escalation", "GET", "/v1/audit", token, params=query.params())
        return self._parse("escalation", AuditPage, answer)


def _id(value: str) -> str:
    """A path segment: ids travel quoted, so no id can reach another route."""
    return quote(value, safe="")
