"""Programme measures for coordinators and reporting systems: closed weeks only, every cell
k >= 5 people or withheld (``domain.programme``), each week frozen the first time it is served.

A closed week is computed once, stored (its released figures only: aggregates and withheld
cells, no ids) and served from the store ever after. Recomputed on each read, a week read
before and after someone's erasure (which deletes their feedback) gave their score by
subtraction; erasure leaves stored weeks alone, as they hold no personal data.
"""

from datetime import UTC, datetime, time, timedelta

from kinship_escalation.domain.programme import (
    K_MIN,
    ProgrammeMeasures,
    closed_weeks,
    programme_measures,
)
from kinship_escalation.handlers.ports import EscalationUnitOfWork


async def programme_report(
    uow: EscalationUnitOfWork, weeks: int, now: datetime
) -> ProgrammeMeasures:
    """The ``weeks`` latest closed weeks' measures as of ``now``: the stored copy of each week
    served before, the others computed from the facts and stored (in ``uow``'s transaction)."""
    frame = programme_measures([], now, weeks)  # checks weeks; its Mondays
    start, end = closed_weeks(now, weeks)
    mondays = [week.week for week in frame.weeks]
    stored = await uow.cases.released_weeks(start.date(), end.date())
    missing = [monday for monday in mondays if monday not in stored]
    if missing:
        first = datetime.combine(missing[0], time(), UTC)
        last = datetime.combine(missing[-1], time(), UTC) + timedelta(weeks=1)
        facts = await uow.cases.programme_facts(first, last)
        computed = programme_measures(facts, now, weeks)
        await uow.cases.release_weeks([w for w in computed.weeks if w.week in missing], now)
        # Read back: a concurrent first read may have stored a week first; its copy wins.
        stored = await uow.cases.released_weeks(start.date(), end.date())
    return ProgrammeMeasures(
        k=K_MIN, start=start.date(), end=end.date(), weeks=[stored[m] for m in mondays]
    )
