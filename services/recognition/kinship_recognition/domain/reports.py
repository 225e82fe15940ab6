"""Programme reports: participation, time to act, outcomes and satisfaction, by week.

Every figure describes a group, and a group is shown only when at least ``k`` (5) distinct
people contributed to it, or none did (an empty week reveals no one). Three further rules
make sure no figure can be worked out from the others (differencing):

- **Closed weeks only.** A report covers weeks that have ended (and a day more, for the
  people whose local week ends after the UTC one and for late events); the week in progress
  is never published, so reading a report before and after one more response shows nothing.
  The adapter counts a fact in its week only if it was recorded before the week closed, so
  a published week never changes.
- **Complementary suppression across teams.** Participation and pulse are reported for the
  organisation and per team; in every week the organisation's figure minus the teams shown
  must cover no one or at least ``k`` people. When a team is withheld, more teams are
  withheld (smallest first) until the withheld ones cover ``k`` people, or else the
  organisation's figure is withheld (``release``). Every report (the organisation's or any
  team's) is cut from the same decision, so no two reports disagree about what is hidden.
- **A week once released never changes, erasure included.** Erasure anonymises, never
  deletes, the check-in weeks, pulse answers, feedback and case facts a week counts
  (``domain.anonymise``), so a week recomputed after it equals the week before it — and
  equals the escalation service's copy of the cells both publish (feedback per side, cases
  opened), however their first reads fall around an erasure. The first time a closed week
  is served, its released figures, for the organisation and for every team at
  once (one complementary-suppression decision), are stored (``ReleasedWeek``, migration
  0006) and every later report of any group is cut from that copy (``report_of``). Only the
  directory's count of members (and so the participation rate) is read as it is now.
- **Windows add nothing.** A whole-window figure is shown for the organisation only, only
  when every week of the window is shown, and only as a sum of the weeks as released (cases
  opened, acknowledged and by outcome; feedback responses and their mean): two windows'
  figures then differ by shown weeks only, and an erasure changes none. What cannot be
  added up from released weeks (people or respondents over several weeks, percentiles) is
  withheld for the window. Team figures are weekly only, and case figures are for the whole
  organisation only (a team's cases are too few to hide anyone).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field

from kinship_contracts.pulse import PULSE_QUESTIONS

K_MIN = 5
"""The smallest group any report shows."""

CLOSING_DELAY = timedelta(days=1)
"""How long after its last UTC day a week is published: the latest local time zones end
their week up to 14 hours later, and events may arrive a little late."""


def monday_of(day: date) -> date:
    """The Monday of the week ``day`` falls in."""
    return day - timedelta(days=day.weekday())


def closes_at(week: date) -> datetime:
    """When the week starting on Monday ``week`` closes: after this it is published, and
    facts recorded later no longer count in it."""
    return datetime.combine(week + timedelta(weeks=1), time(), UTC) + CLOSING_DELAY


@dataclass(frozen=True)
class Window:
    """Whole weeks (Monday to Sunday, UTC) from ``start`` up to, not including, ``end``."""

    start: date
    end: date

    @classmethod
    def closed(cls, now: datetime, weeks: int) -> "Window":
        """The ``weeks`` most recent weeks that have closed by ``now``."""
        end = monday_of((now.astimezone(UTC) - CLOSING_DELAY).date())
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
    """People who checked in during ``week``, in the whole organisation."""

    week: date
    people: int


@dataclass(frozen=True)
class TeamParticipation:
    """People of one team who checked in during ``week`` (the team on their check-in;
    ``team_id`` None: people whose team was not known). Per week, people fall in one team."""

    week: date
    team_id: str | None
    people: int


@dataclass(frozen=True)
class CaseWeek:
    """Cases opened in a week; ``people`` are the distinct people supported."""

    week: date
    opened: int
    people: int
    acknowledged: int
    time_to_acknowledge: Timing = field(default_factory=Timing)
    time_to_first_contact: Timing = field(default_factory=Timing)
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedbackWeek:
    """Feedback one side gave in a week."""

    week: date
    given_by: str
    responses: int
    people: int
    mean: float


@dataclass(frozen=True)
class PulseWeek:
    """Pulse answers in the organisation in a week: respondents and mean agreement (1-5) per
    question."""

    week: date
    respondents: int
    means: dict[str, float]


@dataclass(frozen=True)
class TeamPulse:
    """Pulse answers of one team in a week (``team_id`` None: no team known). Per week, a
    respondent's answers all count for one team (the team of their latest answer)."""

    week: date
    team_id: str | None
    respondents: int
    means: dict[str, float]


