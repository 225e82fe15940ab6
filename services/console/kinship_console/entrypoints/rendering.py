"""Jinja2 templates rendered in the request's language, with the layout's shared context."""

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kinship_console.entrypoints import i18n
from kinship_console.entrypoints.security import csrf_token
from kinship_console.entrypoints.sessions import session_state

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"
LOCALE_STATE = "kinship.locale"
ME_KEY = "me"
"""Where the session keeps what the check-in service said of the person (roles, teams)."""


def request_locale(request: Request) -> str:
    """The language of this request's pages (negotiated once per request)."""
    locale = request.scope.get(LOCALE_STATE)
    if not isinstance(locale, str):
        locale = i18n.negotiate_locale(request.headers.get("accept-language"))
        request.scope[LOCALE_STATE] = locale
    return locale


class Pages:
    """Renders a page template with the layout's context (locale, person, CSRF token)."""

    def __init__(self, catalogs: i18n.Catalogs, templates: Path = TEMPLATES) -> None:
        self.catalogs = catalogs
        self.env = Environment(
            loader=FileSystemLoader(templates),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.install_gettext_callables(  # type: ignore[attr-defined]
            gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
        )
        self.env.globals.update(i18n.template_globals())

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        locale = request_locale(request)
        i18n.use_translations(self.catalogs.get(locale))
        state = request.scope.get("kinship.session")
        person = None
        roles: list[str] = []
        manages = False
        if state is not None:
            data = session_state(request).data
            person_id = data.get("person_id")
            person = person_id if isinstance(person_id, str) else None
            kept = data.get(ME_KEY)
            if person and isinstance(kept, dict) and isinstance(kept.get("me"), dict):
                roles = [str(role) for role in kept["me"].get("roles") or []]
                manages = bool(kept["me"].get("managed_teams"))
        values: dict[str, Any] = {
            "locale": locale,
            "person": person,
            "csrf": csrf_token(request) if person else "",
            "path": request.url.path,
            "page_scripts": [],
            "nav_roles": roles,
            "nav_manages": manages,
        }
        values.update(context or {})
        body = self.env.get_template(name).render(values)
        return HTMLResponse(body, status_code=status_code, headers=headers)
