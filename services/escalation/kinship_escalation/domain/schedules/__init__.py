"""On-call schedules and escalation policies: the pure domain (no I/O, no framework).

- :mod:`.model`: schedules, layers, rotations, restrictions, overrides, swaps, holidays, shifts.
- :mod:`.local_time`: the one rule that turns a local time into an instant (DST).
- :mod:`.calculation`: who is on call at an instant, shifts over a period, the next hand-off.
- :mod:`.escalation`: policies per team and severity, step targets, progression.
- :mod:`.ical`: iCalendar feeds of shifts.
- :mod:`.wellbeing`: on-call load per person and fair shares across a rotation.
"""

from kinship_escalation.domain.schedules.calculation import (
    Resting,
    layer_shifts,
    next_handoff,
    on_call_at,
    on_call_order,
    shifts,
)
from kinship_escalation.domain.schedules.escalation import (
    CoordinatorsTarget,
    EscalationPolicy,
    EscalationStep,
    Exhausted,
    NotifyMode,
    PeopleTarget,
    PolicyConflictError,
    RespondersTarget,
    ScheduleTarget,
    StepAttempt,
    Target,
    check_policies,
    choose_policy,
    default_policy,
    next_step,
    parse_target,
    pick_recipients,
)
from kinship_escalation.domain.schedules.ical import person_calendar, schedule_calendar
from kinship_escalation.domain.schedules.local_time import UnknownTimeZoneError, resolve
from kinship_escalation.domain.schedules.model import (
    WEEKDAYS,
    WEEKEND,
    Holiday,
    HolidayRule,
    Layer,
    Override,
    Restriction,
    Rotation,
    Schedule,
    Shift,
    ShiftSource,
    Swap,
    Weekday,
    schedule_from_rotation,
)
from kinship_escalation.domain.schedules.wellbeing import (
    FairShareReport,
    NightWindow,
    OnCallLoad,
    ParticipantShare,
    fair_share,
    on_call_load,
    schedule_fair_share,
)

__all__ = [
    "WEEKDAYS",
    "WEEKEND",
    "CoordinatorsTarget",
    "EscalationPolicy",
    "EscalationStep",
    "Exhausted",
    "FairShareReport",
    "Holiday",
    "HolidayRule",
    "Layer",
    "NightWindow",
    "NotifyMode",
    "OnCallLoad",
    "Override",
    "ParticipantShare",
    "PeopleTarget",
    "PolicyConflictError",
    "RespondersTarget",
    "Resting",
    "Restriction",
    "Rotation",
    "Schedule",
    "ScheduleTarget",
    "Shift",
    "ShiftSource",
    "StepAttempt",
    "Swap",
    "Target",
    "UnknownTimeZoneError",
    "Weekday",
    "check_policies",
    "choose_policy",
    "default_policy",
    "fair_share",
    "layer_shifts",
    "next_handoff",
    "next_step",
    "on_call_at",
    "on_call_load",
    "on_call_order",
    "parse_target",
    "person_calendar",
    "pick_recipients",
    "resolve",
    "schedule_calendar",
    "schedule_fair_share",
    "schedule_from_rotation",
    "shifts",
]
