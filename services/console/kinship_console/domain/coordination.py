"""The coordinator's pages' rules: the policy and rotation forms, the programme report.

No framework, no I/O. A form's string values become the body the escalation service's
``PUT`` takes, or error codes by field; the same limits as the service's models (which
check again). The report turns recognition's programme report (closed weeks, k >= 5) into
rows and bar lengths.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

MAX_STEPS = 10
"""Steps a policy may have besides the coordinators step that ends every policy."""
MAX_ROWS = MAX_STEPS + 1
MAX_TARGETS = 10
MAX_PEOPLE = 50
MAX_TEAM = 200
DEFAULT_POLICY = "default"
NEW_POLICY = "new"
"""``/coordinator/policies/new`` adds a policy, so no policy can be called that here."""
SEVERITIES = ("medium", "high", "critical")
NOTIFY = ("all", "round_robin")
GROUPS = ("responders", "coordinators")
NAME = re.compile(r"^[a-z0-9_-]{1,64}$")
PERSON = re.compile(r"^\S{1,200}$")
STEP_TIMEOUT = (1, 86_400)
REPEAT = (1, 5)
CONTACT_TIMEOUT = (1, 999_999_999)
UNANSWERED_INTERVAL = (1, 86_400)
SHIFT_HOURS = (1, 24 * 31)
MAX_MEMBERS = 500
URGENT_FROM = ("high", "critical")


@dataclass
class ConfigForm:
    """A form read: the body to ``PUT``, the values to show again, errors by field."""

    values: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    rows: list[int] = field(default_factory=list)
    """A policy form's row number of each step in the body (rows left empty are skipped)."""

    @property
    def valid(self) -> bool:
        return not self.errors


def _whole(
    form: ConfigForm, name: str, bounds: tuple[int, int], code: str = "number"
) -> int | None:
    raw = form.values.get(name, "").strip()
    low, high = bounds
    if not re.fullmatch(r"\d{1,9}", raw) or not low <= int(raw) <= high:
        form.errors[name] = code
        return None
    return int(raw)


# ---- escalation policies ------------------------------------------------------------------


def _split(text: str) -> list[str]:
    """Names or ids separated by commas or white space."""
    return [part for part in re.split(r"[\s,]+", text) if part]


def policy_values(policy: Mapping[str, Any]) -> dict[str, str]:
    """The form's values for a policy as the service sends it (``targets`` objects).

    Lossless: a step's schedules and people are listed in their order, a second people
    target of a step after a semicolon, and the hidden ``step-N-order`` keeps the order of
    the step's targets, so that saving the form unchanged sends the same policy."""
    values = {
        "name": str(policy.get("name") or ""),
        "team_id": str(policy.get("team_id") or ""),
        "severity": str(policy.get("severity") or ""),
        "contact_timeout": str(policy.get("contact_timeout_seconds", "")),
        "urgent_from": str(policy.get("urgent_from", "high")),
        "unanswered_interval": str(policy.get("unanswered_interval_seconds", "")),
    }
    for number, step in enumerate(policy.get("steps") or [], start=1):
        prefix = f"step-{number}"
        order: list[str] = []
        schedules: list[str] = []
        groups: list[str] = []
        for target in step.get("targets") or []:
            kind = str(target.get("kind", ""))
            order.append(kind)
            if kind == "schedule":
                schedules.append(str(target.get("schedule") or ""))
            elif kind == "people":
                groups.append(", ".join(str(p) for p in target.get("people") or []))
            elif kind in ("responders", "coordinators"):
                values[f"{prefix}-{kind}"] = "yes"
        values[f"{prefix}-order"] = ",".join(order)
        values[f"{prefix}-schedules"] = ", ".join(schedules)
        values[f"{prefix}-people"] = "; ".join(groups)
        values[f"{prefix}-notify"] = str(step.get("notify") or "all")
        values[f"{prefix}-timeout"] = str(step.get("timeout_seconds", ""))
        values[f"{prefix}-repeat"] = str(step.get("repeat", 1))
    return values


def _step_filled(values: Mapping[str, str], prefix: str) -> bool:
    return any(
        values.get(f"{prefix}-{part}", "").strip()
        for part in ("responders", "coordinators", "schedules", "people")
    )


def step_rows(values: Mapping[str, str]) -> int:
    """How many step rows the form shows: the filled ones and one empty, at most eleven
    (ten steps and the coordinators step that ends every policy)."""
    filled = [n for n in range(1, MAX_ROWS + 1) if _step_filled(values, f"step-{n}")]
    return min(MAX_ROWS, (max(filled) if filled else 0) + 1)


