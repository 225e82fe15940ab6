"""The event catalogue generator: who publishes and consumes, from AsyncAPI documents."""

from typing import Any

from kinship_devstack.catalogue import flows


def document(operations: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """An AsyncAPI 3 document with one channel per operation: name -> (address, action)."""
    return {
        "channels": {name: {"address": address} for name, (address, _) in operations.items()},
        "operations": {
            name: {"action": action, "channel": {"$ref": f"#/channels/{name}"}}
            for name, (_, action) in operations.items()
        },
    }


def test_flows_name_the_publishers_and_consumers_of_each_topic() -> None:
    docs = {
        "checkin": document({"in": ("a.submitted", "receive"), "out": ("a.recorded", "send")}),
        "escalation": document({"rec": ("a.recorded", "receive"), "req": ("n.req", "send")}),
        "recognition": document({"rec": ("a.recorded", "receive"), "req": ("n.req", "send")}),
    }
    assert flows(docs) == {
        "a.submitted": {"send": set(), "receive": {"checkin"}},
        "a.recorded": {"send": {"checkin"}, "receive": {"escalation", "recognition"}},
        "n.req": {"send": {"escalation", "recognition"}, "receive": set()},
    }
