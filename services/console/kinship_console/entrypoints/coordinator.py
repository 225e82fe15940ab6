"""The coordinator's pages: cases nobody has acknowledged, the escalation policies per team
and severity and the on-call rotations (forms with errors by field), the audit log, erasures
and the programme report.

Every page is for people the directory makes coordinators (anyone else sees "not available
to you"), and calls the escalation service (the report: the recognition service, whose
closed weeks are safe from subtraction) as the signed-in person, which checks again.
Forms are checked here with the service's own limits so that each error is named by its
field; the service checks again, and a field it refuses is named the same way. Saved forms
redirect with a confirmation.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from kinship_console.adapters.api import ApiError, NotAllowedError, NotFoundError
from kinship_console.adapters.cases_api import (
    REPORT_WEEKS,
    AuditQuery,
    CasesApi,
    FieldsRejectedError,
    Policy,
    PolicyClashError,
    PolicyTarget,
    Rotation,
)
from kinship_console.domain.cases import CaseFacts, case_rows
from kinship_console.domain.casework import OPEN
from kinship_console.domain.coordination import (
    DEFAULT_POLICY,
    MAX_STEPS,
    NAME,
    NEW_POLICY,
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
    "policy_deleted": N_(
        "The policy was deleted. New cases follow the next policy that fits them; "
        "open cases keep the copy they had."
    ),
    "policy_reset": N_("The built-in default policy is in force again."),
    "rotation": N_("The rotation was saved."),
    "erasure": N_("The erasure was requested. It is listed below until every part is done."),
}
ERASURES_SHOWN = 100
ERASURE_OVERDUE = timedelta(hours=1)
"""An erasure still pending somewhere after this long is flagged: every service normally
finishes within a minute, so one that has not is down or stuck (docs/operations.md)."""
FIELD_ERRORS = {
    "no_steps": N_(
        "The policy needs at least one step: tick whom it alerts, or name a schedule or a person."
    ),
    "schedule_name": N_(
        "Enter schedule names of lower-case letters, digits, hyphens or underscores, "
        "separated by commas."
    ),
    "people": N_("Enter Kinship ids without spaces, separated by commas (at most 50)."),
    "people_repeated": N_("Each person can be named once in a step."),
    "too_many_targets": N_("A step alerts at most 10 schedules, lists of people and groups."),
    "too_many_steps": N_(
        "A policy has at most 10 steps besides the coordinators step that ends it."
    ),
    "notify": N_("Choose everyone at once or one at a time."),
    "policy_name": N_(
        "Use 1 to 64 lower-case letters, digits, hyphens or underscores (for example "
        "platform-high)."
    ),
    "policy_name_reserved": N_("A policy cannot be called “new” here: choose another name."),
    "policy_exists": N_(
        "A policy has this name already: choose another name, or edit that policy."
    ),
    "team_id": N_("Enter a team id of at most 200 characters."),
    "severity": N_("Choose a severity."),
    "scope_missing": N_(
        "Name a team, a severity or both: the default policy covers every other case."
    ),
    "clash": N_("Another policy already applies to this team and severity."),
    "delete_confirm": N_("Tick the box to confirm."),
    "rotation_name": N_(
        "Use 1 to 64 lower-case letters, digits, hyphens or underscores (for example care-week)."
    ),
    "step_timeout": N_("Enter a whole number of seconds from 1 to 86400 (one day)."),
    "repeat": N_("Enter a whole number from 1 to 5."),
    "contact_timeout": N_("Enter a whole number of seconds, at least 1 (3600 is an hour)."),
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
    "policy_deleted": N_("Escalation policy deleted"),
    "rotation_saved": N_("Rotation saved"),
    "audit_read": N_("Audit log read"),
}
"""What each audit action is called on the audit page (any other shows its code)."""
MAX_FILTER = 200


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

    # ---- escalation policies ---------------------------------------------------------------

    async def _coordinator(self, request: Request) -> None:
        """Refuse (as the service would) anyone the directory does not make a coordinator,
        before anything is sent."""
        self.console.person(request)
        if "coordinator" not in (await self.console.me(request)).roles:
            raise NotAllowedError("escalation", 403)

    async def policies(self, request: Request) -> Response:
        try:
            found: list[Policy] = await self._read(request, self.api.policies)
        except ApiError as error:
            return self.console.problem_page(
                request, error, N_("The escalation policies could not be shown.")
            )
        ordered = sorted(found, key=lambda p: (p.name == DEFAULT_POLICY, p.name))
        rows = [
            {
                "name": policy.name,
                "scope": policy_scope(policy),
                "steps": policy_steps(policy),
                "default": policy.name == DEFAULT_POLICY,
            }
            for policy in ordered
        ]
        return self.console.pages.render(
            request,
            "coordinator/policies.html",
            {"rows": rows, "flash": self._flash(request), "section": "policy"},
        )

    async def old_policy(self, request: Request) -> Response:
        return RedirectResponse(f"/coordinator/policies/{DEFAULT_POLICY}", status_code=307)

    async def policy_form(self, request: Request, name: str) -> Response:
        what = N_("The policy could not be shown.")
        if name == NEW_POLICY:
            try:
                await self._coordinator(request)
            except ApiError as error:
                return self.console.problem_page(request, error, what)
            form = ConfigForm(dict(NEW_POLICY_VALUES))
            return await self._policy_page(request, None, form)
        if not NAME.match(name):
            return self.console.problem_page(request, NotFoundError("escalation", 404), what)
        try:
            policy = await self._read(request, lambda t: self.api.policy(t, name))
        except ApiError as error:
            return self.console.problem_page(request, error, what)
        values = policy_values(policy.model_dump(mode="json"))
        return await self._policy_page(
            request, name, ConfigForm(values), flash=self._flash(request)
        )

    async def _known_schedules(self, request: Request) -> list[str]:
        """The schedules and rotations a step may name (for the hint; none when the service
        cannot say)."""
        try:
            schedules = await self.console.as_person(request, self.api.schedules)
            rotations = await self.console.as_person(request, self.api.rotations)
        except ApiError:
            return []
        return sorted({*schedules, *(r.name for r in rotations)})

    async def _policy_page(
        self,
        request: Request,
        name: str | None,
        form: ConfigForm,
        *,
        flash: str | None = None,
        status_code: int = 200,
        clash: Sequence[str] = (),
    ) -> HTMLResponse:
        errors = self._errors(form)
        if clash:
            message = gettext(
                N_("Another policy, %(names)s, already applies to this team and severity.")
            )
            for field_name in ("team_id", "severity"):
                errors[field_name] = message % {"names": ", ".join(clash)}
        rows = step_rows(form.values)
        values = dict(form.values)
        for number in range(1, rows + 1):
            for part, blank in (("timeout", "300"), ("repeat", "1"), ("notify", "all")):
                values.setdefault(f"step-{number}-{part}", blank)
        if name is None:
            heading = gettext(N_("Add an escalation policy"))
        elif name == DEFAULT_POLICY:
            heading = gettext(N_("The default escalation policy"))
        else:
            heading = gettext(N_("Escalation policy %(name)s")) % {"name": name}
        return self.console.pages.render(
            request,
            "coordinator/policy.html",
            {
                "heading": heading,
                "name": name,
                "is_default": name == DEFAULT_POLICY,
                "values": values,
                "errors": errors,
                "summary": _summary(errors),
                "rows": rows,
                "max_steps": MAX_STEPS,
                "severities": [(s, SEVERITIES[s]) for s in ("medium", "high", "critical")],
                "schedules": await self._known_schedules(request),
                "flash": flash,
                "section": "policy",
            },
            status_code=status_code,
        )

    async def save_policy(self, request: Request, name: str) -> Response:
        console = self.console
        what = N_("The policy was not saved.")
        if name != NEW_POLICY and not NAME.match(name):
            return console.problem_page(request, NotFoundError("escalation", 404), what)
        try:
            await self._coordinator(request)
        except ApiError as error:
            return console.problem_page(request, error, what)
        values = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        editing = None if name == NEW_POLICY else name
        form = parse_policy(values, editing)
        clash: list[str] = []
        if form.valid:
            try:
                clash = await self._check_stored(request, form, new=editing is None)
            except ApiError as error:
                return console.problem_page(request, error, what)
        if not form.valid or clash:
            return await self._policy_page(request, editing, form, status_code=422, clash=clash)
        return await self._send_policy(request, editing, form)

    async def _send_policy(
        self, request: Request, editing: str | None, form: ConfigForm
    ) -> Response:
        """``PUT`` a checked policy once; a refusal is shown by field (422) or on the team
        and severity (409, naming the other policy)."""
        target = str(form.body["name"])
        try:
            policy = Policy.model_validate(form.body)
        except ValidationError:  # the checks above mirror the service's: not expected
            form.errors["step-1-targets"] = "refused"
            return await self._policy_page(request, editing, form, status_code=422)
        try:
            await self.console.as_person(request, lambda t: self.api.save_policy(t, target, policy))
        except FieldsRejectedError as error:
            for location in error.locations:
                field_name = policy_field(location, form.rows)
                if field_name is None or (field_name == "name" and editing is not None):
                    field_name = f"step-{form.rows[0]}-targets"
                form.errors[field_name] = "refused"
            return await self._policy_page(request, editing, form, status_code=422)
        except PolicyClashError as error:
            clash = [other for other in error.names if other != target]
            if not clash:
                form.errors["team_id"] = form.errors["severity"] = "clash"
            return await self._policy_page(request, editing, form, status_code=409, clash=clash)
        except ApiError as error:
            return self.console.problem_page(request, error, N_("The policy was not saved."))
        session_state(request).data[FLASH_KEY] = "policy"
        return RedirectResponse(f"/coordinator/policies/{target}", status_code=303)

    async def _check_stored(self, request: Request, form: ConfigForm, *, new: bool) -> list[str]:
        """What the service would refuse because of the policies stored: a new policy under
        a name taken (it would replace that one), or another policy for the same team and
        severity (returned: their names)."""
        stored: list[Policy] = await self.console.as_person(request, self.api.policies)
        name = form.body["name"]
        if new and any(p.name == name for p in stored):
            form.errors["name"] = "policy_exists"
            return []
        scope = (form.body["team_id"], form.body["severity"])
        return [p.name for p in stored if p.name != name and (p.team_id, p.severity) == scope]

    async def delete_policy(self, request: Request, name: str) -> Response:
        """Delete a policy, or (``default``) go back to the built-in default; confirmed by a
        ticked box."""
        console = self.console
        what = N_("The policy was not deleted.")
        if not NAME.match(name) or name == NEW_POLICY:
            return console.problem_page(request, NotFoundError("escalation", 404), what)
        try:
            await self._coordinator(request)
        except ApiError as error:
            return console.problem_page(request, error, what)
        values = form_values(await request.form())
        if values.get("confirm") != "yes":
            try:
                policy = await console.as_person(request, lambda t: self.api.policy(t, name))
            except ApiError as error:
                return console.problem_page(request, error, what)
            form = ConfigForm(policy_values(policy.model_dump(mode="json")))
            form.errors["confirm"] = "delete_confirm"
            return await self._policy_page(request, name, form, status_code=422)
        try:
            await console.as_person(request, lambda t: self.api.delete_policy(t, name))
        except NotFoundError as error:
            if name != DEFAULT_POLICY:  # the default: none was stored, the built-in one rules
                return console.problem_page(request, error, what)
        except ApiError as error:
            return console.problem_page(request, error, what)
        if name == DEFAULT_POLICY:
            session_state(request).data[FLASH_KEY] = "policy_reset"
            return RedirectResponse(f"/coordinator/policies/{DEFAULT_POLICY}", status_code=303)
        session_state(request).data[FLASH_KEY] = "policy_deleted"
        return RedirectResponse("/coordinator/policies", status_code=303)

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
                "weeks_asked": REPORT_WEEKS,
                "as_date": date.fromisoformat,
                "outcome_names": OUTCOME_NAMES,
                "duration": _duration,
                "section": "report",
            },
        )


NEW_POLICY_VALUES = {
    "contact_timeout": "3600",
    "urgent_from": "high",
    "unanswered_interval": "900",
}
"""A new policy's settings until changed: the service's defaults."""
SEVERITY_SCOPES = {
    "medium": N_("medium cases"),
    "high": N_("high cases"),
    "critical": N_("critical cases"),
}


def _summary(errors: Mapping[str, str]) -> list[tuple[str, str]]:
    """The error summary's links: a clash, said on the team and on the severity, once."""
    clash = errors.get("severity") is not None and errors.get("severity") == errors.get("team_id")
    return [(name, text) for name, text in errors.items() if not (clash and name == "severity")]


