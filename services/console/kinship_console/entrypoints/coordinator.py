"""The coordinator's pages: cases nobody has acknowledged, the default escalation policy and
the on-call rotations (forms with errors by field), and the programme report.

Every page is for people the directory makes coordinators (anyone else sees "not available
to you"), and calls the escalation service as the signed-in person, which checks again.
Forms are checked here with the service's own limits so that each error is named by its
field; the service checks again, and a field it refuses is named the same way. Saved forms
redirect with a confirmation.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from kinship_console.adapters.api import ApiError, NotAllowedError
from kinship_console.adapters.cases_api import (
    AuditQuery,
    CasesApi,
    FieldsRejectedError,
    Policy,
    Rotation,
)
from kinship_console.domain.cases import CaseFacts, case_rows
from kinship_console.domain.casework import OPEN
from kinship_console.domain.coordination import (
    MAX_STEPS,
    TARGETS,
    ConfigForm,
    parse_policy,
    parse_rotation,
    policy_field,
    policy_values,
    programme_report,
    rotation_field,
    rotation_values,
    step_rows,
)
from kinship_console.entrypoints.cases import ACTIONS, OUTCOME_NAMES, SEVERITIES, STATUSES
from kinship_console.entrypoints.employee import SERVICE_NAMES, form_values
from kinship_console.entrypoints.i18n import N_, gettext
from kinship_console.entrypoints.pages import ConsolePages
from kinship_console.entrypoints.sessions import session_state

FLASH_KEY = "coordinator_flash"
FLASHES = {
    "policy": N_("The escalation policy was saved. New cases follow it."),
    "rotation": N_("The rotation was saved."),
    "erasure": N_("The erasure was requested. It is listed below until every part is done."),
}
ERASURES_SHOWN = 100
ERASURE_OVERDUE = timedelta(hours=1)
"""An erasure still pending somewhere after this long is flagged: every service normally
finishes within a minute, so one that has not is down or stuck (docs/operations.md)."""
TARGET_NAMES = {
    "responders": N_("Peer responders (least busy first)"),
    "coordinators": N_("All coordinators"),
    "rotation": N_("An on-call rotation"),
    "person": N_("A named person"),
}
FIELD_ERRORS = {
    "target": N_("Choose whom this step alerts."),
    "no_steps": N_("The policy needs at least one step."),
    "rotation_name": N_(
        "Use 1 to 64 lower-case letters, digits, hyphens or underscores (for example care-week)."
    ),
    "person_id": N_("Enter a Kinship id (no spaces)."),
    "step_timeout": N_("Enter a whole number of seconds from 1 to 86400 (one day)."),
    "repeat": N_("Enter a whole number from 1 to 5."),
    "contact_timeout": N_("Enter a whole number of seconds from 1 to 2592000 (30 days)."),
    "unanswered_interval": N_("Enter a whole number of seconds from 1 to 86400 (one day)."),
    "urgent_from": N_("Choose high or critical."),
    "members_missing": N_("Enter at least one member."),
    "members_invalid": N_("Enter Kinship ids without spaces, one per line (at most 500)."),
    "members_repeated": N_("Each member can be in the rotation once."),
    "shift_hours": N_("Enter a whole number of hours from 1 to 744 (31 days)."),
    "starts_at": N_("Enter the date and time the first shift starts."),
    "erase_person": N_("Enter the Kinship id of the person to erase (no spaces)."),
    "erase_confirm": N_("Tick the box to confirm: an erasure cannot be undone."),
    "refused": N_("The escalation service did not accept this value."),
}
AUDIT_ACTIONS = {
    **ACTIONS,
    "policy_changed": N_("Escalation policy saved"),
    "rotation_saved": N_("Rotation saved"),
    "audit_read": N_("Audit log read"),
}
"""What each audit action is called on the audit page (any other shows its code)."""
MAX_FILTER = 200
WITHHELD = N_("Too few cases so far: the figures are withheld so that nobody can be recognised.")


@dataclass
class CoordinatorPages:
    """The coordinator's pages over the shared console and the cases API."""

    console: ConsolePages
    api: CasesApi

    def _flash(self, request: Request) -> str | None:
        code = session_state(request).data.pop(FLASH_KEY, None)
        return gettext(FLASHES[code]) if isinstance(code, str) and code in FLASHES else None

    def _errors(self, form: ConfigForm) -> dict[str, str]:
        return {
            name: gettext(FIELD_ERRORS.get(code, FIELD_ERRORS["refused"]))
            for name, code in form.errors.items()
        }

    async def _read(self, request: Request, call: Callable[[str], Awaitable[Any]]) -> Any:
        self.console.person(request)
        # The directory says who coordinates: a peer responder passes GET /v1/cases too, and
        # would see their own cases listed as "nobody has taken them".
        if "coordinator" not in (await self.console.me(request)).roles:
            raise NotAllowedError("escalation", 403)  # as the service would answer
        return await self.console.as_person(request, call)

    async def unacknowledged(self, request: Request) -> Response:
        console = self.console
        try:
            cases = await self._read(request, self.api.open_cases)
        except ApiError as error:
            return console.problem_page(request, error, N_("The cases could not be shown."))
        now = console.clock.now()
        waiting = [c for c in cases if c.status in OPEN]
        facts = (
            CaseFacts(c.case_id, c.severity, c.status, c.opened_at, c.ack_due_at, c.contact_due_at)
            for c in waiting
        )
        rows = case_rows(facts, now)
        return console.pages.render(
            request,
            "coordinator/unacknowledged.html",
            {
                "rows": rows,
                "open_count": len(cases),
                "updated_at": now,
                "severities": SEVERITIES,
                "statuses": STATUSES,
                "section": "unacknowledged",
            },
        )

    # ---- the default policy ----------------------------------------------------------------

    async def policy_form(self, request: Request) -> Response:
        try:
            policy = await self._read(request, self.api.policy)
        except ApiError as error:
            return self.console.problem_page(request, error, N_("The policy could not be shown."))
        values = policy_values(policy.model_dump(mode="json"))
        return self._policy_page(request, ConfigForm(values), flash=self._flash(request))

    def _policy_page(
        self,
        request: Request,
        form: ConfigForm,
        *,
        flash: str | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        return self.console.pages.render(
            request,
            "coordinator/policy.html",
            {
                "values": form.values,
                "errors": self._errors(form),
                "rows": step_rows(form.values),
                "max_steps": MAX_STEPS,
                "targets": [(t, TARGET_NAMES[t]) for t in TARGETS],
                "flash": flash,
                "section": "policy",
            },
            status_code=status_code,
        )

    async def save_policy(self, request: Request) -> Response:
        console = self.console
        console.person(request)
        values = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        form = parse_policy(values)
        if not form.valid:
            return self._policy_page(request, form, status_code=422)
        try:
            policy = Policy.model_validate(form.body)
        except ValidationError:  # the checks above mirror the service's: not expected
            form.errors["step-1-target"] = "refused"
            return self._policy_page(request, form, status_code=422)
        try:
            await console.as_person(request, lambda t: self.api.save_policy(t, policy))
        except FieldsRejectedError as error:
            for location in error.locations:
                form.errors[policy_field(location) or "step-1-target"] = "refused"
            return self._policy_page(request, form, status_code=422)
        except ApiError as error:
            return console.problem_page(request, error, N_("The policy was not saved."))
        session_state(request).data[FLASH_KEY] = "policy"
        return RedirectResponse("/coordinator/policy", status_code=303)

    # ---- rotations ---------------------------------------------------------------------------

    async def rotations(self, request: Request) -> Response:
        try:
            found = await self._read(request, self.api.rotations)
        except ApiError as error:
            return self.console.problem_page(
                request, error, N_("The rotations could not be shown.")
            )
        forms = [ConfigForm(rotation_values(r.model_dump())) for r in found]
        return self._rotations_page(request, forms, None, flash=self._flash(request))

    def _rotations_page(
        self,
        request: Request,
        forms: list[ConfigForm],
        new: ConfigForm | None,
        *,
        flash: str | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        now = self.console.clock.now()
        blank = {"name": "", "members": "", "shift_hours": "168"}
        blank["starts_at"] = now.strftime("%Y-%m-%dT00:00")
        return self.console.pages.render(
            request,
            "coordinator/rotations.html",
            {
                "rotations": [(f.values, self._errors(f)) for f in forms],
                "new": (new.values, self._errors(new)) if new else (blank, {}),
                "flash": flash,
                "section": "rotations",
                "has_errors": status_code == 422,
            },
            status_code=status_code,
        )

    async def save_rotation(self, request: Request) -> Response:
        console = self.console
        console.person(request)
        values = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        existing = values.pop("existing", "") == "yes"
        form = parse_rotation(values)
        if form.valid:
            try:
                rotation = Rotation.model_validate(form.body)
                await console.as_person(request, lambda t: self.api.save_rotation(t, rotation))
            except ValidationError:
                form.errors["name"] = "refused"
            except FieldsRejectedError as error:
                for location in error.locations:
                    form.errors[rotation_field(location) or "name"] = "refused"
            except ApiError as error:
                return console.problem_page(request, error, N_("The rotation was not saved."))
            else:
                session_state(request).data[FLASH_KEY] = "rotation"
                return RedirectResponse("/coordinator/rotations", status_code=303)
        try:
            found = await console.as_person(request, self.api.rotations)
        except ApiError as error:
            return console.problem_page(request, error, N_("The rotation was not saved."))
        forms = [
            form
            if existing and r.name == form.values.get("name")
            else ConfigForm(rotation_values(r.model_dump()))
            for r in found
        ]
        return self._rotations_page(request, forms, None if existing else form, status_code=422)

    # ---- the audit log ------------------------------------------------------------------------

    async def audit(self, request: Request) -> Response:
        query = audit_query(request.query_params)
        try:
            page = await self._read(request, lambda t: self.api.audit(t, query))
        except ApiError as error:
            return self.console.problem_page(
                request, error, N_("The audit log could not be shown.")
            )
        filters = {
            "case_id": query.case_id,
            "actor": request.query_params.get("actor", "").strip()[:MAX_FILTER],
            "action": query.action,
        }
        kept = {name: value for name, value in filters.items() if value}
        older = None
        if page.older is not None:
            older = "/coordinator/audit?" + urlencode({**kept, "before": page.older})
        newest = None
        if query.before is not None:
            newest = "/coordinator/audit" + (f"?{urlencode(kept)}" if kept else "")
        return self.console.pages.render(
            request,
            "coordinator/audit.html",
            {
                "entries": page.entries,
                "filters": filters,
                "older": older,
                "newest": newest,
                "action_names": AUDIT_ACTIONS,
                "section": "audit",
            },
            headers={"Cache-Control": "no-store"},
        )

    # ---- erasures -------------------------------------------------------------------------------

    async def erasures(self, request: Request) -> Response:
        return await self._erasures_page(request, {}, {}, flash=self._flash(request))

    async def _erasures_page(
        self,
        request: Request,
        values: dict[str, str],
        errors: dict[str, str],
        *,
        flash: str | None = None,
        status_code: int = 200,
    ) -> Response:
        console = self.console
        try:
            found = await self._read(
                request, lambda t: self.console.api.erasures(t, ERASURES_SHOWN)
            )
        except ApiError as error:
            return console.problem_page(request, error, N_("The erasures could not be shown."))
        now = console.clock.now()
        rows = [
            {
                "erasure": erasure,
                "waiting": [
                    gettext(SERVICE_NAMES[name]) if name in SERVICE_NAMES else name
                    for name, done in sorted(erasure.services.items())
                    if done is None
                ],
                "overdue": not erasure.complete and now - erasure.requested_at > ERASURE_OVERDUE,
            }
            for erasure in found
        ]
        return console.pages.render(
            request,
            "coordinator/erasures.html",
            {
                "rows": rows,
                "values": values,
                "errors": {name: gettext(FIELD_ERRORS[code]) for name, code in errors.items()},
                "flash": flash,
                "section": "erasures",
                "shown": ERASURES_SHOWN,
            },
            status_code=status_code,
            headers={"Cache-Control": "no-store"},
        )

    async def request_erasure(self, request: Request) -> Response:
        """Erase a person on their behalf (an HR request, say): the check-in service checks
        that the signed-in person coordinates, and starts it in every service."""
        console = self.console
        console.person(request)
        values = form_values(await request.form())
        person_id = values.get("person_id", "").strip()
        errors: dict[str, str] = {}
        if not person_id or len(person_id) > MAX_FILTER or any(c.isspace() for c in person_id):
            errors["person_id"] = "erase_person"
        if values.get("confirm") != "yes":
            errors["confirm"] = "erase_confirm"
        if errors:
            shown = {"person_id": person_id[:MAX_FILTER]}
            return await self._erasures_page(request, shown, errors, status_code=422)
        try:
            await console.as_person(request, lambda t: console.api.request_erasure(t, person_id))
        except ApiError as error:
            return console.problem_page(request, error, N_("The erasure was not requested."))
        session_state(request).data[FLASH_KEY] = "erasure"
        return RedirectResponse("/coordinator/erasures", status_code=303)

    # ---- the programme report ----------------------------------------------------------------

    async def report(self, request: Request) -> Response:
        try:
            measures = await self._read(request, self.api.programme)
        except ApiError as error:
            return self.console.problem_page(request, error, N_("The report could not be shown."))
        report = programme_report(measures)
        return self.console.pages.render(
            request,
            "coordinator/report.html",
            {
                "report": report,
                "withheld": gettext(WITHHELD),
                "outcome_names": OUTCOME_NAMES,
                "duration": _duration,
                "section": "report",
            },
        )


def audit_query(params: Mapping[str, str]) -> AuditQuery:
    """The audit page's filters from its query string: trimmed, at most 200 characters
    each; an actor without a kind is a person's id; a cursor that is not a positive whole
    number is ignored (the newest page)."""

    def text(name: str) -> str:
        return params.get(name, "").strip()[:MAX_FILTER]

    actor = text("actor")
    if actor and ":" not in actor and actor not in _SERVICE_ACTORS:
        actor = f"person:{actor}"
    raw = text("before")
    before = int(raw) if raw.isdigit() and 0 < int(raw) < 2**63 else None
    return AuditQuery(text("case_id"), actor, text("action"), before)


_SERVICE_ACTORS = frozenset(
    {"detection", "escalation", "timer", "erasure", "subject", "configuration"}
)
"""Actors that are parts of Kinship (or the person a case is about), not a person's id."""


def _duration(seconds: float | None) -> str:
    """Seconds as a short duration (``1 h 05 min``, ``4 min``, ``45 s``); a dash for none."""
    if seconds is None:
        return "\u2013"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def coordinator_routes(console: ConsolePages, api: CasesApi) -> APIRouter:
    """``/coordinator`` and its pages."""
    pages = CoordinatorPages(console, api)
    router = APIRouter()
    router.add_api_route("/coordinator", pages.unacknowledged, methods=["GET"])
    router.add_api_route("/coordinator/policy", pages.policy_form, methods=["GET"])
    router.add_api_route("/coordinator/policy", pages.save_policy, methods=["POST"])
    router.add_api_route("/coordinator/rotations", pages.rotations, methods=["GET"])
    router.add_api_route("/coordinator/rotations", pages.save_rotation, methods=["POST"])
    router.add_api_route("/coordinator/report", pages.report, methods=["GET"])
    router.add_api_route("/coordinator/audit", pages.audit, methods=["GET"])
    router.add_api_route("/coordinator/erasures", pages.erasures, methods=["GET"])
    router.add_api_route("/coordinator/erasures", pages.request_erasure, methods=["POST"])
    return router
