"""Derived questionnaire scores (kinship_contracts.scoring, DerivedScores.of)."""

import pytest

from kinship_contracts import scoring
from kinship_contracts.checkins import DerivedScores
from kinship_contracts.scoring import Phq9Band
from tests.unit.fakes.checkin import submitted


@pytest.mark.parametrize(
    ("items", "raw", "percent"),
    [
        ([0, 0, 0, 0, 0], 0, 0),
        ([5, 5, 5, 5, 5], 25, 100),
        ([3, 3, 3, 3, 0], 12, 48),
        ([3, 3, 3, 3, 1], 13, 52),
        ([2, 2, 2, 1, 0], 7, 28),
        ([2, 2, 2, 1, 1], 8, 32),
    ],
    ids=["floor", "ceiling", "raw-12", "raw-13", "raw-7", "raw-8"],
)
def test_who5_raw_is_the_item_sum_and_percentage_is_raw_times_four(
    items: list[int], raw: int, percent: int
) -> None:
    assert scoring.who5_raw(items) == raw
    assert scoring.who5_percent(items) == percent


def test_who5_raw_12_and_13_straddle_the_poor_wellbeing_cut_off_in_derived_scores() -> None:
    # The contracts module derives the raw score; the "< 13" rule lives in escalation.
    poor = DerivedScores.of(submitted(who5=[3, 3, 3, 3, 0]))
    fine = DerivedScores.of(submitted(who5=[3, 3, 3, 3, 1]))
    assert (poor.who5_raw, poor.who5_percent) == (12, 48)
    assert (fine.who5_raw, fine.who5_percent) == (13, 52)


@pytest.mark.parametrize(
    "items",
    [[1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [6, 0, 0, 0, 0], [-1, 0, 0, 0, 0]],
    ids=["four-items", "six-items", "item-6", "item-negative"],
)
def test_who5_scoring_refuses_malformed_answers(items: list[int]) -> None:
    with pytest.raises(ValueError, match="WHO-5"):
        scoring.who5_raw(items)
    with pytest.raises(ValueError, match="WHO-5"):
        scoring.who5_percent(items)


@pytest.mark.parametrize(
    ("items", "total"),
    [([0] * 9, 0), ([3] * 9, 27), ([1, 2, 3, 0, 1, 2, 3, 0, 0], 12)],
    ids=["all-zero", "all-three", "mixed"],
)
def test_phq9_total_is_the_item_sum(items: list[int], total: int) -> None:
    assert scoring.phq9_total(items) == total


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_bands_follow_kroenke_2001_at_both_ends_and_each_side_of_every_cut_off(
    total: int, band: str
) -> None:
    assert scoring.phq9_band(total) is Phq9Band(band)


@pytest.mark.parametrize("total", [-1, 28])
def test_phq9_band_refuses_totals_outside_0_to_27(total: int) -> None:
    with pytest.raises(ValueError, match="between 0 and 27"):
        scoring.phq9_band(total)


@pytest.mark.parametrize(
    "items",
    [[0] * 8, [0] * 10, [4] + [0] * 8, [0] * 8 + [-1]],
    ids=["eight-items", "ten-items", "item-4", "item9-negative"],
)
def test_phq9_scoring_refuses_malformed_answers(items: list[int]) -> None:
    with pytest.raises(ValueError, match="PHQ-9"):
        scoring.phq9_total(items)
    with pytest.raises(ValueError, match="PHQ-9"):
        scoring.phq9_item9_positive(items)


def test_phq9_item9_flag_reads_only_the_ninth_item() -> None:
    assert scoring.phq9_item9_positive([0] * 8 + [1]) is True
    assert scoring.phq9_item9_positive([0] * 8 + [3]) is True
    assert scoring.phq9_item9_positive([3] * 8 + [0]) is False


@pytest.mark.parametrize(("items", "total"), [([0, 0], 0), ([1, 1], 2), ([2, 1], 3), ([3, 3], 6)])
def test_phq2_total_is_the_sum_of_two_items(items: list[int], total: int) -> None:
    assert scoring.phq2_total(items) == total


@pytest.mark.parametrize("items", [[1], [1, 1, 1], [4, 0], [0, -1]])
def test_phq2_scoring_refuses_malformed_answers(items: list[int]) -> None:
    with pytest.raises(ValueError, match="PHQ-2"):
        scoring.phq2_total(items)


def test_phq2_is_derived_from_phq9_items_1_and_2_when_only_phq9_is_given() -> None:
    scores = DerivedScores.of(submitted(phq9=[1, 2, 3, 3, 3, 3, 3, 3, 0]))
    assert scores.phq2_total == 3
    assert scores.phq9_total == 21
    assert scores.phq9_band is Phq9Band.SEVERE


def test_phq2_given_explicitly_is_used_even_beside_phq9() -> None:
    scores = DerivedScores.of(submitted(phq9=[3, 3, 0, 0, 0, 0, 0, 0, 0], phq2=[0, 1]))
    assert scores.phq2_total == 1
    assert scores.phq9_total == 6


def test_phq2_of_2_and_of_3_are_reported_as_given() -> None:
    # 3 or more is a positive screen (Kroenke 2003); the score itself is published unchanged.
    assert DerivedScores.of(submitted(phq2=[1, 1])).phq2_total == 2
    assert DerivedScores.of(submitted(phq2=[2, 1])).phq2_total == 3


def test_item9_flag_is_false_for_0_true_for_1_and_absent_without_phq9() -> None:
    assert DerivedScores.of(submitted(phq9=[0] * 9)).phq9_item9_positive is False
    assert DerivedScores.of(submitted(phq9=[0] * 8 + [1])).phq9_item9_positive is True
    assert DerivedScores.of(submitted(phq2=[3, 3])).phq9_item9_positive is None


def test_only_mood_derives_no_questionnaire_scores() -> None:
    scores = DerivedScores.of(submitted(mood=2))
    assert scores.model_dump() == {
        "who5_raw": None,
        "who5_percent": None,
        "phq9_total": None,
        "phq9_band": None,
        "phq9_item9_positive": None,
        "phq2_total": None,
    }


def test_phq2_only_derives_no_phq9_scores() -> None:
    scores = DerivedScores.of(submitted(phq2=[3, 3]))
    assert (scores.phq2_total, scores.phq9_total, scores.phq9_band) == (6, None, None)


def test_all_questionnaires_together_derive_every_score() -> None:
    scores = DerivedScores.of(
        submitted(who5=[1, 1, 1, 1, 1], phq9=[1, 1, 1, 1, 1, 1, 1, 1, 1], phq2=[0, 0])
    )
    assert scores.model_dump(mode="json") == {
        "who5_raw": 5,
        "who5_percent": 20,
        "phq9_total": 9,
        "phq9_band": "mild",
        "phq9_item9_positive": True,
        "phq2_total": 0,
    }
