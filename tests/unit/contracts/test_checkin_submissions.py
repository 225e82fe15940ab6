"""What ``CheckinSubmitted`` accepts and refuses at the edge (topic and HTTP body)."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from kinship_contracts.checkins import NOTE_MAX_CHARS, CheckinSubmitted
from tests.kafka_reading import checkin, encode


def parse(**fields: Any) -> CheckinSubmitted:
    """Parse a submission from JSON bytes (mood 3 unless overridden)."""
    return CheckinSubmitted.model_validate_json(encode(checkin("c-1", "p-1", **fields)))


def refusal(**fields: Any) -> list[tuple[tuple[int | str, ...], str]]:
    """The (location, error type) pairs of a refused submission."""
    with pytest.raises(ValidationError) as error:
        parse(**fields)
    return [(tuple(detail["loc"]), detail["type"]) for detail in error.value.errors()]


@pytest.mark.parametrize("field", ["mood", "stress", "energy"])
@pytest.mark.parametrize("value", [1, 5])
def test_likert_answers_1_and_5_are_accepted(field: str, value: int) -> None:
    assert getattr(parse(**{field: value}), field) == value


@pytest.mark.parametrize("field", ["mood", "stress", "energy"])
@pytest.mark.parametrize(("value", "kind"), [(0, "greater_than_equal"), (6, "less_than_equal")])
def test_likert_answers_0_and_6_are_refused(field: str, value: int, kind: str) -> None:
    assert refusal(**{field: value}) == [((field,), kind)]


@pytest.mark.parametrize("value", ["3", 3.0, True, None], ids=["string", "float", "bool", "null"])
def test_mood_must_be_a_json_integer_not_a_lookalike(value: Any) -> None:
    if value is None:
        # null is "not answered": valid only beside another answer.
        assert parse(mood=None, wants_contact=True).mood is None
        return
    assert refusal(mood=value) == [(("mood",), "int_type")]


def test_strict_integers_also_apply_to_python_input() -> None:
    payload = checkin("c-1", "p-1", mood="4")
    with pytest.raises(ValidationError):
        CheckinSubmitted.model_validate(payload)


@pytest.mark.parametrize(
    ("who5", "loc", "kind"),
    [
        ([1, 1, 1, 1], ("who5",), "too_short"),
        ([1, 1, 1, 1, 1, 1], ("who5",), "too_long"),
        ([1, 1, 6, 1, 1], ("who5", 2), "less_than_equal"),
        ([1, 1, 1, 1, -1], ("who5", 4), "greater_than_equal"),
        ([1, 1, "1", 1, 1], ("who5", 2), "int_type"),
    ],
    ids=["four-items", "six-items", "item-6", "item-negative", "item-string"],
)
def test_who5_needs_five_integers_from_0_to_5(who5: list[Any], loc: tuple[Any], kind: str) -> None:
    assert refusal(who5=who5) == [(loc, kind)]


def test_who5_items_0_and_5_are_accepted() -> None:
    assert parse(who5=[0, 5, 0, 5, 0]).who5 == [0, 5, 0, 5, 0]


@pytest.mark.parametrize(
    ("phq9", "loc", "kind"),
    [
        ([0] * 8, ("phq9",), "too_short"),
        ([0] * 10, ("phq9",), "too_long"),
        ([0] * 8 + [4], ("phq9", 8), "less_than_equal"),
        ([-1] + [0] * 8, ("phq9", 0), "greater_than_equal"),
    ],
    ids=["eight-items", "ten-items", "item9-4", "item1-negative"],
)
def test_phq9_needs_nine_integers_from_0_to_3(phq9: list[int], loc: tuple[Any], kind: str) -> None:
    assert refusal(phq9=phq9) == [(loc, kind)]


@pytest.mark.parametrize(
    ("phq2", "loc", "kind"),
    [
        ([1], ("phq2",), "too_short"),
        ([1, 1, 1], ("phq2",), "too_long"),
        ([0, 4], ("phq2", 1), "less_than_equal"),
    ],
    ids=["one-item", "three-items", "item-4"],
)
def test_phq2_needs_two_integers_from_0_to_3(phq2: list[int], loc: tuple[Any], kind: str) -> None:
    assert refusal(phq2=phq2) == [(loc, kind)]


@pytest.mark.parametrize(
    ("field", "items"),
    [("phq9", [3] * 9), ("phq2", [0, 3])],
    ids=["phq9-all-3", "phq2-0-and-3"],
)
def test_phq_items_0_to_3_are_accepted(field: str, items: list[int]) -> None:
    assert getattr(parse(**{field: items}), field) == items


def test_note_of_exactly_2000_characters_is_accepted_counting_characters_not_bytes() -> None:
    note = "é" * NOTE_MAX_CHARS  # 4000 bytes in UTF-8
    assert parse(note=note).note == note


def test_note_of_2001_characters_is_refused() -> None:
    ((loc, kind),) = refusal(note="é" * (NOTE_MAX_CHARS + 1))
    assert loc == ("note",)
    assert kind.endswith("too_long")


@pytest.mark.parametrize("note", ["\x00", "start\x00", "\x00end"])
def test_note_with_a_nul_character_is_refused_wherever_it_is(note: str) -> None:
    assert refusal(note=note) == [(("note",), "value_error")]


def test_empty_note_is_allowed() -> None:
    assert parse(note="").note == ""


@pytest.mark.parametrize(
    "fields",
    [
        {"mood": None},
        {"mood": None, "stress": 5},
        {"mood": None, "energy": 1},
        {"mood": None, "note": "only a note"},
        {"mood": None, "who5": None, "phq9": None, "phq2": None},
    ],
    ids=["nothing", "stress-only", "energy-only", "note-only", "all-null"],
)
def test_a_checkin_without_mood_questionnaire_or_contact_request_is_refused(
    fields: dict[str, Any],
) -> None:
    assert refusal(**fields) == [((), "value_error")]


@pytest.mark.parametrize(
    "fields",
    [
        {"mood": None, "who5": [3, 3, 3, 3, 3]},
        {"mood": None, "phq9": [0] * 9},
        {"mood": None, "phq2": [0, 0]},
        {"mood": None, "wants_contact": True},
        {"mood": None, "wants_contact": False},
    ],
    ids=["who5", "phq9", "phq2", "wants-contact", "wants-contact-false-given"],
)
def test_any_one_answer_is_enough(fields: dict[str, Any]) -> None:
    assert parse(**fields).id == "c-1"


def test_wants_contact_defaults_to_false() -> None:
    assert parse().wants_contact is False


@pytest.mark.parametrize("value", ["true", 1, "yes"])
def test_wants_contact_must_be_a_json_boolean(value: Any) -> None:
    assert refusal(wants_contact=value) == [(("wants_contact",), "bool_type")]


@pytest.mark.parametrize("field", ["wants_contcat", "subject_id", "team_id", "scores"])
def test_unknown_fields_are_refused_so_a_misspelt_help_request_is_not_dropped(field: str) -> None:
    assert refusal(**{field: True}) == [((field,), "extra_forbidden")]


@pytest.mark.parametrize("field", ["id", "person_id", "occurred_at", "source"])
def test_required_envelope_fields_are_required(field: str) -> None:
    payload = checkin("c-1", "p-1")
    del payload[field]
    with pytest.raises(ValidationError) as error:
        CheckinSubmitted.model_validate_json(encode(payload))
    assert [(tuple(d["loc"]), d["type"]) for d in error.value.errors()] == [((field,), "missing")]


@pytest.mark.parametrize(
    "value",
    ["has space", "naïve", "", "x" * 201],
    ids=["space", "non-ascii", "empty", "201-chars"],
)
@pytest.mark.parametrize("field", ["id", "person_id"])
def test_ids_are_1_to_200_printable_ascii_characters_without_spaces(field: str, value: str) -> None:
    assert len(refusal(**{field: value})) == 1


@pytest.mark.parametrize("field", ["id", "person_id"])
def test_ids_of_200_printable_characters_are_accepted(field: str) -> None:
    value = "!~" * 100
    assert getattr(parse(**{field: value}), field) == value


def test_source_is_stripped_and_must_not_be_blank() -> None:
    assert parse(source="  hr-portal  ").source == "hr-portal"
    assert refusal(source="   ") == [(("source",), "string_too_short")]


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("2026-11-24T09:00:00+01:00", timedelta(hours=1)),
        ("2026-11-24T09:00:00-05:30", timedelta(hours=-5, minutes=-30)),
        ("2026-11-24T09:00:00Z", timedelta(0)),
        ("2026-11-24T09:00:00.250+00:00", timedelta(0)),
        ("2026-11-24 09:00:00+02:00", timedelta(hours=2)),
    ],
    ids=["plus-one", "minus-five-thirty", "zulu", "fraction", "space-separator"],
)
def test_rfc3339_timestamps_with_an_offset_are_accepted_and_keep_it(
    text: str, offset: timedelta
) -> None:
    occurred = parse(occurred_at=text).occurred_at
    assert occurred.utcoffset() == offset


@pytest.mark.parametrize(
    "text",
    ["2026-11-24T09:00:00", "2026-11-24", "24/11/2026 09:00", "yesterday"],
    ids=["naive", "date-only", "local-format", "words"],
)
def test_timestamps_without_an_offset_or_not_rfc3339_are_refused(text: str) -> None:
    assert len(refusal(occurred_at=text)) == 1


@pytest.mark.parametrize("value", [1764000000, "1764000000"], ids=["number", "numeric-string"])
def test_unix_epoch_seconds_are_not_an_rfc3339_timestamp(value: Any) -> None:
    with pytest.raises(ValidationError):
        parse(occurred_at=value)


def test_accepted_submission_is_immutable() -> None:
    submission = parse()
    with pytest.raises(ValidationError):
        submission.mood = 1  # type: ignore[misc]


def test_occurred_at_compares_as_an_instant() -> None:
    assert parse(occurred_at="2026-11-24T09:00:00+01:00").occurred_at == datetime(
        2026, 11, 24, 8, tzinfo=UTC
    )


# Input that used to reach the database and fail there (issue 14) ----------------------


def _refused(**fields: object) -> list[str]:
    payload = json.dumps({**VALID_BASE, **fields})
    with pytest.raises(ValidationError) as error:
        CheckinSubmitted.model_validate_json(payload)
    return [".".join(map(str, e["loc"])) for e in error.value.errors()]


VALID_BASE = {
    "id": "c-1",
    "person_id": "p-1",
    "occurred_at": "2026-11-24T09:00:00+00:00",
    "source": "tests",
    "mood": 3,
}


def test_a_nul_in_the_source_is_refused() -> None:
    assert _refused(source="portal\u0000") == ["source"]


@pytest.mark.parametrize("field", ["note", "source"])
def test_a_lone_surrogate_is_refused_where_text_is_stored(field: str) -> None:
    # An unpaired surrogate cannot be stored as UTF-8. Kafka bytes carrying one are refused
    # as invalid JSON; an HTTP body (parsed by Python's json) reaches the field validator.
    with pytest.raises(ValidationError) as raw:
        CheckinSubmitted.model_validate_json(
            json.dumps({**VALID_BASE, field: "placeholder"}).replace("placeholder", "x\\ud800y")
        )
    assert [e["type"] for e in raw.value.errors()] == ["json_invalid"]
    with pytest.raises(ValidationError) as parsed:
        CheckinSubmitted.model_validate({**VALID_BASE, field: "x\ud800y"})
    assert [e["loc"] for e in parsed.value.errors()] == [(field,)]


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-12:00",
        "1969-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
    ],
)
def test_timestamps_outside_1970_to_2100_are_refused_not_overflowed(when: str) -> None:
    assert _refused(occurred_at=when) == ["occurred_at"]


@pytest.mark.parametrize("when", ["1970-01-01T00:00:00Z", "2099-12-31T23:59:59+00:00"])
def test_timestamps_at_the_edges_of_the_range_are_accepted(when: str) -> None:
    payload = json.dumps({**VALID_BASE, "occurred_at": when})
    assert CheckinSubmitted.model_validate_json(payload).occurred_at.year in (1970, 2099)