@dataclass(frozen=True)
class Sources:
    """What weeks are released from: the organisation's weekly rows and each team's (for
    complementary suppression, whichever report is asked for). ``members``: active people
    of the organisation or of the team reported on (``build_report``)."""

    window: Window
    members: int
    participation: Sequence[ParticipationWeek]
    cases: Sequence[CaseWeek]
    feedback: Sequence[FeedbackWeek]
    pulse: Sequence[PulseWeek]
    team_participation: Sequence[TeamParticipation] = ()
    team_pulse: Sequence[TeamPulse] = ()


class _Figures(BaseModel):
    model_config = ConfigDict(frozen=True)


class ParticipationFigures(_Figures):
    people: int = Field(description="People who checked in at least once.")
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
    """A programme report for coordinators: aggregates only, every group k ≥ 5, closed
    weeks only, nothing derivable by subtraction."""

    generated_at: datetime
    team_id: str | None = Field(description="The team reported on; None: the organisation.")
    k: int = Field(description="The smallest group shown.")
    start: date
    end: date = Field(description="The Monday after the last week reported (a closed week).")
    weeks: list[WeekFigures]
    period: Figures = Field(
        description="The whole window (the organisation only); a metric is withheld when "
        "any of its weeks is."
    )
    questions: dict[str, str] = Field(description="The pulse questions, by answer field.")


def shown(contributors: int, k: int = K_MIN) -> bool:
    """Whether a group of ``contributors`` people may be shown: none, or at least ``k``."""
    return contributors == 0 or contributors >= k


TOO_FEW = "fewer than {k} people"
COMPLEMENTARY = "withheld so that a smaller group cannot be worked out by subtraction"
HIDDEN_WEEK = "a week of the window is withheld"
NOT_ADDED_UP = (
    "counted week by week only: a figure over several weeks is not derived from the weeks "
    "as released"
)
ORGANISATION_ONLY = "reported for the whole organisation only"
TEAM_WEEKS_ONLY = "a team's figures are reported week by week only"


@dataclass(frozen=True)
class Release:
    """What may be shown of one metric in one week: the organisation's figure, and which
    teams' figures; with the reason for each group withheld (``None``: the organisation)."""

    total: bool
    teams: frozenset[str]
    reasons: Mapping[str | None, str]

    def team_shown(self, team_id: str) -> bool:
        """Whether ``team_id``'s figure may be shown (a team with no one in it may)."""
        return team_id not in self.reasons


def release(total: int, groups: Mapping[str | None, int], k: int = K_MIN) -> Release:
    """Complementary suppression of one metric in one week.

    ``groups`` splits the ``total`` people of the organisation by team (``None``: people
    whose team is not known, never shown on their own). A team of one to ``k - 1`` people is
    withheld. Then the organisation's figure minus every team shown is what subtraction
    reveals: it must cover no one or at least ``k`` people. Until it does, the smallest team
    still shown is withheld too (ties by id); when no team is left to withhold, the
    organisation's figure is withheld instead.
    """
    reasons: dict[str | None, str] = {}
    if not shown(total, k):
        reasons[None] = TOO_FEW.format(k=k)
    for team, people in groups.items():
        if team is not None and not shown(people, k):
            reasons[team] = TOO_FEW.format(k=k)
    visible = {team: people for team, people in groups.items() if team is not None}
    hidden = total - sum(people for team, people in visible.items() if team not in reasons)
    candidates = sorted(
        (people, team) for team, people in visible.items() if team not in reasons and people
    )
    while None not in reasons and 0 < hidden < k:
        if not candidates:
            reasons[None] = COMPLEMENTARY
            break
        people, team = candidates.pop(0)
        reasons[team] = COMPLEMENTARY
        hidden += people
    teams = frozenset(team for team in visible if team not in reasons)
    return Release(total=None not in reasons, teams=teams, reasons=reasons)


