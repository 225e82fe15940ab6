"""A year of check-in history, made up but shaped like a real one, and the cases it led to
(issue 17): ``bench/backfill.py`` re-evaluates it at scale, ``tests/integration/
test_backfill.py`` proves a backfill opens the same cases as live processing.

Each person checks in about weekly (a weekday and hour of their own, now and then a week
missed), mostly in fair spirits. Some go through a low patch in the year: three low-mood
weeks in a row (sustained decline), a poor WHO-5 week, or a week they ask a peer to reach
out. Nobody is at immediate risk: a backfill must not page anyone for a crisis months old.
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.database import rows

POOR_WHO5 = [1, 2, 1, 2, 2]
"""WHO-5 raw 8: poor wellbeing (medium)."""
FAIR_WHO5 = [3, 3, 4, 3, 3]


@dataclass(frozen=True)
class History:
    """Check-in bodies in the order they happened (as a backfill replays them)."""

    bodies: list[dict[str, Any]]
    people: int
    weeks: int


def person(prefix: str, index: int) -> str:
    return f"{prefix}person-{index}"


def year_of_checkins(
    people: int, weeks: int = 52, prefix: str = "bf-", seed: int = 17, end: datetime | None = None
) -> History:
    """``weeks`` of check-ins by ``people`` people, ending before ``end`` (now), oldest first.

    The same ``seed`` gives the same history whatever the ``prefix`` (which names the people
    and the check-ins, so that two copies can go through one platform).
    """
    end = end or datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(weeks=weeks + 1)
    timeline: list[tuple[datetime, dict[str, Any]]] = []
    for index in range(people):
        rng = random.Random(seed * 1_000_003 + index)
        offset = timedelta(days=rng.randrange(5), hours=8 + rng.randrange(10))
        patch = rng.randrange(weeks)
        kind = rng.choice(["decline", "who5", "contact"] + ["none"] * 9)
        for week in range(weeks):
            if rng.random() < 0.08:
                continue  # a missed week
            body: dict[str, Any] = {
                "id": f"{prefix}{index}-{week}",
                "person_id": person(prefix, index),
                "occurred_at": (start + timedelta(weeks=week) + offset).isoformat(),
                "source": "backfill",
                "mood": rng.choice([3, 3, 4, 4, 4, 5]),
                "stress": rng.choice([1, 2, 2, 3, 3, 4]),
            }
            if week % 4 == 0:
                body["who5"] = FAIR_WHO5
            if kind == "decline" and patch <= week < patch + 3:
                body["mood"] = 2
            elif kind == "who5" and week == patch:
                body["who5"] = POOR_WHO5
            elif kind == "contact" and week == patch:
                body["wants_contact"] = True
            timeline.append((start + timedelta(weeks=week) + offset, body))
    timeline.sort(key=lambda item: (item[0], item[1]["id"]))
    return History([body for _, body in timeline], people, weeks)


CaseShape = tuple[str, tuple[tuple[str, str], ...]]
"""A case as compared: (severity, sorted (rule, evidence ref without the id prefix))."""


async def cases_by_person(
    database_url: str, checkin_schema: str, escalation_schema: str, prefix: str
) -> dict[str, list[CaseShape]]:
    """The cases about the people named with ``prefix``: person (without the prefix) → the
    cases about them, each with its severity and the evidence it holds."""
    pseudonyms = await rows(
        database_url,
        checkin_schema,
        "SELECT subject_id, person_id FROM pseudonyms WHERE person_id LIKE $1 || '%'",
        prefix,
    )
    person_of = {r["subject_id"]: r["person_id"].removeprefix(prefix) for r in pseudonyms}
    cases = await rows(
        database_url,
        escalation_schema,
        "SELECT c.id, c.subject_id, c.severity, e.rule, e.ref FROM cases c"
        " LEFT JOIN case_evidence e ON e.case_id = c.id WHERE c.subject_id = ANY($1::text[])",
        list(person_of),
    )
    found: dict[str, dict[str, tuple[str, list[tuple[str, str]]]]] = {}
    for row in cases:
        case = found.setdefault(person_of[row["subject_id"]], {}).setdefault(
            row["id"], (row["severity"], [])
        )
        if row["rule"] is not None:
            case[1].append((row["rule"], str(row["ref"]).replace(prefix, "", 1)))
    return {
        who: sorted((severity, tuple(sorted(evidence))) for severity, evidence in by_id.values())
        for who, by_id in found.items()
    }
