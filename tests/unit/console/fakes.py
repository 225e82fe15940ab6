"""Fakes for the console's unit tests: the services, the identity provider, the session store."""

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse

from kinship_console.adapters.api import (
    ApiError,
    CaseSummary,
    CheckinReceipt,
    ErasureProgress,
    ErasureRecord,
    ErasureStarted,
    KudosReceipt,
    Me,
    NotAllowedError,
    NotFoundError,
    PersonFound,
    Service,
    Streak,
    TeamTrend,
)
from kinship_console.adapters.oidc import SignInFailedError, Tokens
from kinship_console.adapters.sessions import SessionData, StoredSession, session_hash
from kinship_console.clock import Clock
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.kudos import KudosSubmitted


@dataclass
class FakeApi:
    """Records what the pages asked and answers what a test says (or raises its error)."""

    receipt: CheckinReceipt | None = None
    cases: list[CaseSummary] = field(default_factory=list)
    error: ApiError | None = None
    errors_left: int = 1_000_000
    checkins: list[tuple[str, CheckinSubmitted]] = field(default_factory=list)
    case_reads: list[str] = field(default_factory=list)
    person: Me | None = None
    me_error: ApiError | None = None
    people: list[PersonFound] = field(default_factory=list)
    outreach_preference: str = "ask_first"
    streak: Streak | None = None
    data_errors: dict[str, ApiError] = field(default_factory=dict)
    erasure_progress: ErasureProgress | None = None
    erasure_list: list[ErasureRecord] = field(default_factory=list)
    trends: dict[str, TeamTrend] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    kudos: list[tuple[str, KudosSubmitted]] = field(default_factory=list)
    erasure_requests: list[tuple[str, str]] = field(default_factory=list)
    feedback: list[tuple[str, str, str, int]] = field(default_factory=list)
    """Feedback sent: (token, case id, side, score)."""
    feedback_given: set[tuple[str, str]] = field(default_factory=set)
    """(case id, side) already given: a repeat answers ``recorded: false``."""

    def _fail(self) -> None:
        if self.error is not None and self.errors_left > 0:
            self.errors_left -= 1
            raise self.error

    async def submit_checkin(self, token: str, checkin: CheckinSubmitted) -> CheckinReceipt:
        self.checkins.append((token, checkin))
        self._fail()
        return self.receipt or CheckinReceipt(id=checkin.id, status="accepted")

    async def my_cases(self, token: str) -> list[CaseSummary]:
        self.case_reads.append(token)
        self._fail()
        return self.cases

    async def me(self, token: str) -> Me:
        self.calls.append(("me", token))
        if self.me_error is not None:
            raise self.me_error
        return self.person or Me(person_id="ada", display_name="Ada", team_id="platform")

    async def find_people(self, token: str, text: str) -> list[PersonFound]:
        self.calls.append(("find_people", text))
        self._fail()
        needle = text.casefold()
        return [p for p in self.people if needle in p.display_name.casefold()]

    async def outreach(self, token: str) -> str:
        self.calls.append(("outreach", token))
        self._fail()
        return self.outreach_preference

    async def set_outreach(self, token: str, preference: str) -> str:
        self.calls.append(("set_outreach", preference))
        self._fail()
        self.outreach_preference = preference
        return preference

    async def give_kudos(self, token: str, kudos: KudosSubmitted) -> KudosReceipt:
        self.kudos.append((token, kudos))
        self._fail()
        return KudosReceipt(id=kudos.id, status="accepted")

    async def my_streak(self, token: str) -> Streak:
        self.calls.append(("my_streak", token))
        self._fail()
        return self.streak or Streak(current_weeks=0, longest_weeks=0)

    async def my_data(self, token: str, service: Service) -> dict[str, Any]:
        self.calls.append(("my_data", service))
        if service in self.data_errors:
            raise self.data_errors[service]
        self._fail()
        return {"service": service, "person_id": "ada", "items": [f"{service}-item"]}

    async def request_erasure(self, token: str, person_id: str) -> ErasureStarted:
        self.erasure_requests.append((token, person_id))
        self._fail()
        return ErasureStarted(erasure_id="er-0001")

    async def erasure(self, token: str, erasure_id: str) -> ErasureProgress:
        self.calls.append(("erasure", erasure_id))
        self._fail()
        if self.erasure_progress is None or self.erasure_progress.erasure_id != erasure_id:
            raise NotFoundError("checkin", 404)
        return self.erasure_progress

    async def erasures(self, token: str, limit: int) -> list[ErasureRecord]:
        self.calls.append(("erasures", str(limit)))
        self._fail()
        return self.erasure_list[:limit]

    async def team_trend(self, token: str, team_id: str, weeks: int) -> TeamTrend:
        self.calls.append(("team_trend", f"{team_id}:{weeks}"))
        self._fail()
        if team_id not in self.trends:
            raise NotAllowedError("checkin", 403)
        return self.trends[team_id]

    async def give_feedback(self, token: str, case_id: str, given_by: str, score: int) -> bool:
        self.feedback.append((token, case_id, given_by, score))
        self._fail()
        if (case_id, given_by) in self.feedback_given:
            return False
        self.feedback_given.add((case_id, given_by))
        return True


