"""The escalation service against the real broker and database (service run in-process)."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from kinship_contracts.checkins import CheckinRecorded, DerivedScores
from kinship_contracts.subjects import Pseudonymiser
from kinship_escalation.bootstrap import create_app
from kinship_escalation.settings import EscalationSettings
from tests.conftest import Endpoints
from tests.database import rows, wait_for_count
from tests.kafka_reading import encode, publish, read_all

pytestmark = pytest.mark.integration

AUTH = {"Authorization": "Bearer test-key"}
JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789"
PSEUDONYM_KEY = "test-pseudonym-key-0123456789abcdef"
SUBJECTS = Pseudonymiser(PSEUDONYM_KEY.encode())


def bearer(person_id: str, *roles: str) -> dict[str, str]:
    claims = {
        "sub": person_id,
        "aud": "kinship",
        "exp": int(time.time()) + 600,
        "roles": list(roles),
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


@dataclass
class Escalation:
    client: httpx.AsyncClient
    settings: EscalationSettings
    endpoints: Endpoints

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    async def rows(self, sql: str, *args: Any) -> list[Any]:
        return await rows(self.endpoints.database_url, self.settings.owned_schema(), sql, *args)

    async def wait_for(self, sql: str, count: int, timeout: float = 20.0) -> int:
        return await wait_for_count(
            self.endpoints.database_url, self.settings.owned_schema(), sql, count, timeout
        )

    async def messages(self, topic: str, expect: int = 0, timeout: float = 10.0) -> list[Any]:
        records = await read_all(
            self.endpoints.bootstrap_servers, self.topic(topic), expect, timeout
        )
        return [json.loads(record.value) for record in records]


Starter = Callable[[], AbstractAsyncContextManager[Escalation]]


@pytest.fixture
def escalation_env(service_env: dict[str, str]) -> dict[str, str]:
    return service_env | {
        "KINSHIP_ACK_TIMEOUT_SECONDS": "2",
        "KINSHIP_CONTACT_TIMEOUT_SECONDS": "600",
        "KINSHIP_TIMER_POLL_SECONDS": "0.1",
        "KINSHIP_JWT_SECRET": JWT_SECRET,
        "KINSHIP_PUBLIC_URL": "http://escalation.test",
    }


@pytest.fixture
def start_escalation(
    escalation_env: dict[str, str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> Starter:
    for name, value in escalation_env.items():
        monkeypatch.setenv(name, value)

    @asynccontextmanager
    async def start() -> AsyncIterator[Escalation]:
        settings = EscalationSettings()
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://escalation.test"
            ) as client,
        ):
            yield Escalation(client, settings, endpoints)

    return start


@pytest.fixture
async def escalation(start_escalation: Starter) -> AsyncIterator[Escalation]:
    async with start_escalation() as running:
        yield running


def person(person_id: str, team: str, *roles: str) -> tuple[bytes, bytes]:
    body = {
        "person_id": person_id,
        "display_name": person_id.title(),
        "team_id": team,
        "timezone": "Europe/London",
        "roles": list(roles),
        "channels": {"webhook": f"http://127.0.0.1:9/{person_id}"},
        "active": True,
    }
    return person_id.encode(), encode(body)


STAFF = [
    person("resp-a", "team-r", "peer_responder"),
    person("resp-b", "team-s", "peer_responder"),
    person("coord-1", "team-c", "coordinator"),
    person("worker-1", "team-x"),
]


async def seed_directory(service: Escalation, people: list[tuple[bytes, bytes]]) -> None:
    await publish(service.endpoints.bootstrap_servers, service.topic("directory.people"), people)
    assert await service.wait_for("SELECT count(*) FROM directory", len(people)) == len(people)


def recorded(
    id_: str, person_id: str, at: datetime, team: str | None = "team-x", **answers: Any
) -> tuple[bytes, bytes]:
    """A recorded check-in as the check-in service publishes it."""
    phq9 = answers.pop("phq9", None)
    who5 = answers.pop("who5", None)
    event = CheckinRecorded(
        id=id_,
        subject_id=SUBJECTS.subject_id(person_id),
        team_id=team,
        occurred_at=at,
        recorded_at=at,
        source="tests",
        phq9=phq9,
        who5=who5,
        scores=DerivedScores(
            who5_raw=sum(who5) if who5 else None,
            phq9_total=sum(phq9) if phq9 else None,
            phq9_item9_positive=(phq9[8] > 0) if phq9 else None,
            phq2_total=sum(phq9[:2]) if phq9 else None,
        ),
        **answers,
    )
    return event.subject_id.encode(), event.model_dump_json().encode()


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
    sent = time.monotonic()
    await publish(
        escalation.endpoints.bootstrap_servers,
        escalation.topic("wellbeing.checkins.recorded"),
        [recorded("c-1", "worker-1", now, phq9=CRITICAL_PHQ9)],
    )
    assert await escalation.wait_for("SELECT count(*) FROM alerts", 1, timeout=10) == 1
    assert time.monotonic() - sent < 1.5  # alert decided within about a second

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
    }
    assert (alert["severity"], alert["step"]) == ("critical", 1)
    crisis = [r for r in requests if r["kind"] == "crisis_resources"]
    assert crisis[0]["recipient"] == {"subject_id": SUBJECTS.subject_id("worker-1")}
    assert crisis[0]["critical"] is True

    # No acknowledgement within 2 s: the backup responder is alerted.
    assert await escalation.wait_for("SELECT count(*) FROM alerts", 2, timeout=10) == 2
    requests = await escalation.messages("notifications.requests", expect=3)
    alerts = [r for r in requests if r["kind"] == "alert"]
    assert [a["recipient"]["person_id"] for a in alerts] == ["resp-a", "resp-b"]
    second = alerts[1]["alert"]
    assert second["step"] == 2

    # The backup acknowledges through the link; the link works once.
    path = second["ack_url"].removeprefix("http://escalation.test")
    page = await escalation.client.get(path)
    assert page.status_code == 200 and "<form method=post" in page.text
    taken = await escalation.client.post(path)
    assert taken.status_code == 200, taken.text
    assert (taken.json()["status"], taken.json()["responder_id"]) == ("acknowledged", "resp-b")
    again = await escalation.client.post(path)
    assert again.status_code == 403
    forged = await escalation.client.post(path.replace("token=", "token=0"))
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
    assert wrong.status_code == 409
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
        "SELECT due_at FROM timers WHERE kind = 'case_follow_up' AND case_id = $1", case_id
    )
    assert len(follow_up) == 1
    assert abs(follow_up[0]["due_at"] - (datetime.now(UTC) + timedelta(hours=72))) < timedelta(
        minutes=1
    )
    requests = await escalation.messages("notifications.requests", expect=5)
    feedback = sorted(r["params"]["from"] for r in requests if r["kind"] == "feedback_request")
    assert feedback == ["person", "responder"]
    audit = await escalation.rows("SELECT action FROM case_audit WHERE case_id = $1", case_id)
    assert [row["action"] for row in audit][-2:] == ["contacted", "resolved"]


async def test_same_recorded_checkin_twice_has_one_effect(escalation: Escalation) -> None:
    await seed_directory(escalation, STAFF)
    message = recorded("c-dup", "worker-1", datetime.now(UTC), wants_contact=True, mood=3)
    topic = escalation.topic("wellbeing.checkins.recorded")
    await publish(escalation.endpoints.bootstrap_servers, topic, [message, message])
    assert await escalation.wait_for("SELECT count(*) FROM cases", 1) == 1
    await publish(escalation.endpoints.bootstrap_servers, topic, [message])
    await asyncio.sleep(1.5)
    assert len(await escalation.rows("SELECT id FROM observations")) == 1
    cases = await escalation.rows("SELECT severity, rules FROM cases")
    assert [(c["severity"], c["rules"]) for c in cases] == [("high", ["self_referral"])]


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
        headers=AUTH,
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


async def test_cases_are_scoped_to_the_caller_and_reads_are_audited(
    escalation: Escalation,
) -> None:
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
    reads = await escalation.rows("SELECT actor FROM case_audit WHERE action = 'read'")
    assert sorted(r["actor"] for r in reads) == ["coord-1", "coord-1", "resp-a"]
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
        assert all(row["n"] == 1 for row in per_step)
        assert len(per_step) == 40
        requests = await first.messages("notifications.requests", expect=80)
        alert_ids = [r["alert"]["alert_id"] for r in requests if r["kind"] == "alert"]
        assert len(alert_ids) >= 40
        assert len(set(alert_ids)) == len(
            {row["id"] for row in await first.rows("SELECT id FROM alerts")}
        )
