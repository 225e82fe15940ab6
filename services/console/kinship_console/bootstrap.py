"""Wiring of the console: one place that builds every dependency and the ASGI app."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from kinship_console.adapters.api import HttpKinshipApi, KinshipApi
from kinship_console.adapters.cases_api import CasesApi
from kinship_console.adapters.database import apply_migrations, create_pool
from kinship_console.adapters.oidc import AuthlibProvider, IdentityProvider
from kinship_console.adapters.oncall_api import HttpOnCallApi, OnCallApi
from kinship_console.adapters.sessions import (
    PostgresSessionStore,
    SessionData,
    SessionSealer,
    SessionStore,
    StoredSession,
)
from kinship_console.clock import Clock
from kinship_console.entrypoints.cases import case_routes
from kinship_console.entrypoints.coordinator import coordinator_routes
from kinship_console.entrypoints.i18n import N_, Catalogs
from kinship_console.entrypoints.oncall import oncall_routes
from kinship_console.entrypoints.pages import BACK_HOME, ConsolePages, SignInRequiredError
from kinship_console.entrypoints.rendering import STATIC, Pages
from kinship_console.entrypoints.router import page_router
from kinship_console.entrypoints.security import (
    CsrfGuard,
    CsrfRefusedError,
    FormTooLargeError,
    SecurityHeaders,
    content_security_policy,
)
from kinship_console.entrypoints.sessions import ServerSessions
from kinship_console.settings import ConsoleSettings, DatabaseSettings

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
COOKIE_HTTPS = "__Host-kinship-session"
COOKIE_HTTP = "kinship-session"
ReadinessCheck = Callable[[], Awaitable[bool]]
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


async def migrate(settings: DatabaseSettings) -> list[str]:
    """Apply the console's migrations and exit (a migration job needs only the database)."""
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        return await apply_migrations(conn, settings.database_schema, MIGRATIONS)
    finally:
        await conn.close()


class LazySessionStore:
    """The PostgreSQL store, opened by the app's lifespan (pages only run after it)."""

    def __init__(self) -> None:
        self.store: SessionStore | None = None

    def _open(self) -> SessionStore:
        assert self.store is not None, "the console is not started"
        return self.store

    async def load(self, session_id: str) -> StoredSession | None:
        return await self._open().load(session_id)

    async def save(self, session_id: str, data: SessionData, expires_at: datetime) -> None:
        await self._open().save(session_id, data, expires_at)

    async def touch(self, session_id: str) -> None:
        await self._open().touch(session_id)

    async def delete(self, session_id: str) -> None:
        await self._open().delete(session_id)


class ConsoleResources:
    """What the console opens at start and closes at stop: the session store's database pool
    (unless a test passes its own store) and the services' HTTP client (when it made one)."""

    def __init__(
        self, settings: ConsoleSettings, store: SessionStore | None, http_api: HttpKinshipApi | None
    ) -> None:
        self.settings = settings
        self.given_store = store
        self.http_api = http_api
        self.sessions = LazySessionStore()
        self.pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        """Migrate (when asked), open the pool and the session store, purge expired sessions."""
        if self.given_store is not None:
            self.sessions.store = self.given_store
            return
        settings = self.settings
        if settings.migrate_on_start:
            applied = await migrate(settings)
            if applied:
                log.info("applied migrations", extra={"count": len(applied)})
        self.pool = await create_pool(
            settings.database_url.get_secret_value(),
            settings.database_schema,
            settings.database_pool_min,
            settings.database_pool_max,
        )
        sealer = SessionSealer(settings.session_key(), settings.session_key_id())
        postgres = PostgresSessionStore(
            self.pool, sealer, timedelta(minutes=settings.console_session_idle_minutes)
        )
        await postgres.delete_expired()
        self.sessions.store = postgres

    async def close(self) -> None:
        if self.http_api is not None:
            await self.http_api.close()
        if self.pool is not None:
            await self.pool.close()

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        await self.open()
        try:
            yield
        finally:
            await self.close()

    async def database_ready(self) -> bool:
        return self.pool is not None and await self.pool.fetchval("SELECT 1") == 1

    async def provider_ready(self) -> bool:
        async with httpx.AsyncClient(timeout=2.0) as client:
            return (await client.get(self.settings.discovery_url)).status_code == 200


def _http_api(settings: ConsoleSettings) -> HttpKinshipApi:
    return HttpOnCallApi(
        {
            "checkin": settings.console_checkin_url,
            "escalation": settings.console_escalation_url,
            "notifications": settings.console_notifications_url,
            "recognition": settings.console_recognition_url,
        },
        timeout=settings.console_api_timeout_seconds,
    )


