"""The escalation service's programme measures over the real database: the adapter's query
buckets each fact by when the service recorded it (first acknowledgement and contact per
case, each resolution with its own outcome, feedback on arrival), closed weeks only."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from tests.escalation_support import (
    AUTH,
    STAFF,
    Escalation,
    bearer,
    recorded,
    seed_directory,
)
from tests.kafka_reading import publish

pytestmark = pytest.mark.integration

_CASE = (
    "INSERT INTO cases (id, subject_id, status, severity, rules, observation_ids, step,"
    " attempt, opened_at, contacted_at, resolved_at, outcome, sequence, policy)"
    " VALUES ($1, $2, 'resolved', 'high', '{}', '{}', 1, 1, $3, $4, $5, $6, 1, '{}')"
)
_AUDIT = (
    "INSERT INTO case_audit (case_id, case_ids, subject_ids, action, actor, at, outcome)"
    " VALUES ($1, ARRAY[$1], ARRAY[$2], $3, 'person:resp-a', $4, $5)"
)


async def measures(service: Escalation, weeks: int) -> dict[str, Any]:
    answer = await service.client.get(
        "/v1/metrics/programme", params={"weeks": str(weeks)}, headers=AUTH
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, Any] = answer.json()
    return body


async def test_each_fact_counts_once_in_the_week_it_was_recorded(escalation: Escalation) -> None:
    now = datetime.now(UTC)
    closing = now - timedelta(hours=1)  # a week is published an hour after it ends
    this_monday = datetime.combine(closing.date() - timedelta(days=closing.weekday()), time(), UTC)
    week = this_monday - timedelta(weeks=2)
    day = week + timedelta(days=2, hours=10)
    later = week + timedelta(weeks=1, days=1)  # the next (closed) week
    for n in range(6):
        case_id, subject = f"p-{n}", f"subject-{n}"
        contacted = day + timedelta(seconds=600 * (n + 1)) if n < 5 else None
        outcome = "declined" if n == 0 else "supported"
        await escalation.rows(_CASE, case_id, subject, day, contacted, day, outcome)
        if n == 5:
            continue  # opened, never acknowledged
        first_ack = day + timedelta(seconds=60 * (n + 1))
        await escalation.rows(_AUDIT, case_id, subject, "acknowledged", first_ack, None)
        # A second acknowledgement (after a missed contact) counts nowhere.
        await escalation.rows(_AUDIT, case_id, subject, "acknowledged", later, None)
        await escalation.rows(_AUDIT, case_id, subject, "contacted", day + timedelta(hours=2), None)
        await escalation.rows(
            _AUDIT, case_id, subject, "resolved", day + timedelta(hours=3), "supported"
        )
        await escalation.rows(
            "INSERT INTO feedback (case_id, given_by, score, at) VALUES ($1, 'person', $2, $3)",
            case_id,
            n + 1,
            day + timedelta(hours=4),
        )
    # p-0 was reopened and resolved again, declined, this week: its first resolution stays.
    await escalation.rows(_AUDIT, "p-0", "subject-0", "resolved", now, "declined")
    await escalation.rows(_CASE, "p-open", "subject-9", now, None, None, None)

    found = await measures(escalation, 3)
    assert found["end"] == this_monday.date().isoformat()
    assert [w["week"] for w in found["weeks"]][-2:] == [
        week.date().isoformat(),
        (week + timedelta(weeks=1)).date().isoformat(),
    ]
    shown, following = found["weeks"][-2:]
    assert shown["cases_opened"] == 6
    assert shown["acknowledged"] == 5
    assert shown["time_to_acknowledge_seconds"] == {"median": 180.0, "p90": 276.0}
    assert shown["time_to_first_contact_seconds"] == {"median": 1800.0, "p90": 2760.0}
    assert shown["outcomes"]["supported"] == 5
    assert shown["outcomes"]["declined"] == "withheld"
    assert shown["feedback"] == {
        "person": {"count": 5, "mean_score": 3.0},
        "responder": "withheld",
    }
    assert following["acknowledged"] == "withheld"  # the second acknowledgements
    assert following["cases_opened"] == "withheld"


async def test_a_resolution_recorded_over_http_keeps_its_outcome(escalation: Escalation) -> None:
    """The write side: the 'resolved' audit record carries the outcome (migration 0010), and
    the week in progress is in no figure."""
    await seed_directory(escalation, STAFF)
    topic = escalation.topic("wellbeing.checkins.recorded")
    message = recorded("c-1", "worker-1", datetime.now(UTC), wants_contact=True, mood=3)
    await publish(escalation.endpoints.bootstrap_servers, topic, [message])
    assert await escalation.wait_for("SELECT count(*) FROM alerts", 1) == 1
    case = (await escalation.rows("SELECT id, responder_id FROM cases"))[0]
    who = bearer(case["responder_id"], "peer_responder")
    for action in ("acknowledge", "contact"):
        done = await escalation.client.post(f"/v1/cases/{case['id']}/{action}", headers=who)
        assert done.status_code == 200, done.text
    resolved = await escalation.client.post(
        f"/v1/cases/{case['id']}/resolve", json={"outcome": "supported"}, headers=who
    )
    assert resolved.status_code == 200, resolved.text
    audit = await escalation.rows(
        "SELECT action, outcome FROM case_audit WHERE case_id = $1 AND action = 'resolved'",
        case["id"],
    )
    assert [(r["action"], r["outcome"]) for r in audit] == [("resolved", "supported")]
    found = await measures(escalation, 52)
    assert len(found["weeks"]) == 52
    assert all(w["cases_opened"] == "withheld" for w in found["weeks"])
    refused = await escalation.client.get(
        "/v1/metrics/programme", headers=bearer("resp-a", "peer_responder")
    )
    assert refused.status_code == 403
