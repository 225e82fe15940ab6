"""A library's repeated errors are logged once a minute with a count (issue 14: a 15 s broker
outage wrote thousands of aiokafka ERROR lines per service)."""

import logging

from kinship_runtime.quiet import LibraryRepeats


def record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_a_library_message_passes_once_per_window_then_says_how_many_were_held() -> None:
    now = [0.0]
    quiet = LibraryRepeats(window_seconds=60, clock=lambda: now[0])
    template = "Unable connect to node with id %s: %s"
    passed = []
    for second in range(0, 150):
        now[0] = float(second)
        for _ in range(30):  # thirty attempts a second, as aiokafka makes them
            line = record("aiokafka", template, 1, "[Errno 111] Connect call failed")
            if quiet.filter(line):
                passed.append((second, getattr(line, "repeated", 0)))
    assert passed == [(0, 0), (60, 60 * 30 - 1), (120, 60 * 30 - 1)]


def test_other_messages_and_kinships_own_lines_are_not_held() -> None:
    quiet = LibraryRepeats(clock=lambda: 0.0)
    assert quiet.filter(record("aiokafka", "Unable to update metadata from %s", [1]))
    assert quiet.filter(record("aiokafka.cluster", "Topic %s not found", "t"))
    for _ in range(5):
        assert quiet.filter(record("kinship_runtime.outbox", "outbox waits (%s)", "X"))
        assert quiet.filter(record("aiokafka", "joined group %s", "g", level=logging.INFO))


def test_the_memory_of_messages_is_bounded() -> None:
    quiet = LibraryRepeats(clock=lambda: 0.0, max_messages=10)
    for i in range(100):
        assert quiet.filter(record("lib", f"preformatted {i}"))
    assert len(quiet._seen) == 10
