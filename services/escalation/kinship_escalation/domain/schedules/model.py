"""On-call schedules: layers of rotations in a named zone, with overrides, swaps and holidays.

The vocabulary follows PagerDuty and GoAlert. A *schedule* has *layers*; each layer rotates its
*participants* through *turns* of a fixed wall-clock length starting at a *hand-off time*, and
may be *restricted* to time-of-day windows on some weekdays. Layers are listed from the bottom
up: a later layer sits above the earlier ones and wins wherever it has someone on call
(PagerDuty's "the lowest layer in the list takes precedence" — its Layer 2 covers Layer 1).
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from kinship_escalation.domain.schedules.local_time import zone

PersonId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^\S+$"),
    Field(description="A person's directory id."),
]
Name = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_-]{1,64}$"),
    Field(description="Lower-case letters, digits, '-' and '_', at most 64."),
]

#: The longest override or swap: anything longer is a change to the schedule itself.
LONGEST_OVERRIDE = timedelta(days=366)


def _time_of_day(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError(
            f"time of day {value.isoformat()} has an offset: give the local time in the "
            "schedule's zone, e.g. '09:00'"
        )
    if value.second or value.microsecond:
        raise ValueError(f"time of day {value.isoformat()} must be whole minutes, e.g. '09:00'")
    return value


TimeOfDay = Annotated[
    time,
    AfterValidator(_time_of_day),
    Field(description="A wall-clock time in the schedule's zone, whole minutes ('HH:MM')."),
]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# Instants are kept in UTC: Python subtracts two datetimes sharing a tzinfo on the wall clock.
Instant = Annotated[AwareDatetime, AfterValidator(_utc)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Weekday(StrEnum):
    """A day of the week (ISO order, Monday first)."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @classmethod
    def of(cls, day: date) -> "Weekday":
        """The weekday of a calendar date."""
        return list(cls)[day.weekday()]


WEEKDAYS = (Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI)
WEEKEND = (Weekday.SAT, Weekday.SUN)

_LONGEST_TURN = {"hours": 24 * 31, "days": 366, "weeks": 52}


class Rotation(_Frozen):
    """How long each turn lasts, counted on the wall clock (a day is 23 or 25 hours at a change)."""

    every: int = Field(ge=1, description="Turn length, in ``unit``s.")
    unit: Literal["hours", "days", "weeks"]

    @model_validator(mode="after")
    def _not_too_long(self) -> Self:
        longest = _LONGEST_TURN[self.unit]
        if self.every > longest:
            raise ValueError(
                f"a turn of {self.every} {self.unit} is too long: at most {longest} {self.unit}"
            )
        return self

    @property
    def step(self) -> timedelta:
        """The wall-clock step between hand-offs (applied to naive local times)."""
        return timedelta(**{self.unit: self.every})


