"""Libraries' repeated warnings and errors, logged once a minute instead of once per retry.

While the broker is away aiokafka logs every reconnect attempt, metadata refresh and
coordinator lookup at ERROR: a 15 s outage wrote 2,500-5,000 lines per service (issue 14)
and buried the line that mattered. Kinship's own code logs an outage when it starts and when
it ends (``kinship_runtime.resilience``); a library cannot, so ``LibraryRepeats`` lets each of
a library's messages (by logger and message template) through once per window and holds the
repeats back, counting them: the next line of that message after the window carries
``repeated`` (how many were held back).
"""

import logging
import time
from collections import OrderedDict
from collections.abc import Callable


class LibraryRepeats(logging.Filter):
    """A handler filter: warnings and errors of loggers outside ``own_prefix`` pass once per
    ``window_seconds`` per (logger, message template); Kinship's own lines always pass."""

    def __init__(
        self,
        window_seconds: float = 60.0,
        own_prefix: str = "kinship",
        clock: Callable[[], float] = time.monotonic,
        max_messages: int = 1000,
    ) -> None:
        super().__init__()
        self._window = window_seconds
        self._own = own_prefix
        self._clock = clock
        self._max = max_messages
        self._seen: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` is written (it may gain a ``repeated`` count)."""
        if record.levelno < logging.WARNING or record.name.startswith(self._own):
            return True
        key = (record.name, str(record.msg))
        now = self._clock()
        state = self._seen.get(key)
        if state is not None and now - state[0] < self._window:
            state[1] += 1
            return False
        if state is not None and state[1]:
            record.repeated = int(state[1])
        self._seen[key] = [now, 0]
        self._seen.move_to_end(key)
        while len(self._seen) > self._max:  # preformatted messages must not grow it forever
            self._seen.popitem(last=False)
        return True
