"""Nobody is left alone, over the real broker and database: each path that used to end in
silence now reaches a human.

- Every step spent unacknowledged → the coordinators are paged on a distinct "unanswered"
  alert, and again at the policy's interval, until someone takes the case (an earlier
  responder's link still works, and stops the pages).
- Acknowledged but nobody reached the person: the contact timeout fires although new
  evidence arrived meanwhile.
- A case rising to critical pages its responder at once (the one holding it, or the one
  alerted), with crisis resources for the person.
- A backfilled history's withdrawal: ``test_escalation_detection.py::
  test_a_backfilled_history_in_one_batch_is_detected_as_withdrawal`` (a case and its alert).
"""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.escalation_support import (
    STAFF,
    Escalation,
    bearer,
    recorded,
    seed_directory,
)
from tests.kafka_reading import publish

pytestmark = pytest.mark.integration

IMMEDIATE_RISK = [0, 0, 0, 0, 0, 0, 0, 0, 2]
MODERATE = [2, 2, 1, 1, 1, 1, 1, 1, 0]


async def set_policy(escalation: Escalation, **policy: Any) -> None:
    """The coordinator sets the default escalation policy (cases opened later follow it)."""
    answer = await escalation.client.put(
        "/v1/policies/default", json=policy, headers=bearer("coord-1")
    )
    assert answer.status_code == 200, answer.text


async def check_in(escalation: Escalation, id_: str, person_id: str, **answers: Any) -> None:
    """A recorded check-in, as the check-in service publishes it."""
    event = recorded(id_, person_id, datetime.now(UTC), **answers)
    topic = escalation.topic("wellbeing.checkins.recorded")
    await publish(escalation.endpoints.bootstrap_servers, topic, [event])


async def alerts(escalation: Escalation, case_id: str) -> list[Any]:
    return await escalation.rows(
        "SELECT id, recipient_id, step, attempt, purpose FROM alerts WHERE case_id = $1"
        " ORDER BY sent_at, id",
        case_id,
    )


async def wait_for_alerts(
    escalation: Escalation, case_id: str, purpose: str, count: int, timeout: float = 15.0
) -> list[Any]:
    """The case's alerts once ``count`` of them have ``purpose``."""
    query = "SELECT count(*) FROM alerts WHERE case_id = $1 AND purpose = $2"
    for _ in range(int(timeout / 0.1)):
        if (await escalation.rows(query, case_id, purpose))[0][0] >= count:
            return await alerts(escalation, case_id)
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"fewer than {count} {purpose} alerts: {await alerts(escalation, case_id)}"
    )


async def only_case(escalation: Escalation, person_check_in: str) -> str:
    assert await escalation.wait_for(
        f"SELECT count(*) FROM cases WHERE '{person_check_in}' = ANY(observation_ids)", 1
    )
    found = await escalation.rows(
        "SELECT id FROM cases WHERE $1 = ANY(observation_ids)", person_check_in
    )
    return str(found[0]["id"])


async def alert_requests(escalation: Escalation, case_id: str, expect: int) -> list[Any]:
    requests = await escalation.messages("notifications.requests", expect=expect)
    return [r for r in requests if r["kind"] == "alert" and r["case_id"] == case_id]


async def test_every_step_spent_pages_the_coordinators_until_someone_takes_the_case(
    escalation: Escalation,
) -> None:
    await seed_directory(escalation, STAFF)
    step = {"target": "responders", "timeout_seconds": 1, "repeat": 2}
    await set_policy(escalation, steps=[step], unanswered_interval_seconds=1)
    await check_in(escalation, "c-1", "worker-1", wants_contact=True)  # a self-referral: high
    case_id = await only_case(escalation, "c-1")

    # The responders step alerts twice, then the coordinators step every policy ends with;
    # then the coordinator is paged as "unanswered", and again each second.
    sent = await wait_for_alerts(escalation, case_id, "unanswered", 3)
    pages = [a for a in sent if a["purpose"] == "page"]
    assert [(a["step"], a["attempt"]) for a in pages] == [(1, 1), (1, 2), (2, 1)]
    assert {a["recipient_id"] for a in pages[:2]} <= {"resp-a", "resp-b"}
    assert pages[2]["recipient_id"] == "coord-1"
    unanswered = [a for a in sent if a["purpose"] == "unanswered"]
    assert {a["recipient_id"] for a in unanswered} == {"coord-1"}
    requests = await alert_requests(escalation, case_id, expect=len(sent))
    assert requests and all(r["urgent"] for r in requests)  # high: quiet hours never hold it

    # The first responder's link still works, and the pages stop.
    first = next(r for r in requests if r["alert"]["alert_id"] == pages[0]["id"])
    taken = await escalation.client.post(escalation.link(first["alert"]))
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] == "acknowledged"
    settled = len(await alerts(escalation, case_id))
    await asyncio.sleep(2.5)  # more than two intervals
    assert len(await alerts(escalation, case_id)) == settled
    events = await escalation.messages("escalation.cases", expect=6)
    kinds = [e["kind"] for e in sorted(events, key=lambda e: e["sequence"])]
    assert kinds.count("unanswered") >= 3 and kinds[-1] == "acknowledged"