def _identity_provider(settings: ConsoleSettings) -> AuthlibProvider:
    return AuthlibProvider(
        discovery_url=settings.discovery_url,
        client_id=settings.console_oidc_client_id,
        client_secret=settings.console_oidc_client_secret.get_secret_value(),
        scope=settings.console_oidc_scope,
        timeout=settings.console_api_timeout_seconds,
    )


def create_app(
    settings: ConsoleSettings | None = None,
    *,
    api: KinshipApi | None = None,
    provider: IdentityProvider | None = None,
    store: SessionStore | None = None,
    clock: Clock | None = None,
    readiness: dict[str, ReadinessCheck] | None = None,
) -> SecurityHeaders:
    """The console as an ASGI app. Tests pass fakes for the services, provider and store.

    The security headers wrap everything, error pages included (Starlette answers a 500
    outside its own middleware stack); the FastAPI app is the result's ``app``.
    """
    settings = settings or ConsoleSettings()
    clock = clock or Clock()
    http_api = None
    if api is None:
        http_api = api = _http_api(settings)
    resources = ConsoleResources(settings, store, http_api)
    console = ConsolePages(
        api=api,
        provider=provider or _identity_provider(settings),
        pages=Pages(Catalogs()),
        clock=clock,
        public_url=settings.public_url,
        session_max_age=timedelta(hours=settings.console_session_max_hours),
    )
    app = FastAPI(
        title="Kinship console",
        lifespan=resources.lifespan,
        dependencies=[Depends(CsrfGuard(settings.public_origin))],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(page_router(console))
    if isinstance(api, CasesApi):  # the case page and the coordinator's (tests may leave out)
        app.include_router(case_routes(console, api))
        app.include_router(coordinator_routes(console, api))
    if isinstance(api, OnCallApi):  # the on-call pages
        app.include_router(oncall_routes(console, api))
    _add_health_routes(
        app,
        readiness
        or {"postgres": resources.database_ready, "oidc_discovery": resources.provider_ready},
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_error_pages(app, console)
    app.add_middleware(
        ServerSessions,
        store=resources.sessions,
        clock=clock,
        cookie_name=COOKIE_HTTPS if settings.https else COOKIE_HTTP,
        signin_lifetime=timedelta(minutes=settings.console_signin_minutes),
    )
    return SecurityHeaders(
        app, csp=content_security_policy(settings.issuer_origin), https=settings.https
    )


def _add_health_routes(app: FastAPI, checks: dict[str, ReadinessCheck]) -> None:
    """/healthz (the process answers) and /readyz (each dependency answers within 3 s)."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                ok = await asyncio.wait_for(check(), timeout=3.0)
            except Exception as error:
                results[name] = f"unavailable: {type(error).__name__}"
            else:
                results[name] = "ok" if ok else "unavailable"
        ready = all(result == "ok" for result in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )


def _add_error_pages(app: FastAPI, console: ConsolePages) -> None:
    """Every failure is a page that says what happened (never a stack trace, never JSON)."""

    def page(status_code: int, title: str, message: str) -> ErrorHandler:
        async def handler(request: Request, _error: Exception) -> Response:
            return console.state_page(request, status_code, title, message, action=BACK_HOME)

        return handler

    did_not_work = (N_("This did not work"), N_("The request could not be handled."))
    csrf_refused = page(
        403,
        N_("This form could not be accepted"),
        N_(
            "The form was out of date or did not come from this page, so nothing was "
            "sent. Go back, reload the page and try again."
        ),
    )
    too_large = page(
        413,
        N_("Too much to send"),
        N_("The form was larger than Kinship accepts. Nothing was sent."),
    )
    not_found = page(404, N_("Page not found"), N_("There is no page at this address."))
    went_wrong = page(
        500,
        N_("Something went wrong"),
        N_("Kinship could not show this page. Please try again in a few minutes."),
    )

    async def sign_in_required(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInRequiredError)
        if request.method == "GET":
            return RedirectResponse(f"/signin?next={quote(error.next_path)}", status_code=303)
        return console.state_page(
            request,
            401,
            N_("Your sign-in has ended"),
            N_("Nothing was sent. Sign in again, then fill in the form once more."),
            action=(f"/signin?next={quote(error.next_path)}", N_("Sign in again")),
        )

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 404:
            return await not_found(request, error)
        return await page(error.status_code, *did_not_work)(request, error)

    async def unexpected(request: Request, error: Exception) -> Response:
        # The type only: messages and tracebacks may carry values from the request.
        log.error("unexpected error", extra={"error": type(error).__name__})
        return await went_wrong(request, error)

    app.add_exception_handler(SignInRequiredError, sign_in_required)
    app.add_exception_handler(CsrfRefusedError, csrf_refused)
    app.add_exception_handler(FormTooLargeError, too_large)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, page(400, *did_not_work))
    app.add_exception_handler(Exception, unexpected)
