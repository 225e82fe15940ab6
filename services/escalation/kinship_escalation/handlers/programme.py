"""Programme measures for coordinators: aggregates only, withheld below a minimum of cases."""

from typing import Any

from kinship_escalation.handlers.ports import EscalationUnitOfWork

MIN_CASES = 5
"""Fewer cases than this and the figures could point at individuals: they are withheld."""


async def programme_metrics(
    uow: EscalationUnitOfWork, min_cases: int = MIN_CASES
) -> dict[str, Any]:
    """Time to acknowledge and to first contact, escalation per step, outcomes, feedback."""
    return await uow.cases.programme_metrics(min_cases)