async def test_the_contact_timeout_fires_although_new_evidence_arrived(
    escalation: Escalation,
) -> None:
    await seed_directory(escalation, STAFF)
    steps = [
        {"target": "person:resp-a", "timeout_seconds": 600},
        {"target": "coordinators", "timeout_seconds": 600},
    ]
    await set_policy(escalation, steps=steps, contact_timeout_seconds=3)
    await check_in(escalation, "c-1", "worker-1", wants_contact=True)
    case_id = await only_case(escalation, "c-1")
    taken = await escalation.client.post(
        f"/v1/cases/{case_id}/acknowledge", headers=bearer("resp-a")
    )
    assert taken.status_code == 200, taken.text
    # New evidence while nobody has reached the person: it used to disarm the timeout.
    await check_in(escalation, "c-2", "worker-1", phq9=MODERATE)
    assert await escalation.wait_for(
        f"SELECT count(*) FROM cases WHERE id = '{case_id}' AND 'c-2' = ANY(observation_ids)", 1
    )

    sent = await wait_for_alerts(escalation, case_id, "page", 2, timeout=15)
    assert [(a["recipient_id"], a["step"]) for a in sent] == [("resp-a", 1), ("coord-1", 2)]
    (case,) = await escalation.rows("SELECT status, step FROM cases WHERE id = $1", case_id)
    assert (case["status"], case["step"]) == ("assigned", 2)
    events = await escalation.messages("escalation.cases", expect=6)
    kinds = [e["kind"] for e in sorted(events, key=lambda e: e["sequence"])]
    assert kinds.index("evidence_added") < kinds.index("escalated")


async def test_a_rise_to_critical_pages_the_responder_at_once(escalation: Escalation) -> None:
    await seed_directory(escalation, STAFF)
    steps = [{"target": "person:resp-a", "timeout_seconds": 600}]
    await set_policy(escalation, steps=steps)
    await check_in(escalation, "c-1", "worker-1", wants_contact=True)
    held = await only_case(escalation, "c-1")
    assert (
        await escalation.client.post(f"/v1/cases/{held}/acknowledge", headers=bearer("resp-a"))
    ).status_code == 200
    started = datetime.now(UTC)
    await check_in(escalation, "c-2", "worker-1", phq9=IMMEDIATE_RISK)

    # The responder holding the case gets a critical alert now, not at some timeout.
    sent = await wait_for_alerts(escalation, held, "critical", 1, timeout=10)
    assert [(a["recipient_id"], a["purpose"]) for a in sent] == [
        ("resp-a", "page"),
        ("resp-a", "critical"),
    ]
    assert datetime.now(UTC) - started < timedelta(seconds=10)
    requests = await escalation.messages("notifications.requests", expect=4)
    critical = [
        r for r in requests if r["kind"] == "alert" and r["alert"]["severity"] == "critical"
    ]
    assert [(r["recipient"], r["critical"]) for r in critical] == [({"person_id": "resp-a"}, True)]
    crisis = [r for r in requests if r["kind"] == "crisis_resources"]
    assert [r["case_id"] for r in crisis] == [held]
    (case,) = await escalation.rows("SELECT severity, status FROM cases WHERE id = $1", held)
    assert (case["severity"], case["status"]) == ("critical", "acknowledged")
    audit = await escalation.rows(
        "SELECT actor FROM case_audit WHERE case_id = $1 AND action = 'paged_critical'", held
    )
    assert [r["actor"] for r in audit] == ["detection"]