@dataclass
class _Bucket:
    """One week being released: the metrics it withholds, and why."""

    week: date
    k: int
    withheld: list[str] = field(default_factory=list)

    def withhold(self, metric: str, reason: str) -> None:
        self.withheld.append(f"{metric}: {reason}")

    def may_show(self, metric: str, people: int) -> bool:
        """Whether ``metric`` over ``people`` may be shown; otherwise it is withheld."""
        if not shown(people, self.k):
            self.withhold(metric, TOO_FEW.format(k=self.k))
            return False
        return True


@dataclass(frozen=True)
class _Reporting:
    """What the figures of one group need besides the bucket."""

    sources: Sources
    team_id: str | None
    k: int
    releases: Mapping[tuple[str, date], Release]


def releases_of(sources: Sources, k: int = K_MIN) -> dict[tuple[str, date], Release]:
    """The complementary-suppression decision of every team metric in every week."""
    decided: dict[tuple[str, date], Release] = {}
    for monday in sources.window.weeks():
        people = next((p.people for p in sources.participation if p.week == monday), 0)
        teams = {p.team_id: p.people for p in sources.team_participation if p.week == monday}
        decided["participation", monday] = release(people, teams, k)
        respondents = next((p.respondents for p in sources.pulse if p.week == monday), 0)
        answered = {p.team_id: p.respondents for p in sources.team_pulse if p.week == monday}
        decided["pulse", monday] = release(respondents, answered, k)
    return decided


def _released(metric: str, bucket: _Bucket, reporting: _Reporting) -> bool:
    """Whether complementary suppression lets ``metric`` of the report's group be shown."""
    decision = reporting.releases[metric, bucket.week]
    group = reporting.team_id
    if group is None and not decision.total:
        bucket.withhold(metric, decision.reasons[None])
        return False
    if group is not None and not decision.team_shown(group):
        bucket.withhold(metric, decision.reasons[group])
        return False
    return True


def _participation(bucket: _Bucket, reporting: _Reporting) -> ParticipationFigures | None:
    sources = reporting.sources
    if not _released("participation", bucket, reporting):
        return None
    if reporting.team_id is None:
        rows = [(p.week, p.people) for p in sources.participation]
    else:
        rows = [
            (p.week, p.people) for p in sources.team_participation if p.team_id == reporting.team_id
        ]
    people = next((count for week, count in rows if week == bucket.week), 0)
    if not bucket.may_show("participation", people):
        return None
    return _participation_of(people, sources.members)


def _participation_of(people: int, members: int) -> ParticipationFigures:
    return ParticipationFigures(
        people=people, members=members, rate=people / members if members else None
    )


def _cases(bucket: _Bucket, reporting: _Reporting) -> CaseFigures | None:
    week = bucket.week
    cases = reporting.sources.cases
    row = next((c for c in cases if c.week == week), CaseWeek(week, 0, 0, 0))
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


SIDES = ("person", "responder")
"""Who gives feedback: the person supported, the responder."""


def _satisfaction(bucket: _Bucket, reporting: _Reporting) -> dict[str, SatisfactionFigures]:
    satisfaction: dict[str, SatisfactionFigures] = {}
    for side in SIDES:
        given = next(
            (f for f in reporting.sources.feedback if f.week == bucket.week and f.given_by == side),
            None,
        )
        people = given.people if given is not None else 0
        if bucket.may_show(f"satisfaction.{side}", people) and given:
            satisfaction[side] = SatisfactionFigures(
                responses=given.responses, mean_score=round(given.mean, 2)
            )
    return satisfaction


def _pulse(bucket: _Bucket, reporting: _Reporting) -> PulseFigures | None:
    sources = reporting.sources
    if not _released("pulse", bucket, reporting):
        return None
    if reporting.team_id is None:
        rows = [(p.week, p.respondents, p.means) for p in sources.pulse]
    else:
        rows = [
            (p.week, p.respondents, p.means)
            for p in sources.team_pulse
            if p.team_id == reporting.team_id
        ]
    found = next((row for row in rows if row[0] == bucket.week), (bucket.week, 0, {}))
    _, respondents, means = found
    if not bucket.may_show("pulse", respondents) or not respondents:
        return None
    rounded = {name: round(value, 2) for name, value in means.items()}
    return PulseFigures(respondents=respondents, mean_agreement=rounded)


