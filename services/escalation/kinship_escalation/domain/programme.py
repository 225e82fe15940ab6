"""Programme measures by closed week, safe against differencing (issue 11).

The service once served all-time running totals: read before and after one more feedback,
they gave that person's score (``n * mean_after - (n - 1) * mean_before``), and one more
resolved case its outcome. These measures are built so that no reading can be subtracted
from another:

- **Closed weeks only.** A week is an ISO week in UTC (Monday to Sunday); it is published
  once it has ended (and ``CLOSING_GRACE`` more, for a transaction stamped just before the
  end that commits just after). The week in progress is never published.
- **Bucketed by when this service recorded the fact.** A case counts in the week it opened,
  an acknowledgement or a first contact in the week it was recorded (the first of each per
  case; a stated earlier contact time changes the duration, not the week), an outcome in
  the week the case was resolved (each resolution of a case reopened counts in its own
  week), a feedback in the week it arrived. Every such time is the service's clock at the
  moment it happens, so nothing recorded later lands in a published week.
- **Erasure anonymises, never deletes, what is counted.** An erased person's cases keep
  their facts and feedback under a random stand-in subject of their own
  (``domain.cases.erased_subject``), so a week recomputed after an erasure equals the week
  computed before it. This matters beyond this service: the recognition service publishes
  the same cells (cases opened, each side's feedback) from its own copy, frozen at its own
  first read, and anonymises the same way (decision 76). ``handlers.programme`` also stores
  each closed week's figures when first served and serves that copy ever after (migration
  0011).
- **Each cell on its own, k or more people.** A week's cells (cases opened; acknowledged
  with the time to acknowledge; time to first contact; each outcome; each side's feedback)
  are each shown only when at least ``k`` distinct people (the cases' subjects) are in it,
  else ``"withheld"``. A fact belongs to exactly one cell, and no total is published (none
  across weeks, no resolved cases over the outcomes), so no released figure depends on a
  withheld cell's facts and none can be recovered by subtraction (of weeks as stored).
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from kinship_contracts.cases import CaseOutcome

K_MIN = 5
"""The smallest group shown: the recognition service's ``K_MIN`` (a test checks they agree)."""

DEFAULT_WEEKS = 12
MAX_WEEKS = 52

CLOSING_GRACE = timedelta(hours=1)
"""How long after its end a week is published: a fact stamped just before the end may be
committed just after it."""

Withheld = Literal["withheld"]
WITHHELD: Final[Withheld] = "withheld"

SIDES = ("person", "responder")
"""Who gives feedback: the person supported, the responder."""


class FactKind(StrEnum):
    """What happened, each counted in the week this service recorded it."""

    OPENED = "opened"
    ACKNOWLEDGED = "acknowledged"
    CONTACTED = "contacted"
    RESOLVED = "resolved"
    FEEDBACK = "feedback"


@dataclass(frozen=True)
class Fact:
    """One recorded fact about a case: never shown, only counted.

    ``subject``: whom the case is about (an erased person's stand-in, ``erased:<random>``,
    one per person; ``erased`` for cases anonymised before stand-ins: counted as one);
    ``seconds``: from the case opening, for an acknowledgement or first contact;
    ``label``: the outcome of a resolution, the side (``person``, ``responder``) of feedback;
    ``score``: a feedback's score (1-5).
    """

    kind: FactKind
    subject: str
    recorded_at: datetime
    seconds: float | None = None
    label: str | None = None
    score: int | None = None

    @property
    def cell(self) -> str:
        """The one cell of its week this fact counts in."""
        if self.kind in (FactKind.RESOLVED, FactKind.FEEDBACK):
            return f"{self.kind.value}:{self.label}"
        return self.kind.value


class _Figures(BaseModel):
    model_config = ConfigDict(frozen=True)


class Timing(_Figures):
    """Seconds from a case opening: median and 90th percentile (interpolated, as
    PostgreSQL's ``percentile_cont``)."""

    median: float
    p90: float


class FeedbackFigures(_Figures):
    count: int
    mean_score: float = Field(description="Mean score, 1-5.")


