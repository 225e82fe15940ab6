"""The coordinator's pages' rules: the policy and rotation forms, the programme report.

No framework, no I/O. A form's string values become the body the escalation service's
``PUT`` takes, or error codes by field; the same limits as the service's models (which
check again). The report turns the programme measures into rows and bar lengths.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_STEPS = 10
TARGETS = ("responders", "coordinators", "rotation", "person")
NAME = re.compile(r"^[a-z0-9_-]{1,64}$")
PERSON = re.compile(r"^\S{1,200}$")
STEP_TIMEOUT = (1, 86_400)
REPEAT = (1, 5)
CONTACT_TIMEOUT = (1, 30 * 86_400)
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


# ---- the escalation policy ---------------------------------------------------------------


def policy_values(policy: Mapping[str, Any]) -> dict[str, str]:
    """The form's values for a policy as the service sends it (targets in text form)."""
    values = {
        "contact_timeout": str(policy.get("contact_timeout_seconds", "")),
        "urgent_from": str(policy.get("urgent_from", "high")),
        "unanswered_interval": str(policy.get("unanswered_interval_seconds", "")),
    }
    for number, step in enumerate(policy.get("steps") or [], start=1):
        kind, _, rest = str(step.get("target", "")).partition(":")
        values[f"step-{number}-target"] = kind
        values[f"step-{number}-name"] = rest
        values[f"step-{number}-timeout"] = str(step.get("timeout_seconds", ""))
        values[f"step-{number}-repeat"] = str(step.get("repeat", 1))
    return values


def step_rows(values: Mapping[str, str]) -> int:
    """How many step rows the form shows: the filled ones and one empty, at most ten."""
    filled = [n for n in range(1, MAX_STEPS + 1) if values.get(f"step-{n}-target")]
    return min(MAX_STEPS, (max(filled) if filled else 0) + 1)


def parse_policy(values: Mapping[str, str], name: str = "default") -> ConfigForm:
    """The default policy from its form: steps in order (a row without a target is
    skipped), each alerting responders, coordinators, a rotation or a person."""
    form = ConfigForm({k: v for k, v in values.items() if k != "csrf_token"})
    steps: list[dict[str, Any]] = []
    for number in range(1, MAX_STEPS + 1):
        prefix = f"step-{number}"
        kind = form.values.get(f"{prefix}-target", "")
        if not kind:
            continue
        if kind not in TARGETS:
            form.errors[f"{prefix}-target"] = "target"
            continue
        target = kind
        label = form.values.get(f"{prefix}-name", "").strip()
        if kind == "rotation":
            if not NAME.match(label):
                form.errors[f"{prefix}-name"] = "rotation_name"
            target = f"rotation:{label}"
        elif kind == "person":
            if not PERSON.match(label):
                form.errors[f"{prefix}-name"] = "person_id"
            target = f"person:{label}"
        timeout = _whole(form, f"{prefix}-timeout", STEP_TIMEOUT, "step_timeout")
        repeat = _whole(form, f"{prefix}-repeat", REPEAT, "repeat")
        steps.append({"target": target, "timeout_seconds": timeout, "repeat": repeat})
    if not steps and "step-1-target" not in form.errors:
        form.errors["step-1-target"] = "no_steps"
    contact = _whole(form, "contact_timeout", CONTACT_TIMEOUT, "contact_timeout")
    interval = _whole(form, "unanswered_interval", UNANSWERED_INTERVAL, "unanswered_interval")
    urgent = form.values.get("urgent_from", "")
    if urgent not in URGENT_FROM:
        form.errors["urgent_from"] = "urgent_from"
    form.body = {
        "name": name,
        "steps": steps,
        "contact_timeout_seconds": contact,
        "urgent_from": urgent,
        "unanswered_interval_seconds": interval,
    }
    return form


def policy_field(location: Sequence[str | int]) -> str | None:
    """The form field of a location the service refused (``("steps", 0, "repeat")``)."""
    names = {
        "contact_timeout_seconds": "contact_timeout",
        "urgent_from": "urgent_from",
        "unanswered_interval_seconds": "unanswered_interval",
    }
    if len(location) >= 2 and location[0] == "steps" and isinstance(location[1], int):
        part = location[2] if len(location) > 2 else "target"
        column = {"timeout_seconds": "timeout", "repeat": "repeat"}.get(str(part), "target")
        return f"step-{location[1] + 1}-{column}"
    return names.get(str(location[0])) if location else None


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
class ProgrammeReport:
    """The programme measures as the report page shows them."""

    cases: int | None
    withheld: str | None
    acknowledge: tuple[float | None, float | None]
    """Median and 90th percentile seconds from opening to acknowledgement."""
    first_contact: tuple[float | None, float | None]
    escalation: list[Bar]
    """Share of cases that reached each step (step 1 is every case)."""
    outcomes: list[Bar]
    feedback: list[tuple[str, int, float | None]]
    """Who gave feedback (person, responder), how many, the mean score (1-5)."""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _bars(items: Mapping[str, Any], scale: float | None = None) -> list[Bar]:
    pairs = [(str(k), v) for k, v in items.items() if _number(v) is not None]
    widest = scale if scale is not None else max((float(v) for _, v in pairs), default=0.0)
    return [Bar(k, float(v), float(v) / widest if widest > 0 else 0.0) for k, v in pairs]


def programme_report(measures: Mapping[str, Any]) -> ProgrammeReport:
    """The report from ``GET /v1/metrics/programme`` (lenient: missing parts are empty)."""
    cases = measures.get("cases")
    withheld = measures.get("withheld")
    if not isinstance(cases, int) or isinstance(cases, bool):
        return ProgrammeReport(None, str(withheld or ""), (None, None), (None, None), [], [], [])

    def timing(key: str) -> tuple[float | None, float | None]:
        part = measures.get(key)
        if not isinstance(part, Mapping):
            return None, None
        return _number(part.get("median")), _number(part.get("p90"))

    steps = measures.get("escalation_rate_by_step")
    escalation = sorted(
        _bars(steps if isinstance(steps, Mapping) else {}, scale=1.0),
        key=lambda bar: int(bar.key) if bar.key.isascii() and bar.key.isdigit() else 99,
    )
    outcomes = measures.get("outcomes")
    feedback_part = measures.get("feedback")
    feedback = []
    if isinstance(feedback_part, Mapping):
        for given_by, figures in sorted(feedback_part.items()):
            if isinstance(figures, Mapping) and isinstance(figures.get("count"), int):
                mean = _number(figures.get("mean_score"))
                feedback.append((str(given_by), figures["count"], mean))
    return ProgrammeReport(
        cases,
        None,
        timing("time_to_acknowledge_seconds"),
        timing("time_to_first_contact_seconds"),
        escalation,
        _bars(outcomes if isinstance(outcomes, Mapping) else {}),
        feedback,
    )
