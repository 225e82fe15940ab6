"""iCalendar feeds of on-call shifts: events in UTC, stable UIDs, nothing personal."""

from datetime import UTC, date, datetime, time, timedelta

from icalendar import Calendar

from kinship_escalation.domain.schedules import (
    Layer,
    Override,
    Rotation,
    Schedule,
    person_calendar,
    schedule_calendar,
    shifts,
)

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
START, END = datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC)


def rota(name: str = "support", people: tuple[str, ...] = ("ana", "ben", "cai")) -> Schedule:
    return Schedule(
        name=name,
        time_zone="Europe/London",
        layers=(
            Layer(
                name="base",
                participants=people,
                rotation=Rotation(every=1, unit="days"),
                handoff_time=time(9),
                start_date=date(2026, 3, 2),
            ),
        ),
        overrides=(
            Override(
                person_id="zoe",
                start=datetime(2026, 3, 4, 12, tzinfo=UTC),
                end=datetime(2026, 3, 4, 14, tzinfo=UTC),
            ),
        ),
    )


def events(document: bytes) -> list[dict[str, object]]:
    calendar = Calendar.from_ical(document)
    return [
        {
            "uid": str(event["UID"]),
            "start": event.decoded("DTSTART"),
            "end": event.decoded("DTEND"),
            "summary": str(event["SUMMARY"]),
        }
        for event in calendar.walk("VEVENT")
    ]


def test_schedule_feed_has_one_utc_event_per_shift() -> None:
    document = schedule_calendar(rota(), START, END, generated_at=NOW)
    found = events(document)
    expected = shifts(rota(), START, END, whole=True)
    assert [(e["start"], e["end"]) for e in found] == [(s.start, s.end) for s in expected]
    assert b"TZID" not in document and b"DTSTART:20260303T090000Z" in document
    assert [e["summary"] for e in found][:2] == [
        "ana on call: support / base",
        "ben on call: support / base",
    ]
    assert "zoe on call: support (override)" in [e["summary"] for e in found]


def test_events_are_whole_shifts_not_cut_at_the_window() -> None:
    found = events(schedule_calendar(rota(), START, END, generated_at=NOW))
    assert found[0]["start"] == datetime(2026, 3, 2, 9, tzinfo=UTC) < START


def test_shift_uids_are_stable_across_fetches_and_windows() -> None:
    first = events(schedule_calendar(rota(), START, END, generated_at=NOW))
    later = events(
        schedule_calendar(
            rota(), START + timedelta(days=1), END + timedelta(days=2), generated_at=NOW
        )
    )
    by_start = {e["start"]: e["uid"] for e in first}
    shared = [e for e in later if e["start"] in by_start]
    assert shared and all(by_start[e["start"]] == e["uid"] for e in shared)
    assert len({e["uid"] for e in first}) == len(first)


def test_a_person_feed_has_only_that_persons_shifts_from_every_schedule() -> None:
    other = rota("platform", ("ben", "dov"))
    found = events(person_calendar([rota(), other], "ben", START, END, generated_at=NOW))
    assert {e["summary"] for e in found} == {
        "On call: support / base",
        "On call: platform / base",
    }
    assert [e["start"] for e in found] == sorted(e["start"] for e in found)  # type: ignore[type-var]
    ours = {
        (s.start, s.end) for s in shifts(rota(), START, END, whole=True) if s.person_id == "ben"
    }
    theirs = {
        (s.start, s.end) for s in shifts(other, START, END, whole=True) if s.person_id == "ben"
    }
    assert {(e["start"], e["end"]) for e in found} == ours | theirs


def test_a_feed_says_nothing_beyond_person_ids_and_the_schedule_name() -> None:
    document = schedule_calendar(rota(), START, END, generated_at=NOW)
    calendar = Calendar.from_ical(document)
    allowed_calendar = {
        "VERSION",
        "PRODID",
        "CALSCALE",
        "NAME",
        "X-WR-CALNAME",
        "REFRESH-INTERVAL",
        "X-PUBLISHED-TTL",
    }
    allowed_event = {"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "CATEGORIES", "TRANSP"}
    assert set(calendar.keys()) <= allowed_calendar
    for event in calendar.walk("VEVENT"):
        assert set(event.keys()) <= allowed_event
        assert event.decoded("DTSTAMP") == NOW
