"""Published scoring rules and the validation of check-in submissions."""

import json
from typing import Any

import pytest
from pydantic import ValidationError

from kinship_contracts import scoring
from kinship_contracts.checkins import CheckinSubmitted, DerivedScores
from kinship_contracts.envelope import CloudEventAttributes
from kinship_contracts.topics import TOPICS, topic


def submission(**fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "c-1",
        "person_id": "p-1",
        "occurred_at": "2026-11-24T09:00:00+01:00",
        "source": "tests",
    }
    payload.update(fields)
    return payload


def parse(**fields: Any) -> CheckinSubmitted:
    return CheckinSubmitted.model_validate_json(json.dumps(submission(**fields)))


def test_who5_raw_is_the_sum_and_percentage_is_four_times_it() -> None:
    assert scoring.who5_raw([3, 2, 4, 3, 0]) == 12
    assert scoring.who5_percent([3, 2, 4, 3, 0]) == 48
    assert scoring.who5_percent([5, 5, 5, 5, 5]) == 100


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
def test_phq9_bands_follow_kroenke_2001(total: int, band: str) -> None:
    assert scoring.phq9_band(total).value == band


def test_scores_refuse_out_of_range_items() -> None:
    with pytest.raises(ValueError, match="PHQ-9"):
        scoring.phq9_total([4, 0, 0, 0, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="WHO-5"):
        scoring.who5_raw([1, 2, 3])
    with pytest.raises(ValueError):
        scoring.phq9_band(28)


def test_item9_flag_is_positive_from_1() -> None:
    assert not scoring.phq9_item9_positive([0] * 9)
    assert scoring.phq9_item9_positive([0] * 8 + [1])


def test_derived_scores_take_phq2_from_phq9_items_1_and_2() -> None:
    scores = DerivedScores.of(parse(phq9=[2, 1, 0, 0, 0, 0, 0, 0, 1]))
    assert (scores.phq9_total, scores.phq2_total, scores.phq9_item9_positive) == (4, 3, True)
    assert scores.phq9_band is not None and scores.phq9_band.value == "minimal"
    assert DerivedScores.of(parse(phq2=[1, 1])).phq2_total == 2
    assert DerivedScores.of(parse(mood=3)).who5_raw is None


@pytest.mark.parametrize(
    "fields",
    [
        {"mood": 0},
        {"mood": 6},
        {"mood": "3"},
        {"mood": True},
        {"stress": 6, "mood": 3},
        {"who5": [1, 2, 3, 4]},
        {"who5": [6, 0, 0, 0, 0]},
        {"phq9": [0] * 8},
        {"phq9": [4] + [0] * 8},
        {"phq2": [1, 1, 1]},
        {"mood": 3, "note": "x" * 2001},
        {"mood": 3, "note": "a\x00b"},
        {"mood": 3, "wants_contcat": True},
        {"energy": 3},
        {"mood": 3, "occurred_at": "2026-11-24T09:00:00"},
        {"mood": 3, "id": ""},
    ],
    ids=[
        "mood-0",
        "mood-6",
        "mood-string",
        "mood-bool",
        "stress-6",
        "who5-short",
        "who5-item-6",
        "phq9-short",
        "phq9-item-4",
        "phq2-long",
        "note-2001",
        "note-nul",
        "misspelt-field",
        "no-answer",
        "naive-time",
        "empty-id",
    ],
)
def test_invalid_submissions_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse(**fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"mood": 1},
        {"mood": 5},
        {"who5": [0, 0, 0, 0, 0]},
        {"phq9": [3] * 9},
        {"phq2": [0, 3]},
        {"wants_contact": False},
        {"mood": 3, "note": "x" * 2000},
    ],
)
def test_valid_submissions_are_accepted(fields: dict[str, Any]) -> None:
    assert parse(**fields).id == "c-1"


def test_cloud_event_headers_round_trip() -> None:
    from datetime import UTC, datetime

    attributes = CloudEventAttributes(
        id="e-1", source="tests", type="kinship.checkin.recorded.v1", time=datetime.now(UTC)
    )
    headers = dict(attributes.to_headers())
    assert headers["content-type"] == b"application/json"
    assert headers["ce_specversion"] == b"1.0"
    assert CloudEventAttributes.from_headers(headers) == attributes
    assert CloudEventAttributes.from_headers({}) is None


def test_topic_registry_names_are_unique_and_every_topic_has_a_dead_letter_topic() -> None:
    names = [spec.name for spec in TOPICS]
    assert len(names) == len(set(names))
    assert all(spec.dead_letter == f"{spec.name}.dlq" for spec in TOPICS)
    assert topic("directory.people").compacted
    with pytest.raises(KeyError, match="known topics"):
        topic("no.such.topic")
