"""The time now, in one place so that tests can move it."""

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time in UTC, shifted by ``offset`` (tests move it forward)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset
