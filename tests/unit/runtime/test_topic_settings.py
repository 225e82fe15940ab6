"""``kinship_runtime.kafka.reconcile_topic_configs`` with a stand-in admin client: which
topics it alters and with what, the DescribeConfigs v0 flag, and a refusal that is logged."""

from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import TopicAuthorizationFailedError

from kinship_runtime.kafka import reconcile_topic_configs

STAMPED = {"cleanup.policy": "delete", "message.timestamp.type": "LogAppendTime"}
DYNAMIC, DEFAULT = 1, 5  # config_source: set on the topic; the broker's default


class Admin:
    """Answers DescribeConfigs from ``settings`` (name → [(key, value, source)]); records
    AlterConfigs; refuses with ``error`` when set."""

    def __init__(self, settings: dict[str, list[tuple[str, str, Any]]], error: int = 0) -> None:
        self.settings, self.error = settings, error
        self.altered: dict[str, dict[str, str]] = {}

    async def describe_configs(self, resources: list[Any]) -> list[Any]:
        answers = [
            (
                self.error,
                None,
                2,
                r.name,
                [(k, v, False, s, False) for k, v, s in self.settings[r.name]],
            )
            for r in resources
        ]
        return [SimpleNamespace(resources=answers)]

    async def alter_configs(self, resources: list[Any]) -> list[Any]:
        self.altered |= {r.name: r.configs for r in resources}
        return [SimpleNamespace(resources=[(0, None, 2, r.name) for r in resources])]


async def test_only_topics_that_differ_are_altered_keeping_their_own_settings() -> None:
    admin = Admin(
        {
            "old": [
                ("cleanup.policy", "delete", DYNAMIC),
                ("max.message.bytes", "2000000", DYNAMIC),  # an operator's: kept
                ("message.timestamp.type", "CreateTime", DEFAULT),  # inherited: not sent
                ("segment.bytes", "1073741824", DEFAULT),
            ],
            "new": [
                ("cleanup.policy", "delete", DYNAMIC),
                ("message.timestamp.type", "LogAppendTime", DYNAMIC),
            ],
        }
    )
    altered = await reconcile_topic_configs(admin, {"old": STAMPED, "new": STAMPED})
    assert altered == ["old"]
    assert admin.altered == {"old": STAMPED | {"max.message.bytes": "2000000"}}


async def test_describe_configs_v0_tells_a_topics_own_setting_by_its_default_flag() -> None:
    admin = Admin(
        {
            "old": [
                ("cleanup.policy", "delete", False),  # v0: is_default False, the topic's own
                ("retention.ms", "1", False),
                ("message.timestamp.type", "CreateTime", True),
            ]
        }
    )
    assert await reconcile_topic_configs(admin, {"old": STAMPED}) == ["old"]
    assert admin.altered == {"old": STAMPED | {"retention.ms": "1"}}


async def test_a_refusal_is_logged_and_nothing_is_altered(caplog: pytest.LogCaptureFixture) -> None:
    admin = Admin({"old": []}, error=TopicAuthorizationFailedError.errno)
    assert await reconcile_topic_configs(admin, {"old": STAMPED}) == []
    assert admin.altered == {}
    assert "could not bring the topics' settings" in caplog.text


async def test_nothing_wanted_asks_nothing() -> None:
    admin = Admin({})
    assert await reconcile_topic_configs(admin, {}) == []
