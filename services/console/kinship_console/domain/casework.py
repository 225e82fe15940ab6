"""The case page's rules: which actions a case offers, and what each form may send.

No framework, no I/O. Forms are read from their string values into what the escalation
service expects, or into error codes by field (the page words them in the person's
language). The service checks everything again: these rules only spare a round trip and
let the page name the field.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

CHANNELS = ("phone", "chat", "video", "in_person", "email", "other")
"""How first contact happened (the escalation service's ``ContactChannel``)."""
HANDOVER_REASONS = (
    "unavailable",
    "workload",
    "expertise",
    "conflict_of_interest",
    "person_asked",
    "other",
)
"""Why a case is handed over (``HandoverReason``)."""
OUTCOMES = ("supported", "referred_professional", "referred_emergency", "no_contact", "declined")
"""How a case ends (``CaseOutcome``)."""
FOLLOW_UPS = {"1d": timedelta(days=1), "3d": timedelta(days=3), "1w": timedelta(weeks=1)}
FOLLOW_UPS |= {"2w": timedelta(weeks=2), "4w": timedelta(weeks=4)}
"""When to follow up, from now."""
NOTE_LIMIT = 4000
PLAN_LIMIT = 2000
PERSON_ID_LIMIT = 200

OPEN = ("opened", "assigned")
WORKING = ("acknowledged", "contacted")


@dataclass(frozen=True)
class CaseFacts:
    """What decides which actions the case page offers."""

    status: str
    severity: str
    responder_id: str | None
    reveal_allowed: bool


def case_actions(case: CaseFacts, me: str) -> frozenset[str]:
    """The actions the page offers the signed-in person on this case.

    Acknowledge while nobody has (the service checks the person was alerted); the rest only
    for the responder who holds it; reveal and contact only when a peer may reach out; a
    safety plan only on critical cases. The service refuses anything else anyway.
    """
    if case.status in OPEN:
        return frozenset({"acknowledge"})
    if case.status not in WORKING or case.responder_id != me:
        return frozenset()
    actions = {"note", "follow_up", "handover", "resolve"}
    if case.reveal_allowed:
        actions.add("reveal")
        if case.status == "acknowledged":
            actions.add("contact")
    if case.severity == "critical":
        actions.add("safety_plan")
    return frozenset(actions)


@dataclass
class Parsed:
    """A form read: the body to send, or the error code of each field."""

    body: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


def _text(values: Mapping[str, str], name: str) -> str:
    return values.get(name, "").replace("\r\n", "\n").strip()


def _free_text(parsed: Parsed, values: Mapping[str, str], name: str, limit: int) -> str:
    text = _text(values, name)
    if len(text) > limit:
        parsed.errors[name] = "too_long"
    elif any(ord(c) < 32 and c not in "\n\t" for c in text):
        parsed.errors[name] = "invalid_text"
    return text


def parse_contact(values: Mapping[str, str]) -> Parsed:
    """First contact: its channel."""
    channel = values.get("channel", "")
    if channel not in CHANNELS:
        return Parsed(errors={"channel": "choose_channel"})
    return Parsed(body={"channel": channel})


def parse_note(values: Mapping[str, str]) -> Parsed:
    """A private note: 1 to 4,000 characters."""
    parsed = Parsed()
    text = _free_text(parsed, values, "text", NOTE_LIMIT)
    if not text:
        parsed.errors["text"] = "note_empty"
    parsed.body["text"] = text
    return parsed


def parse_safety_plan(values: Mapping[str, str]) -> Parsed:
    """Who to call and what helps: both needed, up to 2,000 characters each."""
    parsed = Parsed()
    for name in ("who_to_call", "what_helps"):
        text = _free_text(parsed, values, name, PLAN_LIMIT)
        if not text:
            parsed.errors.setdefault(name, "plan_empty")
        parsed.body[name] = text
    return parsed


def parse_handover(values: Mapping[str, str]) -> Parsed:
    """To a named responder or back to the rotation, with a coded reason and a note."""
    parsed = Parsed()
    to = values.get("to", "")
    if to == "person":
        person = _text(values, "to_person_id")
        if not person:
            parsed.errors["to_person_id"] = "person_missing"
        elif len(person) > PERSON_ID_LIMIT or any(c.isspace() for c in person):
            parsed.errors["to_person_id"] = "person_invalid"
        parsed.body["to_person_id"] = person
    elif to != "rotation":
        parsed.errors["to"] = "choose_handover"
    reason = values.get("reason", "")
    if reason not in HANDOVER_REASONS:
        parsed.errors["reason"] = "choose_reason"
    parsed.body["reason"] = reason
    note = _free_text(parsed, values, "note", NOTE_LIMIT)
    if note:
        parsed.body["note"] = note
    return parsed


def parse_follow_up(values: Mapping[str, str], now: datetime) -> tuple[datetime | None, Parsed]:
    """When to follow up: one of the offered intervals from now."""
    choice = values.get("when", "")
    if choice not in FOLLOW_UPS:
        return None, Parsed(errors={"when": "choose_when"})
    return now + FOLLOW_UPS[choice], Parsed(body={"when": choice})


def parse_outcome(values: Mapping[str, str]) -> Parsed:
    """How the case ended."""
    outcome = values.get("outcome", "")
    if outcome not in OUTCOMES:
        return Parsed(errors={"outcome": "choose_outcome"})
    return Parsed(body={"outcome": outcome})
