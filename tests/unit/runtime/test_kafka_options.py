"""The Kafka client options the services run with come from the settings (one place)."""

import gc
from typing import Any

import pytest

from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.topics import CHECKINS_RECORDED
from kinship_runtime import kafka
from kinship_runtime.composition import tune_garbage_collector
from kinship_runtime.ingest import Subscription, ingest
from kinship_runtime.records import parse_records
from kinship_runtime.settings import KinshipSettings

TUNED = {
    "kafka_linger_ms": 7,
    "kafka_max_batch_bytes": 65_536,
    "kafka_fetch_min_bytes": 10,
    "kafka_fetch_max_wait_ms": 19,
    "kafka_max_partition_fetch_bytes": 100_000,
}


class RecordingBroker:
    """Takes a subscriber declaration and keeps its options."""

    def __init__(self) -> None:
        self.options: dict[str, Any] = {}

    def subscriber(self, *topics: str, **options: Any) -> Any:
        self.options = options
        return lambda handler: handler


async def _store(events: Any) -> None:
    return None


@pytest.mark.parametrize("tuned", [False, True], ids=["defaults", "tuned"])
def test_producers_and_consumers_take_their_batching_options_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, tuned: bool
) -> None:
    settings = KinshipSettings.model_validate({"env": "dev", **(TUNED if tuned else {})})
    produced: dict[str, Any] = {}
    monkeypatch.setattr(kafka, "AIOKafkaProducer", lambda **options: produced.update(options))
    kafka.make_producer(settings)
    broker = RecordingBroker()
    subscription = Subscription(
        CHECKINS_RECORDED, "checkins", parse_records(CheckinRecorded), _store, "test"
    )
    ingest(broker, settings, None, subscription)  # type: ignore[arg-type]

    expected = (7, 65_536, 10, 19, 100_000) if tuned else (2, 262_144, 1, 500, 1_048_576)
    consumer = broker.options
    assert (
        produced["linger_ms"],
        produced["max_batch_size"],
        consumer["fetch_min_bytes"],
        consumer["fetch_max_wait_ms"],
        consumer["max_partition_fetch_bytes"],
    ) == expected
    assert produced["enable_idempotence"] is True and produced["acks"] == "all"


def test_the_garbage_collector_threshold_is_set_from_settings_and_zero_keeps_it() -> None:
    before = gc.get_threshold()
    try:
        tune_garbage_collector(0)
        assert gc.get_threshold() == before
        tune_garbage_collector(50_000)
        assert gc.get_threshold() == (50_000, before[1], before[2])
    finally:
        gc.set_threshold(*before)


@pytest.mark.parametrize(
    "values",
    [
        {"kafka_max_batch_bytes": 2 * 1024 * 1024},  # above the broker's message.max.bytes
        {"kafka_fetch_max_wait_ms": 0},  # idle consumers polling in a tight loop
        {"kafka_max_batch_bytes": 512 * 1024, "kafka_max_partition_fetch_bytes": 256 * 1024},
    ],
)
def test_kafka_options_that_would_stop_the_flow_are_refused_at_start(
    values: dict[str, int],
) -> None:
    with pytest.raises(ValueError):
        KinshipSettings(env="dev", **values)  # type: ignore[arg-type]