@dataclass
class FakeProvider:
    """An identity provider that signs in ``person_id`` when the callback's state matches."""

    person_id: str | None = "ada"
    refuse_refresh: bool = False
    lifetime: float = 300.0
    issued: int = 0
    refreshed: int = 0
    begun_locales: list[str] = field(default_factory=list)

    async def begin(self, request: Request, redirect_uri: str, locale: str) -> RedirectResponse:
        state = f"state-{self.issued + len(self.begun_locales)}"
        request.session["_state_fake"] = state
        self.begun_locales.append(locale)
        query = urlencode({"state": state, "redirect_uri": redirect_uri, "ui_locales": locale})
        return RedirectResponse(
            f"http://127.0.0.1:28180/realms/kinship/auth?{query}", status_code=302
        )

    async def complete(self, request: Request) -> Tokens:
        expected = request.session.pop("_state_fake", None)
        if expected is None or request.query_params.get("state") != expected:
            raise SignInFailedError("state mismatch")
        if self.person_id is None:
            from kinship_console.adapters.oidc import NoPersonIdError

            raise NoPersonIdError
        self.issued += 1
        return Tokens(
            person_id=self.person_id,
            access_token=f"access-{self.issued}",
            expires_at=time.time() + self.lifetime,
            refresh_token=f"refresh-{self.issued}",
            id_token=f"id-{self.issued}",
        )

    async def refresh(self, tokens: Tokens) -> Tokens:
        if self.refuse_refresh:
            raise SignInFailedError("refresh refused")
        self.refreshed += 1
        return Tokens(
            person_id=tokens.person_id,
            access_token=f"refreshed-{self.refreshed}",
            expires_at=time.time() + self.lifetime,
            refresh_token=tokens.refresh_token,
            id_token=tokens.id_token,
        )

    async def logout_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str:
        query = urlencode(
            {"id_token_hint": id_token or "", "post_logout_redirect_uri": post_logout_redirect_uri}
        )
        return f"http://127.0.0.1:28180/realms/kinship/logout?{query}"


class MemorySessionStore:
    """Sessions in a dict with the PostgreSQL store's expiry rules (JSON values only)."""

    def __init__(self, idle: timedelta, clock: Clock) -> None:
        self.rows: dict[bytes, StoredSession] = {}
        self._idle = idle
        self._clock = clock

    async def load(self, session_id: str) -> StoredSession | None:
        stored = self.rows.get(session_hash(session_id))
        now = self._clock.now()
        if stored is None or stored.expires_at <= now or stored.last_seen_at <= now - self._idle:
            return None
        return StoredSession(
            json.loads(json.dumps(stored.data)), stored.expires_at, stored.last_seen_at
        )

    async def save(self, session_id: str, data: SessionData, expires_at: datetime) -> None:
        self.rows[session_hash(session_id)] = StoredSession(
            json.loads(json.dumps(data)), expires_at, self._clock.now()
        )

    async def touch(self, session_id: str) -> None:
        key = session_hash(session_id)
        if key in self.rows:
            stored = self.rows[key]
            self.rows[key] = StoredSession(stored.data, stored.expires_at, self._clock.now())

    async def delete(self, session_id: str) -> None:
        self.rows.pop(session_hash(session_id), None)
