"""On-call schedules: layers, restrictions, overrides, swaps, holidays, rest and DST, by example."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from kinship_escalation.domain.policies import OnCallRotation
from kinship_escalation.domain.schedules import (
    WEEKDAYS,
    Holiday,
    HolidayRule,
    Layer,
    Override,
    Restriction,
    Rotation,
    Schedule,
    ShiftSource,
    Swap,
    layer_shifts,
    next_handoff,
    on_call_at,
    on_call_order,
    schedule_from_rotation,
    shifts,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
DAILY = Rotation(every=1, unit="days")
WEEKLY = Rotation(every=1, unit="weeks")


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def new_york(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def rotation_layer(
    name: str = "base",
    people: tuple[str, ...] = ("ana", "ben", "cai"),
    rotation: Rotation = DAILY,
    handoff: time = time(9),
    start: date = date(2026, 3, 2),
    **extra: Any,
) -> Layer:
    return Layer.model_validate(
        {
            "name": name,
            "participants": people,
            "rotation": rotation,
            "handoff_time": handoff,
            "start_date": start,
            **extra,
        }
    )


def schedule(*layers: Layer, zone: str = "Europe/London", **extra: object) -> Schedule:
    return Schedule.model_validate(
        {"name": "support", "time_zone": zone, "layers": layers or (rotation_layer(),), **extra}
    )


def office_and_nights(**extra: Any) -> Schedule:
    """Nights (bottom) 17:00-09:00 on weekdays, weekday daytime (top) 09:00-17:00."""
    nights = rotation_layer(
        "nights",
        ("nia", "noe"),
        DAILY,
        time(17),
        restrictions=[Restriction(days=WEEKDAYS, start=time(17), end=time(9))],
    )
    days = rotation_layer(
        "office",
        ("dan", "dee"),
        WEEKLY,
        time(9),
        restrictions=[Restriction(days=WEEKDAYS, start=time(9), end=time(17))],
        **extra,
    )
    return schedule(nights, days)


# ---- rotations -------------------------------------------------------------------------------


def test_daily_rotation_hands_off_at_the_handoff_time_in_turn_order() -> None:
    plan = schedule()
    assert on_call_at(plan, london(2026, 3, 2, 9)) == ["ana"]
    assert on_call_at(plan, london(2026, 3, 3, 8, 59)) == ["ana"]
    assert on_call_at(plan, london(2026, 3, 3, 9)) == ["ben"]
    assert on_call_at(plan, london(2026, 3, 4, 9)) == ["cai"]
    assert on_call_at(plan, london(2026, 3, 5, 9)) == ["ana"]


def test_nobody_is_on_call_before_a_layer_starts() -> None:
    plan = schedule()
    assert on_call_at(plan, london(2026, 3, 2, 8, 59)) == []
    assert on_call_at(plan, london(2026, 3, 2, 9)) == ["ana"]


def test_hourly_rotation_counts_hours_on_the_wall_clock() -> None:
    plan = schedule(rotation_layer(rotation=Rotation(every=12, unit="hours")))
    assert on_call_at(plan, london(2026, 3, 2, 20, 59)) == ["ana"]
    assert on_call_at(plan, london(2026, 3, 2, 21)) == ["ben"]
    assert on_call_at(plan, london(2026, 3, 3, 9)) == ["cai"]


def test_unknown_instants_must_carry_an_offset() -> None:
    with pytest.raises(ValueError, match="aware"):
        on_call_at(schedule(), datetime(2026, 3, 3, 9))


# ---- layers and restrictions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [(8, 59, "noe"), (9, 0, "dan"), (16, 59, "dan"), (17, 0, "nia")],
)
def test_weekday_daytime_layer_over_nights_layer_at_the_edges(
    hour: int, minute: int, expected: str
) -> None:
    # Wednesday 4 March 2026. Nights turns from Monday 17:00: nia, noe (Tuesday), nia
    # (Wednesday); the office week from Monday 09:00 is dan's.
    assert date(2026, 3, 4).weekday() == 2
    assert on_call_at(office_and_nights(), london(2026, 3, 4, hour, minute)) == [expected]


def test_restricted_layers_leave_weekends_uncovered() -> None:
    plan = office_and_nights()
    assert on_call_at(plan, london(2026, 3, 7, 12)) == []  # Saturday
    assert on_call_at(plan, london(2026, 3, 7, 8, 59)) == ["nia"]  # Friday night until 09:00
    assert on_call_at(plan, london(2026, 3, 9, 9)) == ["dee"]  # next week's office turn


def test_a_higher_layer_wins_only_where_it_has_someone() -> None:
    base = rotation_layer("base", ("ana",))
    office = rotation_layer(
        "office",
        ("dan",),
        restrictions=[Restriction(days=WEEKDAYS, start=time(9), end=time(17))],
    )
    plan = schedule(base, office)
    assert on_call_at(plan, london(2026, 3, 4, 12)) == ["dan"]
    assert on_call_at(plan, london(2026, 3, 4, 18)) == ["ana"]


def test_restriction_windows_do_not_delay_turns() -> None:
    # A daily rotation restricted to 12:00-13:00: the turn that covers noon is the day's turn.
    plan = schedule(
        rotation_layer(
            restrictions=[Restriction(days=WEEKDAYS, start=time(12), end=time(13))],
        )
    )
    assert on_call_at(plan, london(2026, 3, 3, 12, 30)) == ["ben"]
    assert on_call_at(plan, london(2026, 3, 3, 13)) == []


# ---- overrides -------------------------------------------------------------------------------


def test_override_replaces_the_scheduled_responder_for_exactly_its_window() -> None:
    window = (london(2026, 3, 3, 14), london(2026, 3, 3, 18, 30))
    plan = schedule(overrides=[Override(person_id="zoe", start=window[0], end=window[1])])
    just_before = window[0] - timedelta(microseconds=1)
    assert on_call_at(plan, just_before) == ["ben"]
    assert on_call_at(plan, window[0]) == ["zoe"]
    assert on_call_at(plan, window[1] - timedelta(microseconds=1)) == ["zoe"]
    assert on_call_at(plan, window[1]) == ["ben"]
    found = shifts(plan, london(2026, 3, 3, 9), london(2026, 3, 4, 9))
    assert [(s.person_id, s.start, s.end, s.override) for s in found] == [
        ("ben", london(2026, 3, 3, 9), window[0], False),
        ("zoe", window[0], window[1], True),
        ("ben", window[1], london(2026, 3, 4, 9), False),
    ]
    assert found[1].layer is None


def test_schedule_override_covers_time_nobody_was_on_call() -> None:
    saturday = (london(2026, 3, 7, 10), london(2026, 3, 7, 16))
    plan = office_and_nights()
    covered = Schedule.model_validate(
        {
            **plan.model_dump(),
            "overrides": [Override(person_id="zoe", start=saturday[0], end=saturday[1])],
        }
    )
    assert on_call_at(plan, london(2026, 3, 7, 12)) == []
    assert on_call_at(covered, london(2026, 3, 7, 12)) == ["zoe"]


def test_layer_override_replaces_only_where_the_layer_is_on_call() -> None:
    week = (london(2026, 3, 2), london(2026, 3, 9))
    plan = office_and_nights()
    covered = Schedule.model_validate(
        {
            **plan.model_dump(),
            "overrides": [
                {"person_id": "zoe", "start": week[0], "end": week[1], "layer": "nights"}
            ],
        }
    )
    assert on_call_at(covered, london(2026, 3, 4, 20)) == ["zoe"]  # a night
    assert on_call_at(covered, london(2026, 3, 4, 12)) == ["dan"]  # the office layer wins
    assert on_call_at(covered, london(2026, 3, 7, 12)) == []  # nights layer not on call


def test_the_override_listed_last_wins_where_two_overlap() -> None:
    plan = schedule(
        overrides=[
            Override(person_id="zoe", start=london(2026, 3, 3, 10), end=london(2026, 3, 3, 20)),
            Override(person_id="yan", start=london(2026, 3, 3, 12), end=london(2026, 3, 3, 14)),
        ]
    )
    assert on_call_at(plan, london(2026, 3, 3, 11)) == ["zoe"]
    assert on_call_at(plan, london(2026, 3, 3, 13)) == ["yan"]
    assert on_call_at(plan, london(2026, 3, 3, 15)) == ["zoe"]


# ---- swaps and holidays ----------------------------------------------------------------------


def test_swap_exchanges_the_two_participants_turns_for_its_period() -> None:
    period = (london(2026, 3, 3, 9), london(2026, 3, 5, 9))  # ben's and cai's turns
    plan = schedule(swaps=[Swap(first="ben", second="cai", start=period[0], end=period[1])])
    assert on_call_at(plan, london(2026, 3, 3, 12)) == ["cai"]
    assert on_call_at(plan, london(2026, 3, 4, 12)) == ["ben"]
    assert on_call_at(plan, london(2026, 3, 5, 12)) == ["ana"]  # untouched
    assert on_call_at(plan, london(2026, 3, 6, 12)) == ["ben"]  # after the swap
    found = shifts(plan, period[0], period[1])
    assert [(s.person_id, s.source) for s in found] == [
        ("cai", ShiftSource.SWAP),
        ("ben", ShiftSource.SWAP),
    ]


def test_a_swap_may_only_name_participants() -> None:
    with pytest.raises(ValidationError, match="not a participant"):
        schedule(
            swaps=[
                Swap(first="ben", second="zoe", start=london(2026, 3, 3), end=london(2026, 3, 4))
            ]
        )


def test_a_holiday_hands_the_day_to_the_lower_layer() -> None:
    base = rotation_layer("base", ("ana",))
    office = rotation_layer(
        "office",
        ("dan",),
        restrictions=[Restriction(days=WEEKDAYS, start=time(9), end=time(17))],
        on_holidays=HolidayRule.SKIP,
    )
    plan = schedule(base, office, holidays=[Holiday(date=date(2026, 4, 3), name="Good Friday")])
    assert on_call_at(plan, london(2026, 4, 2, 12)) == ["dan"]
    assert on_call_at(plan, london(2026, 4, 3, 12)) == ["ana"]
    assert on_call_at(plan, london(2026, 4, 6, 12)) == ["dan"]


def test_a_holiday_layer_covers_holidays_only() -> None:
    office = rotation_layer(
        "office",
        ("dan",),
        restrictions=[Restriction(days=WEEKDAYS, start=time(9), end=time(17))],
        on_holidays=HolidayRule.SKIP,
    )
    holiday_cover = rotation_layer("holiday", ("hal",), on_holidays=HolidayRule.ONLY)
    plan = schedule(office, holiday_cover, holidays=[Holiday(date=date(2026, 4, 3))])
    assert on_call_at(plan, london(2026, 4, 3, 0)) == ["hal"]
    assert on_call_at(plan, london(2026, 4, 3, 23, 59)) == ["hal"]
    assert on_call_at(plan, london(2026, 4, 4, 0)) == []
    assert on_call_at(plan, london(2026, 4, 2, 12)) == ["dan"]


# ---- rest ------------------------------------------------------------------------------------


def test_a_resting_person_is_skipped_for_the_next_participant_of_the_layer() -> None:
    plan = schedule()
    rest = {"ben": london(2026, 3, 3, 15)}
    assert on_call_at(plan, london(2026, 3, 3, 12), resting=rest) == ["cai"]
    assert on_call_at(plan, london(2026, 3, 3, 15), resting=rest) == ["ben"]
    found = shifts(plan, london(2026, 3, 3, 9), london(2026, 3, 4, 9), resting=rest)
    assert [(s.person_id, s.source, s.end) for s in found] == [
        ("cai", ShiftSource.REST_COVER, london(2026, 3, 3, 15)),
        ("ben", ShiftSource.ROTATION, london(2026, 3, 4, 9)),
    ]
    assert on_call_at(plan, london(2026, 3, 3, 12)) == ["ben"]  # the schedule is unchanged


def test_rest_cover_wraps_around_the_participant_list() -> None:
    plan = schedule()
    rest = {"cai": london(2026, 3, 10), "ana": london(2026, 3, 10)}
    assert on_call_at(plan, london(2026, 3, 4, 12), resting=rest) == ["ben"]


def test_when_everyone_in_a_layer_rests_the_layer_beneath_decides() -> None:
    base = rotation_layer("base", ("ana",))
    top = rotation_layer("top", ("dan", "dee"))
    plan = schedule(base, top)
    rest = {"dan": london(2026, 3, 10), "dee": london(2026, 3, 10)}
    assert on_call_at(plan, london(2026, 3, 4, 12), resting=rest) == ["ana"]
    assert on_call_at(plan, london(2026, 3, 4, 12), resting={**rest, "ana": rest["dan"]}) == []


def test_a_resting_override_falls_back_to_the_schedule() -> None:
    plan = schedule(
        overrides=[Override(person_id="zoe", start=london(2026, 3, 3), end=london(2026, 3, 5))]
    )
    assert on_call_at(plan, london(2026, 3, 3, 12), resting={"zoe": london(2026, 3, 6)}) == ["ben"]


# ---- daylight saving -------------------------------------------------------------------------


def test_daily_handoff_stays_at_nine_local_across_both_changes() -> None:
    plan = schedule(rotation_layer(people=("ana", "ben")))
    spring = shifts(plan, london(2026, 3, 28, 9), london(2026, 3, 30, 9))
    assert [s.duration for s in spring] == [timedelta(hours=23), timedelta(hours=24)]
    assert [s.start.astimezone(LONDON).hour for s in spring] == [9, 9]
    autumn = shifts(plan, london(2026, 10, 24, 9), london(2026, 10, 26, 9))
    assert [s.duration for s in autumn] == [timedelta(hours=25), timedelta(hours=24)]
    assert [s.start.astimezone(LONDON).hour for s in autumn] == [9, 9]


def test_handoff_inside_the_spring_gap_happens_when_the_clocks_jump() -> None:
    # New York skips 02:00-03:00 on 8 March 2026: a 02:30 hand-off happens at 03:00 EDT.
    plan = schedule(rotation_layer(handoff=time(2, 30)), zone="America/New_York")
    jump = datetime(2026, 3, 8, 7, tzinfo=UTC)
    assert jump.astimezone(NEW_YORK).hour == 3
    assert next_handoff(plan, new_york(2026, 3, 7, 12)) == jump
    assert on_call_at(plan, jump - timedelta(microseconds=1)) != on_call_at(plan, jump)
    assert next_handoff(plan, jump) == new_york(2026, 3, 9, 2, 30)


def test_handoff_inside_the_repeated_autumn_hour_happens_at_its_first_occurrence() -> None:
    # New York repeats 01:00-02:00 on 1 November 2026: 01:30 EDT (05:30Z) comes first.
    plan = schedule(rotation_layer(handoff=time(1, 30)), zone="America/New_York")
    assert next_handoff(plan, new_york(2026, 10, 31, 12)) == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )


# ---- queries ---------------------------------------------------------------------------------


def test_next_handoff_ignores_a_turn_passing_to_the_same_person() -> None:
    plan = schedule(rotation_layer(people=("ana",)))
    assert next_handoff(plan, london(2026, 3, 3, 12), within=timedelta(days=30)) is None


def test_next_handoff_sees_the_end_of_a_restricted_window() -> None:
    assert next_handoff(office_and_nights(), london(2026, 3, 6, 20)) == london(2026, 3, 7, 9)


def test_on_call_order_starts_with_the_responder_then_follows_the_layer() -> None:
    plan = schedule(rotation_layer(people=("ana", "ben", "cai", "dov")))
    assert on_call_order(plan, london(2026, 3, 4, 12)) == ["cai", "dov", "ana", "ben"]
    rest = {"dov": london(2026, 3, 10)}
    assert on_call_order(plan, london(2026, 3, 4, 12), rest) == ["cai", "ana", "ben", "dov"]


def test_whole_shifts_are_not_cut_at_the_period() -> None:
    plan = schedule(rotation_layer(rotation=WEEKLY))
    cut = shifts(plan, london(2026, 3, 10), london(2026, 3, 11))
    whole = shifts(plan, london(2026, 3, 10), london(2026, 3, 11), whole=True)
    assert (cut[0].start, cut[0].end) == (london(2026, 3, 10), london(2026, 3, 11))
    assert (whole[0].start, whole[0].end) == (london(2026, 3, 9, 9), london(2026, 3, 16, 9))


def test_layer_shifts_show_a_layer_beneath_a_higher_one() -> None:
    plan = office_and_nights()
    nights = layer_shifts(plan, "nights", london(2026, 3, 4), london(2026, 3, 5))
    assert [(s.person_id, s.start, s.end) for s in nights] == [
        ("noe", london(2026, 3, 4), london(2026, 3, 4, 9)),
        ("nia", london(2026, 3, 4, 17), london(2026, 3, 5)),
    ]


# ---- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"layers": []}, "at least 1"),
        ({"colour": "blue"}, "Extra inputs"),
        (
            {
                "overrides": [
                    {"person_id": "z", "start": "2026-03-02T10:00Z", "end": "2026-03-02T09:00Z"}
                ]
            },
            "ends",
        ),
        (
            {
                "overrides": [
                    {
                        "person_id": "z",
                        "start": "2026-03-02T10:00Z",
                        "end": "2026-03-03T10:00Z",
                        "layer": "x",
                    }
                ]
            },
            "does not have",
        ),
        (
            {
                "overrides": [
                    {"person_id": "z", "start": "2026-03-02T10:00", "end": "2026-03-03T10:00Z"}
                ]
            },
            "timezone",
        ),
        ({"holidays": [{"date": "2026-12-25"}, {"date": "2026-12-25"}]}, "repeated"),
    ],
)
def test_invalid_schedules_are_refused_with_a_reason(
    change: dict[str, object], message: str
) -> None:
    body = {**schedule().model_dump(mode="json"), **change}
    with pytest.raises(ValidationError, match=message):
        Schedule.model_validate(body)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"handoff_time": "09:00:30"}, "whole minutes"),
        ({"handoff_time": "09:00+01:00"}, "offset"),
        ({"rotation": {"every": 53, "unit": "weeks"}}, "too long"),
        ({"rotation": {"every": 0, "unit": "days"}}, "greater than or equal to 1"),
        ({"participants": []}, "at least 1"),
        ({"restrictions": [{"days": ["mon", "mon"], "start": "09:00", "end": "17:00"}]}, "twice"),
        ({"restrictions": [{"days": ["someday"], "start": "09:00", "end": "17:00"}]}, "mon"),
    ],
)
def test_invalid_layers_are_refused_with_a_reason(change: dict[str, object], message: str) -> None:
    body = {**rotation_layer().model_dump(mode="json"), **change}
    with pytest.raises(ValidationError, match=message):
        Layer.model_validate(body)


def test_layer_names_are_distinct() -> None:
    with pytest.raises(ValidationError, match="distinct"):
        schedule(rotation_layer("a"), rotation_layer("a"))


def test_a_schedule_survives_a_json_round_trip() -> None:
    plan = office_and_nights(on_holidays="skip")
    assert Schedule.model_validate_json(plan.model_dump_json()) == plan


def test_instants_are_kept_in_utc_and_measured_in_real_time() -> None:
    # Across the spring change, 00:00 to 12:00 in London is eleven hours, not twelve.
    override = Override(person_id="zoe", start=london(2026, 3, 29), end=london(2026, 3, 29, 12))
    assert override.start.tzinfo is UTC
    plan = schedule(overrides=[override])
    (held,) = [s for s in shifts(plan, london(2026, 3, 29), london(2026, 3, 30)) if s.override]
    assert held.duration == timedelta(hours=11)


def test_rest_must_end_at_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="the end of a rest must be an aware datetime"):
        on_call_at(schedule(), london(2026, 3, 3, 12), resting={"ben": datetime(2026, 3, 4)})


def test_a_stored_rotation_becomes_a_schedule_with_the_same_turns() -> None:
    starts = datetime(2026, 3, 1, 6, 30, tzinfo=UTC)
    old = OnCallRotation(name="night", members=["a", "b", "c"], shift_hours=10, starts_at=starts)
    new = schedule_from_rotation(old.name, old.members, old.shift_hours, old.starts_at)
    for hours in range(0, 24 * 20, 7):
        instant = starts + timedelta(hours=hours, minutes=3)
        assert on_call_at(new, instant) == old.order_at(instant)[:1]
        assert on_call_order(new, instant) == old.order_at(instant)
    assert on_call_at(new, starts - timedelta(minutes=1)) == []


def test_without_a_person_their_turns_overrides_and_swaps_go_and_an_empty_layer_with_them() -> None:
    at = london(2026, 3, 3, 12)
    both = schedule(
        rotation_layer("base", ("ana", "ben", "cai")),
        rotation_layer("solo", ("ana",)),
        overrides=[
            Override(person_id="ana", start=at, end=at + timedelta(hours=1)),
            Override(person_id="dan", start=at, end=at + timedelta(hours=1), layer="solo"),
            Override(person_id="dan", start=at, end=at + timedelta(hours=2)),
        ],
        swaps=[Swap(first="ana", second="ben", start=at, end=at + timedelta(days=1))],
    )
    left = both.without("ana")
    assert left is not None
    assert [(layer.name, layer.participants) for layer in left.layers] == [("base", ("ben", "cai"))]
    assert [(o.person_id, o.layer) for o in left.overrides] == [("dan", None)]
    assert left.swaps == ()
    assert "ana" not in left.model_dump_json()
    assert both.without("zoe") is both, "nobody named: unchanged"
    assert schedule(rotation_layer("solo", ("ana",))).without("ana") is None
