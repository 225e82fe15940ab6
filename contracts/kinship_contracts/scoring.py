"""Derived scores for validated questionnaires, computed once, here.

Published scoring rules:
- WHO-5 Well-Being Index (WHO 1998; Topp et al. 2015): five items scored 0-5; the raw score
  is their sum (0-25) and the percentage score is the raw score times 4 (0-100). A raw score
  below 13 indicates poor wellbeing; 7 or below is a reason for further assessment.
- PHQ-9 (Kroenke, Spitzer & Williams 2001): nine items scored 0-3, total 0-27; bands
  0-4 minimal, 5-9 mild, 10-14 moderate, 15-19 moderately severe, 20-27 severe. Item 9 asks
  about thoughts of self-harm; any answer above 0 needs an immediate human response.
- PHQ-2 (Kroenke, Spitzer & Williams 2003): the first two PHQ-9 items, total 0-6; 3 or more
  is a positive screen.
"""

from collections.abc import Sequence
from enum import StrEnum

WHO5_ITEMS = 5
PHQ9_ITEMS = 9
PHQ2_ITEMS = 2


class Phq9Band(StrEnum):
    """PHQ-9 severity band."""

    MINIMAL = "minimal"
    MILD = "mild"
    MODERATE = "moderate"
    MODERATELY_SEVERE = "moderately_severe"
    SEVERE = "severe"


def _require_items(name: str, items: Sequence[int], count: int, highest: int) -> None:
    if len(items) != count:
        raise ValueError(f"{name} needs exactly {count} items, got {len(items)}")
    for position, item in enumerate(items, start=1):
        if not 0 <= item <= highest:
            raise ValueError(f"{name} item {position} must be between 0 and {highest}")


def who5_raw(items: Sequence[int]) -> int:
    """WHO-5 raw score: the sum of five items scored 0-5 (0-25)."""
    _require_items("WHO-5", items, WHO5_ITEMS, 5)
    return sum(items)


def who5_percent(items: Sequence[int]) -> int:
    """WHO-5 percentage score: raw score times 4 (0-100)."""
    return who5_raw(items) * 4


def phq9_total(items: Sequence[int]) -> int:
    """PHQ-9 total: the sum of nine items scored 0-3 (0-27)."""
    _require_items("PHQ-9", items, PHQ9_ITEMS, 3)
    return sum(items)


def phq9_item9_positive(items: Sequence[int]) -> bool:
    """True when PHQ-9 item 9 (thoughts of self-harm) is answered above 0."""
    _require_items("PHQ-9", items, PHQ9_ITEMS, 3)
    return items[8] >= 1


def phq9_band(total: int) -> Phq9Band:
    """The PHQ-9 severity band of a total score."""
    if not 0 <= total <= 27:
        raise ValueError(f"a PHQ-9 total lies between 0 and 27, got {total}")
    if total <= 4:
        return Phq9Band.MINIMAL
    if total <= 9:
        return Phq9Band.MILD
    if total <= 14:
        return Phq9Band.MODERATE
    if total <= 19:
        return Phq9Band.MODERATELY_SEVERE
    return Phq9Band.SEVERE


def phq2_total(items: Sequence[int]) -> int:
    """PHQ-2 total: the sum of two items scored 0-3 (0-6)."""
    _require_items("PHQ-2", items, PHQ2_ITEMS, 3)
    return sum(items)
