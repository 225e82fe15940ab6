"""The recorded event's bytes, built with orjson on the hot path, are exactly what the
contract's pydantic model writes (``CheckinRecorded.model_dump_json(exclude_none=True)``),
and its derived scores are ``DerivedScores.of``'s, for arbitrary valid submissions."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kinship_checkin.domain.checkins import RecordedEvent, derived_scores, record_checkin
from kinship_contracts.checkins import CheckinRecorded, CheckinSubmitted, DerivedScores

PRINTABLE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """RFC 3339 text within the contract's range, with Z or an offset, with or without a
    fraction."""
    moment = draw(st.datetimes(datetime(1971, 1, 1), datetime(2099, 12, 30)))
    offset = draw(st.sampled_from(["Z", "z", "+00:00", "-00:00", "+14:00", "-12:00", "+05:30"]))
    fraction = draw(st.sampled_from(["", ".5", ".123456", ".000001", ".1234567", ".0"]))
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + offset


@st.composite
def submissions(draw: st.DrawFn) -> CheckinSubmitted:
    """A valid submission as it arrives (parsed from JSON), any mix of answers."""
    body: dict[str, Any] = {
        "id": draw(PRINTABLE),
        "person_id": draw(PRINTABLE),
        "occurred_at": draw(timestamps()),
        "source": draw(TEXT.filter(lambda text: text.strip() != "")),
    }
    optional = {
        "mood": st.integers(1, 5),
        "stress": st.integers(1, 5),
        "energy": st.integers(1, 5),
        "who5": st.lists(st.integers(0, 5), min_size=5, max_size=5),
        "phq9": st.lists(st.integers(0, 3), min_size=9, max_size=9),
        "phq2": st.lists(st.integers(0, 3), min_size=2, max_size=2),
        "note": TEXT,
        "wants_contact": st.booleans(),
        "share_note": st.booleans(),
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            body[name] = draw(values)
    if not {"mood", "who5", "phq9", "phq2", "wants_contact"} & body.keys():
        body["wants_contact"] = draw(st.booleans())
    return CheckinSubmitted.model_validate_json(json.dumps(body))


recorded_times = st.datetimes(
    datetime(1971, 1, 1),
    datetime(2099, 12, 30),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
    ),
)


def pydantic_event(
    submission: CheckinSubmitted, subject_id: str, team_id: str | None, recorded_at: datetime
) -> CheckinRecorded:
    """The event as the service built it before (the contract's model, validated)."""
    return CheckinRecorded(
        id=submission.id,
        subject_id=subject_id,
        team_id=team_id,
        occurred_at=submission.occurred_at,
        recorded_at=recorded_at,
        source=submission.source,
        mood=submission.mood,
        stress=submission.stress,
        energy=submission.energy,
        who5=submission.who5,
        phq9=submission.phq9,
        phq2=submission.phq2,
        wants_contact=submission.wants_contact,
        has_note=submission.note is not None and submission.note != "",
        note_shared=bool(submission.note) and submission.share_note,
        scores=DerivedScores.of(submission),
    )


def recorded(
    submission: CheckinSubmitted, subject_id: str, team_id: str | None, recorded_at: datetime
) -> RecordedEvent:
    return record_checkin(submission, subject_id, team_id, None, recorded_at).event


@settings(max_examples=400, deadline=None)
@given(submissions(), PRINTABLE, st.none() | TEXT, recorded_times)
def test_the_orjson_event_is_byte_for_byte_the_pydantic_one(
    submission: CheckinSubmitted, subject_id: str, team_id: str | None, recorded_at: datetime
) -> None:
    expected = pydantic_event(submission, subject_id, team_id, recorded_at)
    written = recorded(submission, subject_id, team_id, recorded_at).json()
    assert written == expected.model_dump_json(exclude_none=True).encode()
    # ... and readers (escalation, recognition) get the same event back from it.
    assert CheckinRecorded.model_validate_json(written) == expected


@settings(max_examples=300, deadline=None)
@given(submissions())
def test_the_derived_scores_are_the_contracts(submission: CheckinSubmitted) -> None:
    scores = derived_scores(submission)
    expected = DerivedScores.of(submission)
    assert {
        "who5_raw": scores.who5_raw,
        "who5_percent": scores.who5_percent,
        "phq9_total": scores.phq9_total,
        "phq9_band": scores.phq9_band,
        "phq9_item9_positive": scores.phq9_item9_positive,
        "phq2_total": scores.phq2_total,
    } == expected.model_dump()


def test_absent_answers_and_scores_are_left_out_not_written_as_null() -> None:
    submission = CheckinSubmitted.model_validate_json(
        b'{"id":"c-1","person_id":"p","occurred_at":"2026-11-24T09:00:00+01:00",'
        b'"source":"app","wants_contact":true}'
    )
    at = datetime(2026, 11, 24, 9, 0, 1, 250000, tzinfo=UTC)
    assert json.loads(recorded(submission, "s-1", None, at).json()) == {
        "id": "c-1",
        "subject_id": "s-1",
        "occurred_at": "2026-11-24T09:00:00+01:00",
        "recorded_at": "2026-11-24T09:00:01.250000Z",
        "source": "app",
        "wants_contact": True,
        "has_note": False,
        "note_shared": False,
        "scores": {},
    }


def test_a_full_questionnaire_writes_every_score_in_the_contracts_order() -> None:
    submission = CheckinSubmitted.model_validate_json(
        b'{"id":"c-2","person_id":"p","occurred_at":"2026-11-24T09:00:00Z","source":"app",'
        b'"mood":2,"who5":[1,1,1,1,1],"phq9":[2,1,1,1,1,1,1,1,1],"note":"n","share_note":true}'
    )
    written = recorded(submission, "s-1", "t-1", datetime(2026, 11, 24, tzinfo=UTC)).json()
    scores = json.loads(written)["scores"]
    assert list(scores.items()) == [
        ("who5_raw", 5),
        ("who5_percent", 20),
        ("phq9_total", 10),
        ("phq9_band", "moderate"),
        ("phq9_item9_positive", True),
        ("phq2_total", 3),
    ]
    assert b'"team_id":"t-1"' in written and b'"note_shared":true' in written
