"""The escalation service against the real broker and database (service run in-process)."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.escalation_support import (
    STAFF,
    SUBJECTS,
    Escalation,
    Starter,
    bearer,
    person,
    recorded,
    seed_directory,
)
from tests.kafka_reading import encode, publish

pytestmark = pytest.mark.integration

CRITICAL_PHQ9 = [1, 1, 1, 1, 1, 1, 1, 1, 1]


def kinds(events: list[dict[str, Any]], case_id: str) -> list[str]:
    return [
        e["kind"]
        for e in sorted(events, key=lambda e: e.get("sequence", 0))
        if e.get("case_id") == case_id
    ]


async def test_critical_checkin_alerts_escalates_and_stops_at_acknowledgement(
    escalation: Escalation,
) -> None:
    await seed_directory(escalation, STAFF)
    now = datetime.now(UTC)
    await publish(
        escalation.endpoints.bootstrap_servers,
        escalation.topic("wellbeing.checkins.recorded"),
        [recorded("c-1", "worker-1", now, phq9=CRITICAL_PHQ9)],
    )
    assert await escalation.wait_for("SELECT count(*) FROM alerts", 1, timeout=10) == 1
    # How fast: bench/alert_latency.py measures it (a timed assertion here failed only when
    # the machine was busy).

    requests = await escalation.messages("notifications.requests", expect=2)
    alerts = [r for r in requests if r["kind"] == "alert"]
    assert [a["recipient"]["person_id"] for a in alerts] == ["resp-a"]
    alert = alerts[0]["alert"]
    assert set(alert) == {
        "alert_id",
        "case_id",
        "severity",
        "step",
        "reason",
        "opened_at",
        "ack_url",
        "expires_at",
    }
    assert (alert["severity"], alert["step"]) == ("critical", 1)
    # The link on Kafka carries no token: the notifications service adds one when it sends.
    assert alert["ack_url"] == f"http://escalation.test/v1/alerts/{alert['alert_id']}/acknowledge"
    crisis = [r for r in requests if r["kind"] == "crisis_resources"]
    assert crisis[0]["recipient"] == {"subject_id": SUBJECTS.subject_id("worker-1")}
    assert crisis[0]["critical"] is True
    # Where the person is is not known here: the resources for everyone.
    assert crisis[0]["resources"] and all(not r.get("countries") for r in crisis[0]["resources"])

    # No acknowledgement within 2 s: the backup responder is alerted.
    assert await escalation.wait_for("SELECT count(*) FROM alerts", 2, timeout=10) == 2
    requests = await escalation.messages("notifications.requests", expect=3)
    # Alerts are keyed by recipient, so they may sit on different partitions: order by step.
    alerts = sorted((r for r in requests if r["kind"] == "alert"), key=lambda r: r["alert"]["step"])
    assert [a["recipient"]["person_id"] for a in alerts] == ["resp-a", "resp-b"]
    second = alerts[1]["alert"]
    assert second["step"] == 2

    # The backup acknowledges through the link; the link works once.
    path = escalation.link(second)
    page = await escalation.client.get(path)
    assert page.status_code == 200 and '<form method="post"' in page.text
    assert (page.headers["cache-control"], page.headers["referrer-policy"]) == (
        "no-store",
        "no-referrer",
    )
    taken = await escalation.client.post(path)
    assert taken.status_code == 200, taken.text
    assert (taken.json()["status"], taken.json()["responder_id"]) == ("acknowledged", "resp-b")
    again = await escalation.client.post(path)
    assert again.status_code == 403
    forged = await escalation.client.post(path[:-1] + ("0" if path[-1] != "0" else "1"))
    assert forged.status_code == 403

    await asyncio.sleep(3)  # longer than a step: nothing more may be sent
    assert len(await escalation.rows("SELECT id FROM alerts")) == 2

    case_id = second["case_id"]
    contact = await escalation.client.post(
        f"/v1/cases/{case_id}/contact", headers=bearer("resp-b", "peer_responder")
    )
    assert contact.status_code == 200, contact.text
    wrong = await escalation.client.post(
        f"/v1/cases/{case_id}/resolve",
        json={"outcome": "supported"},
        headers=bearer("resp-a", "peer_responder"),
    )
    assert wrong.status_code == 403  # not their case
    done = await escalation.client.post(
        f"/v1/cases/{case_id}/resolve",
        json={"outcome": "referred_professional"},
        headers=bearer("resp-b", "peer_responder"),
    )
    assert done.status_code == 200, done.text

    events = await escalation.messages("escalation.cases", expect=7)
    assert kinds(events, case_id) == [
        "opened",
        "assigned",
        "escalated",
        "acknowledged",
        "contacted",
        "resolved",
    ]
    assert events[-1]["outcome"] == "referred_professional"
    follow_up = await escalation.rows(
        "SELECT due_at FROM timers WHERE kind = 'case_follow_up' AND case_id = $1 ORDER BY due_at",
        case_id,
    )
    assert len(follow_up) == 2  # about 72 hours and about a month after resolution
    for row, hours in zip(follow_up, (72, 720), strict=True):
        expected = datetime.now(UTC) + timedelta(hours=hours)
        assert abs(row["due_at"] - expected) < timedelta(minutes=1)
    requests = await escalation.messages("notifications.requests", expect=5)
    feedback = sorted(r["params"]["from"] for r in requests if r["kind"] == "feedback_request")
    assert feedback == ["person", "responder"]
    audit = await escalation.rows(
        "SELECT action, actor, subject_ids FROM case_audit WHERE case_id = $1 ORDER BY seq",
        case_id,
    )
    assert [(r["action"], r["actor"]) for r in audit][-2:] == [
        ("contacted", "person:resp-b"),
        ("resolved", "person:resp-b"),
    ]
    assert {tuple(r["subject_ids"]) for r in audit} == {(SUBJECTS.subject_id("worker-1"),)}


async def test_same_recorded_checkin_twice_has_one_effect(escalation: Escalation) -> None:
    await seed_directory(escalation, STAFF)
    message = recorded("c-dup", "worker-1", datetime.now(UTC), wants_contact=True, mood=3)
    topic = escalation.topic("wellbeing.checkins.recorded")
    await publish(escalation.endpoints.bootstrap_servers, topic, [message, message])
    assert await escalation.wait_for("SELECT count(*) FROM cases", 1) == 1
    await publish(escalation.endpoints.bootstrap_servers, topic, [message])
    await asyncio.sleep(1.5)
    assert len(await escalation.rows("SELECT id FROM observations")) == 1
    cases = await escalation.rows("SELECT severity, rules, subject_id FROM cases")
    assert [(c["severity"], c["rules"]) for c in cases] == [("high", ["self_referral"])]
    # The person hears at once that the request arrived (once), with resources for the wait.
    requests = await escalation.messages("notifications.requests", expect=2)
    (answer,) = [r for r in requests if r["kind"] == "self_care"]
    assert answer["recipient"] == {"subject_id": cases[0]["subject_id"]}
    assert answer["params"]["purpose"] == "self_referral" and answer["urgent"]
    assert answer["resources"] and "person_id" not in str(answer["recipient"])


async def test_failed_alert_delivery_escalates_at_once(escalation: Escalation) -> None:
    await seed_directory(escalation, STAFF)
    await escalation.client.put(
        "/v1/policies/default",
        json={
            "steps": [
                {"target": "responders", "timeout_seconds": 600},
                {"target": "coordinators", "timeout_seconds": 600},
            ]
        },
        headers=bearer("coord-1"),
    )
    await publish(
        escalation.endpoints.bootstrap_servers,
        escalation.topic("wellbeing.checkins.recorded"),
        [recorded("c-f", "worker-1", datetime.now(UTC), wants_contact=True, mood=1)],
    )
    assert await escalation.wait_for("SELECT count(*) FROM alerts", 1) == 1
    alert = (await escalation.rows("SELECT id, case_id FROM alerts"))[0]
    receipt = {
        "id": "r-1",
        "request_id": f"alert:{alert['id']}",
        "kind": "alert",
        "status": "failed",
        "attempts": 5,
        "case_id": alert["case_id"],
        "alert_id": alert["id"],
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    started = time.monotonic()
    await publish(
        escalation.endpoints.bootstrap_servers,
        escalation.topic("notifications.receipts"),
        [(b"r-1", encode(receipt))],
    )
    assert await escalation.wait_for("SELECT count(*) FROM alerts", 2, timeout=10) == 2
    assert time.monotonic() - started < 5  # not the 600 s timeout
    second = await escalation.rows("SELECT recipient_id, step FROM alerts ORDER BY sent_at")
    assert [(r["recipient_id"], r["step"]) for r in second] == [("resp-a", 1), ("coord-1", 2)]


@pytest.fixture
async def patient_escalation(
    start_escalation: Starter, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Escalation]:
    """An escalation service whose first step never times out during the test (on a busy
    machine a 2 s step could alert the other responder, who may then read the case)."""
    monkeypatch.setenv("KINSHIP_ACK_TIMEOUT_SECONDS", "600")
    async with start_escalation() as running:
        yield running


async def test_cases_are_scoped_to_the_caller_and_reads_are_audited(
    patient_escalation: Escalation,
) -> None:
    escalation = patient_escalation
    await seed_directory(escalation, [*STAFF, person("worker-2", "team-y")])
    now = datetime.now(UTC)
    await publish(
        escalation.endpoints.bootstrap_servers,
        escalation.topic("wellbeing.checkins.recorded"),
        [
            recorded("c-a", "worker-1", now, wants_contact=True, mood=3),
            recorded("c-b", "worker-2", now, wants_contact=True, mood=3, team="team-y"),
        ],
    )
    assert await escalation.wait_for("SELECT count(*) FROM alerts", 2) == 2
    # Load balancing: two cases, two responders.
    owners = await escalation.rows("SELECT responder_id FROM cases ORDER BY responder_id")
    assert [o["responder_id"] for o in owners] == ["resp-a", "resp-b"]

    mine = await escalation.client.get(
        "/v1/cases?assigned_to=me", headers=bearer("resp-a", "peer_responder")
    )
    assert mine.status_code == 200
    assert [c["responder_id"] for c in mine.json()] == ["resp-a"]
    everything = await escalation.client.get("/v1/cases", headers=bearer("coord-1", "coordinator"))
    assert len(everything.json()) == 2
    other = (
        everything.json()[0]["case_id"]
        if everything.json()[0]["responder_id"] == "resp-b"
        else everything.json()[1]["case_id"]
    )
    denied = await escalation.client.get(
        f"/v1/cases/{other}", headers=bearer("resp-a", "peer_responder")
    )
    assert denied.status_code == 403
    assert (await escalation.client.get("/v1/cases")).status_code == 401
    key = {"Authorization": "Bearer test-key"}  # every scope there is: never a case
    assert (await escalation.client.get("/v1/cases", headers=key)).status_code == 403
    assert (await escalation.client.get(f"/v1/cases/{other}", headers=key)).status_code == 403
    reads = await escalation.rows(
        "SELECT action, actor, cardinality(case_ids) AS cases FROM case_audit"
        " WHERE action IN ('read', 'list') ORDER BY seq"
    )
    assert [(r["action"], r["actor"], r["cases"]) for r in reads] == [
        ("list", "person:resp-a", 1),
        ("list", "person:coord-1", 2),  # one record for the whole list
    ]
    assert "worker" not in json.dumps(everything.json())


async def test_two_replicas_open_one_case_and_fire_each_timer_once(
    start_escalation: Starter,
) -> None:
    async with start_escalation() as first, start_escalation() as second:
        await seed_directory(first, STAFF)
        now = datetime.now(UTC)
        people = [f"w-{i}" for i in range(20)]
        await publish(
            first.endpoints.bootstrap_servers,
            first.topic("wellbeing.checkins.recorded"),
            [recorded(f"c-{p}", p, now, phq9=CRITICAL_PHQ9) for p in people],
        )
        assert await first.wait_for("SELECT count(*) FROM cases", 20) == 20
        # Step 1 for all, then after 2 s step 2 for all: 40 alerts, never more.
        assert await first.wait_for("SELECT count(*) FROM alerts", 40, timeout=20) == 40
        await asyncio.sleep(1.0)
        per_step = await second.rows(
            "SELECT case_id, step, count(*) AS n FROM alerts GROUP BY case_id, step"
        )
        # Each step of each case alerted exactly once, whichever replica fired its timer (on a
        # busy machine some cases reach step 3 before this count: still once each).
        assert all(row["n"] == 1 for row in per_step)
        steps: dict[str, set[int]] = {}
        for row in per_step:
            steps.setdefault(row["case_id"], set()).add(row["step"])
        assert len(steps) == 20 and all({1, 2} <= found for found in steps.values())
        # Every alert stored is published, and nothing else is (timers may still be firing:
        # the rows are read before and after the topic).
        before = {row["id"] for row in await first.rows("SELECT id FROM alerts")}
        requests = await first.messages("notifications.requests", expect=80)
        alert_ids = {r["alert"]["alert_id"] for r in requests if r["kind"] == "alert"}
        after = {row["id"] for row in await first.rows("SELECT id FROM alerts")}
        assert len(before) >= 40
        assert before <= alert_ids <= after
