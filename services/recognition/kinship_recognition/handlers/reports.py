"""Programme reports for coordinators: figures by week, every group k ≥ 5, and their chart."""

from datetime import datetime

from kinship_recognition.domain.reports import ProgrammeReport, Sources, Window, build_report
from kinship_recognition.handlers.ports import ChartFormat, ChartRenderer, RecognitionUnitOfWork


async def programme_report(
    uow: RecognitionUnitOfWork, weeks: int, team_id: str | None, now: datetime
) -> ProgrammeReport:
    """The programme report for the last ``weeks`` weeks (this one included), k ≥ 5."""
    window = Window.ending_with(now.date(), weeks)
    sources = Sources(
        window=window,
        members=await uow.members(team_id),
        participation=[
            *await uow.participation(window, team_id, by_week=True),
            *await uow.participation(window, team_id, by_week=False),
        ],
        cases=[*await uow.cases(window, by_week=True), *await uow.cases(window, by_week=False)],
        feedback=[
            *await uow.feedback(window, by_week=True),
            *await uow.feedback(window, by_week=False),
        ],
        pulse=[
            *await uow.pulse(window, team_id, by_week=True),
            *await uow.pulse(window, team_id, by_week=False),
        ],
    )
    return build_report(sources, team_id, generated_at=now)


async def programme_chart(report: ProgrammeReport, chart: ChartRenderer, fmt: ChartFormat) -> bytes:
    """The report's weekly trends drawn as a chart (withheld weeks are gaps, never zeros)."""
    return await chart.render(report, fmt)
