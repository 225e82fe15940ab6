"""Property tests of on-call schedules across daylight-saving changes in many zones.

Periods are drawn around each zone's real offset changes in 2025-2027 (found here by scanning
the zone, independently of the code under test), so most examples straddle a change.
"""

import os
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinship_escalation.domain.schedules import (
    Holiday,
    HolidayRule,
    Layer,
    Override,
    Restriction,
    Rotation,
    Schedule,
    Shift,
    Swap,
    Weekday,
    layer_shifts,
    next_handoff,
    on_call_at,
    schedule_fair_share,
    shifts,
)

ZONES = (
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Europe/Berlin",
    "America/Santiago",  # changes at midnight
    "Australia/Lord_Howe",  # a 30-minute change
    "Pacific/Chatham",  # offset +12:45/+13:45
    "America/St_Johns",  # offset -03:30/-02:30
    "Antarctica/Troll",  # a two-hour change
    "Asia/Kolkata",  # no change at all
)
PEOPLE = ("p0", "p1", "p2", "p3", "p4")
TICK = timedelta(microseconds=1)
# KINSHIP_HYPOTHESIS_EXAMPLES=2000 for a longer hunt; 40 keeps the unit suite fast.
SETTINGS = settings(
    max_examples=int(os.environ.get("KINSHIP_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


def offset(timestamp: int, tz: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(timestamp, UTC).astimezone(tz).utcoffset()


@cache
def offset_changes(name: str) -> tuple[datetime, ...]:
    """The instants the zone's UTC offset changes, 2025-2027 (the first with the new one)."""
    tz = ZoneInfo(name)
    day, changes = datetime(2025, 1, 1, tzinfo=UTC), []
    while day.year < 2028:
        after = day + timedelta(days=1)
        if day.astimezone(tz).utcoffset() != after.astimezone(tz).utcoffset():
            lo, hi = int(day.timestamp()), int(after.timestamp())  # changes fall on a second
            while hi - lo > 1:
                middle = (lo + hi) // 2
                if offset(middle, tz) == offset(lo, tz):
                    lo = middle
                else:
                    hi = middle
            changes.append(datetime.fromtimestamp(hi, UTC))
        day = after
    return tuple(changes) or (datetime(2026, 3, 1, tzinfo=UTC),)


def wall(instant: datetime, zone: str) -> datetime:
    return instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def times_near(zone: str, change: datetime) -> list[time]:
    """Quarter-hours from an hour before to an hour after the skipped or repeated local times."""
    before, after = wall(change - TICK, zone), wall(change, zone)
    first = min(before, after).replace(second=0, microsecond=0) - timedelta(hours=1)
    last = max(before, after) + timedelta(hours=1)
    first -= timedelta(minutes=first.minute % 15)
    found = []
    while first <= last:
        found.append(first.time())
        first += timedelta(minutes=15)
    return found


@st.composite
def periods(draw: st.DrawFn, zone: str) -> tuple[tuple[datetime, datetime], list[time]]:
    """A period around one of the zone's changes, and local times near that change."""
    change = draw(st.sampled_from(offset_changes(zone)))
    start = change + timedelta(minutes=draw(st.integers(-4 * 24 * 60, 24 * 60)))
    period = (start, start + timedelta(minutes=draw(st.integers(60, 8 * 24 * 60))))
    return period, times_near(zone, change)


quarter_hours = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


def local_times(near: list[time]) -> st.SearchStrategy[time]:
    return st.one_of(quarter_hours, st.sampled_from(near))


rotations = st.one_of(
    st.builds(Rotation, every=st.sampled_from([1, 2, 3, 5, 6, 8, 12, 24]), unit=st.just("hours")),
    st.builds(Rotation, every=st.integers(1, 3), unit=st.just("days")),
    st.builds(Rotation, every=st.integers(1, 2), unit=st.just("weeks")),
)


def restrictions(near: list[time]) -> st.SearchStrategy[Restriction]:
    return st.builds(
        Restriction,
        days=st.lists(st.sampled_from(list(Weekday)), min_size=1, max_size=7, unique=True).map(
            tuple
        ),
        start=local_times(near),
        end=local_times(near),
    )


@st.composite
def layers(
    draw: st.DrawFn, name: str, first_day: date, restricted: bool, near: list[time]
) -> Layer:
    return Layer(
        name=name,
        participants=tuple(draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4))),
        rotation=draw(rotations),
        handoff_time=draw(local_times(near)),
        start_date=first_day - timedelta(days=draw(st.integers(-1, 20))),
        restrictions=tuple(draw(st.lists(restrictions(near), max_size=2))) if restricted else (),
        on_holidays=draw(st.sampled_from(list(HolidayRule))) if restricted else HolidayRule.APPLY,
    )


@st.composite
def windows(draw: st.DrawFn, period: tuple[datetime, datetime]) -> tuple[datetime, datetime]:
    start, end = period
    span = int((end - start) / timedelta(minutes=1))
    first = start + timedelta(minutes=draw(st.integers(-120, span)))
    return first, first + timedelta(minutes=draw(st.integers(1, 36 * 60)))


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[Schedule, tuple[datetime, datetime], dict[str, datetime]]:
    """A random schedule (restrictions, holidays, overrides, swaps) and rest, around a change."""
    zone = draw(st.sampled_from(ZONES))
    period, near = draw(periods(zone))
    first_day = wall(period[0], zone).date()
    count = draw(st.integers(1, 3))
    stack = tuple(draw(layers(f"l{i}", first_day, i > 0, near)) for i in range(count))
    names = [layer.name for layer in stack]
    overrides = []
    for _ in range(draw(st.integers(0, 2))):
        start, end = draw(windows(period))
        scope = draw(st.sampled_from([None, *names]))
        overrides.append(Override(person_id="cover", start=start, end=end, layer=scope))
    swaps = []
    swappable = [layer for layer in stack if len(set(layer.participants)) > 1]
    if draw(st.booleans()) and swappable:
        chosen = draw(st.sampled_from(swappable))
        first, second = draw(st.permutations(sorted(set(chosen.participants))))[:2]
        start, end = draw(windows(period))
        swaps.append(Swap(first=first, second=second, start=start, end=end, layer=chosen.name))
    holidays = [
        Holiday(date=first_day + timedelta(days=offset))
        for offset in draw(st.lists(st.integers(0, 8), max_size=2, unique=True))
    ]
    resting = {
        person: draw(windows(period))[1]
        for person in draw(st.lists(st.sampled_from([*PEOPLE, "cover"]), max_size=2, unique=True))
    }
    plan = Schedule(
        name="prop",
        time_zone=zone,
        layers=stack,
        overrides=tuple(overrides),
        swaps=tuple(swaps),
        holidays=tuple(holidays),
    )
    return plan, period, resting


def covering(found: list[Shift], instant: datetime) -> list[str]:
    return [s.person_id for s in found if s.start <= instant < s.end]


@SETTINGS
@given(scenarios(), st.lists(st.floats(0, 1, exclude_max=True), min_size=5, max_size=5))
def test_on_call_at_any_instant_is_whoever_holds_the_shift_covering_it(
    scenario: tuple[Schedule, tuple[datetime, datetime], dict[str, datetime]],
    fractions: list[float],
) -> None:
    plan, (start, end), resting = scenario
    found = shifts(plan, start, end, resting)
    instants = [min(start + (end - start) * f, end - TICK) for f in fractions]
    for held in found:
        instants += [held.start, held.end - TICK]
        if held.start > start:
            instants.append(held.start - TICK)
    for instant in instants:
        assert on_call_at(plan, instant, resting) == covering(found, instant), instant


@SETTINGS
@given(scenarios())
def test_shifts_are_ordered_non_empty_and_never_overlap(
    scenario: tuple[Schedule, tuple[datetime, datetime], dict[str, datetime]],
) -> None:
    plan, (start, end), resting = scenario
    found = shifts(plan, start, end, resting)
    for held in found:
        assert start <= held.start < held.end <= end
        assert held.start.tzinfo is UTC and held.end.tzinfo is UTC
    for before, after in pairwise(found):
        assert before.end <= after.start


@st.composite
def plain_layers(draw: st.DrawFn) -> tuple[Schedule, tuple[datetime, datetime]]:
    """One unrestricted layer of at least two people, started before the period."""
    zone = draw(st.sampled_from(ZONES))
    period, near = draw(periods(zone))
    first_day = wall(period[0], zone).date() - timedelta(days=draw(st.integers(1, 30)))
    layer = Layer(
        name="only",
        participants=tuple(draw(st.permutations(PEOPLE[: draw(st.integers(2, 5))]))),
        rotation=draw(rotations),
        handoff_time=draw(local_times(near)),
        start_date=first_day,
    )
    return Schedule(name="plain", time_zone=zone, layers=(layer,)), period


@SETTINGS
@given(plain_layers())
def test_a_layers_shifts_tile_the_period_with_no_gap_and_no_overlap(
    scenario: tuple[Schedule, tuple[datetime, datetime]],
) -> None:
    plan, (start, end) = scenario
    found = layer_shifts(plan, "only", start, end)
    assert found[0].start == start and found[-1].end == end
    for before, after in pairwise(found):
        assert before.start < before.end == after.start


@SETTINGS
@given(plain_layers())
def test_handoffs_happen_when_the_local_clock_reaches_the_handoff_time(
    scenario: tuple[Schedule, tuple[datetime, datetime]],
) -> None:
    plan, (start, end) = scenario
    layer, zone = plan.layers[0], plan.time_zone
    anchor = datetime.combine(layer.start_date, layer.handoff_time)
    step = layer.rotation.step
    for held in layer_shifts(plan, "only", start, end)[1:]:
        shown = wall(held.start, zone)
        due = anchor + (shown - anchor) // step * step  # the last scheduled wall-clock hand-off
        # The clock shows the hand-off time (or, where that time was skipped, jumps past it)
        # exactly at the hand-off, and had not reached it a moment before.
        assert wall(held.start - TICK, zone) < due <= shown, (held.start, due)
        if layer.rotation.unit != "hours":
            assert shown.time() == layer.handoff_time or shown - due < timedelta(hours=3)


@cache
def largest_change(name: str) -> timedelta:
    """The largest jump of the zone's UTC offset, 2025-2027."""
    tz, largest = ZoneInfo(name), timedelta()
    for change in offset_changes(name):
        before, after = (
            (change - TICK).astimezone(tz).utcoffset(),
            change.astimezone(tz).utcoffset(),
        )
        assert before is not None and after is not None
        largest = max(largest, abs(after - before))
    return largest


@SETTINGS
@given(plain_layers())
def test_turns_last_their_wall_clock_length_give_or_take_the_change(
    scenario: tuple[Schedule, tuple[datetime, datetime]],
) -> None:
    plan, (start, end) = scenario
    step, zone = plan.layers[0].rotation.step, plan.time_zone
    for held in layer_shifts(plan, "only", start, end)[1:-1]:
        assert abs(held.duration - step) <= largest_change(zone)
        if zone == "Asia/Kolkata":
            assert held.duration == step


@SETTINGS
@given(scenarios())
def test_next_handoff_is_the_first_change_of_responder(
    scenario: tuple[Schedule, tuple[datetime, datetime], dict[str, datetime]],
) -> None:
    plan, (start, end), resting = scenario
    found = shifts(plan, start, end, resting)
    handoff = next_handoff(plan, start, resting, within=end - start)
    now = covering(found, start)
    changes = [s.start for s in found if s.start > start and covering(found, s.start) != now]
    changes += [s.end for s in found if s.end < end and covering(found, s.end) != now]
    assert handoff == min(changes, default=None)


@SETTINGS
@given(scenarios())
def test_shares_of_a_rotation_add_up_to_the_period(
    scenario: tuple[Schedule, tuple[datetime, datetime], dict[str, datetime]],
) -> None:
    plan, (start, end), resting = scenario
    report = schedule_fair_share(plan, start, end, resting=resting)
    held = sum((p.on_call for p in report.participants), timedelta())
    assert held + report.others + report.uncovered == report.period == end - start
    if report.covered:
        total = sum(p.share for p in report.participants) + report.others / report.covered
        assert abs(total - 1) < 1e-9
    for layer in plan.layers:
        mine = schedule_fair_share(plan, start, end, layer=layer.name, resting=resting)
        held = sum((p.on_call for p in mine.participants), timedelta())
        assert held + mine.others + mine.uncovered == mine.period
