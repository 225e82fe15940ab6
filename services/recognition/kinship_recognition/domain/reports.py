"""Programme reports: participation, time to act, outcomes and satisfaction, by week.

Every figure describes a group, and a group is shown only when at least ``k`` (5) distinct
people contributed to it, or none did (an empty week reveals no one). Case figures are
reported for the whole organisation only: a team's cases are too few to hide anyone. A
whole-window figure is withheld whenever any week of the window is: otherwise two
overlapping windows could be subtracted to reveal the hidden week.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field

from kinship_contracts.pulse import PULSE_QUESTIONS

K_MIN = 5
"""The smallest group any report shows."""


@dataclass(frozen=True)
class Window:
    """Whole weeks (Monday to Sunday, UTC) from ``start`` up to, not including, ``end``."""

    start: date
    end: date

    @classmethod
    def ending_with(cls, today: date, weeks: int) -> "Window":
        """The ``weeks`` weeks up to and including the one ``today`` falls in."""
        end = today - timedelta(days=today.weekday()) + timedelta(weeks=1)
        return cls(end - timedelta(weeks=weeks), end)

    @property
    def start_time(self) -> datetime:
        return datetime.combine(self.start, time(), UTC)

    @property
    def end_time(self) -> datetime:
        return datetime.combine(self.end, time(), UTC)

    def weeks(self) -> list[date]:
        """The Mondays of the window's weeks, oldest first."""
        count = (self.end - self.start).days // 7
        return [self.start + timedelta(weeks=n) for n in range(count)]


@dataclass(frozen=True)
class Timing:
    """Seconds from a case opening to an action: median and 90th percentile."""

    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class ParticipationWeek:
    """Active directory members who checked in (``week`` None: over the whole window)."""

    week: date | None
    people: int


@dataclass(frozen=True)
class CaseWeek:
    """Cases opened in a week (or the window); ``people`` are the distinct people supported."""

    week: date | None
    opened: int
    people: int
    acknowledged: int
    time_to_acknowledge: Timing = field(default_factory=Timing)
    time_to_first_contact: Timing = field(default_factory=Timing)
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedbackWeek:
    """Feedback one side gave in a week (or the window)."""

    week: date | None
    given_by: str
    responses: int
    people: int
    mean: float


@dataclass(frozen=True)
class PulseWeek:
    """Pulse answers in a week (or the window): respondents and mean agreement (1-5)."""

    week: date | None
    respondents: int
    means: dict[str, float]


@dataclass(frozen=True)
class Sources:
    """What a report is built from: weekly rows and the same figures over the window."""

    window: Window
    members: int
    participation: Sequence[ParticipationWeek]
    cases: Sequence[CaseWeek]
    feedback: Sequence[FeedbackWeek]
    pulse: Sequence[PulseWeek]


class _Figures(BaseModel):
    model_config = ConfigDict(frozen=True)


class ParticipationFigures(_Figures):
    people: int = Field(description="Active members who checked in at least once.")
    members: int = Field(description="Active members in the directory now.")
    rate: float | None = Field(description="people / members.")


class TimingFigures(_Figures):
    median: float | None
    p90: float | None


class CaseFigures(_Figures):
    opened: int
    acknowledged: int
    time_to_acknowledge_seconds: TimingFigures
    time_to_first_contact_seconds: TimingFigures
    outcomes: dict[str, int]


class SatisfactionFigures(_Figures):
    responses: int
    mean_score: float = Field(description="Mean feedback score, 1-5.")


class PulseFigures(_Figures):
    respondents: int
    mean_agreement: dict[str, float] = Field(description="By question, 1-5.")


class Figures(_Figures):
    """One group's figures; a metric not shown is None and named in ``withheld``."""

    participation: ParticipationFigures | None = None
    cases: CaseFigures | None = None
    satisfaction: dict[str, SatisfactionFigures] = Field(
        default_factory=dict, description="By side: 'person' supported, 'responder'."
    )
    pulse: PulseFigures | None = None
    withheld: list[str] = Field(
        default_factory=list, description="Metrics not shown, each with the reason."
    )


class WeekFigures(Figures):
    week: date = Field(description="The Monday (UTC) the week starts on.")


class ProgrammeReport(_Figures):
    """A programme report for coordinators: aggregates only, every group k ≥ 5."""

    generated_at: datetime
    team_id: str | None = Field(description="The team reported on; None: the organisation.")
    k: int = Field(description="The smallest group shown.")
    start: date
    end: date = Field(description="The Monday after the last week reported.")
    weeks: list[WeekFigures]
    period: Figures = Field(
        description="The whole window; a metric is withheld when any of its weeks is."
    )
    questions: dict[str, str] = Field(description="The pulse questions, by answer field.")


