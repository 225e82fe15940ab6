"""Responder wellbeing: on-call load with night hours in each person's zone, and fair shares."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from kinship_escalation.domain.schedules import (
    WEEKDAYS,
    Layer,
    NightWindow,
    Override,
    Restriction,
    Rotation,
    Schedule,
    Shift,
    ShiftSource,
    fair_share,
    on_call_load,
    schedule_fair_share,
    shifts,
)

LONDON = ZoneInfo("Europe/London")
HOUR = timedelta(hours=1)


def shift(person: str, start: datetime, end: datetime) -> Shift:
    return Shift(person_id=person, start=start, end=end, layer="base", source=ShiftSource.ROTATION)


def at(day: int, hour: int, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=LONDON)


def test_night_hours_are_counted_in_each_persons_own_zone() -> None:
    held = [shift("ana", at(5, 20), at(6, 8)), shift("ben", at(5, 20), at(6, 8))]
    loads = on_call_load(
        held, at(5, 0), at(7, 0), time_zones={"ana": "Europe/London", "ben": "America/New_York"}
    )
    ana, ben = loads
    assert (ana.person_id, ana.on_call, ana.night) == ("ana", 12 * HOUR, 7 * HOUR)
    # 23:00-06:00 in New York is 04:00-11:00 in London: four hours of the shift.
    assert (ben.person_id, ben.on_call, ben.night) == ("ben", 12 * HOUR, 4 * HOUR)
    assert ana.on_call_hours == 12.0 and ana.night_hours == 7.0


def test_a_short_night_at_the_spring_change_counts_six_hours() -> None:
    held = [shift("ana", at(28, 12, month=3), at(29, 12, month=3))]
    (load,) = on_call_load(held, at(28, 0, 3), at(30, 0, 3), time_zones={"ana": "Europe/London"})
    assert load.night == 6 * HOUR
    assert load.on_call == 23 * HOUR


def test_overlapping_shifts_from_two_schedules_count_once() -> None:
    held = [shift("ana", at(5, 9), at(5, 17)), shift("ana", at(5, 12), at(5, 20))]
    (load,) = on_call_load(held, at(5, 0), at(6, 0), time_zones={})
    assert load.on_call == 11 * HOUR


def test_pages_and_cases_count_inside_the_period_and_night_pages_apart() -> None:
    loads = on_call_load(
        [],
        at(5, 0),
        at(6, 0),
        time_zones={"ana": "Europe/London"},
        pages={"ana": [at(5, 3), at(5, 14), at(6, 3)]},
        cases={"ana": [at(5, 14), at(4, 14)], "ben": [at(9, 1)]},
    )
    assert [(x.person_id, x.pages, x.night_pages, x.cases, x.on_call) for x in loads] == [
        ("ana", 2, 1, 1, timedelta())
    ]


def test_the_night_window_can_be_changed() -> None:
    held = [shift("ana", at(5, 20), at(6, 8))]
    (load,) = on_call_load(
        held,
        at(5, 0),
        at(7, 0),
        time_zones={},
        default_time_zone="Europe/London",
        night=NightWindow(start=time(22), end=time(7)),
    )
    assert load.night == 9 * HOUR


def rota(**extra: object) -> Schedule:
    return Schedule.model_validate(
        {
            "name": "support",
            "time_zone": "Europe/London",
            "layers": [
                Layer(
                    name="base",
                    participants=("ana", "ben", "cai"),
                    rotation=Rotation(every=1, unit="days"),
                    handoff_time=time(9),
                    start_date=date(2026, 1, 5),
                    restrictions=[Restriction(days=WEEKDAYS, start=time(9), end=time(17))],
                )
            ],
            **extra,
        }
    )


def test_fair_share_splits_covered_time_and_accounts_for_the_rest() -> None:
    outsider = Override(person_id="zoe", start=at(7, 10), end=at(7, 12))
    report = schedule_fair_share(rota(overrides=[outsider]), at(5, 9), at(8, 9))
    assert report.period == 72 * HOUR
    assert report.covered == 24 * HOUR
    assert report.others == 2 * HOUR
    assert report.uncovered == 48 * HOUR
    assert [(p.person_id, p.on_call) for p in report.participants] == [
        ("ana", 8 * HOUR),
        ("ben", 8 * HOUR),
        ("cai", 6 * HOUR),
    ]
    assert report.even == 8 * HOUR
    assert [p.difference for p in report.participants] == [timedelta(), timedelta(), -2 * HOUR]
    assert report.participants[2].share == pytest.approx(0.25)
    assert report.participants[0].even_share == pytest.approx(1 / 3)


def test_a_layers_fair_share_counts_only_that_layer() -> None:
    report = schedule_fair_share(rota(), at(5, 9), at(8, 9), layer="base")
    assert [p.on_call for p in report.participants] == [8 * HOUR] * 3


def test_participants_who_held_nothing_still_appear() -> None:
    report = fair_share([shift("ana", at(5, 9), at(5, 17))], ["ana", "ben"], at(5, 0), at(6, 0))
    assert [(p.person_id, p.on_call, p.share) for p in report.participants] == [
        ("ana", 8 * HOUR, 1.0),
        ("ben", timedelta(), 0.0),
    ]


def test_fair_share_refuses_overlapping_shifts() -> None:
    held = [shift("ana", at(5, 9), at(5, 17)), shift("ben", at(5, 12), at(5, 20))]
    with pytest.raises(ValueError, match="overlap"):
        fair_share(held, ["ana", "ben"], at(5, 0), at(6, 0))


def test_load_follows_the_schedules_shifts() -> None:
    found = shifts(rota(), at(5, 0), at(10, 0))
    loads = on_call_load(found, at(5, 0), at(10, 0), time_zones={})
    assert [(x.person_id, x.on_call) for x in loads] == [
        ("ana", 16 * HOUR),
        ("ben", 16 * HOUR),
        ("cai", 8 * HOUR),
    ]
    assert all(x.night == timedelta() for x in loads)
    assert datetime(2026, 1, 5, tzinfo=UTC).weekday() == 0
