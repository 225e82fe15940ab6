"""More of the crisis-support workflow over the real broker and database: contact timeout,
handover, self-care, exposure and team clusters."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.escalation_support import (
    STAFF,
    SUBJECTS,
    Escalation,
    Starter,
    assert_critical_incident_handled,
    bearer,
    person,
    recorded,
    seed_directory,
)
from tests.kafka_reading import encode, publish, read_all

pytestmark = pytest.mark.integration

RESPONDER = ("peer_responder",)


async def send_checkins(service: Escalation, *messages: tuple[bytes, bytes]) -> None:
    topic = service.topic("wellbeing.checkins.recorded")
    await publish(service.endpoints.bootstrap_servers, topic, list(messages))


async def test_no_first_contact_in_time_escalates_and_handover_realerts(
    start_escalation: Starter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KINSHIP_CONTACT_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("KINSHIP_ACK_TIMEOUT_SECONDS", "600")
    async with start_escalation() as service:
        await seed_directory(service, [*STAFF, person("resp-c", "team-t", *RESPONDER)])
        await send_checkins(
            service, recorded("c-1", "worker-1", datetime.now(UTC), wants_contact=True, mood=3)
        )
        assert await service.wait_for("SELECT count(*) FROM alerts", 1) == 1
        case_id = (await service.rows("SELECT id FROM cases"))[0]["id"]
        taken = await service.client.post(
            f"/v1/cases/{case_id}/acknowledge", headers=bearer("resp-a", *RESPONDER)
        )
        assert taken.status_code == 200, taken.text
        # Acknowledged but nobody reached the person within 1 s: the next step is alerted.
        assert await service.wait_for("SELECT count(*) FROM alerts", 2, timeout=10) == 2
        case = (await service.rows("SELECT status, step, responder_id FROM cases"))[0]
        assert (case["status"], case["step"]) == ("assigned", 2)
        assert case["responder_id"] in {"resp-b", "resp-c"}
        backup = case["responder_id"]
        await service.client.post(
            f"/v1/cases/{case_id}/acknowledge", headers=bearer(backup, *RESPONDER)
        )
        await service.client.post(
            f"/v1/cases/{case_id}/contact", headers=bearer(backup, *RESPONDER)
        )
        handed = await service.client.post(
            f"/v1/cases/{case_id}/handover",
            json={"to_person_id": "resp-a", "reason": "workload"},
            headers=bearer(backup, *RESPONDER),
        )
        assert handed.status_code == 200, handed.text
        assert handed.json()["status"] == "assigned"
        alerts = await service.rows("SELECT recipient_id FROM alerts ORDER BY sent_at")
        assert [a["recipient_id"] for a in alerts][-1] == "resp-a"
        refused = await service.client.post(
            f"/v1/cases/{case_id}/handover",
            json={"to_person_id": "worker-1", "reason": "other"},
            headers=bearer("resp-a", *RESPONDER),
        )
        assert refused.status_code == 403  # resp-a has not acknowledged: not theirs yet


async def test_low_scores_without_a_case_get_self_care_once_a_week(escalation: Escalation) -> None:
    now = datetime.now(UTC)
    await send_checkins(
        escalation,
        recorded("c-1", "worker-9", now - timedelta(days=2), mood=2),
        recorded("c-2", "worker-9", now - timedelta(days=1), mood=4),
        recorded("c-3", "worker-9", now, stress=5, mood=3),
    )
    assert await escalation.wait_for("SELECT count(*) FROM observations", 3) == 3
    requests = await escalation.messages("notifications.requests", expect=1, timeout=5)
    self_care = [r for r in requests if r["kind"] == "self_care"]
    assert len(self_care) == 1
    assert self_care[0]["recipient"] == {"subject_id": SUBJECTS.subject_id("worker-9")}
    assert self_care[0]["critical"] is False
    assert await escalation.rows("SELECT id FROM cases") == []


async def test_critical_incident_offers_group_sessions_and_schedules_follow_ups(
    escalation: Escalation,
) -> None:
    await seed_directory(escalation, [*STAFF, person("coord-x", "team-x", "coordinator")])
    incident_at = datetime.now(UTC) - timedelta(minutes=30)
    signal = {
        "id": "sig-1",
        "person_id": "worker-1",
        "kind": "critical_incident",
        "severity": 5,
        "occurred_at": incident_at.isoformat(),
        "source": "incident-tool",
    }
    topic = escalation.topic("wellbeing.signals.submitted")
    await publish(
        escalation.endpoints.bootstrap_servers, topic, [(b"worker-1", encode(signal))] * 2
    )
    await assert_critical_incident_handled(escalation, incident_at)
    assert await escalation.rows("SELECT id FROM cases") == []


async def test_three_people_of_a_team_in_distress_bring_one_group_offer(
    escalation: Escalation,
) -> None:
    await seed_directory(escalation, STAFF)
    now = datetime.now(UTC)
    await send_checkins(
        escalation,
        *[
            recorded(f"c-{n}", f"mate-{n}", now, team="team-q", wants_contact=True, mood=3)
            for n in range(4)
        ],
    )
    assert await escalation.wait_for("SELECT count(*) FROM cases", 4) == 4
    offers = await escalation.rows("SELECT team_id, reason, kind FROM group_offers")
    assert [(o["team_id"], o["reason"], o["kind"]) for o in offers] == [
        ("team-q", "team_cluster", "support_session")
    ]


async def test_failed_delivery_on_the_last_step_waits_for_its_timer(
    escalation: Escalation,
) -> None:
    await seed_directory(escalation, STAFF)
    policy = {"steps": [{"target": "coordinators", "timeout_seconds": 600}]}
    assert (
        await escalation.client.put("/v1/policies/default", json=policy, headers=bearer("coord-1"))
    ).is_success
    await send_checkins(
        escalation, recorded("c-1", "worker-1", datetime.now(UTC), wants_contact=True, mood=1)
    )
    assert await escalation.wait_for("SELECT count(*) FROM alerts", 1) == 1
    alert = (await escalation.rows("SELECT id, case_id FROM alerts"))[0]
    receipt = {
        "id": "r-1",
        "request_id": f"alert:{alert['id']}",
        "kind": "alert",
        "status": "failed",
        "attempts": 5,
        "alert_id": alert["id"],
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    topic = escalation.topic("notifications.receipts")
    await publish(escalation.endpoints.bootstrap_servers, topic, [(b"r-1", encode(receipt))])
    assert (
        await escalation.wait_for("SELECT count(*) FROM alerts WHERE failed_at IS NOT NULL", 1) == 1
    )
    await asyncio.sleep(2)
    assert len(await escalation.rows("SELECT id FROM alerts")) == 1  # no tight re-alert loop


async def test_urgent_lane_opens_the_case_and_the_recorded_copy_changes_nothing(
    escalation: Escalation,
) -> None:
    await seed_directory(escalation, STAFF)
    message = recorded("c-u", "worker-1", datetime.now(UTC), phq9=[0] * 8 + [1])
    urgent = escalation.topic("wellbeing.checkins.urgent")
    await publish(escalation.endpoints.bootstrap_servers, urgent, [message])
    assert await escalation.wait_for("SELECT count(*) FROM alerts", 1) == 1
    await send_checkins(escalation, message)  # the same event on the ordinary lane
    await asyncio.sleep(1.5)
    assert len(await escalation.rows("SELECT id FROM observations")) == 1
    assert len(await escalation.rows("SELECT id FROM cases")) == 1
    # (the 2 s step timeout may page step 2 meanwhile on a busy machine: count step 1 only)
    assert len(await escalation.rows("SELECT id FROM alerts WHERE step = 1 AND attempt = 1")) == 1


async def test_the_urgent_lane_runs_in_a_deployment_of_its_own(
    start_escalation: Starter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ordinary deployment (it starts first, so it leads the outbox relay) leaves the
    # urgent lane to the urgent deployment, which leaves the ordinary lane to it.
    monkeypatch.setenv("KINSHIP_EXCLUDED_CONSUMERS", "urgent")
    async with start_escalation() as ordinary:
        await seed_directory(ordinary, STAFF)
        message = recorded("c-lane", "worker-1", datetime.now(UTC), phq9=[0] * 8 + [1])
        urgent_topic = ordinary.topic("wellbeing.checkins.urgent")
        await publish(ordinary.endpoints.bootstrap_servers, urgent_topic, [message])
        await asyncio.sleep(3)
        assert await ordinary.rows("SELECT id FROM observations") == []

        monkeypatch.setenv("KINSHIP_EXCLUDED_CONSUMERS", "checkins")
        async with start_escalation() as urgent:
            step_one = "SELECT count(*) FROM alerts WHERE step = 1 AND attempt = 1"
            assert await urgent.wait_for(step_one, 1) == 1
            # The urgent deployment does not take the ordinary lane: a check-in there waits
            # for the ordinary deployment, which evaluates it.
            await send_checkins(urgent, recorded("c-plain", "worker-2", datetime.now(UTC), mood=4))
            await ordinary.wait_for("SELECT count(*) FROM observations", 2)
            requests = urgent.topic("notifications.requests")
            published = await read_all(urgent.endpoints.bootstrap_servers, requests, 1)
            assert any(b'"kind":"alert"' in (record.value or b"") for record in published)


async def test_an_unknown_consumer_name_fails_the_start(
    start_escalation: Starter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KINSHIP_EXCLUDED_CONSUMERS", "urgnet")
    with pytest.raises(ValueError, match="urgnet"):
        async with start_escalation():
            pass