def _figures(week: date, reporting: _Reporting) -> Figures:
    """One group's figures in one week."""
    bucket = _Bucket(week, reporting.k)
    participation = _participation(bucket, reporting)
    cases = None
    satisfaction: dict[str, SatisfactionFigures] = {}
    if reporting.team_id is not None:
        bucket.withhold("cases", ORGANISATION_ONLY)
        bucket.withhold("satisfaction", ORGANISATION_ONLY)
    else:
        cases = _cases(bucket, reporting)
        satisfaction = _satisfaction(bucket, reporting)
    return Figures(
        participation=participation,
        cases=cases,
        satisfaction=satisfaction,
        pulse=_pulse(bucket, reporting),
        withheld=bucket.withheld,
    )


def _in_window(sources: Sources) -> Sources:
    """The sources' weekly rows of the window's weeks only (never the open week, never a
    whole-window row): whatever an adapter hands over, only closed weeks are released."""
    weeks = set(sources.window.weeks())
    return Sources(
        window=sources.window,
        members=sources.members,
        participation=[p for p in sources.participation if p.week in weeks],
        cases=[c for c in sources.cases if c.week in weeks],
        feedback=[f for f in sources.feedback if f.week in weeks],
        pulse=[p for p in sources.pulse if p.week in weeks],
        team_participation=[p for p in sources.team_participation if p.week in weeks],
        team_pulse=[p for p in sources.team_pulse if p.week in weeks],
    )


class ReleasedWeek(_Figures):
    """One closed week as first released: the organisation's figures and those of every team
    with anyone in it that week, cut from one complementary-suppression decision. Stored the
    first time the week is served (migration 0006) and every later report is cut from it, so
    an erasure changes no released figure. Aggregates only (k ≥ 5 or withheld, with the
    reason), no person or subject id: not personal data, and erasure leaves it.

    Participation's ``members`` and ``rate`` are the directory's as it is when served
    (``report_of``): they are stored as 0 and None.
    """

    week: date = Field(description="The Monday (UTC) the week starts on.")
    organisation: Figures
    teams: dict[str, Figures] = Field(
        default_factory=dict, description="By team id; a team not here had no one that week."
    )

    def of(self, team_id: str | None, k: int = K_MIN) -> Figures:
        """The figures of the organisation (``team_id`` None) or one team."""
        if team_id is None:
            return self.organisation
        found = self.teams.get(team_id)
        return found if found is not None else _nobody(self.week, team_id, k)


def _nobody(week: date, team_id: str, k: int) -> Figures:
    """A team's figures in a week no one of it took part in (what the week's sources give)."""
    empty = Sources(Window(week, week + timedelta(weeks=1)), 0, [], [], [], [])
    return _figures(week, _Reporting(empty, team_id, k, releases_of(empty, k)))


def release_weeks(sources: Sources, k: int = K_MIN) -> list[ReleasedWeek]:
    """Each week of the sources' window as released: every group k ≥ 5 or withheld, and no
    group recoverable by subtraction from the others (one decision per week for all)."""
    sources = replace(_in_window(sources), members=0)
    releases = releases_of(sources, k)
    released: list[ReleasedWeek] = []
    for monday in sources.window.weeks():
        named = [(p.week, p.team_id) for p in sources.team_participation]
        named += [(p.week, p.team_id) for p in sources.team_pulse]
        teams = sorted({team for week, team in named if week == monday and team is not None})
        released.append(
            ReleasedWeek(
                week=monday,
                organisation=_figures(monday, _Reporting(sources, None, k, releases)),
                teams={t: _figures(monday, _Reporting(sources, t, k, releases)) for t in teams},
            )
        )
    return released


def _hidden(weeks: Sequence[Figures]) -> set[str]:
    """The metrics withheld from any of ``weeks`` (``satisfaction.person``, ``pulse``...)."""
    return {entry.split(": ", 1)[0] for week in weeks for entry in week.withheld}


