"""The cheaper parse path (the ``ce_id`` header compared as bytes first, slotted results)
accepts exactly the events, and rejects with exactly the reasons, of the path it replaced
(the header decoded with replacement, then compared), for arbitrary payloads and headers."""

import json
from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.errors import safe_field_errors
from kinship_runtime.records import Accepted, Rejected, parse_records, same_text
from tests.unit.fakes.kafka import FakeRecord

ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
"""Any code points, lone surrogates included."""


def reference_parse(records: Sequence[FakeRecord]) -> tuple[list[Any], list[Any]]:
    """The parse path as it was: lax validation, the ``ce_id`` header decoded, then compared."""
    accepted: list[Any] = []
    rejected: list[Any] = []
    for record in records:
        if record.value is None:
            rejected.append((record.offset, {"code": "empty_value", "errors": []}))
            continue
        try:
            event = CheckinRecorded.model_validate_json(record.value)
        except ValidationError as error:
            errors = safe_field_errors(error, CheckinRecorded)
            rejected.append((record.offset, {"code": "validation_failed", "errors": errors}))
            continue
        ce_id = next((v.decode(errors="replace") for k, v in record.headers if k == "ce_id"), None)
        if ce_id is not None and ce_id != event.id:
            reason: dict[str, Any] = {
                "code": "id_mismatch",
                "errors": [{"loc": ["id"], "msg": "ce_id header differs from payload id"}],
            }
            rejected.append((record.offset, reason))
            continue
        accepted.append((record.offset, event))
    return accepted, rejected


def exactly(event: CheckinRecorded) -> Any:
    """Everything about an event, types included (a datetime's tzinfo class, an enum)."""

    def typed(value: Any) -> Any:
        if isinstance(value, list):
            return [typed(item) for item in value]
        if hasattr(value, "__pydantic_fields_set__"):
            return (type(value), sorted(value.model_fields_set), typed(dict(value.__dict__)))
        if isinstance(value, dict):
            return {name: typed(item) for name, item in value.items()}
        tz = getattr(value, "tzinfo", None)
        return (type(value), repr(value), type(tz), value)

    return typed(event)


def outcome(
    result: tuple[list[Accepted[CheckinRecorded]], list[Rejected]],
) -> tuple[list[Any], list[Any]]:
    accepted, rejected = result
    return (
        [(item.record.offset, exactly(item.event)) for item in accepted],
        [(item.record.offset, item.reason) for item in rejected],
    )


TIMES = st.sampled_from(
    [
        "2026-11-29T09:00:00Z",
        "2026-11-29T09:00:00.123456Z",
        "2026-11-29T09:00:00.5+02:00",
        "2026-11-29T09:00:00-00:00",
        "2026-11-29t09:00:00z",
        "2026-11-29 09:00:00+05:30",
        "2026-11-29T09:00:00",  # naive: refused
        "2026-02-30T09:00:00Z",
        "2026-11-29T09:00:00.1234567Z",
        "0001-01-01T00:00:00+01:00",
        "2026-11-29",
        1764406800,
        1764406800.5,
        "1764406800",
        None,
    ]
)
INTS = st.one_of(st.none(), st.integers(-3, 30), st.sampled_from([3.0, 2.5, "3", "x", True, []]))
INT_LISTS = st.one_of(
    st.none(),
    st.lists(st.integers(0, 5), max_size=9),
    st.lists(st.sampled_from([1, 1.0, "1", True, None]), max_size=3),
    st.just("1,2"),
)
BOOLS = st.sampled_from([True, False, 0, 1, "true", "false", "yes", None, 1.0])
BANDS = st.sampled_from(["minimal", "mild", "moderately_severe", "severe", "MILD", "x", 3, None])


