"""The ingestion parsers under Hypothesis (with shrinking: no broker here), for every contract.

For any record, valid by construction or with one defect: parsing never raises; a valid
record is accepted as the event it carries; an invalid one is rejected with a reason that
is a code and field errors by location, echoing nothing the sender chose. The same corpora
go over the real broker in tests/chaos/test_fuzz_kafka.py.
"""

import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings

from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.privacy import ErasureRequested
from kinship_contracts.pulse import PulseSubmitted
from kinship_contracts.signals import SignalSubmitted
from kinship_runtime.records import Parse, parse_directory, parse_records
from tests.chaos.fuzzing import echoes, make_unique, reason_is_safe
from tests.chaos.strategies import Case, cases
from tests.unit.fakes.kafka import FakeRecord

PARSERS: dict[str, Parse[Any]] = {
    "checkin": parse_records(CheckinSubmitted),
    "signal": parse_records(SignalSubmitted),
    "kudos": parse_records(KudosSubmitted),
    "pulse": parse_records(PulseSubmitted),
    "erasure": parse_records(ErasureRequested),
    "person": parse_directory,
}


def _check(case: Case) -> None:
    make_unique([case], "u-")
    record = FakeRecord(
        case.body(), key=(case.key or "k").encode(), headers=case.headers, topic="t"
    )
    accepted, rejected = PARSERS[case.contract]([record])
    if case.valid:
        assert rejected == [], (case.payload, [r.reason for r in rejected])
        assert len(accepted) == 1
        event = accepted[0].event
        if case.tombstone:
            assert getattr(event, "person", "x") is None
        return
    assert accepted == [], (case.defect, case.payload)
    (rejection,) = rejected
    text = json.dumps(rejection.reason)
    reason = reason_is_safe(text)
    assert echoes(case, text) == [], (case.defect, reason)
    if case.defect.startswith(("field:", "missing:", "unknown")):
        assert reason["errors"], (case.defect, reason)


def _property(contract: str) -> Callable[[], None]:
    @settings(max_examples=60, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(case=cases(contract))
    def test(case: Case) -> None:
        _check(case)

    test.__name__ = f"test_{contract}_records_parse_to_an_event_or_a_safe_rejection"
    return test


test_checkin_records = _property("checkin")
test_signal_records = _property("signal")
test_kudos_records = _property("kudos")
test_pulse_records = _property("pulse")
test_erasure_records = _property("erasure")
test_directory_records = _property("person")