def policy_scope(policy: Policy) -> str:
    """Which cases a policy applies to, in words."""
    level = policy.severity or ""
    if policy.team_id and level:
        text = gettext(N_("Team %(team)s, %(cases)s"))
        return text % {"team": policy.team_id, "cases": gettext(SEVERITY_SCOPES.get(level, level))}
    if policy.team_id:
        return gettext(N_("Team %(team)s, every severity")) % {"team": policy.team_id}
    if level:
        text = gettext(N_("Every team's %(cases)s"))
        text %= {"cases": gettext(SEVERITY_SCOPES.get(level, level))}
        return text[:1].upper() + text[1:]
    return gettext(N_("Every other case"))


def _target_words(target: PolicyTarget) -> str:
    if target.kind == "schedule":
        return gettext(N_("schedule %(name)s")) % {"name": target.schedule or ""}
    if target.kind == "people":
        return ", ".join(target.people)
    if target.kind == "responders":
        return gettext(N_("a peer responder"))
    if target.kind == "coordinators":
        return gettext(N_("all coordinators"))
    return target.kind


def policy_steps(policy: Policy) -> str:
    """A policy's steps in words: "Schedule care-week, then all coordinators"."""
    parts = []
    for step in policy.steps:
        words = gettext(N_(" and ")).join(_target_words(t) for t in step.targets)
        if step.notify == "round_robin":
            words += " " + gettext(N_("(one at a time)"))
        if step.repeat > 1:
            words += " " + gettext(N_("(%(times)d times)")) % {"times": step.repeat}
        parts.append(words)
    text = gettext(N_(", then ")).join(parts)
    return text[:1].upper() + text[1:]


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
    router.add_api_route("/coordinator/policy", pages.old_policy, methods=["GET"])
    router.add_api_route("/coordinator/policies", pages.policies, methods=["GET"])
    router.add_api_route("/coordinator/policies/{name}", pages.policy_form, methods=["GET"])
    router.add_api_route("/coordinator/policies/{name}", pages.save_policy, methods=["POST"])
    router.add_api_route(
        "/coordinator/policies/{name}/delete", pages.delete_policy, methods=["POST"]
    )
    router.add_api_route("/coordinator/rotations", pages.rotations, methods=["GET"])
    router.add_api_route("/coordinator/rotations", pages.save_rotation, methods=["POST"])
    router.add_api_route("/coordinator/report", pages.report, methods=["GET"])
    router.add_api_route("/coordinator/audit", pages.audit, methods=["GET"])
    router.add_api_route("/coordinator/erasures", pages.erasures, methods=["GET"])
    router.add_api_route("/coordinator/erasures", pages.request_erasure, methods=["POST"])
    return router
