"""The JSON examples in docs/oncall.md are valid and do what the text says."""

import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from kinship_contracts.cases import Severity
from kinship_escalation.domain.schedules import (
    CoordinatorsTarget,
    EscalationPolicy,
    Schedule,
    on_call_at,
    pick_recipients,
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
    assert (policy.team_id, policy.severity) == ("team-a", Severity.HIGH)
    assert len(policy.steps) == 3
    assert policy.steps[-1].targets == (CoordinatorsTarget(),)  # appended


def policy_examples() -> list[EscalationPolicy]:
    found = re.findall(r"<!-- policy example -->\n```json\n(.*?)\n```", DOC.read_text(), re.S)
    return [EscalationPolicy.model_validate_json(text) for text in found]


def test_the_other_policy_examples_are_valid_and_do_what_the_text_says() -> None:
    critical, team_b, old = policy_examples()
    assert (critical.team_id, critical.severity, len(critical.steps)) == (
        None,
        Severity.CRITICAL,
        1,
    )
    leads = team_b.steps[1]
    assert [pick_recipients(leads, leads.targets[0].people, turn=t) for t in range(3)] == [  # type: ignore[union-attr]
        ["p-lead-1"],
        ["p-lead-2"],
        ["p-lead-3"],
    ]
    stored = re.search(r"It is stored and shown .*?```json\n(.*?)\n```", DOC.read_text(), re.S)
    assert stored is not None
    assert old == EscalationPolicy.model_validate_json(stored[1])
    assert old.model_dump(mode="json") == json.loads(stored[1])
    for policy in (critical, team_b, old):
        assert policy.steps[-1].reaches_coordinators
