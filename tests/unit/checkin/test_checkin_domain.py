"""The check-in service's pure domain: pseudonyms, notes, trends, immediate support."""

import json
from datetime import date, timedelta

import pytest
from cryptography.exceptions import InvalidTag

from kinship_checkin.domain.checkins import first_of_each_id, needs_immediate_support
from kinship_checkin.domain.privacy import NoteCipher, NoteKeyUnknownError, Pseudonymiser
from kinship_checkin.domain.trends import TrendCell, team_trend
from kinship_contracts.checkins import CheckinSubmitted

KEY_A, KEY_B = b"a" * 32, b"b" * 32


def submission(id_: str = "c-1", **fields: int | bool | list[int]) -> CheckinSubmitted:
    payload = {
        "id": id_,
        "person_id": "p-1",
        "occurred_at": "2026-11-24T09:00:00+00:00",
        "source": "tests",
        **fields,
    }
    return CheckinSubmitted.model_validate_json(json.dumps(payload))


def test_subject_ids_are_stable_keyed_and_do_not_reveal_the_person() -> None:
    first = Pseudonymiser(b"k" * 32)
    assert first.subject_id("alice") == first.subject_id("alice")
    assert first.subject_id("alice") != first.subject_id("bob")
    assert first.subject_id("alice") != Pseudonymiser(b"j" * 32).subject_id("alice")
    assert "alice" not in first.subject_id("alice")


def test_notes_round_trip_and_are_bound_to_their_checkin() -> None:
    cipher = NoteCipher({"k1": KEY_A}, "k1")
    sealed = cipher.seal("I am struggling", "c-1")
    assert sealed.key_id == "k1"
    assert b"struggling" not in sealed.blob
    assert cipher.open(sealed, "c-1") == "I am struggling"
    with pytest.raises(InvalidTag):
        cipher.open(sealed, "c-2")  # moved to another row: refused


def test_the_same_note_seals_differently_each_time() -> None:
    cipher = NoteCipher({"k1": KEY_A}, "k1")
    assert cipher.seal("same", "c-1").blob != cipher.seal("same", "c-1").blob


def test_key_rotation_keeps_old_notes_readable() -> None:
    old = NoteCipher({"k1": KEY_A}, "k1").seal("before rotation", "c-1")
    rotated = NoteCipher({"k1": KEY_A, "k2": KEY_B}, "k2")
    assert rotated.seal("after", "c-2").key_id == "k2"
    assert rotated.open(old, "c-1") == "before rotation"
    with pytest.raises(NoteKeyUnknownError):
        NoteCipher({"k2": KEY_B}, "k2").open(old, "c-1")


def test_sealed_bytes_round_trip() -> None:
    cipher = NoteCipher({"k1": KEY_A}, "k1")
    key_id, blob = cipher.seal_bytes(b'{"note": "raw"}', "topic:0:7")
    assert cipher.open_bytes(key_id, blob, "topic:0:7") == b'{"note": "raw"}'
    with pytest.raises(InvalidTag):
        cipher.open_bytes(key_id, blob, "topic:0:8")


@pytest.mark.parametrize(
    ("fields", "immediate"),
    [
        ({"phq9": [0] * 8 + [1]}, True),
        ({"phq9": [3] * 8 + [0]}, False),
        ({"wants_contact": True, "stress": 5, "mood": 3}, True),
        ({"wants_contact": True, "mood": 1}, True),
        ({"wants_contact": True, "mood": 2, "stress": 4}, False),
        ({"mood": 1, "stress": 5}, False),
    ],
)
def test_immediate_support(fields: dict[str, int | bool | list[int]], immediate: bool) -> None:
    assert needs_immediate_support(submission(**fields)) is immediate  # type: ignore[arg-type]


def test_repeats_within_a_batch_count_once() -> None:
    batch = [submission("a", mood=1), submission("b", mood=2), submission("a", mood=5)]
    assert [(s.id, s.mood) for s in first_of_each_id(batch)] == [("a", 1), ("b", 2)]


MONDAY = date(2026, 11, 2)


def cell(week: int, people: int, offset: int = 0) -> TrendCell:
    return TrendCell(
        week_start=MONDAY + timedelta(weeks=week),
        people=frozenset(f"s{offset + i}" for i in range(people)),
        checkins=people,
        mood_sum=3 * people,
        mood_count=people,
    )


def test_team_of_four_people_is_not_shown() -> None:
    trend = team_trend("t", [cell(0, 4)], min_people=5)
    assert not trend.available
    assert trend.weeks == [] and trend.overall is None


def test_team_of_five_people_is_shown() -> None:
    trend = team_trend("t", [cell(0, 5)], min_people=5)
    assert trend.available
    assert trend.weeks[0].figures is not None
    assert trend.weeks[0].figures.people == 5 and trend.weeks[0].figures.mood_mean == 3.0


def test_small_week_is_hidden_together_with_another_so_it_cannot_be_subtracted() -> None:
    # Week 1 has 2 people: hiding only it would let overall - week0 - week2 reveal it.
    cells = [cell(0, 6), cell(1, 2, offset=100), cell(2, 7, offset=200)]
    trend = team_trend("t", cells, min_people=5)
    hidden = [week.week_start for week in trend.weeks if week.figures is None]
    assert MONDAY + timedelta(weeks=1) in hidden
    assert len(hidden) >= 2
    hidden_people = sum(c.checkins for c in cells if c.week_start in hidden)
    assert hidden_people >= 5


def test_whole_period_figures_are_withheld_when_any_week_is_hidden() -> None:
    trend = team_trend("t", [cell(0, 3), cell(1, 3, offset=50)], min_people=5)
    assert trend.available
    assert all(week.figures is None for week in trend.weeks)
    assert trend.overall is None
    shown = team_trend("t", [cell(0, 5), cell(1, 6, offset=50)], min_people=5)
    assert shown.overall is not None and shown.overall.people == 11
