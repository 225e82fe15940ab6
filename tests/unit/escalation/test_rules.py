"""Detection rules: each fires exactly at the spec's boundaries and names its evidence."""

from datetime import UTC, datetime, timedelta
from statistics import mean

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kinship_contracts.cases import Severity
from kinship_contracts.checkins import CheckinRecorded, CheckinSubmitted, DerivedScores
from kinship_contracts.signals import SignalKind
from kinship_escalation.domain.observations import CheckinObservation, SignalObservation
from kinship_escalation.domain.rules import (
    IMMEDIATE_RISK,
    POOR_WELLBEING,
    SELF_REFERRAL,
    SUSTAINED_LOAD,
    WITHDRAWAL,
    DetectionRules,
    absence_withdrawal,
    defusing_window,
    evaluate_checkin,
    exposure_follow_ups,
    history_at,
    history_in,
    immediate_risk,
    is_low,
    mean_mood,
    needs_self_care,
    poor_wellbeing,
    self_referral,
    strongest,
    support_session_window,
    sustained_decline,
    sustained_load,
    team_cluster,
    usual_interval,
    withdrawal,
    withdrawal_due,
)

RULES = DetectionRules()
START = datetime(2026, 9, 1, 9, tzinfo=UTC)


def obs(index: int = 0, days: float = 0, **answers: int | bool) -> CheckinObservation:
    return CheckinObservation(id=f"c{index}", at=START + timedelta(days=days), **answers)  # type: ignore[arg-type]


def test_phq9_item9_of_1_is_immediate_risk_but_0_is_not() -> None:
    assert immediate_risk(obs(item9_positive=False)) is None
    evidence = immediate_risk(obs(item9_positive=True))
    assert evidence is not None
    assert (evidence.rule, evidence.severity, evidence.observation_ids) == (
        IMMEDIATE_RISK,
        Severity.CRITICAL,
        ("c0",),
    )


@pytest.mark.parametrize(
    ("answers", "critical"),
    [
        ({"wants_contact": True, "stress": 5}, True),
        ({"wants_contact": True, "mood": 1}, True),
        ({"wants_contact": True, "stress": 4, "mood": 2}, False),
        ({"wants_contact": False, "stress": 5, "mood": 1}, False),
    ],
)
def test_wants_contact_with_stress_5_or_mood_1_is_immediate_risk(
    answers: dict[str, object], critical: bool
) -> None:
    observation = CheckinObservation(id="c0", at=START, **answers)  # type: ignore[arg-type]
    assert (immediate_risk(observation) is not None) is critical


def test_self_referral_is_high_whatever_the_scores() -> None:
    evidence = self_referral(obs(wants_contact=True, mood=5, who5_raw=25))
    assert evidence is not None
    assert (evidence.rule, evidence.severity) == (SELF_REFERRAL, Severity.HIGH)
    assert self_referral(obs(mood=1)) is None


@pytest.mark.parametrize(
    ("who5_raw", "severity"),
    [
        (13, None),
        (12, Severity.MEDIUM),
        (8, Severity.MEDIUM),
        (7, Severity.HIGH),
        (0, Severity.HIGH),
    ],
)
def test_who5_boundaries(who5_raw: int, severity: Severity | None) -> None:
    evidence = poor_wellbeing(obs(who5_raw=who5_raw), RULES)
    assert (evidence.severity if evidence else None) is severity


@pytest.mark.parametrize(("total", "fires"), [(9, False), (10, True)])
def test_phq9_total_10_is_high(total: int, fires: bool) -> None:
    evidence = poor_wellbeing(obs(phq9_total=total), RULES)
    assert (evidence is not None and evidence.severity is Severity.HIGH) is fires


@pytest.mark.parametrize(("total", "fires"), [(2, False), (3, True)])
def test_phq2_of_3_is_high_but_2_is_not(total: int, fires: bool) -> None:
    evidence = poor_wellbeing(obs(phq2_total=total), RULES)
    assert (evidence is not None and evidence.rule == POOR_WELLBEING) is fires


def test_three_consecutive_low_moods_are_a_sustained_decline() -> None:
    history = [obs(i, days=i, mood=mood) for i, mood in enumerate([4, 2, 1, 2])]
    evidence = sustained_decline(history, RULES)
    assert evidence is not None
    assert evidence.observation_ids == ("c1", "c2", "c3")
    assert evidence.severity is Severity.MEDIUM


