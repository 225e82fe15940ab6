"""Programme reports for coordinators: closed weeks only, every group k ≥ 5, nothing
derivable by subtraction (``domain.reports``), each week frozen the first time it is served,
and their chart.

A closed week is released once, for the organisation and every team together, stored (its
released figures only: aggregates and withheld cells, no ids) and every later report of any
group is cut from the stored copy; erasure leaves stored weeks alone, as they hold no
personal data. Erasure also anonymises rather than deletes what a week counts, so a week
first computed after an erasure is the one it would have been before (decision 76).
"""

from datetime import datetime, timedelta

from kinship_recognition.domain.reports import (
    ProgrammeReport,
    Sources,
    Window,
    release_weeks,
    report_of,
)
from kinship_recognition.handlers.ports import ChartFormat, ChartRenderer, RecognitionUnitOfWork


async def programme_report(
    uow: RecognitionUnitOfWork, weeks: int, team_id: str | None, now: datetime
) -> ProgrammeReport:
    """The programme report for the last ``weeks`` closed weeks as of ``now``: the stored
    copy of each week served before, the others released from the facts and stored (in
    ``uow``'s transaction).

    Every team's weekly figures are read whichever report is asked for: the decision of what
    to withhold is made over all of them and stored with the week, so the organisation's
    report and each team's agree, before an erasure and after it.
    """
    window = Window.closed(now, weeks)
    stored = await uow.released_weeks(window)
    missing = [monday for monday in window.weeks() if monday not in stored]
    if missing:
        unserved = Window(missing[0], missing[-1] + timedelta(weeks=1))
        sources = Sources(
            window=unserved,
            members=0,
            participation=await uow.participation(unserved),
            cases=await uow.cases(unserved),
            feedback=await uow.feedback(unserved),
            pulse=await uow.pulse(unserved),
            team_participation=await uow.team_participation(unserved),
            team_pulse=await uow.team_pulse(unserved),
        )
        released = [week for week in release_weeks(sources) if week.week in missing]
        await uow.release_weeks(released, now)
        # Read back: a concurrent first reading may have stored a week first; its copy wins.
        stored = await uow.released_weeks(window)
    return report_of(
        window,
        [stored[monday] for monday in window.weeks()],
        team_id,
        await uow.members(team_id),
        generated_at=now,
    )


async def programme_chart(report: ProgrammeReport, chart: ChartRenderer, fmt: ChartFormat) -> bytes:
    """The report's weekly trends drawn as a chart (withheld weeks are gaps, never zeros)."""
    return await chart.render(report, fmt)