class Restriction(_Frozen):
    """A window of on-call time starting on each of ``days`` at ``start`` and ending at ``end``.

    ``end`` at or before ``start`` ends on the next day (nights: 17:00-09:00); ``end`` equal
    to ``start`` is a whole day (weekends: sat and sun, 00:00-00:00).
    """

    days: tuple[Weekday, ...] = Field(min_length=1, max_length=7)
    start: TimeOfDay
    end: TimeOfDay

    @field_validator("days")
    @classmethod
    def _distinct_days(cls, days: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if len(set(days)) != len(days):
            raise ValueError(f"a day is listed twice in {[d.value for d in days]}")
        return days

    @property
    def crosses_midnight(self) -> bool:
        """Whether each window ends on the day after it starts."""
        return self.end <= self.start


class HolidayRule(StrEnum):
    """How a layer treats the schedule's holidays."""

    APPLY = "apply"  # holidays make no difference
    SKIP = "skip"  # the layer does not apply on holidays (a lower layer takes over)
    ONLY = "only"  # the layer applies on holidays only (a holiday cover layer)


class Layer(_Frozen):
    """One rotation of participants, optionally restricted to some hours of the week."""

    name: Name
    participants: tuple[PersonId, ...] = Field(
        min_length=1,
        max_length=500,
        description="Person ids in turn order; a person may appear more than once.",
    )
    rotation: Rotation
    handoff_time: TimeOfDay = Field(description="When turns change, in the schedule's zone.")
    start_date: date = Field(description="The first turn starts on this day at handoff_time.")
    restrictions: tuple[Restriction, ...] = Field(
        default=(),
        max_length=50,
        description="Windows the layer is on call in; none means around the clock.",
    )
    on_holidays: HolidayRule = HolidayRule.APPLY


class Override(_Frozen):
    """``person_id`` is on call from ``start`` to ``end`` in place of whoever else would be.

    Without ``layer`` it covers the whole schedule for the whole window, even where nobody was
    on call. With ``layer`` it replaces that layer's responder only where the layer has
    someone on call (its restrictions and holidays still apply). Where overrides overlap the
    one listed last wins.
    """

    person_id: PersonId
    start: Instant
    end: Instant
    layer: Name | None = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        _check_window(self.start, self.end, "override")
        return self


class Swap(_Frozen):
    """Between ``start`` and ``end`` the two participants exchange their turns.

    Wherever ``first`` would be on call ``second`` is, and the other way round; in ``layer``
    only, or in every layer when it is not given.
    """

    first: PersonId
    second: PersonId
    start: Instant
    end: Instant
    layer: Name | None = None

    @model_validator(mode="after")
    def _valid(self) -> Self:
        if self.first == self.second:
            raise ValueError(f"a swap needs two different people, got {self.first!r} twice")
        _check_window(self.start, self.end, "swap")
        return self


class Holiday(_Frozen):
    """A calendar day (midnight to midnight in the schedule's zone) treated as a holiday."""

    date: date
    name: str = Field(default="", max_length=100, description="E.g. 'New Year's Day'.")


def _check_window(start: datetime, end: datetime, what: str) -> None:
    if end <= start:
        raise ValueError(f"{what} ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    if end - start > LONGEST_OVERRIDE:
        raise ValueError(
            f"{what} lasts longer than {LONGEST_OVERRIDE.days} days: change the layer instead"
        )


class Schedule(_Frozen):
    """Who is on call when: layers in a named IANA zone, plus overrides, swaps and holidays."""

    name: Name
    time_zone: str = Field(description="An IANA zone name, e.g. 'Europe/London'.")
    layers: tuple[Layer, ...] = Field(
        min_length=1, max_length=20, description="Bottom first: a later layer wins over earlier."
    )
    overrides: tuple[Override, ...] = Field(default=(), max_length=1000)
    swaps: tuple[Swap, ...] = Field(default=(), max_length=1000)
    holidays: tuple[Holiday, ...] = Field(default=(), max_length=1000)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        zone(name)
        return name

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [layer.name for layer in self.layers]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"layer names must be distinct; repeated: {repeated}")
        for override in self.overrides:
            self._check_layer(override.layer, "override")
        for swap in self.swaps:
            self._check_layer(swap.layer, "swap")
            layers = [self.layer(swap.layer)] if swap.layer else list(self.layers)
            people = {p for layer in layers for p in layer.participants}
            strangers = [p for p in (swap.first, swap.second) if p not in people]
            if strangers:
                where = f"layer {swap.layer!r}" if swap.layer else "any layer"
                raise ValueError(
                    f"swap between {swap.first!r} and {swap.second!r}: {strangers} not a "
                    f"participant of {where}; use an override to bring someone else in"
                )
        days = [holiday.date for holiday in self.holidays]
        twice = sorted({d.isoformat() for d in days if days.count(d) > 1})
        if twice:
            raise ValueError(f"holiday dates must be distinct; repeated: {twice}")
        return self

    def _check_layer(self, name: str | None, what: str) -> None:
        if name is not None and name not in {layer.name for layer in self.layers}:
            raise ValueError(
                f"{what} names layer {name!r}, which this schedule does not have; layers: "
                f"{[layer.name for layer in self.layers]}"
            )

    def without(self, person_id: str) -> "Schedule | None":
        """The schedule without ``person_id`` (who was erased): out of every layer's turns
        (the others take turns without them), their overrides and swaps gone, layers left
        with nobody dropped; None when no layer is left. Unchanged when they are not in it."""
        named = {p for layer in self.layers for p in layer.participants}
        named |= {o.person_id for o in self.overrides}
        named |= {p for swap in self.swaps for p in (swap.first, swap.second)}
        if person_id not in named:
            return self
        layers = [
            layer.model_copy(
                update={"participants": tuple(p for p in layer.participants if p != person_id)}
            )
            for layer in self.layers
        ]
        kept = [layer for layer in layers if layer.participants]
        if not kept:
            return None
        names = {layer.name for layer in kept}
        return Schedule.model_validate(
            {
                **self.model_dump(),
                "layers": [layer.model_dump() for layer in kept],
                "overrides": [
                    o.model_dump()
                    for o in self.overrides
                    if o.person_id != person_id and (o.layer is None or o.layer in names)
                ],
                "swaps": [
                    w.model_dump()
                    for w in self.swaps
                    if person_id not in (w.first, w.second)
                    and (w.layer is None or w.layer in names)
                ],
            }
        )

    def layer(self, name: str) -> Layer:
        """The layer called ``name``; KeyError when there is none."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"schedule {self.name!r} has no layer {name!r}")


class ShiftSource(StrEnum):
    """Why a person holds a shift."""

    ROTATION = "rotation"  # their turn in the layer
    SWAP = "swap"  # a turn they took over in a swap
    OVERRIDE = "override"  # an override put them there
    REST_COVER = "rest_cover"  # covering for a resting participant of the layer


class Shift(_Frozen):
    """A stretch of time one person is the effective responder."""

    person_id: PersonId
    start: Instant
    end: Instant
    layer: str | None = Field(description="The layer it comes from; None for a schedule override.")
    source: ShiftSource
    override: bool = Field(default=False, description="Whether an override put them on call.")

    @model_validator(mode="before")
    @classmethod
    def _override_from_source(cls, data: Any) -> Any:
        if isinstance(data, dict) and "override" not in data and "source" in data:
            return {**data, "override": ShiftSource(data["source"]) is ShiftSource.OVERRIDE}
        return data

    @model_validator(mode="after")
    def _override_agrees(self) -> Self:
        if self.override != (self.source is ShiftSource.OVERRIDE):
            raise ValueError(f"override={self.override} contradicts source={self.source.value}")
        return self

    @property
    def duration(self) -> timedelta:
        """How long the shift lasts."""
        return self.end - self.start


def schedule_from_rotation(
    name: str, members: Sequence[str], shift_hours: int, starts_at: datetime
) -> Schedule:
    """The schedule equivalent to a stored single-layer ``OnCallRotation``.

    One layer in UTC handing off every ``shift_hours`` from ``starts_at`` (to the minute), so
    from its start it puts the same member on call as ``OnCallRotation.order_at`` did. Before
    ``starts_at`` it has nobody, where the old rotation had its first member.
    """
    start = starts_at.astimezone(UTC)
    return Schedule(
        name=name,
        time_zone="UTC",
        layers=(
            Layer(
                name="main",
                participants=tuple(members),
                rotation=Rotation(every=shift_hours, unit="hours"),
                handoff_time=start.time().replace(second=0, microsecond=0, tzinfo=None),
                start_date=start.date(),
            ),
        ),
    )