def test_two_low_moods_then_a_better_one_is_not_a_decline() -> None:
    history = [obs(i, days=i, mood=mood) for i, mood in enumerate([2, 1, 3])]
    assert sustained_decline(history, RULES) is None


def test_mean_drop_of_1_5_against_own_baseline_is_a_decline() -> None:
    baseline = [obs(i, days=i * 7, mood=5) for i in range(6)]  # weeks 0-5: mood 5
    recent = [obs(10 + i, days=50 + i * 3, mood=3) for i in range(3)]  # days 50-56: mood 3
    evidence = sustained_decline(baseline + recent, RULES)
    assert evidence is not None
    assert set(evidence.observation_ids) == {"c10", "c11", "c12"}


def test_mean_drop_below_1_5_is_not_a_decline() -> None:
    baseline = [obs(i, days=i * 7, mood=4) for i in range(6)]
    recent = [obs(10 + i, days=50 + i * 3, mood=3) for i in range(3)]
    assert sustained_decline(baseline + recent, RULES) is None


def test_a_drop_needs_enough_baseline() -> None:
    history = [obs(0, days=0, mood=5), obs(1, days=50, mood=3), obs(2, days=53, mood=3)]
    assert sustained_decline(history, RULES) is None


def test_withdrawal_after_a_low_trend_and_missed_checkins() -> None:
    history = [obs(i, days=i * 7, mood=mood) for i, mood in enumerate([4, 4, 2, 2])]
    assert usual_interval(history, RULES) == timedelta(days=7)
    due = withdrawal_due(history, RULES)
    assert due == history[-1].at + timedelta(days=14)
    assert withdrawal(history, RULES, due - timedelta(seconds=1)) is None
    evidence = withdrawal(history, RULES, due)
    assert evidence is not None
    assert (evidence.rule, evidence.severity) == (WITHDRAWAL, Severity.MEDIUM)


def test_no_withdrawal_watch_without_a_low_trend() -> None:
    history = [obs(i, days=i * 7, mood=mood) for i, mood in enumerate([2, 4])]
    assert withdrawal_due(history, RULES) is None


def test_evaluate_collects_every_rule_and_strongest_wins() -> None:
    evidence = evaluate_checkin([obs(wants_contact=True, mood=1, who5_raw=5)], RULES)
    assert [item.rule for item in evidence] == [IMMEDIATE_RISK, SELF_REFERRAL, POOR_WELLBEING]
    assert strongest(evidence) is Severity.CRITICAL


def test_good_checkin_raises_nothing() -> None:
    assert evaluate_checkin([obs(mood=4, stress=2, who5_raw=18, phq9_total=3)], RULES) == []


def test_team_cluster_needs_three_distinct_people_within_72_hours() -> None:
    now = START + timedelta(days=3)
    two = [("a", now - timedelta(hours=1)), ("b", now), ("a", now)]
    assert not team_cluster(two, now, RULES)
    assert team_cluster([*two, ("c", now - timedelta(hours=71))], now, RULES)
    assert not team_cluster([*two, ("c", now - timedelta(hours=73))], now, RULES)


def test_self_care_for_a_low_reading() -> None:
    assert needs_self_care(obs(mood=2), RULES)
    assert needs_self_care(obs(stress=5), RULES)
    assert not needs_self_care(obs(mood=4, stress=3), RULES)