def _step_lists(form: ConfigForm, prefix: str) -> tuple[list[str], list[list[str]]]:
    """A row's schedule names and people targets (a semicolon starts another), checked."""
    values = form.values
    schedules = _split(values.get(f"{prefix}-schedules", ""))
    if not all(NAME.match(name) for name in schedules):
        form.errors[f"{prefix}-schedules"] = "schedule_name"
    groups = [
        _split(group) for group in values.get(f"{prefix}-people", "").split(";") if group.strip()
    ]
    for group in groups:
        if len(group) > MAX_PEOPLE or not all(PERSON.match(p) for p in group):
            form.errors[f"{prefix}-people"] = "people"
        elif len(set(group)) != len(group):
            form.errors[f"{prefix}-people"] = "people_repeated"
    return schedules, groups


def _step_targets(form: ConfigForm, prefix: str) -> list[dict[str, Any]]:
    """A step's targets from its row, in the order kept in ``{prefix}-order`` (new ones
    after: schedules, people, responders, coordinators)."""
    schedules, groups = _step_lists(form, prefix)
    wanted = {kind: form.values.get(f"{prefix}-{kind}") == "yes" for kind in GROUPS}
    targets: list[dict[str, Any]] = []
    kept = form.values.get(f"{prefix}-order", "").split(",")
    rest = ["schedule"] * len(schedules) + ["people"] * len(groups) + list(GROUPS)
    for kind in kept + rest:
        if kind == "schedule" and schedules:
            targets.append({"kind": "schedule", "schedule": schedules.pop(0)})
        elif kind == "people" and groups:
            targets.append({"kind": "people", "people": groups.pop(0)})
        elif wanted.get(kind):
            targets.append({"kind": kind})
            wanted[kind] = False
    if len(targets) > MAX_TARGETS:
        form.errors[f"{prefix}-targets"] = "too_many_targets"
    return targets


def _policy_scope(form: ConfigForm, name: str | None) -> tuple[str, str | None, str | None]:
    """The policy's name (a new one's from the form), team and severity, checked."""
    if name is None:
        name = form.values.get("name", "").strip()
        if not NAME.match(name):
            form.errors["name"] = "policy_name"
        elif name == NEW_POLICY:
            form.errors["name"] = "policy_name_reserved"
    if name == DEFAULT_POLICY:
        return name, None, None
    team_id = form.values.get("team_id", "").strip() or None
    severity = form.values.get("severity", "").strip() or None
    if team_id is not None and len(team_id) > MAX_TEAM:
        form.errors["team_id"] = "team_id"
    if severity is not None and severity not in SEVERITIES:
        form.errors["severity"] = "severity"
    if team_id is None and severity is None:
        form.errors["team_id"] = "scope_missing"
    return name, team_id, severity


def _policy_steps(form: ConfigForm) -> list[dict[str, Any]]:
    """The steps of the filled rows, in order (their row numbers in ``form.rows``)."""
    steps: list[dict[str, Any]] = []
    for number in range(1, MAX_ROWS + 1):
        prefix = f"step-{number}"
        if not _step_filled(form.values, prefix):
            continue
        targets = _step_targets(form, prefix)
        notify = form.values.get(f"{prefix}-notify", "all") or "all"
        if notify not in NOTIFY:
            form.errors[f"{prefix}-notify"] = "notify"
        timeout = _whole(form, f"{prefix}-timeout", STEP_TIMEOUT, "step_timeout")
        repeat = _whole(form, f"{prefix}-repeat", REPEAT, "repeat")
        steps.append(
            {"targets": targets, "notify": notify, "timeout_seconds": timeout, "repeat": repeat}
        )
        form.rows.append(number)
    if not steps:
        form.errors["step-1-targets"] = "no_steps"
    elif len(steps) == MAX_ROWS and not any(
        target["kind"] == "coordinators" for target in steps[-1]["targets"]
    ):
        # The service appends a coordinators step to a policy not ending with one.
        form.errors[f"step-{form.rows[-1]}-targets"] = "too_many_steps"
    return steps


