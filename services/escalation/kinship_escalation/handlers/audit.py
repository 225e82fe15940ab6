"""The coordinator's audit log: who read or did what, when, newest first.

For coordinators only (the HTTP route admits people with the coordinator role, never a
calling system's key). It shows each record's time, action, actor and case (for a list
read, how many cases it returned), never whom a case concerns or what anyone wrote.
Reading the log is itself audited: one record per page, naming the reader.
"""

from dataclasses import dataclass

from kinship_escalation.domain.cases import AuditEntry, AuditFilter, AuditRecord
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import person_actor
from kinship_escalation.handlers.ports import EscalationUnitOfWork

MAX_PAGE = 200
"""The most records one page holds."""
READ_ACTION = "audit_read"
"""The action of the record a page read leaves."""


@dataclass(frozen=True)
class AuditPage:
    """One page of the audit log, and the cursor of the next (older) page, if any."""

    entries: list[AuditEntry]
    older: int | None
    """Pass as ``before`` for the next page (None: this is the oldest page)."""


async def read_audit(
    query: AuditFilter,
    limit: int,
    reader: str,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> AuditPage:
    """A page of the audit trail matching ``query``, newest first, read by the coordinator
    ``reader`` (a person id); the read is recorded."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    found = await uow.cases.audit_log(query, limit + 1)
    entries = found[:limit]
    older = entries[-1].seq if len(found) > limit else None
    await uow.cases.audit(AuditRecord(READ_ACTION, person_actor(reader), (), (), at=ctx.clock()))
    return AuditPage(entries, older)
