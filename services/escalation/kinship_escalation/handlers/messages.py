"""What the use cases send: case transitions on ``escalation.cases`` (saved and audited with
the case) and notification requests on ``notifications.requests``, signed for the
notifications service, through the outbox."""

from dataclasses import replace

from kinship_contracts.cases import CaseEvent
from kinship_contracts.notifications import Alert, MessageKind, NotificationRequest, Recipient
from kinship_contracts.resources import SupportResource
from kinship_contracts.topics import ESCALATION_CASES, NOTIFICATION_REQUESTS
from kinship_escalation.domain.cases import AuditRecord, StoredCase
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_runtime.outbox import OutboxMessage, event_message, signed_request

SOURCE = "kinship/escalation"

SUBJECT_ACTOR = "subject"
"""How the audit trail names the person a case is about when they act on it (feedback, an
answer to a consent question): never by their person id, which next to the case's subject id
would link them to their pseudonym."""


def person_actor(person_id: str) -> str:
    """How the audit trail names a person acting (``Actor.audit_name`` of a person)."""
    return f"person:{person_id}"


def _case_message(ctx: EscalationContext, event: CaseEvent) -> OutboxMessage:
    return event_message(
        ctx.cases_topic,
        event.case_id,
        event,
        event_id=event.id,
        event_type=ESCALATION_CASES.event_type,
        source=SOURCE,
        time=event.occurred_at,
    )


def _request_message(ctx: EscalationContext, request: NotificationRequest) -> OutboxMessage:
    key = request.recipient.person_id or request.recipient.subject_id or request.id
    message = event_message(
        ctx.requests_topic,
        key,
        request,
        event_id=request.id,
        event_type=NOTIFICATION_REQUESTS.event_type,
        source=SOURCE,
        time=request.created_at,
    )
    # An urgent or critical request (a high-severity alert, crisis resources for a person at
    # immediate risk) takes the outbox's urgent lane: published before any backlog.
    lane = request.urgent or request.critical
    return replace(signed_request(message, ctx.request_key), urgent=lane)


async def record_transitions(
    stored: StoredCase,
    events: list[CaseEvent],
    actor: str,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> None:
    """Save the case, audit each transition with its actor, and publish the transitions."""
    await uow.cases.save(stored)
    for event in events:
        record = AuditRecord.of(
            stored.case, event.kind.value, actor, event.sequence, at=event.occurred_at
        )
        await uow.cases.audit(record)
    await uow.publish([_case_message(ctx, event) for event in events])


def with_details(events: list[CaseEvent], **details: object) -> list[CaseEvent]:
    """``events`` carrying more of what they are about (consent, channel, a coded reason, a
    follow-up time); never personal data."""
    return [event.model_copy(update=details) for event in events]


async def request_notification(
    kind: MessageKind,
    recipient: Recipient,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    *,
    request_id: str,
    critical: bool = False,
    urgent: bool = False,
    case_id: str | None = None,
    params: dict[str, str] | None = None,
    alert: Alert | None = None,
    resources: list[SupportResource] | None = None,
) -> None:
    """Ask the notifications service to send a message (``request_id`` makes it once)."""
    request = NotificationRequest(
        id=request_id,
        kind=kind,
        recipient=recipient,
        critical=critical,
        urgent=urgent,
        alert=alert,
        template=kind.value,
        params=params or {},
        resources=resources or [],
        case_id=case_id,
        created_at=ctx.clock(),
    )
    await uow.publish([_request_message(ctx, request)])
