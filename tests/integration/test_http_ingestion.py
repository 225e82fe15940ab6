"""Signals and directory updates submitted over HTTP, over the real broker and database: each
goes through its service's outbox onto its topic, and the consuming services act on it as on
a record another system published to Kafka.

- ``POST /v1/signals`` (escalation): a critical incident brings the defusing offer to the
  team's coordinator and schedules the support session and the person's follow-ups, once,
  however often the same id is sent (the Kafka path's assertions,
  ``test_escalation_workflow``).
- ``PUT``/``DELETE /v1/directory/people/{id}`` (check-in): the person appears in the
  escalation service's directory projection and in the check-in service's own, a second PUT
  replaces the first, and the DELETE's tombstone removes them from both.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Endpoints
from tests.database import wait_for_count
from tests.escalation_support import (
    AUTH,
    STAFF,
    Escalation,
    Services,
    assert_critical_incident_handled,
    bearer,
    escalation_beside_checkin,
    person,
    seed_directory,
)
from tests.kafka_reading import read_all

pytestmark = pytest.mark.integration


async def test_a_critical_incident_posted_over_http_offers_group_sessions_and_follow_ups(
    escalation: Escalation,
) -> None:
    await seed_directory(escalation, [*STAFF, person("coord-x", "team-x", "coordinator")])
    incident_at = datetime.now(UTC) - timedelta(minutes=30)
    signal = {
        "id": "sig-http-1",
        "person_id": "worker-1",
        "kind": "critical_incident",
        "severity": 5,
        "occurred_at": incident_at.isoformat(),
        "source": "incident-tool",
    }
    refused = await escalation.client.post(
        "/v1/signals", json=signal, headers=bearer("coord-x", "coordinator")
    )
    assert refused.status_code == 403  # a person, even a coordinator, never submits signals
    first = await escalation.client.post("/v1/signals", json=signal, headers=AUTH)
    again = await escalation.client.post("/v1/signals", json=signal, headers=AUTH)
    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert [first.json()["status"], again.json()["status"]] == ["accepted", "duplicate"]

    await assert_critical_incident_handled(escalation, incident_at)
    # On the topic once, keyed by the person, as another system would have published it.
    records = await read_all(
        escalation.endpoints.bootstrap_servers,
        escalation.topic("wellbeing.signals.submitted"),
        expect=1,
        timeout=5,
    )
    assert [(r.key, dict(r.headers)["ce_id"]) for r in records] == [(b"worker-1", b"sig-http-1")]
    assert await escalation.rows("SELECT id FROM cases") == []


@pytest.fixture
async def services(
    service_env: dict[str, str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Services]:
    async with escalation_beside_checkin(service_env, endpoints, monkeypatch) as running:
        yield running


def record(team: str, *roles: str) -> dict[str, Any]:
    return {
        "person_id": "hr-1",
        "display_name": "Hana Responder",
        "team_id": team,
        "timezone": "Europe/Berlin",
        "roles": list(roles),
        "channels": {"webhook": "http://127.0.0.1:9/hr-1"},
    }


async def test_a_person_put_then_deleted_over_http_comes_and_goes_in_every_projection(
    services: Services,
) -> None:
    escalation = services.escalation
    path = "/v1/directory/people/hr-1"
    refused = await services.checkin.put(path, json=record("team-a"), headers=bearer("hr-1"))
    assert refused.status_code == 403  # nobody gives themself a role
    put = await services.checkin.put(path, json=record("team-a"), headers=AUTH)
    assert put.status_code == 202, put.text
    held = "SELECT team_id, roles FROM directory_people WHERE person_id = 'hr-1'"
    assert await escalation.wait_for("SELECT count(*) FROM directory_people", 1) == 1
    assert [dict(r) for r in await escalation.rows(held)] == [{"team_id": "team-a", "roles": []}]

    moved = await services.checkin.put(path, json=record("team-b", "peer_responder"), headers=AUTH)
    assert moved.status_code == 202, moved.text
    moved_sql = "SELECT count(*) FROM directory_people WHERE team_id = 'team-b'"
    assert await escalation.wait_for(moved_sql, 1) == 1
    assert [dict(r) for r in await escalation.rows(held)] == [
        {"team_id": "team-b", "roles": ["peer_responder"]}
    ]
    schema = services.checkin_settings.owned_schema()
    database = escalation.endpoints.database_url
    assert await wait_for_count(database, schema, moved_sql, 1) == 1

    deleted = await services.checkin.delete(path, headers=AUTH)
    assert deleted.status_code == 202, deleted.text
    gone = "SELECT count(*) = 0 FROM directory_people"
    assert await escalation.wait_for(gone, 1) == 1
    assert await wait_for_count(database, schema, gone, 1) == 1
    records = await read_all(
        escalation.endpoints.bootstrap_servers,
        escalation.topic("directory.people"),
        expect=3,
        timeout=5,
    )
    assert [(r.key, r.value is None) for r in records] == [
        (b"hr-1", False),
        (b"hr-1", False),
        (b"hr-1", True),
    ]
