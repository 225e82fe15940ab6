"""Detection rules: each fires exactly at the spec's boundaries and names its evidence."""

from datetime import UTC, datetime, timedelta

import pytest

from kinship_contracts.cases import Severity
from kinship_escalation.domain.observations import CheckinObservation
from kinship_escalation.domain.rules import (
    IMMEDIATE_RISK,
    POOR_WELLBEING,
    SELF_REFERRAL,
    WITHDRAWAL,
    DetectionRules,
    evaluate_checkin,
    immediate_risk,
    needs_self_care,
    poor_wellbeing,
    self_referral,
    strongest,
    sustained_decline,
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
