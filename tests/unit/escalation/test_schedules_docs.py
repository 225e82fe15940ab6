"""The JSON examples in docs/oncall.md are valid and do what the text says."""

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from kinship_escalation.domain.schedules import (
    CoordinatorsTarget,
    EscalationPolicy,
    Schedule,
    on_call_at,
)

DOC = Path(__file__).parents[3] / "docs" / "oncall.md"
LONDON = ZoneInfo("Europe/London")


def example(model: str) -> str:
    found = re.findall(rf"<!-- model: {model} -->\n```json\n(.*?)\n```", DOC.read_text(), re.S)
    assert len(found) == 1, f"one {model} example expected in {DOC}"
    return str(found[0])


def test_the_schedule_example_hands_christmas_to_the_backup_layer() -> None:
    plan = Schedule.model_validate_json(example("Schedule"))
    assert on_call_at(plan, datetime(2026, 12, 24, 12, tzinfo=LONDON)) == ["p-dan"]
    assert on_call_at(plan, datetime(2026, 12, 25, 12, tzinfo=LONDON)) == ["p-ana"]
    assert on_call_at(plan, datetime(2026, 12, 24, 20, tzinfo=LONDON))[0] in {
        "p-nia",
        "p-noe",
        "p-ola",
    }
    assert on_call_at(plan, datetime(2026, 3, 3, 13, tzinfo=LONDON)) == ["p-zoe"]


def test_the_policy_example_is_valid_as_written() -> None:
    policy = EscalationPolicy.model_validate_json(example("EscalationPolicy"))
    assert len(policy.steps) == 3
    assert policy.steps[-1].targets == (CoordinatorsTarget(),)
