"""Browser-facing protections: security headers on every response, CSRF on every form.

CSRF: a synchronizer token. Each signed-in session holds a random token; every form carries
it in a hidden ``csrf_token`` field and every unsafe request (POST, PUT, PATCH, DELETE) must
present the same token, compared in constant time. Requests the browser marks as coming
from another site (``Sec-Fetch-Site``) or whose ``Origin`` names another origin are refused
before the token is even read.
"""

import hmac
import logging
import secrets
import time

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kinship_console.entrypoints.sessions import session_state

CSRF_FIELD = "csrf_token"
CSRF_SESSION_KEY = "csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

access_log = logging.getLogger("kinship_console.access")


MAX_FORM_BYTES = 64 * 1024


class CsrfRefusedError(Exception):
    """An unsafe request without the session's CSRF token, or from another site."""


class FormTooLargeError(Exception):
    """A form body without a length, or longer than any console form can be."""


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(request: Request) -> str:
    """The session's CSRF token for a form (created on first use)."""
    data = session_state(request).data
    token = data.get(CSRF_SESSION_KEY)
    if not isinstance(token, str):
        token = new_csrf_token()
        data[CSRF_SESSION_KEY] = token
    return token


class CsrfGuard:
    """A FastAPI dependency applied to every route: unsafe methods need a valid token."""

    def __init__(self, public_origin: str) -> None:
        self.public_origin = public_origin

    async def __call__(self, request: Request) -> None:
        if request.method not in UNSAFE_METHODS:
            return
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            raise CsrfRefusedError("cross-site request")
        origin = request.headers.get("origin")
        # "null" is what browsers send for a same-origin form under Referrer-Policy: no-referrer.
        if origin is not None and origin != "null" and origin != self.public_origin:
            raise CsrfRefusedError("foreign origin")
        length = request.headers.get("content-length", "")
        if not (length.isascii() and length.isdigit()) or int(length) > MAX_FORM_BYTES:
            raise FormTooLargeError  # checked before the body is read
        expected = session_state(request).data.get(CSRF_SESSION_KEY)
        presented = request.headers.get("x-csrf-token")
        if presented is None:
            form = await request.form()
            value = form.get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
        if (
            not isinstance(expected, str)
            or presented is None
            or not hmac.compare_digest(presented.encode(), expected.encode())
        ):
            raise CsrfRefusedError("missing or wrong token")


def content_security_policy(form_targets: str) -> str:
    """No inline script or style, nothing from elsewhere, never framed."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "connect-src 'self'",
            "font-src 'self'",
            f"form-action 'self' {form_targets}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


class SecurityHeaders:
    """ASGI middleware: the same strict headers on every response; ``no-store`` on pages.

    It also writes the access log: method, route template, status and duration only (no
    query strings: a callback's carries the authorization code).
    """

    def __init__(self, app: ASGIApp, *, csp: str, https: bool) -> None:
        self.app = app
        self.headers = {
            "content-security-policy": csp,
            "x-frame-options": "DENY",
            "referrer-policy": "no-referrer",
            "x-content-type-options": "nosniff",
            "cross-origin-opener-policy": "same-origin",
            "cross-origin-resource-policy": "same-origin",
            "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
        }
        if https:
            self.headers["strict-transport-security"] = "max-age=31536000"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        static = str(scope["path"]).startswith("/static/")
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
                if not static:
                    headers["cache-control"] = "no-store"
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            access_log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "route": getattr(route, "path", "(unmatched)"),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
