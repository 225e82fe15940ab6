"""Delivery policy: what to do with a message now, retries with backoff, circuit breakers."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from kinship_contracts.notifications import MessageKind, NotificationRequest
from kinship_notifications.domain.channels import ContactMethod


@dataclass(frozen=True)
class Preferences:
    """A recipient's delivery preferences (defaults apply when they set none)."""

    locale: str = "en"
    quiet_start: time | None = None
    quiet_end: time | None = None
    recognition_opt_out: bool = False
    reminders_opt_out: bool = False
    """No plain or overdue check-in reminders (follow-ups are care, and still sent)."""
    max_per_day: int = 5
    contact_methods: tuple[ContactMethod, ...] = ()
    """Their channels in their order, with delays; empty: every channel, each at once."""


class Action(StrEnum):
    """What to do with a message now."""

    SEND = "send"
    DEFER = "defer"
    SUPPRESS = "suppress"


@dataclass(frozen=True)
class Decision:
    """The decision, with the time to try again (defer) or the reason (suppress)."""

    action: Action
    until: datetime | None = None
    reason: str | None = None


def quiet_until(now: datetime, timezone: str, preferences: Preferences) -> datetime | None:
    """When the recipient's quiet hours end, if ``now`` falls inside them (in their zone)."""
    start, end = preferences.quiet_start, preferences.quiet_end
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(ZoneInfo(timezone))
    clock = local.time().replace(tzinfo=None)
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends


def decide(
    request: NotificationRequest,
    preferences: Preferences,
    timezone: str,
    sent_today: int,
    now: datetime,
) -> Decision:
    """What to do with a message now.

    Critical messages always go at once. Care messages (``NotificationRequest.care``: alerts,
    crisis resources, self-care, follow-ups, feedback requests, group-session offers,
    consent questions) are never suppressed: a dropped page leaves a case waiting for its
    timeout, a dropped follow-up or consent question leaves a person without the support it
    was for. Only celebrations and plain check-in reminders are held to opt-outs and to the
    daily limit (``sent_today`` counts those alone). Every message that is not critical or
    ``urgent`` waits out the recipient's quiet hours; if an alert's responder is asleep
    meanwhile, the case escalates to the next step.
    """
    if request.critical:
        return Decision(Action.SEND)
    if request.limited:
        if request.kind is MessageKind.CELEBRATION and preferences.recognition_opt_out:
            return Decision(Action.SUPPRESS, reason="opted_out")
        if request.kind is MessageKind.CHECKIN_REMINDER and preferences.reminders_opt_out:
            return Decision(Action.SUPPRESS, reason="opted_out")
        if sent_today >= preferences.max_per_day:
            return Decision(Action.SUPPRESS, reason="rate_limited")
    if not request.urgent:
        until = quiet_until(now, timezone, preferences)
        if until is not None:
            return Decision(Action.DEFER, until=until)
    return Decision(Action.SEND)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, then a ``failed`` receipt."""

    max_attempts: int = 5
    base_seconds: float = 0.5
    max_seconds: float = 300.0
    jitter: float = 0.2

    def delay(self, attempt: int, random: Callable[[], float]) -> timedelta:
        """The wait after failed attempt ``attempt`` (1-based): base * 2^(n-1), +/- jitter."""
        raw = min(self.base_seconds * 2 ** (attempt - 1), self.max_seconds)
        spread = 1 - self.jitter + 2 * self.jitter * random()
        return timedelta(seconds=raw * spread)


class CircuitBreaker:
    """Per endpoint: after ``threshold`` failures in a row, fail fast for ``cool_down``.

    After the cool-down exactly one trial goes through (half-open) and everyone else is
    refused for another cool-down: the trial's success closes the circuit (so does a
    permanent failure, which the caller reports as ``succeeded``: the endpoint answered), its
    transient failure keeps it open, and a trial that never reports back lets the next one
    through after that cool-down. A dead endpoint then costs its recipient's retries nothing
    but a quick refusal, and never ties up delivery to anyone else.
    """

    def __init__(self, threshold: int = 5, cool_down: timedelta = timedelta(seconds=30)) -> None:
        self._threshold = threshold
        self._cool_down = cool_down
        self._failures: dict[str, int] = {}
        self._open_until: dict[str, datetime] = {}

    def allows(self, endpoint: str, now: datetime) -> bool:
        """Whether to try ``endpoint`` now."""
        until = self._open_until.get(endpoint)
        if until is None:
            return True
        if now < until:
            return False
        self._open_until[endpoint] = now + self._cool_down  # this caller is the one trial
        return True

    def succeeded(self, endpoint: str) -> None:
        """A delivery to ``endpoint`` worked: close its circuit."""
        self._failures.pop(endpoint, None)
        self._open_until.pop(endpoint, None)

    def failed(self, endpoint: str, now: datetime) -> None:
        """A delivery to ``endpoint`` failed; open the circuit at the threshold."""
        count = self._failures.get(endpoint, 0) + 1
        self._failures[endpoint] = count
        if count >= self._threshold:
            self._open_until[endpoint] = now + self._cool_down