def parse_policy(values: Mapping[str, str], name: str | None = None) -> ConfigForm:
    """A policy from its form, with the service's limits. ``name`` is the policy edited
    (None: a new one, named by the form). Steps in order (a row with no target is
    skipped), each alerting schedules, people, a peer responder and/or the coordinators,
    everyone at once or one at a time; the default names no team or severity, any other
    policy names one or both."""
    form = ConfigForm({k: v for k, v in values.items() if k != "csrf_token"})
    name, team_id, severity = _policy_scope(form, name)
    steps = _policy_steps(form)
    contact = _whole(form, "contact_timeout", CONTACT_TIMEOUT, "contact_timeout")
    interval = _whole(form, "unanswered_interval", UNANSWERED_INTERVAL, "unanswered_interval")
    urgent = form.values.get("urgent_from", "")
    if urgent not in URGENT_FROM:
        form.errors["urgent_from"] = "urgent_from"
    form.body = {
        "name": name,
        "team_id": team_id,
        "severity": severity,
        "steps": steps,
        "contact_timeout_seconds": contact,
        "urgent_from": urgent,
        "unanswered_interval_seconds": interval,
    }
    return form


def policy_field(location: Sequence[str | int], rows: Sequence[int] = ()) -> str | None:
    """The form field of a location the service refused (``("steps", 0, "targets", 1,
    "schedule")``); ``rows`` are the form's row numbers of the steps sent."""
    if not location:
        return None
    if location[0] == "steps":
        index = location[1] if len(location) > 1 and isinstance(location[1], int) else 0
        number = rows[index] if index < len(rows) else index + 1
        rest = [str(part) for part in location[2:]]
        column = "targets"
        if rest[:1] == ["targets"] and len(rest) >= 3 and rest[2] in ("schedule", "people"):
            column = "schedules" if rest[2] == "schedule" else "people"
        elif rest[:1] and rest[0] in ("timeout_seconds", "repeat", "notify"):
            column = {"timeout_seconds": "timeout"}.get(rest[0], rest[0])
        return f"step-{number}-{column}"
    names = {
        "name": "name",
        "team_id": "team_id",
        "severity": "severity",
        "contact_timeout_seconds": "contact_timeout",
        "urgent_from": "urgent_from",
        "unanswered_interval_seconds": "unanswered_interval",
    }
    return names.get(str(location[0]))


# ---- on-call rotations ---------------------------------------------------------------------


def rotation_values(rotation: Mapping[str, Any]) -> dict[str, str]:
    """The form's values for a rotation as the service sends it."""
    starts = rotation.get("starts_at")
    if isinstance(starts, datetime):
        starts_text = starts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    else:
        starts_text = ""
    return {
        "name": str(rotation.get("name", "")),
        "members": "\n".join(rotation.get("members") or []),
        "shift_hours": str(rotation.get("shift_hours", "")),
        "starts_at": starts_text,
    }


def parse_rotation(values: Mapping[str, str]) -> ConfigForm:
    """A rotation from its form: a name, members one per line (or comma-separated), the
    shift length in hours and the first shift's start (UTC)."""
    form = ConfigForm({k: v for k, v in values.items() if k != "csrf_token"})
    name = form.values.get("name", "").strip()
    if not NAME.match(name):
        form.errors["name"] = "rotation_name"
    members = [m.strip() for m in re.split(r"[\n,]", form.values.get("members", "")) if m.strip()]
    if not members:
        form.errors["members"] = "members_missing"
    elif len(members) > MAX_MEMBERS or not all(PERSON.match(m) for m in members):
        form.errors["members"] = "members_invalid"
    elif len(set(members)) != len(members):
        form.errors["members"] = "members_repeated"
    hours = _whole(form, "shift_hours", SHIFT_HOURS, "shift_hours")
    starts_at = None
    try:
        starts_at = datetime.strptime(form.values.get("starts_at", "").strip(), "%Y-%m-%dT%H:%M")
    except ValueError:
        form.errors["starts_at"] = "starts_at"
    form.body = {
        "name": name,
        "members": members,
        "shift_hours": hours,
        "starts_at": starts_at.replace(tzinfo=UTC).isoformat() if starts_at else None,
    }
    return form


def rotation_field(location: Sequence[str | int]) -> str | None:
    """The form field of a location the service refused."""
    if not location:
        return None
    return {"name": "name", "members": "members", "shift_hours": "shift_hours"}.get(
        str(location[0]), "starts_at" if location[0] == "starts_at" else None
    )


# ---- the programme report -----------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its label, value as shown, and length (0-1 of the widest)."""

    key: str
    value: float
    share: float


@dataclass(frozen=True)
class CaseFigures:
    """A week's cases as shown: opened, acknowledged, and how fast (median, 90th percentile
    seconds from opening)."""

    opened: int
    acknowledged: int
    acknowledge: tuple[float | None, float | None]
    first_contact: tuple[float | None, float | None]


