"""The team trend chart's geometry: where each week's means and each withheld week go in an
SVG the page draws on the server (no script). Pure: numbers in, coordinates out.

Mood, stress and energy are means on the questionnaires' 1-5 scale, so they share one axis.
A withheld week is a shaded band with no point; lines never cross it, nor a week where a
figure is missing. The table beside the chart is its text alternative.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 16, 56
SCALE = (1.0, 5.0)
SERIES = ("mood", "stress", "energy")


@dataclass(frozen=True)
class ChartWeek:
    """A week's means, or ``withheld`` (fewer than k people, or hidden to protect another)."""

    week_start: date
    withheld: bool
    mood: float | None = None
    stress: float | None = None
    energy: float | None = None


@dataclass(frozen=True)
class Point:
    """A week's mean, placed."""

    x: float
    y: float
    value: float
    week_start: date


@dataclass(frozen=True)
class Line:
    """One figure across the weeks: its points and the runs of consecutive weeks joined."""

    key: str
    points: list[Point]
    paths: list[str]


@dataclass(frozen=True)
class Band:
    """A withheld week's place on the chart."""

    x: float
    width: float
    week_start: date


@dataclass(frozen=True)
class TrendChart:
    """Everything the template needs to draw the chart."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    lines: list[Line]
    withheld: list[Band]
    weeks: list[tuple[float, date]]
    """The x of each week's label."""
    levels: list[tuple[float, int]]
    """The y of each scale value (1 to 5)."""


def _y(value: float) -> float:
    low, high = SCALE
    return round(TOP + (HEIGHT - TOP - BOTTOM) * (high - value) / (high - low), 1)


def trend_chart(weeks: Sequence[ChartWeek]) -> TrendChart:
    """The chart of ``weeks`` (oldest first), one slot per week."""
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    slot = (right - LEFT) / max(len(weeks), 1)

    def centre(index: int) -> float:
        return round(LEFT + slot * (index + 0.5), 1)

    lines = []
    for key in SERIES:
        points: list[Point] = []
        paths: list[str] = []
        run: list[Point] = []
        for index, week in enumerate(weeks):
            value = None if week.withheld else getattr(week, key)
            if value is None:
                if run:
                    paths.append(_path(run))
                run = []
                continue
            point = Point(centre(index), _y(value), value, week.week_start)
            points.append(point)
            run.append(point)
        if run:
            paths.append(_path(run))
        lines.append(Line(key, points, [path for path in paths if " L" in path]))
    return TrendChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=right,
        top=TOP,
        bottom=bottom,
        lines=lines,
        withheld=[
            Band(round(LEFT + slot * index + 2, 1), round(slot - 4, 1), week.week_start)
            for index, week in enumerate(weeks)
            if week.withheld
        ],
        weeks=[(centre(index), week.week_start) for index, week in enumerate(weeks)],
        levels=[(_y(level), level) for level in range(int(SCALE[0]), int(SCALE[1]) + 1)],
    )


def _path(run: list[Point]) -> str:
    """An SVG path through the points (a single point draws no line: its marker shows it)."""
    head, *rest = run
    return f"M{head.x} {head.y}" + "".join(f" L{p.x} {p.y}" for p in rest)
