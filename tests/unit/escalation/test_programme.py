"""Programme measures by closed week (``domain.programme``): k >= 5 people per cell, closed
weeks only, nothing one more fact or a subtraction gives away (issue 11)."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinship_contracts.cases import CaseOutcome
from kinship_escalation.domain.programme import (
    K_MIN,
    SIDES,
    WITHHELD,
    Fact,
    FactKind,
    ProgrammeMeasures,
    closed_weeks,
    percentile,
    programme_measures,
)
from kinship_recognition.domain.reports import K_MIN as RECOGNITION_K_MIN

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday of ISO week 48
LAST_MONDAY = datetime(2026, 11, 16, tzinfo=UTC)  # the latest closed week (W47)


def fact(kind: FactKind, subject: str, at: datetime, **more: Any) -> Fact:
    return Fact(kind, subject, at, **more)


def week_of(measures: ProgrammeMeasures, monday: datetime) -> dict[str, Any]:
    (week,) = [w for w in measures.weeks if w.week == monday.date()]
    return week.model_dump()


def test_k_is_recognitions() -> None:
    assert K_MIN == RECOGNITION_K_MIN == 5


def test_the_weeks_are_iso_weeks_in_utc_that_have_ended() -> None:
    start, end = closed_weeks(NOW, 2)
    assert (start, end) == (LAST_MONDAY - timedelta(weeks=1), LAST_MONDAY + timedelta(weeks=1))
    # Monday 00:30 UTC: the week just ended is not yet published (grace for commits).
    monday = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
    assert closed_weeks(monday, 1)[1] == LAST_MONDAY
    assert closed_weeks(monday + timedelta(hours=1), 1)[1] == LAST_MONDAY + timedelta(weeks=1)
    measures = programme_measures([], NOW, weeks=3)
    assert [w.iso_week for w in measures.weeks] == ["2026-W45", "2026-W46", "2026-W47"]
    for weeks in (0, 53):
        with pytest.raises(ValueError):
            programme_measures([], NOW, weeks=weeks)


def test_a_week_with_five_people_shows_its_figures_and_four_are_withheld() -> None:
    day = LAST_MONDAY + timedelta(days=2)
    facts = [fact(FactKind.OPENED, f"s{n}", day) for n in range(5)]
    facts += [fact(FactKind.ACKNOWLEDGED, f"s{n}", day, seconds=60.0 * (n + 1)) for n in range(5)]
    facts += [fact(FactKind.CONTACTED, f"s{n}", day, seconds=100.0) for n in range(4)]
    facts += [fact(FactKind.RESOLVED, f"s{n}", day, label="supported") for n in range(6)]
    facts += [fact(FactKind.RESOLVED, "s9", day, label="declined")]
    facts += [
        fact(FactKind.FEEDBACK, f"s{n}", day, label="person", score=n % 5 + 1) for n in range(5)
    ]
    facts += [fact(FactKind.FEEDBACK, f"s{n}", day, label="responder", score=3) for n in range(4)]
    week = week_of(programme_measures(facts, NOW), LAST_MONDAY)
    assert week["cases_opened"] == 5
    assert week["acknowledged"] == 5
    assert week["time_to_acknowledge_seconds"] == {"median": 180.0, "p90": 276.0}
    assert week["time_to_first_contact_seconds"] == WITHHELD  # four people
    assert week["outcomes"] == {
        "supported": 6,
        "referred_professional": WITHHELD,
        "referred_emergency": WITHHELD,
        "no_contact": WITHHELD,
        "declined": WITHHELD,
    }
    assert week["feedback"] == {"person": {"count": 5, "mean_score": 3.0}, "responder": WITHHELD}


def test_k_counts_people_not_cases() -> None:
    day = LAST_MONDAY + timedelta(days=1)
    one_person = [fact(FactKind.OPENED, "same", day + timedelta(hours=n)) for n in range(7)]
    assert week_of(programme_measures(one_person, NOW), LAST_MONDAY)["cases_opened"] == WITHHELD
    # Erased people all read "erased": however many cases, they count as one.
    erased = [fact(FactKind.OPENED, "erased", day) for _ in range(4)]
    four = [fact(FactKind.OPENED, f"s{n}", day) for n in range(4)]
    assert week_of(programme_measures(erased + four, NOW), LAST_MONDAY)["cases_opened"] == 8


def test_each_fact_counts_in_the_week_it_was_recorded() -> None:
    earlier = LAST_MONDAY - timedelta(weeks=1)
    opened = [fact(FactKind.OPENED, f"s{n}", earlier + timedelta(days=6)) for n in range(5)]
    acked = [fact(FactKind.ACKNOWLEDGED, f"s{n}", LAST_MONDAY, seconds=9.0) for n in range(5)]
    measures = programme_measures(opened + acked, NOW, weeks=2)
    assert week_of(measures, earlier)["cases_opened"] == 5
    assert week_of(measures, earlier)["acknowledged"] == WITHHELD
    assert week_of(measures, LAST_MONDAY)["acknowledged"] == 5
    assert week_of(measures, LAST_MONDAY)["cases_opened"] == WITHHELD


def test_the_percentiles_are_postgres_percentile_cont() -> None:
    assert percentile([1.0], 0.9) == 1.0
    assert percentile([10.0, 0.0, 20.0, 30.0], 0.5) == 15.0
    assert percentile([0.0, 10.0, 20.0, 30.0, 40.0], 0.9) == pytest.approx(36.0)


# ---- properties ----------------------------------------------------------------------------

START = LAST_MONDAY - timedelta(weeks=3)
SUBJECTS = st.sampled_from([f"s{n}" for n in range(9)] + ["erased"])
LABELLED = {
    FactKind.RESOLVED: [outcome.value for outcome in CaseOutcome],
    FactKind.FEEDBACK: list(SIDES),
}


@st.composite
def facts_at(draw: st.DrawFn, low: datetime, high: datetime, kind: FactKind | None = None) -> Fact:
    kind = kind or draw(st.sampled_from(list(FactKind)))
    at = draw(st.datetimes(min_value=low.replace(tzinfo=None), max_value=high.replace(tzinfo=None)))
    label = draw(st.sampled_from(LABELLED[kind])) if kind in LABELLED else None
    seconds = None
    if kind in (FactKind.ACKNOWLEDGED, FactKind.CONTACTED):
        seconds = draw(st.floats(0, 86_400 * 30, allow_nan=False))
    score = draw(st.integers(1, 5)) if kind is FactKind.FEEDBACK else None
    return Fact(kind, draw(SUBJECTS), at.replace(tzinfo=UTC), seconds, label, score)


HISTORY = st.lists(facts_at(START, NOW), max_size=120)


@settings(max_examples=150, deadline=None)
@given(history=HISTORY, more=st.lists(facts_at(LAST_MONDAY + timedelta(weeks=1), NOW), min_size=1))
def test_more_facts_in_the_open_week_change_no_released_figure(
    history: list[Fact], more: list[Fact]
) -> None:
    assert programme_measures(history + more, NOW, weeks=4) == programme_measures(
        history, NOW, weeks=4
    )


@settings(max_examples=100, deadline=None)
@given(
    history=HISTORY,
    later=st.datetimes(
        min_value=NOW.replace(tzinfo=None),
        max_value=(NOW + timedelta(weeks=3)).replace(tzinfo=None),
    ),
    data=st.data(),
)
def test_a_published_week_never_changes_as_time_goes_on(
    history: list[Fact], later: datetime, data: st.DataObject
) -> None:
    later = later.replace(tzinfo=UTC)
    more = data.draw(st.lists(facts_at(NOW, later), max_size=30))
    before = {w.week: w for w in programme_measures(history, NOW, weeks=4).weeks}
    after = {w.week: w for w in programme_measures(history + more, later, weeks=7).weeks}
    for monday, week in before.items():
        assert after[monday] == week


def _cell_facts(
    kind: FactKind, label: str | None, week: datetime, people: int
) -> st.SearchStrategy[list[Fact]]:
    """Facts of one cell of ``week`` resting on fewer than k people (``people`` at most)."""
    subjects = [f"hidden{n}" for n in range(people)]
    return st.lists(
        facts_at(week, week + timedelta(days=7) - timedelta(seconds=1), kind).map(
            lambda f: Fact(f.kind, f.subject, f.recorded_at, f.seconds, label, f.score)
        ),
        max_size=8,
    ).flatmap(
        lambda found: st.lists(
            st.sampled_from(subjects), min_size=len(found), max_size=len(found)
        ).map(
            lambda names: [
                Fact(f.kind, name, f.recorded_at, f.seconds, f.label, f.score)
                for f, name in zip(found, names, strict=True)
            ]
        )
    )


@settings(max_examples=150, deadline=None)
@given(
    history=HISTORY,
    cell=st.sampled_from(
        [(kind, None) for kind in FactKind if kind not in LABELLED]
        + [(kind, label) for kind, labels in LABELLED.items() for label in labels]
    ),
    week=st.sampled_from([START + timedelta(weeks=n) for n in range(4)]),
    data=st.data(),
)
def test_a_withheld_cell_cannot_be_recovered_from_the_released_ones(
    history: list[Fact], cell: tuple[FactKind, str | None], week: datetime, data: st.DataObject
) -> None:
    """Whatever a cell under k holds (any facts of up to k - 1 people), every released
    figure is the same: none depends on it, so no sum or difference of them gives it."""
    kind, label = cell
    probe = Fact(kind, "x", week, label=label)
    others = [f for f in history if not (f.cell == probe.cell and _monday(f) == week)]
    one = data.draw(_cell_facts(kind, label, week, K_MIN - 1))
    two = data.draw(_cell_facts(kind, label, week, K_MIN - 1))
    first = programme_measures(others + one, NOW, weeks=4)
    assert first == programme_measures(others + two, NOW, weeks=4)
    # ... and the cell itself reads "withheld" either way.
    shown = week_of(first, week)
    value = shown[_field(kind)]
    if label is not None:
        assert isinstance(value, dict)
        value = value[label]
    assert value == WITHHELD


def _monday(f: Fact) -> datetime:
    day = f.recorded_at.date()
    return datetime.combine(day - timedelta(days=day.weekday()), datetime.min.time(), UTC)


def _field(kind: FactKind) -> str:
    return {
        FactKind.OPENED: "cases_opened",
        FactKind.ACKNOWLEDGED: "time_to_acknowledge_seconds",
        FactKind.CONTACTED: "time_to_first_contact_seconds",
        FactKind.RESOLVED: "outcomes",
        FactKind.FEEDBACK: "feedback",
    }[kind]


def test_no_figure_adds_up_others() -> None:
    """No total is published: the only numbers in a week are its cells, and outcomes list
    every outcome (a missing key would tell something too)."""
    day = LAST_MONDAY + timedelta(days=3)
    facts = [fact(FactKind.RESOLVED, f"s{n}", day, label="supported") for n in range(5)]
    facts += [fact(FactKind.RESOLVED, f"t{n}", day, label="declined") for n in range(2)]
    measures = programme_measures(facts, NOW, weeks=2)
    assert set(measures.model_dump()) == {"k", "start", "end", "weeks"}
    week = week_of(measures, LAST_MONDAY)
    assert set(week) == {
        "week",
        "iso_week",
        "cases_opened",
        "acknowledged",
        "time_to_acknowledge_seconds",
        "time_to_first_contact_seconds",
        "outcomes",
        "feedback",
    }
    assert set(week["outcomes"]) == {outcome.value for outcome in CaseOutcome}
    assert week["outcomes"]["supported"] == 5
    assert week["outcomes"]["declined"] == WITHHELD
    assert date.fromisoformat(str(week["week"])) == LAST_MONDAY.date()
