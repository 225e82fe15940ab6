"""What people and systems do in the security tests: check in, open a case, send kudos."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

from tests.security.stack import Person, Stack, until

CRITICAL_PHQ9 = [0, 0, 0, 0, 0, 0, 0, 0, 2]
"""PHQ-9 with item 9 (thoughts of self-harm) answered: immediate risk, a critical case."""

ACK_LINK = re.compile(r"(http://127\.0\.0\.1:\d+/v1/alerts/([^/\s]+)/acknowledge)\?token=(\S+)")


def new_id(kind: str) -> str:
    """An event id that never contains anyone's id."""
    return f"{kind}-{uuid.uuid4().hex[:12]}"


def checkin_body(person: Person | str, **answers: Any) -> dict[str, Any]:
    """A check-in submission (``POST /v1/checkins``)."""
    person_id = person if isinstance(person, str) else person.id
    answers.setdefault("occurred_at", datetime.now(UTC).isoformat())
    return {"id": new_id("ck"), "person_id": person_id, "source": "security-suite", **answers}


async def check_in(stack: Stack, person: Person, **answers: Any) -> str:
    """``person`` checks in as themself; the check-in's id."""
    body = checkin_body(person, **answers)
    answer = await stack.call("POST", "checkin", "/v1/checkins", stack.bearer(person.id), json=body)
    assert answer.status_code == 202, answer.text
    return str(body["id"])


async def open_case(stack: Stack, person: Person, **answers: Any) -> str:
    """``person`` checks in showing immediate risk; the id of the case it opens."""
    await check_in(stack, person, phq9=CRITICAL_PHQ9, **answers)
    case_id = await until(lambda: case_of(stack, person), timeout=60)
    assert case_id, f"no case opened for {person.id}"
    return str(case_id)


async def case_of(stack: Stack, person: Person) -> str | None:
    """The id of the open case about ``person`` (through the vault's subject id)."""
    subject = await stack.subject_of(person.id)
    if subject is None:
        return None
    found = await stack.value(
        "escalation",
        "SELECT id FROM cases WHERE subject_id = $1 ORDER BY opened_at DESC LIMIT 1",
        subject,
    )
    return str(found) if found is not None else None


async def case_row(stack: Stack, case_id: str) -> dict[str, Any]:
    """The case as the escalation service stores it."""
    (row,) = await stack.rows(
        "escalation",
        "SELECT status, step, responder_id, alerted, acknowledged_at, contacted_at,"
        " resolved_at, outcome FROM cases WHERE id = $1",
        case_id,
    )
    return dict(row)


async def audit_rows(stack: Stack, case_id: str) -> list[tuple[str, str]]:
    """(action, actor) of every audit record about ``case_id``."""
    found = await stack.rows(
        "escalation",
        "SELECT action, actor FROM case_audit WHERE case_id = $1 OR $1 = ANY(case_ids)"
        " ORDER BY seq",
        case_id,
    )
    return [(row["action"], row["actor"]) for row in found]


async def alerted(stack: Stack, case_id: str) -> str:
    """The person alerted first about ``case_id``."""
    recipient = await until(
        lambda: stack.value(
            "escalation",
            "SELECT recipient_id FROM alerts WHERE case_id = $1 ORDER BY sent_at LIMIT 1",
            case_id,
        ),
        timeout=60,
    )
    assert recipient, f"nobody alerted about {case_id}"
    return str(recipient)


def text_of(message: Message) -> str:
    """An email's text (its single text part)."""
    payload = message.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(message.get_content_charset() or "utf-8")
    parts = [text_of(part) for part in message.walk() if part is not message]
    return "\n".join(parts)


async def alert_email(stack: Stack, case_id: str) -> tuple[str, str, str]:
    """The acknowledgement link the alerted responder received by email for ``case_id``:
    (the link without its token, the alert id, the token)."""

    def find() -> tuple[str, str, str] | None:
        for message in stack.smtp.messages:
            text = text_of(message)
            if f"Case {case_id}" in text:
                found = ACK_LINK.search(text)
                if found:
                    return found.group(1), found.group(2), found.group(3)
        return None

    link = await until(find, timeout=60)
    assert link, f"no alert email for {case_id}"
    return link  # type: ignore[no-any-return]


def kudos_body(sender: Person, to: Person, message: str) -> dict[str, Any]:
    """Kudos (``POST /v1/kudos``)."""
    return {
        "id": new_id("kudos"),
        "from_person_id": sender.id,
        "to_person_id": to.id,
        "message": message,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "security-suite",
    }


async def send_kudos(stack: Stack, sender: Person, to: Person, message: str) -> str:
    """``sender`` thanks ``to`` as themself; the kudos id."""
    body = kudos_body(sender, to, message)
    answer = await stack.call(
        "POST", "recognition", "/v1/kudos", stack.bearer(sender.id), json=body
    )
    assert answer.status_code == 202, answer.text
    return str(body["id"])


def pulse_body(person: Person | str, helps: int = 4, **extra: Any) -> dict[str, Any]:
    """Pulse answers (``POST /v1/pulse``)."""
    person_id = person if isinstance(person, str) else person.id
    return {
        "id": new_id("pulse"),
        "person_id": person_id,
        "survey_id": "security-suite",
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "security-suite",
        "answers": {"programme_helps": helps},
        **extra,
    }


async def deliveries_to(stack: Stack, person: Person) -> list[dict[str, Any]]:
    """Deliveries to ``person``: by person id, or by their subject id."""
    subject = await stack.subject_of(person.id)
    found = await stack.rows(
        "notifications",
        "SELECT id, kind, status, last_error FROM deliveries"
        " WHERE person_id = $1 OR request->'recipient'->>'person_id' = $1"
        " OR request->'recipient'->>'subject_id' = $2",
        person.id,
        subject or "-",
    )
    return [dict(row) for row in found]


def week_ago() -> str:
    """A time in the week before this one, whatever the day."""
    return (datetime.now(UTC) - timedelta(days=7)).isoformat()
