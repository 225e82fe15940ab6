"""Server-side sessions for every page: a random id in a cookie, the data in the store.

The middleware loads the session before the page runs and puts its data at
``scope["session"]`` (where Starlette's ``request.session`` and Authlib look), then saves it
before the response starts if it changed. The cookie is ``Secure; HttpOnly; SameSite=Lax``
on ``Path=/``, named with the ``__Host-`` prefix over https. A sign-in gives a new id
(no session fixation); a sign-out deletes the row, so the old cookie is worth nothing.
"""

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kinship_console.adapters.sessions import SessionStore
from kinship_console.clock import Clock

STATE_KEY = "kinship.session"
TOUCH_EVERY = timedelta(seconds=60)


@dataclass
class SessionState:
    """The request's session and what should happen to it when the response starts."""

    session_id: str | None
    data: dict[str, Any]
    expires_at: datetime | None
    snapshot: str
    rotate: bool = False
    ended: bool = False
    stale_cookie: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def changed(self) -> bool:
        return _dump(self.data) != self.snapshot

    def begin_signed_in(self, values: dict[str, Any], expires_at: datetime) -> None:
        """Replace the data (dropping sign-in state), with a new id and an absolute expiry."""
        self.data.clear()
        self.data.update(values)
        self.expires_at = expires_at
        self.rotate = True

    def end(self) -> None:
        """Delete the session now; the cookie is cleared."""
        self.data.clear()
        self.ended = True


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def session_state(request: Request) -> SessionState:
    """The current request's session state (the middleware put it there)."""
    state = request.scope.get(STATE_KEY)
    assert isinstance(state, SessionState), "ServerSessions middleware is not installed"
    return state


class ServerSessions:
    """ASGI middleware: load, expose, and save server-side sessions."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: SessionStore,
        clock: Clock,
        cookie_name: str,
        signin_lifetime: timedelta,
        skip_prefixes: tuple[str, ...] = ("/static/", "/healthz", "/readyz"),
    ) -> None:
        self.app = app
        self.store = store
        self.clock = clock
        self.cookie_name = cookie_name
        self.signin_lifetime = signin_lifetime
        self.skip_prefixes = skip_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(self.skip_prefixes):
            await self.app(scope, receive, send)
            return
        state = await self._load(scope)
        scope["session"] = state.data
        scope[STATE_KEY] = state

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self._finish(state, MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _cookie(self, scope: Scope) -> str | None:
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                jar: SimpleCookie = SimpleCookie()
                try:
                    jar.load(value.decode("latin-1"))
                except Exception:  # a malformed Cookie header is no session  # noqa: S112
                    continue
                if self.cookie_name in jar:
                    return jar[self.cookie_name].value
        return None

    async def _load(self, scope: Scope) -> SessionState:
        session_id = self._cookie(scope)
        if session_id:
            stored = await self.store.load(session_id)
            if stored is not None:
                if self.clock.now() - stored.last_seen_at > TOUCH_EVERY:
                    await self.store.touch(session_id)
                return SessionState(session_id, stored.data, stored.expires_at, _dump(stored.data))
        return SessionState(None, {}, None, _dump({}), stale_cookie=session_id is not None)

    async def _finish(self, state: SessionState, headers: MutableHeaders) -> None:
        if state.ended:
            if state.session_id:
                await self.store.delete(state.session_id)
            self._clear_cookie(headers)
            return
        if state.rotate:
            if state.session_id:
                await self.store.delete(state.session_id)
            state.session_id = None
        if state.session_id is None:
            if not state.data:
                if state.stale_cookie:
                    self._clear_cookie(headers)
                return
            state.session_id = secrets.token_urlsafe(32)
            if state.expires_at is None:
                state.expires_at = self.clock.now() + self.signin_lifetime
            await self.store.save(state.session_id, state.data, state.expires_at)
            self._set_cookie(headers, state.session_id)
            return
        if state.changed():
            assert state.expires_at is not None
            await self.store.save(state.session_id, state.data, state.expires_at)

    def _set_cookie(self, headers: MutableHeaders, value: str) -> None:
        headers.append(
            "set-cookie", f"{self.cookie_name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax"
        )

    def _clear_cookie(self, headers: MutableHeaders) -> None:
        headers.append(
            "set-cookie",
            f"{self.cookie_name}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax",
        )