class WeekMeasures(_Figures):
    """One closed week; every cell is its figures or ``"withheld"`` (fewer than k people)."""

    week: date = Field(description="The Monday (UTC) the ISO week starts on.")
    iso_week: str = Field(description="The ISO week, e.g. 2026-W46.")
    cases_opened: int | Withheld
    acknowledged: int | Withheld = Field(description="Cases first acknowledged this week.")
    time_to_acknowledge_seconds: Timing | Withheld = Field(
        description="Of the cases first acknowledged this week."
    )
    time_to_first_contact_seconds: Timing | Withheld = Field(
        description="Of the first contacts recorded this week."
    )
    outcomes: dict[str, int | Withheld] = Field(
        description="Cases resolved this week, by outcome (every outcome listed)."
    )
    feedback: dict[str, FeedbackFigures | Withheld] = Field(
        description="Feedback that arrived this week, by side: 'person' supported, 'responder'."
    )


class ProgrammeMeasures(_Figures):
    """Programme measures for coordinators: closed weeks only, every cell k >= 5 people or
    withheld, no totals (nothing derivable by subtraction)."""

    k: int = Field(description="The smallest group shown.")
    start: date
    end: date = Field(description="The Monday after the last week reported.")
    weeks: list[WeekMeasures] = Field(description="Oldest first.")


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def closed_weeks(now: datetime, weeks: int) -> tuple[datetime, datetime]:
    """The start and end (UTC midnights, Mondays) of the ``weeks`` latest closed weeks."""
    end_day = monday_of((now.astimezone(UTC) - CLOSING_GRACE).date())
    end = datetime.combine(end_day, time(), UTC)
    return end - timedelta(weeks=weeks), end


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (PostgreSQL's ``percentile_cont``)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _timing(facts: Sequence[Fact]) -> Timing:
    seconds = [f.seconds for f in facts if f.seconds is not None]
    return Timing(median=round(percentile(seconds, 0.5), 1), p90=round(percentile(seconds, 0.9), 1))


def _week(monday: date, cells: dict[str, list[Fact]], k: int) -> WeekMeasures:
    def released(cell: str) -> list[Fact] | None:
        facts = cells.get(cell, [])
        return facts if len({f.subject for f in facts}) >= k else None

    opened = released(FactKind.OPENED.value)
    acknowledged = released(FactKind.ACKNOWLEDGED.value)
    contacted = released(FactKind.CONTACTED.value)
    outcomes: dict[str, int | Withheld] = {}
    for outcome in CaseOutcome:
        resolved = released(f"{FactKind.RESOLVED.value}:{outcome.value}")
        outcomes[outcome.value] = len(resolved) if resolved else WITHHELD
    feedback: dict[str, FeedbackFigures | Withheld] = {}
    for side in SIDES:
        given = released(f"{FactKind.FEEDBACK.value}:{side}")
        scores = [f.score for f in given or [] if f.score is not None]
        feedback[side] = (
            FeedbackFigures(count=len(scores), mean_score=round(sum(scores) / len(scores), 2))
            if scores
            else WITHHELD
        )
    year, number, _ = monday.isocalendar()
    return WeekMeasures(
        week=monday,
        iso_week=f"{year}-W{number:02d}",
        cases_opened=len(opened) if opened else WITHHELD,
        acknowledged=len(acknowledged) if acknowledged else WITHHELD,
        time_to_acknowledge_seconds=_timing(acknowledged) if acknowledged else WITHHELD,
        time_to_first_contact_seconds=_timing(contacted) if contacted else WITHHELD,
        outcomes=outcomes,
        feedback=feedback,
    )


def programme_measures(
    facts: Iterable[Fact], now: datetime, weeks: int = DEFAULT_WEEKS, k: int = K_MIN
) -> ProgrammeMeasures:
    """The ``weeks`` latest closed weeks' measures from the facts recorded in them; facts
    recorded at other times (the week in progress above all) are ignored, whatever the
    adapter hands over."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks is 1 to {MAX_WEEKS}")
    start, end = closed_weeks(now, weeks)
    by_week: dict[date, dict[str, list[Fact]]] = defaultdict(lambda: defaultdict(list))
    for fact in facts:
        if start <= fact.recorded_at < end:
            by_week[monday_of(fact.recorded_at.astimezone(UTC).date())][fact.cell].append(fact)
    mondays = [start.date() + timedelta(weeks=n) for n in range(weeks)]
    return ProgrammeMeasures(
        k=k,
        start=start.date(),
        end=end.date(),
        weeks=[_week(monday, by_week[monday], k) for monday in mondays],
    )