def test_rules_file_overrides_thresholds_and_refuses_unknown_keys(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "rules.json"
    path.write_text('{"version": "site-1", "who5_poor_below": 10}')
    rules = DetectionRules.load(path)
    assert (rules.version, rules.who5_poor_below) == ("site-1", 10)
    path.write_text('{"who5_poor_bellow": 10}')
    with pytest.raises(ValueError, match="who5_poor_bellow"):
        DetectionRules.load(path)


# ---- PHQ-2 and PHQ-9 together (issue 12, item 7) ---------------------------------------------


def scored(**answers: list[int]) -> CheckinObservation:
    """The observation of a check-in scored as the check-in service scores it."""
    submitted = CheckinSubmitted.model_validate(
        {"id": "c0", "person_id": "p", "occurred_at": START.isoformat(), "source": "t", **answers}
    )
    event = CheckinRecorded(
        id="c0",
        subject_id="s",
        occurred_at=START,
        recorded_at=START,
        source="t",
        phq9=submitted.phq9,
        phq2=submitted.phq2,
        scores=DerivedScores.of(submitted),
    )
    return CheckinObservation.of(event)


@pytest.mark.parametrize(
    ("answers", "severity"),
    [
        # The case: a full PHQ-9 totalling 3 is "minimal" (Kroenke et al. 2001, bands
        # 0-4), whatever its items 1-2 (2 + 1 = 3) would give as a PHQ-2.
        ({"phq9": [2, 1, 0, 0, 0, 0, 0, 0, 0]}, None),
        # Items 1-2 at their maximum, total 9: below the PHQ-9 cut-off of 10 (Kroenke 2001).
        ({"phq9": [3, 3, 1, 1, 1, 0, 0, 0, 0]}, None),
        # Total 10 with items 1-2 at 0: the PHQ-9 total decides (Kroenke 2001).
        ({"phq9": [0, 0, 2, 2, 2, 2, 1, 1, 0]}, Severity.HIGH),
        # The PHQ-2 asked on its own: >= 3 is a positive screen (Kroenke et al. 2003).
        ({"phq2": [2, 1]}, Severity.HIGH),
        ({"phq2": [1, 1]}, None),
        # Both asked: the full PHQ-9 decides, the PHQ-2 answers screen nothing.
        ({"phq9": [1, 1, 1, 0, 0, 0, 0, 0, 0], "phq2": [3, 3]}, None),
    ],
)
def test_a_phq2_screens_only_when_it_was_asked_without_a_full_phq9(
    answers: dict[str, list[int]], severity: Severity | None
) -> None:
    evidence = poor_wellbeing(scored(**answers), RULES)
    assert (evidence.severity if evidence else None) is severity


def test_the_derived_phq2_is_still_published_but_screens_nothing() -> None:
    observation = scored(phq9=[2, 1, 0, 0, 0, 0, 0, 0, 0])
    assert (observation.phq2_total, observation.phq9_total) == (3, 3)  # kept for compatibility
    assert observation.phq2_screen is None
    assert not is_low(observation, RULES)  # nor does it start a low trend
    assert scored(phq2=[2, 1]).phq2_screen == 3


# ---- evidence explains itself -------------------------------------------------------------------


def test_poor_wellbeing_cites_each_threshold_it_crossed_and_the_scores_that_mattered() -> None:
    evidence = poor_wellbeing(obs(who5_raw=6, phq9_total=4, mood=3), RULES)
    assert evidence is not None
    assert [(t.setting, t.condition) for t in evidence.thresholds] == [
        ("who5_poor_below", "who5_raw < 13"),
        ("who5_high_at_or_below", "who5_raw <= 7"),
    ]
    assert all("Topp" in t.source for t in evidence.thresholds)
    (facts,) = evidence.observed
    # Only the scores that crossed a threshold: not the PHQ-9 total, not the mood.
    assert (facts.checkin_id, facts.at, facts.scores) == ("c0", START, {"who5_raw": 6})


def test_immediate_risk_names_item_9_as_a_flag_never_the_answer() -> None:
    evidence = immediate_risk(obs(item9_positive=True, phq9_total=12))
    assert evidence is not None
    (threshold,) = evidence.thresholds
    assert threshold.condition == "phq9 item 9 >= 1" and "Simon" in threshold.source
    assert evidence.observed[0].scores == {"phq9_item9_positive": True}


def test_a_sustained_decline_shows_the_moods_it_rests_on() -> None:
    history = [obs(i, days=i, mood=mood) for i, mood in enumerate([4, 2, 1, 2])]
    evidence = sustained_decline(history, RULES)
    assert evidence is not None
    assert evidence.thresholds[0].condition == "mood <= 2 on 3 consecutive check-ins"
    assert [(f.checkin_id, f.scores) for f in evidence.observed] == [
        ("c1", {"mood": 2}),
        ("c2", {"mood": 1}),
        ("c3", {"mood": 2}),
    ]


def test_withdrawal_cites_the_persons_usual_interval() -> None:
    history = [obs(i, days=i * 7, mood=mood) for i, mood in enumerate([4, 4, 2, 2])]
    evidence = withdrawal(history, RULES, history[-1].at + timedelta(days=14))
    assert evidence is not None
    assert "2.0 x the usual interval (7.0 days)" in evidence.thresholds[0].condition
    assert [f.scores for f in evidence.observed] == [{"mood": 2}, {"mood": 2}]


# ---- sustained load (overtime, on-call) and absence ---------------------------------------------


def load(kind: str, severity: int, days: float) -> SignalObservation:
    return SignalObservation(SignalKind(kind), severity, START + timedelta(days=days))


LOW_NOW = [obs(0, days=10, mood=2)]


@pytest.mark.parametrize(
    ("signals", "fires"),
    [
        ([load("overtime", 1, 9)], False),  # severity 1 alone: nothing
        ([load("overtime", 1, 5), load("overtime", 1, 9), load("on_call_load", 1, 9.5)], False),
        ([load("overtime", 2, 9)], False),  # one counted signal is not sustained
        ([load("overtime", 2, 5), load("on_call_load", 2, 9)], True),
        ([load("overtime", 3, 9)], False),
        ([load("on_call_load", 4, 9)], True),  # one severe signal suffices
        ([load("overtime", 2, -4.5), load("overtime", 4, -5)], False),  # over 14 days before
        ([load("overtime", 4, 24)], True),  # after the reading, within 14 days
        ([load("overtime", 4, 24.5)], False),  # over 14 days after
        ([load("absence", 5, 9), load("other", 5, 9)], False),  # not load
    ],
)
def test_sustained_load_needs_counted_signals_and_a_low_reading(
    signals: list[SignalObservation], fires: bool
) -> None:
    assert (sustained_load(LOW_NOW, signals, RULES) is not None) is fires


def test_sustained_load_without_a_low_reading_is_nothing() -> None:
    signals = [load("overtime", 5, 9), load("overtime", 5, 9.5)]
    fine = [obs(0, days=10, mood=4, who5_raw=20)]
    assert sustained_load(fine, signals, RULES) is None


def test_sustained_load_evidence_shows_the_reading_and_the_signals_without_their_ids() -> None:
    signals = [load("overtime", 2, 5), load("on_call_load", 3, 9)]
    evidence = sustained_load(LOW_NOW, signals, RULES)
    assert evidence is not None
    assert (evidence.rule, evidence.severity, evidence.observation_ids) == (
        SUSTAINED_LOAD,
        Severity.MEDIUM,
        ("c0",),
    )
    assert [(f.checkin_id, f.signal_kind, f.scores) for f in evidence.observed] == [
        (None, "overtime", {"severity": 2}),
        (None, "on_call_load", {"severity": 3}),
        ("c0", None, {"mood": 2}),
    ]
    assert "Virtanen" in evidence.thresholds[0].source


def test_a_low_checkin_under_sustained_load_is_evaluated_with_the_signals() -> None:
    signals = [load("overtime", 2, 5), load("overtime", 2, 9)]
    rules = [e.rule for e in evaluate_checkin(LOW_NOW, RULES, signals)]
    assert rules == [SUSTAINED_LOAD]


TREND = [obs(i, days=i * 7, mood=mood) for i, mood in enumerate([4, 4, 2, 2])]  # last day 21


@pytest.mark.parametrize(
    ("history", "absence", "fires"),
    [
        (TREND, load("absence", 2, 22), True),
        (TREND, load("absence", 1, 22), False),  # below the minimum severity
        (TREND, load("absence", 3, 35), True),  # the watch is due at day 35: still within it
        (TREND, load("absence", 3, 35.5), False),  # after: the watch judged the silence
        ([*TREND, obs(9, days=23, mood=4)], load("absence", 3, 22), False),  # checked in since
        (TREND[:3], load("absence", 3, 22), False),  # one low reading is no trend
    ],
)
def test_an_absence_after_a_low_trend_counts_like_withdrawal(
    history: list[CheckinObservation], absence: SignalObservation, fires: bool
) -> None:
    evidence = absence_withdrawal(history, absence, RULES)
    assert (evidence is not None) is fires
    if evidence is not None:
        assert (evidence.rule, evidence.observation_ids) == (WITHDRAWAL, ("c2", "c3"))
        assert evidence.observed[-1].signal_kind == "absence"


# ---- group-session windows and follow-ups after an incident -------------------------------------

INCIDENT = START


@pytest.mark.parametrize(
    ("late", "window"),
    [
        # On time: from now until 3 h after the incident.
        (timedelta(minutes=30), (timedelta(minutes=30), timedelta(hours=3))),
        # Late: never less than 1 h from now (it used to end before it started).
        (timedelta(hours=2, minutes=30), (timedelta(hours=2, minutes=30), timedelta(hours=3.5))),
        (timedelta(hours=10), (timedelta(hours=10), timedelta(hours=11))),
        # Announced ahead: from the incident.
        (-timedelta(hours=1), (timedelta(0), timedelta(hours=3))),
    ],
)
def test_the_defusing_window_starts_now_and_never_ends_before_it_starts(
    late: timedelta, window: tuple[timedelta, timedelta]
) -> None:
    start, end = defusing_window(INCIDENT, INCIDENT + late, RULES)
    assert (start - INCIDENT, end - INCIDENT) == window


@pytest.mark.parametrize(
    ("late", "window"),
    [
        (timedelta(hours=1), (timedelta(hours=24), timedelta(hours=72))),
        (timedelta(hours=30), (timedelta(hours=30), timedelta(hours=72))),
        (timedelta(hours=50), (timedelta(hours=50), timedelta(hours=74))),  # at least 24 h
        (timedelta(days=5), (timedelta(days=5), timedelta(days=6))),
    ],
)
def test_a_late_support_session_window_starts_now_and_lasts_at_least_a_day(
    late: timedelta, window: tuple[timedelta, timedelta]
) -> None:
    start, end = support_session_window(INCIDENT, INCIDENT + late, RULES)
    assert (start - INCIDENT, end - INCIDENT) == window


@pytest.mark.parametrize(
    ("late", "due"),
    [
        (timedelta(hours=1), [(72, timedelta(hours=72)), (720, timedelta(hours=720))]),
        (timedelta(hours=72), [(72, timedelta(hours=72)), (720, timedelta(hours=720))]),
        (timedelta(hours=100), [(72, timedelta(hours=100)), (720, timedelta(hours=720))]),
        # Both passed: one follow-up now, not two at once.
        (timedelta(days=40), [(720, timedelta(days=40))]),
    ],
)
def test_exposure_follow_ups_are_never_in_the_past_and_never_pile_up(
    late: timedelta, due: list[tuple[int, timedelta]]
) -> None:
    found = exposure_follow_ups(INCIDENT, INCIDENT + late, RULES)
    assert [(hours, at - INCIDENT) for hours, at in found] == due


# ---- what a check-in's rules see -----------------------------------------------------------------


def test_a_checkins_history_is_what_came_before_it_within_the_window() -> None:
    later = obs(5, days=100)
    earlier = [obs(i, days=d) for i, d in enumerate([0, 15, 30, 99])]
    newest = obs(9, days=99)
    history = history_at([*earlier, later, newest], newest)
    # 80 days back from day 99: days 30 and 99 (by id), never the later day 100.
    assert [o.id for o in history] == ["c2", "c3", "c9"]


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "B", "b", "é", "a-1", "Z9", "c"]), st.integers(0, 40)),
        max_size=200,
        unique_by=lambda item: item,
    ).flatmap(
        lambda stored: st.tuples(
            st.just(stored),
            st.integers(0, max(len(stored) - 1, 0)),
            st.sets(st.integers(0, max(len(stored) - 1, 0))),
            st.sampled_from([0.0, 1.0, 40.0, 79.99, 80.0, 80.01, 200.0, 600.0]),
        )
    )
)
def test_the_history_found_by_bisection_is_history_at(
    drawn: tuple[list[tuple[str, int]], int, set[int], float],
) -> None:
    """Histories of many observations on few instants (the limit of 80 and the order by id
    decide), at the edge of the 80-day window, with check-ins of the batch not yet arrived:
    ``history_in`` over the port's order is exactly ``history_at``."""
    stored, pick, later, step = drawn
    observed = [
        CheckinObservation(id=f"{name}{n}", at=START + timedelta(days=n % 7 * step), mood=n % 5)
        for name, n in stored
    ]
    ordered = sorted(observed, key=lambda o: (o.at, o.id))
    if not ordered:
        checkin = obs(1, days=3)
        assert history_in(ordered, checkin) == history_at(ordered, checkin) == [checkin]
        return
    checkin = ordered[pick]
    not_arrived = {ordered[i].id for i in later if i != pick}
    arrived = [o for o in observed if o.id not in not_arrived]
    assert history_in(ordered, checkin, not_arrived) == history_at(arrived, checkin)


