"""On call: who answers now in every schedule and rotation, the signed-in person's own
availability ("away until") and calendar feed (peer responders and coordinators), and for
coordinators the responders' on-call load, each schedule's fair shares and its overrides.

Every page calls the escalation service as the signed-in person; it decides again who may
see or change what. A calendar feed's secret URL is shown once, on the page that asked for
it (never kept by the console, never in a redirect or a log), with what to do if it leaks.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kinship_console.adapters.api import ApiError, NotAllowedError
from kinship_console.adapters.cases_api import FieldsRejectedError
from kinship_console.adapters.oncall_api import OnCallApi, OnCallNow, ScheduledOverride
from kinship_console.domain.oncall import (
    AwayForm,
    OverrideForm,
    availability,
    on_call_rows,
    parse_away,
    parse_override,
)
from kinship_console.entrypoints.employee import form_values
from kinship_console.entrypoints.i18n import N_, gettext
from kinship_console.entrypoints.pages import ConsolePages
from kinship_console.entrypoints.sessions import session_state

FLASH_KEY = "oncall_flash"
FLASHES = {
    "feed_stopped": N_("Your calendar link was stopped. Calendars that used it show no shifts."),
    "override_added": N_("The override was saved. It applies from its start."),
    "override_removed": N_("The override was removed."),
    "away_set": N_("Saved: alerts go to others until you are back."),
    "away_ended": N_("Welcome back: you can be alerted again."),
}
FIELD_ERRORS = {
    "override_schedule": N_("Choose a schedule."),
    "person_id": N_("Enter a Kinship id (no spaces)."),
    "override_start": N_("Enter when the override starts (UTC)."),
    "override_end": N_("Enter when the override ends (UTC)."),
    "override_window": N_("The end must be after the start, and at most a year later."),
    "away_until": N_("Enter the time you are away until (UTC)."),
    "away_window": N_("The time must be in the future, and at most 90 days ahead."),
    "away_refused": N_("The escalation service did not accept this time."),
    "refused": N_(
        "The escalation service did not accept this override: check that the person is a "
        "peer responder or coordinator, and the times."
    ),
}
SOURCES = {
    "rotation": N_("by rotation"),
    "swap": N_("by a swap"),
    "override": N_("by an override"),
    "rest_cover": N_("covering for someone resting"),
}
STAFF = frozenset({"peer_responder", "coordinator"})
NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class OnCallPages:
    """The on-call pages over the shared console and the escalation service's on-call API."""

    console: ConsolePages
    api: OnCallApi

    async def _read(
        self, request: Request, call: Callable[[str], Awaitable[Any]], roles: frozenset[str]
    ) -> Any:
        self.console.person(request)
        if not roles & set((await self.console.me(request)).roles):
            raise NotAllowedError("escalation", 403)  # as the service would answer
        return await self.console.as_person(request, call)

    def _flash(self, request: Request) -> str | None:
        code = session_state(request).data.pop(FLASH_KEY, None)
        return gettext(FLASHES[code]) if isinstance(code, str) and code in FLASHES else None

    # ---- on call now and my availability (peer responders and coordinators) -----------------

    async def on_call(self, request: Request) -> Response:
        return await self._on_call_page(request, None, flash=self._flash(request))

    async def _on_call_page(
        self,
        request: Request,
        form: AwayForm | None,
        *,
        flash: str | None = None,
        status_code: int = 200,
    ) -> Response:
        console = self.console
        try:
            now: OnCallNow = await self._read(request, self.api.oncall_now, STAFF)
            feeds = await console.as_person(request, self.api.calendar_feeds)
            away_until = await console.as_person(request, self.api.away)
        except ApiError as error:
            return console.problem_page(request, error, N_("On call could not be shown."))
        me = console.person(request)
        rows = on_call_rows(now.schedules)
        errors = {
            name: gettext(FIELD_ERRORS.get(code, FIELD_ERRORS["away_refused"]))
            for name, code in (form.errors.items() if form else [])
        }
        return console.pages.render(
            request,
            "oncall.html",
            {
                "rows": rows,
                "me": me,
                "mine": availability(me, rows),
                "has_feed": any(f.kind == "person" for f in feeds),
                "away_until": away_until,
                "away_values": form.values if form else {"until": ""},
                "away_errors": errors,
                "sources": SOURCES,
                "updated_at": now.at,
                "flash": flash,
            },
            status_code=status_code,
            headers=NO_STORE,
        )

    async def set_away(self, request: Request) -> Response:
        """ "I'm away until": alerts go to others until then (it ends by itself)."""
        console = self.console
        console.person(request)
        form = parse_away(form_values(await request.form()), console.clock.now())
        if form.valid and form.until is not None:
            until = form.until
            try:
                await console.as_person(request, lambda t: self.api.set_away(t, until))
            except FieldsRejectedError:
                form.errors["until"] = "away_refused"
            except ApiError as error:
                return console.problem_page(request, error, N_("Your away time was not saved."))
            else:
                session_state(request).data[FLASH_KEY] = "away_set"
                return RedirectResponse("/oncall", status_code=303)
        return await self._on_call_page(request, form, status_code=422)

    async def end_away(self, request: Request) -> Response:
        """ "I'm back": alerts reach the person again from now."""
        console = self.console
        console.person(request)
        try:
            await console.as_person(request, self.api.end_away)
        except ApiError as error:
            return console.problem_page(request, error, N_("You were not marked back."))
        session_state(request).data[FLASH_KEY] = "away_ended"
        return RedirectResponse("/oncall", status_code=303)

    async def new_feed(self, request: Request) -> Response:
        """A new secret calendar URL for the person's own shifts, shown once (the old one
        stops working)."""
        console = self.console
        console.person(request)
        try:
            url = await console.as_person(request, self.api.new_calendar_feed)
        except ApiError as error:
            return console.problem_page(request, error, N_("No calendar link was made."))
        return console.pages.render(
            request,
            "oncall_feed.html",
            {"url": url, "webcal": "webcal://" + url.split("://", 1)[1]},
            headers={**NO_STORE, "Referrer-Policy": "no-referrer"},
        )

    async def stop_feed(self, request: Request) -> Response:
        console = self.console
        console.person(request)
        try:
            await console.as_person(request, self.api.stop_calendar_feed)
        except ApiError as error:
            return console.problem_page(request, error, N_("The calendar link was not stopped."))
        session_state(request).data[FLASH_KEY] = "feed_stopped"
        return RedirectResponse("/oncall", status_code=303)

    # ---- load, fair shares and overrides (coordinators) ---------------------------------------

    async def coordination(self, request: Request) -> Response:
        return await self._coordination_page(request, None, flash=self._flash(request))

    async def _coordination_page(
        self,
        request: Request,
        form: OverrideForm | None,
        *,
        flash: str | None = None,
        status_code: int = 200,
    ) -> Response:
        console = self.console
        coordinators = frozenset({"coordinator"})
        try:
            now: OnCallNow = await self._read(request, self.api.oncall_now, coordinators)
            load = await console.as_person(request, self.api.oncall_load)
            names = sorted(s.schedule for s in now.schedules if s.kind == "schedule")
            overrides = {name: await self._overrides(request, name) for name in names}
        except ApiError as error:
            return console.problem_page(request, error, N_("On call could not be shown."))
        start = now.at.strftime("%Y-%m-%dT%H:00")
        values = form.values if form else {"schedule": "", "person_id": "", "start": start}
        errors = {
            name: gettext(FIELD_ERRORS.get(code, FIELD_ERRORS["refused"]))
            for name, code in (form.errors.items() if form else [])
        }
        return console.pages.render(
            request,
            "coordinator/oncall.html",
            {
                "rows": on_call_rows(now.schedules),
                "load": load,
                "overrides": overrides,
                "schedule_names": names,
                "values": values,
                "errors": errors,
                "sources": SOURCES,
                "updated_at": now.at,
                "flash": flash,
                "section": "oncall",
            },
            status_code=status_code,
            headers=NO_STORE,
        )

    async def _overrides(self, request: Request, schedule: str) -> list[ScheduledOverride]:
        found: list[ScheduledOverride] = await self.console.as_person(
            request, lambda token: self.api.overrides(token, schedule)
        )
        return found

    async def add_override(self, request: Request) -> Response:
        console = self.console
        console.person(request)
        values = form_values(await request.form())
        try:
            now: OnCallNow = await self._read(
                request, self.api.oncall_now, frozenset({"coordinator"})
            )
        except ApiError as error:
            return console.problem_page(request, error, N_("The override was not saved."))
        names = [s.schedule for s in now.schedules if s.kind == "schedule"]
        form = parse_override(values, names)
        if form.valid and form.start is not None and form.end is not None:
            start, end = form.start, form.end
            try:
                await console.as_person(
                    request,
                    lambda t: self.api.add_override(t, form.schedule, form.person_id, start, end),
                )
            except FieldsRejectedError as error:
                for location in error.locations or [("person_id",)]:
                    field = str(location[0]) if location else "person_id"
                    form.errors[field if field in form.values else "person_id"] = "refused"
            except ApiError as error:
                return console.problem_page(request, error, N_("The override was not saved."))
            else:
                session_state(request).data[FLASH_KEY] = "override_added"
                return RedirectResponse("/coordinator/oncall", status_code=303)
        return await self._coordination_page(request, form, status_code=422)

    async def remove_override(self, request: Request, schedule: str, override_id: str) -> Response:
        console = self.console
        console.person(request)
        try:
            await console.as_person(
                request, lambda t: self.api.remove_override(t, schedule, override_id)
            )
        except ApiError as error:
            return console.problem_page(request, error, N_("The override was not removed."))
        session_state(request).data[FLASH_KEY] = "override_removed"
        return RedirectResponse("/coordinator/oncall", status_code=303)


def oncall_routes(console: ConsolePages, api: OnCallApi) -> APIRouter:
    """``/oncall`` (with ``/oncall/away``) and ``/coordinator/oncall``."""
    pages = OnCallPages(console, api)
    router = APIRouter()
    html = HTMLResponse
    router.add_api_route("/oncall", pages.on_call, methods=["GET"], response_class=html)
    router.add_api_route("/oncall/away", pages.set_away, methods=["POST"])
    router.add_api_route("/oncall/away/end", pages.end_away, methods=["POST"])
    router.add_api_route("/oncall/calendar", pages.new_feed, methods=["POST"])
    router.add_api_route("/oncall/calendar/stop", pages.stop_feed, methods=["POST"])
    router.add_api_route("/coordinator/oncall", pages.coordination, methods=["GET"])
    router.add_api_route("/coordinator/oncall/overrides", pages.add_override, methods=["POST"])
    router.add_api_route(
        "/coordinator/oncall/overrides/{schedule}/{override_id}/remove",
        pages.remove_override,
        methods=["POST"],
    )
    return router
