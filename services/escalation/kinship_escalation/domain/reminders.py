"""Regular check-ins: when a person whose check-in is overdue is reminded (SPEC practice 3).

A subject's reminders follow their newest check-in: the first ``every`` after it, then one
each further ``every`` while they stay silent, at most ``at_most`` in a row. A newer check-in
starts again from one. A silence found late (a backfilled history, a service that was down)
brings one reminder at once, then the next a period later: never several at once.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class CheckinReminders:
    """How overdue check-ins are reminded (``KINSHIP_CHECKIN_REMINDER_DAYS`` and ``_MAX``)."""

    every: timedelta = timedelta(days=7)
    """The silence after a check-in that makes the next one overdue, and the time between
    reminders."""
    at_most: int = 2
    """How many reminders in a row, without a check-in between them."""

    def __post_init__(self) -> None:
        if self.every <= timedelta(0) or self.at_most < 1:
            raise ValueError("reminders need a positive period and at least one reminder")

    def first_due(self, last_at: datetime) -> datetime:
        """When the first reminder after a check-in at ``last_at`` is due (maybe already)."""
        return last_at + self.every

    def next_due(self, last_at: datetime, sent: int, now: datetime) -> datetime | None:
        """When the reminder after the ``sent``-th (sent at ``now``) is due, or None when
        that was the last in a row: a period after the previous one was due, and never less
        than a period from now."""
        if sent >= self.at_most:
            return None
        return max(last_at + (sent + 1) * self.every, now + self.every)


def reminder_request_id(subject_id: str, last_checkin: str, number: int) -> str:
    """The request id of the ``number``-th reminder after the check-in ``last_checkin``:
    the same however often the timer fires or the check-in arrives, so one is sent."""
    return f"overdue:{subject_id}:{last_checkin}:{number}"
