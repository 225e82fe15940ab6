"""What the use cases send: case transitions on ``escalation.cases`` (saved and audited with
the case) and notification requests on ``notifications.requests``, signed for the
notifications service, through the outbox."""

from dataclasses import replace

from kinship_contracts.cases import CaseEvent
from kinship_contracts.links import REQUEST_SIGNATURE_HEADER, sign_request
from kinship_contracts.notifications import Alert, MessageKind, NotificationRequest, Recipient
from kinship_contracts.resources import SupportResource
from kinship_contracts.topics import ESCALATION_CASES, NOTIFICATION_REQUESTS
from kinship_escalation.domain.cases import AuditRecord, StoredCase
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_runtime.outbox import OutboxMessage, event_message

SOURCE = "kinship/escalation"


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
    assert message.value is not None
    signature = sign_request(ctx.request_key, message.value)
    return replace(
        message, headers=[*message.headers, (REQUEST_SIGNATURE_HEADER, signature.encode())]
    )


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
        await uow.cases.audit(AuditRecord.of(stored.case, event.kind.value, actor, event.sequence))
    await uow.publish([_case_message(ctx, event) for event in events])


async def request_notification(
    kind: MessageKind,
    recipient: Recipient,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    *,
    request_id: str,
    critical: bool = False,
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
        alert=alert,
        template=kind.value,
        params=params or {},
        resources=resources or [],
        case_id=case_id,
        created_at=ctx.clock(),
    )
    await uow.publish([_request_message(ctx, request)])
