"""A scripted run: 300 synthetic people over eight simulated weeks, with a restart halfway.

The table below says which case each kind of person must end up with; the run checks that
exactly those cases open (one per person), whatever the restart and a replay of the first
half do.
"""

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.escalation_support import (
    STAFF,
    SUBJECTS,
    Starter,
    recorded,
    seed_directory,
)
from tests.kafka_reading import publish

pytestmark = pytest.mark.integration

WEEKS = 8
STEADY: dict[str, Any] = {"mood": 4, "stress": 2, "who5": [4, 4, 4, 4, 4]}

# kind -> (answers for each week (None: no check-in), expected case (severity, first rule))
SCRIPT: dict[str, tuple[Sequence[dict[str, Any] | None], tuple[str, str] | None]] = {
    "steady": ([STEADY] * WEEKS, None),
    "critical": (
        [STEADY] * 5 + [{"mood": 2, "phq9": [1, 1, 1, 1, 1, 1, 1, 1, 1]}] + [STEADY] * 2,
        ("critical", "immediate_risk"),
    ),
    "self_referral": (
        [STEADY] * 3 + [{"mood": 3, "wants_contact": True}] + [STEADY] * 4,
        ("high", "self_referral"),
    ),
    "poor_who5": (
        [STEADY] * 2 + [{"mood": 3, "who5": [3, 3, 2, 2, 2]}] + [STEADY] * 5,
        ("medium", "poor_wellbeing"),
    ),
    "decline": (
        [STEADY] * 5 + [{"mood": 2}, {"mood": 1}, {"mood": 2}],
        ("medium", "sustained_decline"),
    ),
    # Mood 3 then 2, 2: a low trend but no 1.5-point drop against the baseline; then silence.
    "withdrawal": (
        [{"mood": 3}] * 3 + [{"mood": 2}, {"mood": 2}] + [None] * 3,
        ("medium", "withdrawal"),
    ),
}
PEOPLE_PER_KIND = 50


def events(weeks: range, now: datetime) -> list[tuple[bytes, bytes]]:
    out = []
    for kind, (plan, _) in SCRIPT.items():
        for number in range(PEOPLE_PER_KIND):
            person = f"{kind}-{number}"
            for week in weeks:
                answers = plan[week]
                if answers is None:
                    continue
                at = now - timedelta(weeks=WEEKS - week, hours=number % 24)
                team = f"team-{number % 10}"
                out.append(recorded(f"{person}-w{week}", person, at, team=team, **dict(answers)))
    return out


async def test_simulated_weeks_open_exactly_the_predicted_cases_across_a_restart(
    start_escalation: Starter,
) -> None:
    now = datetime.now(UTC)
    first_half, second_half = events(range(4), now), events(range(4, WEEKS), now)
    async with start_escalation() as service:
        await seed_directory(service, STAFF)
        topic = service.topic("wellbeing.checkins.recorded")
        await publish(service.endpoints.bootstrap_servers, topic, first_half)
        assert await service.wait_for("SELECT count(*) FROM observations", len(first_half)) == len(
            first_half
        )
    async with start_escalation() as service:  # a restart in the middle
        await publish(service.endpoints.bootstrap_servers, topic, second_half + first_half)
        total = len(first_half) + len(second_half)
        assert await service.wait_for("SELECT count(*) FROM observations", total) == total
        expected_cases = sum(
            PEOPLE_PER_KIND for _, expected in SCRIPT.values() if expected is not None
        )
        await service.wait_for("SELECT count(*) FROM cases", expected_cases, timeout=30)
        cases = await service.rows("SELECT subject_id, severity, rules FROM cases")

    subjects = SUBJECTS
    kind_of = {
        subjects.subject_id(f"{kind}-{n}"): kind for kind in SCRIPT for n in range(PEOPLE_PER_KIND)
    }
    per_subject = Counter(row["subject_id"] for row in cases)
    assert max(per_subject.values()) == 1, "one case per person"
    found: dict[str, Counter[tuple[str, str]]] = {kind: Counter() for kind in SCRIPT}
    for row in cases:
        found[kind_of[row["subject_id"]]][(row["severity"], row["rules"][0])] += 1
    expected = {
        kind: Counter({case: PEOPLE_PER_KIND}) if case else Counter()
        for kind, (_, case) in SCRIPT.items()
    }
    assert found == expected