@dataclass(frozen=True)
class ReportWeek:
    """One closed week of the report; a part that is ``None`` (or missing) is withheld."""

    week: date
    participation: tuple[int, float | None] | None
    """People who checked in, and the share of the directory's active members."""
    cases: CaseFigures | None
    satisfaction: dict[str, tuple[int, float]]
    """Per side shown (person, responder): answers and the mean score (1-5)."""


@dataclass(frozen=True)
class ProgrammeReport:
    """The programme report as the page shows it: recognition's closed weeks (k >= 5, with
    complementary suppression); nothing is added up that the service did not release,
    except outcomes over the weeks it shows."""

    k: int
    weeks: list[ReportWeek]
    """Newest first."""
    participation: list[Bar]
    """The share of members who checked in, per week shown (oldest first, for the chart)."""
    outcomes: list[Bar]
    """Resolved cases by outcome, over the weeks shown."""

    @property
    def anything_shown(self) -> bool:
        return any(w.participation or w.cases or w.satisfaction for w in self.weeks)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _bars(items: Mapping[str, Any], scale: float | None = None) -> list[Bar]:
    pairs = [(str(k), v) for k, v in items.items() if _number(v) is not None]
    widest = scale if scale is not None else max((float(v) for _, v in pairs), default=0.0)
    # A share never draws past its chart: a week's people are fixed when it is first served
    # while the members are today's, so a team that has shrunk can show a rate above 100 %.
    return [
        Bar(k, float(v), min(1.0, max(0.0, float(v) / widest)) if widest > 0 else 0.0)
        for k, v in pairs
    ]


def _timing(part: Any) -> tuple[float | None, float | None]:
    if not isinstance(part, Mapping):
        return None, None
    return _number(part.get("median")), _number(part.get("p90"))


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _report_week(raw: Mapping[str, Any]) -> ReportWeek | None:
    try:
        week = date.fromisoformat(str(raw.get("week")))
    except ValueError:
        return None
    participation = None
    part = raw.get("participation")
    if isinstance(part, Mapping) and (people := _count(part.get("people"))) is not None:
        participation = (people, _number(part.get("rate")))
    cases = None
    part = raw.get("cases")
    if isinstance(part, Mapping):
        opened, acknowledged = _count(part.get("opened")), _count(part.get("acknowledged"))
        if opened is not None and acknowledged is not None:
            cases = CaseFigures(
                opened,
                acknowledged,
                _timing(part.get("time_to_acknowledge_seconds")),
                _timing(part.get("time_to_first_contact_seconds")),
            )
    satisfaction: dict[str, tuple[int, float]] = {}
    part = raw.get("satisfaction")
    for side, figures in sorted(part.items() if isinstance(part, Mapping) else []):
        if isinstance(figures, Mapping):
            answers, mean = _count(figures.get("responses")), _number(figures.get("mean_score"))
            if answers is not None and mean is not None:
                satisfaction[str(side)] = (answers, mean)
    return ReportWeek(week, participation, cases, satisfaction)


def programme_report(answer: Mapping[str, Any]) -> ProgrammeReport:
    """The page's report from recognition's ``GET /v1/reports/programme`` (lenient: a part
    missing or malformed counts as withheld)."""
    raw_weeks = answer.get("weeks")
    weeks = [
        week
        for raw in (raw_weeks if isinstance(raw_weeks, list) else [])
        if isinstance(raw, Mapping) and (week := _report_week(raw)) is not None
    ]
    weeks.sort(key=lambda week: week.week, reverse=True)
    rates = {
        week.week.isoformat(): week.participation[1]
        for week in reversed(weeks)
        if week.participation is not None and week.participation[1] is not None
    }
    outcomes: dict[str, int] = {}
    for raw in raw_weeks if isinstance(raw_weeks, list) else []:
        cases = raw.get("cases") if isinstance(raw, Mapping) else None
        found = cases.get("outcomes") if isinstance(cases, Mapping) else None
        for outcome, n in found.items() if isinstance(found, Mapping) else []:
            if (count := _count(n)) is not None:
                outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + count
    k = _count(answer.get("k"))
    return ProgrammeReport(
        k if k is not None else 5,
        weeks,
        _bars(rates, scale=1.0),
        _bars(dict(sorted(outcomes.items(), key=lambda item: (-item[1], item[0])))),
    )