@given(
    st.lists(
        st.tuples(
            # Edges: last 88 -> recent from 74, baseline from 14; last 80 -> 66 and 6.
            st.one_of(st.sampled_from([6, 14, 66, 74, 80, 88]), st.integers(0, 100)),
            st.one_of(st.none(), st.integers(1, 5)),
        ),
        min_size=1,
        max_size=80,
    )
)
@example([(20, 5), (30, 5), (74, 5), (80, 3), (88, 3)])  # day 74 is the baseline's last
@example([(14, 1), (20, 5), (30, 5), (40, 5), (80, 3), (88, 3)])  # day 14 is outside it
def test_the_decline_windows_found_by_bisection_are_the_filtered_ones(
    readings: list[tuple[int, int | None]],
) -> None:
    """``sustained_decline`` finds its recent and baseline windows by bisection over the
    history's order (oldest first); the result is the filtered windows' (the rule as it
    was written first), at the windows' edges too (whole days: ``at == recent_from``)."""
    history = [
        obs(i, days=day, **({} if mood is None else {"mood": mood}))
        for i, (day, mood) in enumerate(sorted(readings, key=lambda r: r[0]))
    ]
    evidence = sustained_decline(history, RULES)
    found = None
    if evidence is not None:
        (threshold,) = evidence.thresholds
        how = threshold.condition.rsplit("(", 1)[-1].rstrip(")")
        found = (evidence.observation_ids, "run" if threshold.setting == "low_mood_run" else how)
    assert found == _decline_as_filtered(history, RULES)


