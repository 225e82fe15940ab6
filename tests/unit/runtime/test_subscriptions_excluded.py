"""A deployment may leave some of its service's consumers to another (the urgent lane)."""

from typing import Any

import pytest

from kinship_contracts.topics import CHECKINS_RECORDED, CHECKINS_URGENT
from kinship_runtime.composition import running_subscriptions
from kinship_runtime.ingest import Subscription
from kinship_runtime.settings import KinshipSettings


async def _store(events: list[Any]) -> None:
    del events


def _subscriptions() -> list[Subscription[Any]]:
    def parse(records: Any) -> Any:
        return [], []

    return [
        Subscription(CHECKINS_RECORDED, "checkins", parse, _store, "bulk"),
        Subscription(CHECKINS_URGENT, "urgent", parse, _store, "urgent"),
    ]


def test_the_excluded_consumers_are_not_run_and_the_others_are() -> None:
    settings = KinshipSettings(env="dev", excluded_consumers="checkins")
    running = running_subscriptions(_subscriptions(), settings.excluded())
    assert [subscription.purpose for subscription in running] == ["urgent"]
    everything = running_subscriptions(_subscriptions(), KinshipSettings(env="dev").excluded())
    assert [subscription.purpose for subscription in everything] == ["checkins", "urgent"]


def test_a_consumer_the_service_does_not_have_fails_the_start() -> None:
    # A misspelt name would otherwise run every consumer, the urgent lane's too, in bulk.
    with pytest.raises(ValueError, match="urgnet, which this service does not consume"):
        running_subscriptions(
            _subscriptions(), KinshipSettings(env="dev", excluded_consumers="urgnet").excluded()
        )


@pytest.mark.parametrize("value", ["urgent,", "Urgent", "urgent checkins", ","])
def test_a_malformed_list_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="excluded_consumers"):
        KinshipSettings(env="dev", excluded_consumers=value)
