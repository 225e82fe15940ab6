"""Escalation policies per team and per severity over the real stack (issue 16's "a per-team
high-severity policy routes to that team's schedule"): escalation and notifications
services, Kafka, PostgreSQL, and each responder's webhook on a loopback receiver."""

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from kinship_escalation.domain.schedules import schedule_from_rotation
from tests.escalation_support import (
    STAFF,
    Escalation,
    Starter,
    bearer,
    encode_person,
    recorded,
    seed_directory,
)
from tests.integration.conftest import NotificationStarter
from tests.kafka_reading import publish
from tests.receivers import WebhookReceiver

pytestmark = pytest.mark.integration

RESPONDERS = ("resp-a", "resp-b", "resp-c")


async def store_schedule(escalation: Escalation, name: str, members: list[str]) -> None:
    """A schedule stored through the schedules API, its first member on call since an hour
    ago (a daily rotation in UTC)."""
    started = datetime.now(UTC) - timedelta(hours=1)
    schedule = schedule_from_rotation(name, members, 24, started).model_dump(mode="json")
    saved = await escalation.client.put(
        f"/v1/schedules/{name}", json=schedule, headers=bearer("coord-1")
    )
    assert saved.status_code == 200, saved.text


async def test_a_teams_high_severity_policy_routes_to_its_schedule_and_others_to_the_default(
    start_escalation: Starter,
    start_notifications: NotificationStarter,
    webhooks: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KINSHIP_ACK_TIMEOUT_SECONDS", "600")  # nothing escalates meanwhile
    staff = [
        encode_person(p, f"team-{p[-1]}", {"webhook": webhooks.url(p)}, "peer_responder")
        for p in ("resp-a", "resp-b")
    ]
    # resp-c is team X's own responder, on its schedule; the balanced default would pick
    # resp-a (everyone idle, the first by id).
    staff.append(
        encode_person("resp-c", "team-x", {"webhook": webhooks.url("resp-c")}, "peer_responder")
    )
    staff.append(
        encode_person("coord-1", "team-c", {"webhook": webhooks.url("coord-1")}, "coordinator")
    )
    staff += [item for item in STAFF if item[0] == b"worker-1"]  # team X
    staff.append(encode_person("worker-2", "team-y", {}))
    async with start_escalation() as escalation, start_notifications() as notifications:
        await seed_directory(escalation, staff)
        assert await notifications.wait_for("SELECT count(*) FROM directory_people", 6) == 6
        await store_schedule(escalation, "team-x-oncall", ["resp-c", "resp-b"])
        policy = {
            "team_id": "team-x",
            "severity": "high",
            "steps": [
                {
                    "targets": [{"kind": "schedule", "schedule": "team-x-oncall"}],
                    "timeout_seconds": 600,
                }
            ],
        }
        coordinator = bearer("coord-1")
        saved = await escalation.client.put(
            "/v1/policies/team-x-high", json=policy, headers=coordinator
        )
        assert saved.status_code == 200, saved.text
        unknown = {**policy, "steps": [{"targets": [{"kind": "schedule", "schedule": "nope"}],
                                        "timeout_seconds": 60}]}  # fmt: skip
        refused = await escalation.client.put(
            "/v1/policies/team-x-other", json=unknown, headers=coordinator
        )
        assert refused.status_code == 422

        # Two self-referrals (high): one from team X, one from team Y.
        now = datetime.now(UTC)
        await publish(
            escalation.endpoints.bootstrap_servers,
            escalation.topic("wellbeing.checkins.recorded"),
            [
                recorded("c-1", "worker-1", now, wants_contact=True),
                recorded("c-2", "worker-2", now, team="team-y", wants_contact=True),
            ],
        )
        assert await escalation.wait_for("SELECT count(*) FROM alerts", 2) == 2
        deadline = time.monotonic() + 30
        while (  # noqa: ASYNC110
            len([p for p in RESPONDERS if webhooks.accepted(p)]) < 2 and time.monotonic() < deadline
        ):
            await asyncio.sleep(0.1)

        cases = {
            row["team_id"]: row
            for row in await escalation.rows(
                "SELECT id, team_id, severity, policy ->> 'name' AS policy FROM cases"
            )
        }
        assert {team: (c["severity"], c["policy"]) for team, c in cases.items()} == {
            "team-x": ("high", "team-x-high"),
            "team-y": ("high", "default"),
        }
        alerted = {
            row["case_id"]: row["recipient_id"]
            for row in await escalation.rows("SELECT case_id, recipient_id FROM alerts")
        }
        assert alerted == {cases["team-x"]["id"]: "resp-c", cases["team-y"]["id"]: "resp-a"}

        # The webhooks: the schedule's on-call person got team X's alert, nobody else did.
        received = {
            person: [json.loads(r.body)["case_id"] for r in webhooks.accepted(person)]
            for person in (*RESPONDERS, "coord-1")
        }
        assert received == {
            "resp-c": [cases["team-x"]["id"]],
            "resp-a": [cases["team-y"]["id"]],
            "resp-b": [],
            "coord-1": [],
        }
