"""Programme measures for coordinators and reporting systems: closed weeks only, every cell
k >= 5 people or withheld (``domain.programme``)."""

from datetime import datetime

from kinship_escalation.domain.programme import (
    ProgrammeMeasures,
    closed_weeks,
    programme_measures,
)
from kinship_escalation.handlers.ports import EscalationUnitOfWork


async def programme_report(
    uow: EscalationUnitOfWork, weeks: int, now: datetime
) -> ProgrammeMeasures:
    """The ``weeks`` latest closed weeks' measures as of ``now``."""
    start, end = closed_weeks(now, weeks)
    facts = await uow.cases.programme_facts(start, end)
    return programme_measures(facts, now, weeks)
