"""The batch span's parent and links (``kinship_runtime.telemetry``): the first traced
record's context and at most ``MAX_LINKS`` others, extracted from the first traced records
only."""

from dataclasses import dataclass

from opentelemetry import trace

from kinship_runtime.telemetry import MAX_LINKS, traced_contexts


@dataclass
class FakeRecord:
    headers: list[tuple[str, bytes]]


def traced(number: int) -> FakeRecord:
    traceparent = f"00-{number:032x}-{number:016x}-01"
    return FakeRecord([("ce_id", b"x"), ("traceparent", traceparent.encode())])


def trace_ids(records: list[FakeRecord], most: int) -> list[int]:
    return [
        trace.get_current_span(context).get_span_context().trace_id
        for context in traced_contexts(records, most)
    ]


def test_the_first_traced_records_give_the_parent_and_the_links_in_order() -> None:
    untraced = FakeRecord([("ce_id", b"y")])
    records = [untraced, traced(7), untraced, *(traced(n) for n in range(100, 200))]
    found = trace_ids(records, MAX_LINKS + 1)
    assert found == [7, *range(100, 100 + MAX_LINKS)]


def test_records_after_the_last_one_needed_are_never_read() -> None:
    class Unreadable:
        @property
        def headers(self) -> list[tuple[str, bytes]]:
            raise AssertionError("read a record the span does not need")

    records: list[FakeRecord] = [traced(n) for n in range(1, 4)]
    assert trace_ids([*records, Unreadable()], 3) == [1, 2, 3]  # type: ignore[list-item]


def test_a_batch_without_traces_has_no_parent() -> None:
    assert traced_contexts([FakeRecord([]), FakeRecord([("ce_id", b"z")])], 33) == []