def _added_cases(weeks: Sequence[Figures]) -> CaseFigures:
    """Cases over the weeks shown: counts added up; percentiles are not (None)."""
    shown_cases = [week.cases for week in weeks if week.cases is not None]
    outcomes: dict[str, int] = {}
    for figures in shown_cases:
        for outcome, count in figures.outcomes.items():
            outcomes[outcome] = outcomes.get(outcome, 0) + count
    return CaseFigures(
        opened=sum(figures.opened for figures in shown_cases),
        acknowledged=sum(figures.acknowledged for figures in shown_cases),
        time_to_acknowledge_seconds=TimingFigures(median=None, p90=None),
        time_to_first_contact_seconds=TimingFigures(median=None, p90=None),
        outcomes=dict(sorted(outcomes.items())),
    )


def _added_satisfaction(weeks: Sequence[Figures], side: str) -> SatisfactionFigures | None:
    """One side's feedback over the weeks: responses added up, their mean weighted by them
    (from the weeks' released means); None when there was none."""
    given = [week.satisfaction[side] for week in weeks if side in week.satisfaction]
    responses = sum(figures.responses for figures in given)
    if not responses:
        return None
    total = sum(figures.responses * figures.mean_score for figures in given)
    return SatisfactionFigures(responses=responses, mean_score=round(total / responses, 2))


def _period(weeks: Sequence[Figures], team_id: str | None) -> Figures:
    """The whole window's figures, added up from its weeks as released: shown for the
    organisation only, a metric only when every week shows it, and only what adds up."""
    if team_id is not None:
        return Figures(
            withheld=[
                f"participation: {TEAM_WEEKS_ONLY}",
                f"cases: {ORGANISATION_ONLY}",
                f"satisfaction: {ORGANISATION_ONLY}",
                f"pulse: {TEAM_WEEKS_ONLY}",
            ]
        )
    hidden = _hidden(weeks)
    withheld: list[str] = []

    def never_added(metric: str) -> None:
        """People over several weeks: a count the weeks as released cannot give."""
        withheld.append(f"{metric}: {HIDDEN_WEEK if metric in hidden else NOT_ADDED_UP}")

    never_added("participation")
    cases = None
    if "cases" in hidden:
        withheld.append(f"cases: {HIDDEN_WEEK}")
    else:
        cases = _added_cases(weeks)
        withheld.append(f"cases.time_to_acknowledge_seconds: {NOT_ADDED_UP}")
        withheld.append(f"cases.time_to_first_contact_seconds: {NOT_ADDED_UP}")
    satisfaction: dict[str, SatisfactionFigures] = {}
    for side in SIDES:
        metric = f"satisfaction.{side}"
        if metric in hidden:
            withheld.append(f"{metric}: {HIDDEN_WEEK}")
        elif (figures := _added_satisfaction(weeks, side)) is not None:
            satisfaction[side] = figures
    never_added("pulse")
    return Figures(cases=cases, satisfaction=satisfaction, withheld=withheld)


def report_of(
    window: Window,
    weeks: Sequence[ReleasedWeek],
    team_id: str | None,
    members: int,
    generated_at: datetime,
    k: int = K_MIN,
) -> ProgrammeReport:
    """The report of the organisation (``team_id`` None) or one team over ``window``, cut
    from its weeks as released (one per week of the window, oldest first); ``members``:
    active people of the organisation or team now, for the participation rate."""
    if [week.week for week in weeks] != window.weeks():
        raise ValueError(f"a report of {window} needs each of its weeks once, oldest first")
    figures = []
    for week in weeks:
        group = week.of(team_id, k)
        if group.participation is not None:
            participation = _participation_of(group.participation.people, members)
            group = group.model_copy(update={"participation": participation})
        figures.append(group)
    return ProgrammeReport(
        generated_at=generated_at,
        team_id=team_id,
        k=k,
        start=window.start,
        end=window.end,
        weeks=[
            WeekFigures(week=week.week, **group.model_dump())
            for week, group in zip(weeks, figures, strict=True)
        ],
        period=_period(figures, team_id),
        questions=PULSE_QUESTIONS,
    )


def build_report(
    sources: Sources, team_id: str | None, generated_at: datetime, k: int = K_MIN
) -> ProgrammeReport:
    """The report of the organisation (``team_id`` None) or one team, every week released
    from ``sources`` now (as a first reading would release them)."""
    return report_of(
        sources.window, release_weeks(sources, k), team_id, sources.members, generated_at, k
    )