@st.composite
def payloads(draw: st.DrawFn) -> Any:
    """A recorded event with any field mistyped, missing, extra or coercible."""
    scores: dict[str, Any] = {}
    for name, values in {
        "who5_raw": INTS,
        "who5_percent": INTS,
        "phq9_total": INTS,
        "phq9_band": BANDS,
        "phq9_item9_positive": BOOLS,
        "phq2_total": INTS,
    }.items():
        if draw(st.booleans()):
            scores[name] = draw(values)
    event: dict[str, Any] = {}
    fields: dict[str, Any] = {
        "id": st.one_of(st.text(min_size=1, max_size=8), st.sampled_from([1, None])),
        "subject_id": st.one_of(st.text(min_size=1, max_size=8), st.just(2)),
        "team_id": st.one_of(st.none(), st.text(max_size=5), st.just(7)),
        "occurred_at": TIMES,
        "recorded_at": TIMES,
        "source": st.one_of(st.text(max_size=5), st.just(False)),
        "mood": INTS,
        "stress": INTS,
        "energy": INTS,
        "who5": INT_LISTS,
        "phq9": INT_LISTS,
        "phq2": INT_LISTS,
        "wants_contact": BOOLS,
        "has_note": BOOLS,
        "note_shared": BOOLS,
        "scores": st.one_of(st.just(scores), st.sampled_from([None, [], "s"])),
        "unknown": st.integers(),
    }
    required = {"id", "subject_id", "occurred_at", "recorded_at", "source", "scores"}
    for name, values in fields.items():
        if (name in required and draw(st.integers(0, 9)) > 0) or draw(st.booleans()):
            event[name] = draw(values)
    return event


WELL_TYPED = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=8),
        "subject_id": st.text(min_size=1, max_size=8),
        "occurred_at": st.sampled_from(["2026-11-29T09:00:00.5+02:00", "2026-01-01T00:00:00Z"]),
        "recorded_at": st.just("2026-11-29T09:00:01.123456Z"),
        "source": st.text(max_size=5),
        "scores": st.fixed_dictionaries(
            {}, optional={"phq9_total": st.integers(0, 27), "phq9_band": st.just("mild")}
        ),
    },
    optional={
        "team_id": st.text(max_size=5),
        "mood": st.integers(1, 5),
        "who5": st.lists(st.integers(0, 5), min_size=5, max_size=5),
        "wants_contact": st.booleans(),
        "has_note": st.booleans(),
    },
)


HEADERS: st.SearchStrategy[list[tuple[str, bytes]]] = st.one_of(
    st.just([]),
    st.lists(
        st.tuples(
            st.sampled_from(["ce_id", "ce_type", "traceparent"]),
            st.one_of(st.binary(max_size=6), ANY_TEXT.map(lambda t: t.encode("utf-8", "replace"))),
        ),
        max_size=3,
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.one_of(payloads(), WELL_TYPED), HEADERS, st.booleans()), max_size=6))
def test_parsing_accepts_and_rejects_exactly_as_the_decoding_path(
    batch: list[tuple[Any, list[tuple[str, bytes]], bool]],
) -> None:
    records = []
    for offset, (payload, headers, id_header) in enumerate(batch):
        if id_header and isinstance(payload.get("id"), str):  # the usual case: ce_id matches
            headers = [("ce_id", payload["id"].encode()), *headers]
        records.append(FakeRecord(json.dumps(payload).encode(), headers=headers, offset=offset))
    records.append(FakeRecord(None, offset=len(records)))
    reference = reference_parse(records)
    expected = (
        [(offset, exactly(event)) for offset, event in reference[0]],
        reference[1],
    )
    assert outcome(parse_records(CheckinRecorded)(records)) == expected


@given(
    st.one_of(st.binary(max_size=8), ANY_TEXT.map(lambda t: t.encode("utf-8", "replace"))), ANY_TEXT
)
def test_same_text_is_decoding_with_replacement_then_comparing(value: bytes, text: str) -> None:
    assert same_text(value, text) == (value.decode(errors="replace") == text)
    decoded = value.decode(errors="replace")
    assert same_text(value, decoded)
    assert same_text(text.encode("utf-8", "surrogatepass"), text) == (
        text.encode("utf-8", "surrogatepass").decode(errors="replace") == text
    )
