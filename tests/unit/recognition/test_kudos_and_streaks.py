"""Kudos rules and check-in streaks."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from kinship_contracts.kudos import KudosSubmitted
from kinship_recognition.domain.kudos import (
    KudosRefusal,
    clean_message,
    milestone_reached,
    refusal,
)
from kinship_recognition.domain.streaks import current_streak, streak_milestones, week_of


def kudos(**fields: str) -> KudosSubmitted:
    body = {
        "id": "k-1",
        "from_person_id": "ann",
        "to_person_id": "bob",
        "message": "Thanks!",
        "occurred_at": "2026-11-24T09:00:00+00:00",
        "source": "tests",
        **fields,
    }
    return KudosSubmitted.model_validate_json(json.dumps(body))


def test_markup_is_stripped_to_plain_text() -> None:
    assert clean_message('<b>Great</b> <a href="http://x">work</a><script>x()</script>!') == (
        "Great work!"
    )


def test_refusals() -> None:
    assert refusal(kudos(to_person_id="ann"), 0, 10) is KudosRefusal.SELF_KUDOS
    assert refusal(kudos(message="<i></i>"), 0, 10) is KudosRefusal.EMPTY_MESSAGE
    assert refusal(kudos(), 10, 10) is KudosRefusal.DAILY_LIMIT
    assert refusal(kudos(), 9, 10) is None


def test_kudos_milestones() -> None:
    assert [n for n in range(1, 30) if milestone_reached(n)] == [5, 10, 25]


def test_week_is_the_local_monday() -> None:
    # Sunday 23:30 UTC is already Monday in Berlin.
    sunday_night = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert week_of(sunday_night, "UTC") == date(2026, 11, 23)
    assert week_of(sunday_night, "Europe/Berlin") == date(2026, 11, 30)


MONDAY = date(2026, 11, 2)


def weeks(*offsets: int) -> list[date]:
    return [MONDAY + timedelta(weeks=n) for n in offsets]


@pytest.mark.parametrize(
    ("offsets", "streak"),
    [
        ((), 0),
        ((0,), 1),
        ((0, 1, 2, 3), 4),
        ((0, 1, 3, 4), 4),  # one missed week is forgiven
        ((0, 1, 4, 5), 2),  # two missed weeks break the run
        ((0, 0, 1), 2),  # two check-ins in one week count once
    ],
)
def test_current_streak(offsets: tuple[int, ...], streak: int) -> None:
    assert current_streak(weeks(*offsets)) == streak


def test_streak_milestones() -> None:
    assert streak_milestones(3) == []
    assert streak_milestones(4) == [4]
    assert streak_milestones(13) == [4, 12]
