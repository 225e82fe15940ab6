"""The programme report drawn as a chart (SVG or PNG) with matplotlib, so coordinators can
look rather than read.

Withheld weeks are gaps in the lines, never zeros: a gap says "fewer than k people", a zero
would say something untrue. Figures are drawn with matplotlib's object API (no pyplot
state), so charts are rendered in worker threads, off the event loop.
"""

import asyncio
import io
import math
from datetime import timedelta

import matplotlib
from matplotlib.figure import Figure

from kinship_recognition.domain.reports import ProgrammeReport
from kinship_recognition.handlers.ports import ChartFormat

matplotlib.use("Agg")  # no display: files only
matplotlib.rcParams["svg.fonttype"] = "none"  # real text: searchable, accessible, smaller


def _value(value: float | None) -> float:
    return math.nan if value is None else value


def render(report: ProgrammeReport, fmt: ChartFormat) -> bytes:
    """The report's weekly trends in three panels: participation, time to acknowledge,
    satisfaction and pulse agreement."""
    labels = [week.week.isoformat() for week in report.weeks]
    participation = [
        w.participation.rate * 100
        if w.participation is not None and w.participation.rate is not None
        else math.nan
        for w in report.weeks
    ]
    ack = [
        _value(w.cases.time_to_acknowledge_seconds.median) / 60 if w.cases else math.nan
        for w in report.weeks
    ]
    person = [
        w.satisfaction["person"].mean_score if "person" in w.satisfaction else math.nan
        for w in report.weeks
    ]
    pulse = [
        sum(w.pulse.mean_agreement.values()) / len(w.pulse.mean_agreement)
        if w.pulse and w.pulse.mean_agreement
        else math.nan
        for w in report.weeks
    ]

    figure = Figure(figsize=(9, 8), layout="constrained")
    scope = f"team {report.team_id}" if report.team_id else "the organisation"
    last_day = report.end - timedelta(days=1)
    figure.suptitle(
        f"Kinship programme report: {scope}, {report.start} to {last_day}\n"
        f"Gaps: weeks where fewer than {report.k} people contributed are not shown",
        fontsize=11,
    )
    top, middle, bottom = figure.subplots(3, 1, sharex=True)
    top.plot(labels, participation, marker="o", color="#2a7f62", label="checked in")
    top.set_ylabel("participation (%)")
    top.set_ylim(0, 100)
    middle.plot(labels, ack, marker="o", color="#c05a2b", label="median")
    middle.set_ylabel("time to acknowledge (min)")
    middle.set_ylim(bottom=0)
    bottom.plot(labels, person, marker="o", color="#3b5ba5", label="case feedback")
    bottom.plot(labels, pulse, marker="s", color="#8a4fa3", label="pulse agreement")
    bottom.set_ylabel("score (1-5)")
    bottom.set_ylim(1, 5)
    bottom.legend(loc="lower left")
    bottom.tick_params(axis="x", labelrotation=45)
    bottom.set_xlabel("week starting (Monday, UTC)")
    for axes, values in ((top, participation), (middle, ack), (bottom, person + pulse)):
        axes.grid(alpha=0.3)
        if all(math.isnan(value) for value in values):
            axes.text(
                0.5,
                0.5,
                f"nothing to show: none yet, or fewer than {report.k} people each week",
                transform=axes.transAxes,
                ha="center",
                va="center",
                color="#666666",
            )
    if all(math.isnan(value) for value in ack):
        middle.set_ylim(0, 10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()


class MatplotlibChart:
    """Draws programme reports with matplotlib (implements ``handlers.ports.ChartRenderer``)."""

    async def render(self, report: ProgrammeReport, fmt: ChartFormat) -> bytes:
        """The chart, drawn in a worker thread: a drawing takes tens of milliseconds."""
        return await asyncio.to_thread(render, report, fmt)