def _decline_as_filtered(
    history: list[CheckinObservation], rules: DetectionRules
) -> tuple[tuple[str, ...], str] | None:
    with_mood = [item for item in history if item.mood is not None]
    if not with_mood:
        return None
    run = with_mood[-rules.low_mood_run :]
    if len(run) == rules.low_mood_run and all(
        item.mood is not None and item.mood <= rules.low_mood_at_or_below for item in run
    ):
        return tuple(item.id for item in run), "run"
    recent_from = with_mood[-1].at - timedelta(days=rules.decline_recent_days)
    baseline_from = recent_from - timedelta(days=rules.decline_baseline_days)
    recent = [item for item in with_mood if item.at > recent_from]
    baseline = [item for item in with_mood if baseline_from < item.at <= recent_from]
    if len(recent) < rules.decline_min_recent or len(baseline) < rules.decline_min_baseline:
        return None
    drop = mean([i.mood for i in baseline if i.mood]) - mean([i.mood for i in recent if i.mood])
    if drop < rules.decline_drop:
        return None
    return tuple(item.id for item in recent), f"here {drop:.1f}"


def test_a_crowded_instant_keeps_the_newest_79_by_id_before_the_checkin() -> None:
    crowd = sorted((obs(i, days=2) for i in range(150)), key=lambda o: (o.at, o.id))
    checkin = crowd[-1]
    history = history_in(crowd, checkin, {crowd[-2].id})
    assert history == history_at(crowd[:-2] + crowd[-1:], checkin)
    assert [o.id for o in history] == [o.id for o in crowd[-81:-2]] + [checkin.id]


@given(
    st.lists(st.integers(1, 5), min_size=1, max_size=80), st.lists(st.integers(1, 5), min_size=1)
)
def test_the_mean_mood_is_statistics_mean(baseline: list[int], recent: list[int]) -> None:
    """What the decline rule computes and shows (``here {drop:.1f}``) is unchanged by using
    sum/len instead of ``statistics.mean`` (70 % of the rule's time in the profile)."""
    drop, exact = mean_mood(baseline) - mean_mood(recent), mean(baseline) - mean(recent)
    assert mean_mood(baseline) == mean(baseline)
    assert drop == exact
    assert f"{drop:.1f}" == f"{exact:.1f}"
    assert (drop < 1.5) == (exact < 1.5)