def shown(contributors: int, k: int = K_MIN) -> bool:
    """Whether a group of ``contributors`` people may be shown: none, or at least ``k``."""
    return contributors == 0 or contributors >= k


@dataclass
class _Bucket:
    """One bucket being reported (a week, or the window when ``week`` is None): the metrics
    it withholds, and why.

    ``hidden`` names metrics withheld from some week: for the whole window they are withheld
    too.
    """

    week: date | None
    k: int
    hidden: set[str]
    withheld: list[str] = field(default_factory=list)
    hides: set[str] = field(default_factory=set)

    def withhold(self, metric: str, reason: str) -> None:
        self.withheld.append(f"{metric}: {reason}")
        self.hides.add(metric)

    def may_show(self, metric: str, people: int) -> bool:
        """Whether ``metric`` over ``people`` may be shown; otherwise it is withheld."""
        if self.week is None and metric in self.hidden:
            self.withhold(metric, "a week of the window is withheld")
            return False
        if not shown(people, self.k):
            self.withhold(metric, f"fewer than {self.k} people")
            return False
        return True


def _participation(bucket: _Bucket, sources: Sources) -> ParticipationFigures | None:
    people = next((p.people for p in sources.participation if p.week == bucket.week), 0)
    if not bucket.may_show("participation", people):
        return None
    rate = people / sources.members if sources.members else None
    return ParticipationFigures(people=people, members=sources.members, rate=rate)


def _cases(bucket: _Bucket, sources: Sources) -> CaseFigures | None:
    week = bucket.week
    row = next((c for c in sources.cases if c.week == week), CaseWeek(week, 0, 0, 0))
    if not bucket.may_show("cases", row.people):
        return None
    return CaseFigures(
        opened=row.opened,
        acknowledged=row.acknowledged,
        time_to_acknowledge_seconds=TimingFigures(
            median=row.time_to_acknowledge.median, p90=row.time_to_acknowledge.p90
        ),
        time_to_first_contact_seconds=TimingFigures(
            median=row.time_to_first_contact.median, p90=row.time_to_first_contact.p90
        ),
        outcomes=dict(sorted(row.outcomes.items())),
    )


def _satisfaction(bucket: _Bucket, sources: Sources) -> dict[str, SatisfactionFigures]:
    satisfaction: dict[str, SatisfactionFigures] = {}
    for side in ("person", "responder"):
        given = next(
            (f for f in sources.feedback if f.week == bucket.week and f.given_by == side), None
        )
        people = given.people if given is not None else 0
        if bucket.may_show(f"satisfaction.{side}", people) and given is not None:
            satisfaction[side] = SatisfactionFigures(
                responses=given.responses, mean_score=round(given.mean, 2)
            )
    return satisfaction


def _pulse(bucket: _Bucket, sources: Sources) -> PulseFigures | None:
    week = bucket.week
    answers = next((p for p in sources.pulse if p.week == week), PulseWeek(week, 0, {}))
    if not bucket.may_show("pulse", answers.respondents) or not answers.respondents:
        return None
    means = {name: round(value, 2) for name, value in answers.means.items()}
    return PulseFigures(respondents=answers.respondents, mean_agreement=means)


def _figures(
    week: date | None,
    sources: Sources,
    team_id: str | None,
    k: int,
    hidden: set[str],
) -> tuple[Figures, set[str]]:
    """One bucket's figures, and the metrics withheld from it."""
    bucket = _Bucket(week, k, hidden)
    participation = _participation(bucket, sources)
    cases = None
    satisfaction: dict[str, SatisfactionFigures] = {}
    if team_id is not None:
        bucket.withhold("cases", "reported for the whole organisation only")
        bucket.withhold("satisfaction", "reported for the whole organisation only")
    else:
        cases = _cases(bucket, sources)
        satisfaction = _satisfaction(bucket, sources)
    figures = Figures(
        participation=participation,
        cases=cases,
        satisfaction=satisfaction,
        pulse=_pulse(bucket, sources),
        withheld=bucket.withheld,
    )
    return figures, bucket.hides


def build_report(
    sources: Sources, team_id: str | None, generated_at: datetime, k: int = K_MIN
) -> ProgrammeReport:
    """The report: each week's figures, then the window's, every group k ≥ 5."""
    weeks: list[WeekFigures] = []
    hidden: set[str] = set()
    for monday in sources.window.weeks():
        figures, hides = _figures(monday, sources, team_id, k, set())
        weeks.append(WeekFigures(week=monday, **figures.model_dump()))
        hidden |= hides
    period, _ = _figures(None, sources, team_id, k, hidden)
    return ProgrammeReport(
        generated_at=generated_at,
        team_id=team_id,
        k=k,
        start=sources.window.start,
        end=sources.window.end,
        weeks=weeks,
        period=period,
        questions=PULSE_QUESTIONS,
    )
