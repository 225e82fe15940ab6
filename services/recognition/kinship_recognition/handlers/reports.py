"""Programme reports for coordinators: closed weeks only, every group k ≥ 5, nothing
derivable by subtraction (``domain.reports``), and their chart."""

from datetime import datetime

from kinship_recognition.domain.reports import ProgrammeReport, Sources, Window, build_report
from kinship_recognition.handlers.ports import ChartFormat, ChartRenderer, RecognitionUnitOfWork


async def programme_report(
    uow: RecognitionUnitOfWork, weeks: int, team_id: str | None, now: datetime
) -> ProgrammeReport:
    """The programme report for the last ``weeks`` closed weeks.

    Every team's weekly figures are read whichever report is asked for: the decision of what
    to withhold is made over all of them, so the organisation's report and each team's agree.
    """
    window = Window.closed(now, weeks)
    sources = Sources(
        window=window,
        members=await uow.members(team_id),
        participation=[
            *await uow.participation(window, by_week=True),
            *await uow.participation(window, by_week=False),
        ],
        cases=[*await uow.cases(window, by_week=True), *await uow.cases(window, by_week=False)],
        feedback=[
            *await uow.feedback(window, by_week=True),
            *await uow.feedback(window, by_week=False),
        ],
        pulse=[
            *await uow.pulse(window, by_week=True),
            *await uow.pulse(window, by_week=False),
        ],
        team_participation=await uow.team_participation(window),
        team_pulse=await uow.team_pulse(window),
    )
    return build_report(sources, team_id, generated_at=now)


async def programme_chart(report: ProgrammeReport, chart: ChartRenderer, fmt: ChartFormat) -> bytes:
    """The report's weekly trends drawn as a chart (withheld weeks are gaps, never zeros)."""
    return await chart.render(report, fmt)
