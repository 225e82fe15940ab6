"""The check-in service against the real broker and database (service run in-process)."""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from kinship_checkin.composition import create_app
from kinship_checkin.settings import CheckinSettings
from kinship_runtime.dead_letters import DeadLetterKeys
from tests.conftest import Endpoints
from tests.database import rows, wait_for_count
from tests.escalation_support import bearer, escalation_env
from tests.kafka_reading import checkin, encode, publish, read_all

pytestmark = pytest.mark.integration

AUTH = {"Authorization": "Bearer test-key"}
SECRET_NOTE = "my-private-words-7f3a"


@dataclass
class RunningService:
    client: httpx.AsyncClient
    settings: CheckinSettings
    endpoints: Endpoints

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    async def rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await rows(self.endpoints.database_url, self.settings.owned_schema(), sql, *args)

    async def wait_for_rows(self, sql: str, count: int, timeout: float = 20.0) -> int:
        return await wait_for_count(
            self.endpoints.database_url, self.settings.owned_schema(), sql, count, timeout
        )


@pytest.fixture
async def service(
    service_env: dict[str, str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RunningService]:
    for name, value in escalation_env(service_env).items():  # people's tokens too
        monkeypatch.setenv(name, value)
    settings = CheckinSettings()
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://checkin"
        ) as client,
    ):
        yield RunningService(client, settings, endpoints)


async def test_readyz_reports_kafka_and_postgres(service: RunningService) -> None:
    response = await service.client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"postgres": "ok", "kafka": "ok", "workers": "ok"}


async def test_http_and_kafka_checkins_are_recorded_exactly_once(service: RunningService) -> None:
    first = await service.client.post("/v1/checkins", json=checkin("http-1"), headers=AUTH)
    assert first.status_code == 202
    assert first.json()["status"] == "accepted"
    submitted = service.topic("wellbeing.checkins.submitted")
    await publish(
        service.endpoints.bootstrap_servers,
        submitted,
        [(b"person-2", encode(checkin("kafka-1", "person-2")))],
    )
    assert await service.wait_for_rows("SELECT count(*) FROM checkins", 2) == 2

    again = await service.client.post("/v1/checkins", json=checkin("http-1"), headers=AUTH)
    assert again.status_code == 202
    assert again.json()["status"] == "duplicate"
    await publish(
        service.endpoints.bootstrap_servers,
        submitted,
        [(b"person-2", encode(checkin("kafka-1", "person-2")))],
    )
    recorded = await read_all(
        service.endpoints.bootstrap_servers, service.topic("wellbeing.checkins.recorded"), expect=2
    )
    await asyncio.sleep(1.0)  # give a wrongly re-processed duplicate time to show up
    recorded = await read_all(
        service.endpoints.bootstrap_servers, service.topic("wellbeing.checkins.recorded"), expect=2
    )
    ids = sorted(json.loads(record.value)["id"] for record in recorded)
    assert ids == ["http-1", "kafka-1"]
    rows = await service.rows("SELECT id FROM checkins ORDER BY id")
    assert [row["id"] for row in rows] == ["http-1", "kafka-1"]
    for record in recorded:
        body = json.loads(record.value)
        assert "person_id" not in body
        assert b"person-" not in record.value and b"person-" not in (record.key or b"")
        assert dict(record.headers)["ce_id"].decode() == body["id"]


async def test_malformed_messages_are_dead_lettered_while_valid_ones_keep_flowing(
    service: RunningService,
) -> None:
    submitted = service.topic("wellbeing.checkins.submitted")
    messages: list[tuple[bytes | None, bytes | None]] = [
        (b"p", encode(checkin("ok-1"))),
        (b"p", b"{this is not json"),
        (b"p", encode(checkin("bad-mood", mood=9, note=SECRET_NOTE))),
        (b"p", encode(checkin("ok-2"))),
        (
            b"p",
            encode(
                {
                    "id": "no-answers",
                    "person_id": "p",
                    "source": "x",
                    "occurred_at": "2026-11-20T09:30:00Z",
                }
            ),
        ),
        (b"p", None),
        (b"p", encode(checkin("ok-3"))),
    ]
    await publish(service.endpoints.bootstrap_servers, submitted, messages)
    assert await service.wait_for_rows("SELECT count(*) FROM checkins", 3) == 3
    dead = await read_all(service.endpoints.bootstrap_servers, f"{submitted}.dlq", expect=4)
    assert len(dead) == 4
    codes = sorted(dict(record.headers)["kinship-dlq-code"].decode() for record in dead)
    assert codes == ["empty_value", "validation_failed", "validation_failed", "validation_failed"]
    pool = await asyncpg.create_pool(
        service.endpoints.database_url,
        server_settings={"search_path": service.settings.owned_schema()},
    )
    assert pool is not None
    keys = DeadLetterKeys(pool, service.settings.dead_letter_wrapping_key())
    locations: list[tuple[str, ...]] = []
    try:
        for record in dead:
            headers = dict(record.headers)
            reason = json.loads(headers["kinship-dlq-reason"])
            assert SECRET_NOTE not in headers["kinship-dlq-reason"].decode()
            assert record.key == headers["kinship-dlq-sealed"]  # not the person's id
            if record.value is not None:
                assert SECRET_NOTE.encode() not in record.value
                original_offset = int(headers["kinship-dlq-offset"])
                original = await keys.open(
                    headers["kinship-dlq-sealed"].decode(),
                    record.value,
                    f"{submitted}:{headers['kinship-dlq-partition'].decode()}:{original_offset}",
                )
                assert original in {value for _, value in messages}
            locations.extend(tuple(error["loc"]) for error in reason["errors"])
    finally:
        await pool.close()
    assert ("mood",) in locations  # the out-of-range answer is named
    assert () in locations  # the check-in without answers is a whole-payload error
    rows = await service.rows("SELECT id FROM checkins ORDER BY id")
    assert [row["id"] for row in rows] == ["ok-1", "ok-2", "ok-3"]


async def test_no_note_text_is_readable_in_the_database_or_on_any_topic(
    service: RunningService,
) -> None:
    response = await service.client.post(
        "/v1/checkins", json=checkin("noted-http", note=SECRET_NOTE), headers=AUTH
    )
    assert response.status_code == 202
    submitted = service.topic("wellbeing.checkins.submitted")
    await publish(
        service.endpoints.bootstrap_servers,
        submitted,
        [(b"person-1", encode(checkin("noted-kafka", note=SECRET_NOTE)))],
    )
    assert await service.wait_for_rows("SELECT count(*) FROM checkins", 2) == 2
    dump = await service.rows("SELECT row_to_json(c)::text AS row FROM checkins c")
    for row in dump:
        assert SECRET_NOTE not in row["row"]
    assert len(await service.rows("SELECT 1 FROM checkins WHERE note_ciphertext IS NOT NULL")) == 2
    outbox_and_vault = await service.rows(
        "SELECT row_to_json(o)::text AS row FROM outbox o UNION ALL "
        "SELECT row_to_json(p)::text FROM pseudonyms p"
    )
    for row in outbox_and_vault:
        assert SECRET_NOTE not in row["row"]
    recorded = await read_all(
        service.endpoints.bootstrap_servers, service.topic("wellbeing.checkins.recorded"), expect=2
    )
    assert len(recorded) == 2
    for record in recorded:
        assert SECRET_NOTE.encode() not in record.value
        assert json.loads(record.value)["has_note"] is True


async def test_crisis_resources_come_back_at_once_for_immediate_risk(
    service: RunningService,
) -> None:
    risky = checkin("risk-1", phq9=[0, 0, 0, 0, 0, 0, 0, 0, 1])
    response = await service.client.post("/v1/checkins", json=risky, headers=AUTH)
    assert response.status_code == 202
    assert len(response.json()["immediate_support"]) >= 1
    calm = await service.client.post("/v1/checkins", json=checkin("calm-1"), headers=AUTH)
    assert "immediate_support" not in calm.json()
    # Immediate risk also goes on the urgent lane (same id); ordinary check-ins do not.
    bootstrap = service.endpoints.bootstrap_servers
    urgent = await read_all(bootstrap, service.topic("wellbeing.checkins.urgent"), expect=1)
    assert [json.loads(r.value)["id"] for r in urgent] == ["risk-1"]
    recorded = await read_all(bootstrap, service.topic("wellbeing.checkins.recorded"), expect=2)
    assert sorted(json.loads(r.value)["id"] for r in recorded) == ["calm-1", "risk-1"]


async def test_bad_http_input_gets_field_errors_and_no_credentials_get_401(
    service: RunningService,
) -> None:
    missing = await service.client.post("/v1/checkins", json=checkin("x"))
    assert missing.status_code == 401
    wrong = await service.client.post(
        "/v1/checkins", json=checkin("x"), headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    bad = await service.client.post(
        "/v1/checkins", json=checkin("x", mood=0, note=SECRET_NOTE, extra=1), headers=AUTH
    )
    assert bad.status_code == 422
    locations = {tuple(error["loc"]) for error in bad.json()["detail"]}
    # The unknown field is named "<unknown>": its name is text the sender chose.
    assert ("body", "mood") in locations and ("body", "<unknown>") in locations
    assert SECRET_NOTE not in bad.text
    assert (await service.rows("SELECT count(*) FROM checkins"))[0][0] == 0


async def test_team_trends_need_five_people_and_directory_gives_the_team(
    service: RunningService,
) -> None:
    directory = service.topic("directory.people")
    people = [(f"a{i}", "team-a") for i in range(5)] + [(f"b{i}", "team-b") for i in range(4)]
    roles = {"coord": ["coordinator"], "a0": ["team_manager"]}
    await publish(
        service.endpoints.bootstrap_servers,
        directory,
        [
            (
                person.encode(),
                encode(
                    {
                        "person_id": person,
                        "display_name": person,
                        "team_id": team,
                        "timezone": "Europe/Paris",
                        "roles": roles.get(person, []),
                        "channels": {},
                        "active": True,
                    }
                ),
            )
            for person, team in [*people, ("coord", "team-c")]
        ],
    )
    assert await service.wait_for_rows("SELECT count(*) FROM directory_people", 10) == 10
    # Only closed weeks are published: check in during last week.
    last_week = datetime.now(UTC) - timedelta(days=7)
    now = last_week.isoformat()
    for person, _team in people:
        response = await service.client.post(
            "/v1/checkins",
            json=checkin(f"c-{person}", person, occurred_at=now, mood=4),
            headers=AUTH,
        )
        assert response.status_code == 202
    coordinator = bearer("coord")
    assert (await service.client.get("/v1/teams/team-a/trends", headers=AUTH)).status_code == 403
    assert (
        await service.client.get("/v1/teams/team-b/trends", headers=bearer("a0"))
    ).status_code == 403  # a0 manages team-a, not team-b
    this_week = await service.client.post(
        "/v1/checkins",
        json=checkin("c-now", "a1", occurred_at=datetime.now(UTC).isoformat(), mood=1),
        headers=AUTH,
    )
    assert this_week.status_code == 202
    team_a = (await service.client.get("/v1/teams/team-a/trends", headers=bearer("a0"))).json()
    assert team_a["available"] is True
    assert team_a["overall"]["people"] is None  # distinct people over weeks: withheld
    assert [w["figures"]["people"] for w in team_a["weeks"] if w["figures"]] == [5]
    assert team_a["overall"]["mood_mean"] == 4.0
    team_b = (await service.client.get("/v1/teams/team-b/trends", headers=coordinator)).json()
    assert team_b["available"] is False
    assert team_b["overall"] is None and team_b["weeks"] == []
    assert "not enough responses" in team_b["message"]
    # a tombstone removes the person from the directory
    await publish(service.endpoints.bootstrap_servers, directory, [(b"b0", None)])
    assert await service.wait_for_rows("SELECT 10 - count(*) FROM directory_people", 1) == 1


async def test_a_closed_week_reads_the_same_after_a_check_in_dated_back_into_it(
    service: RunningService,
) -> None:
    # Differencing: a manager reads the trend, a colleague checks in "for last week", the
    # manager reads again; the difference would be that colleague's mood. A week's figures
    # are those of its first reading.
    team = [(f"d{i}", "team-d") for i in range(5)]
    await publish(
        service.endpoints.bootstrap_servers,
        service.topic("directory.people"),
        [
            (
                person.encode(),
                encode(
                    {
                        "person_id": person,
                        "display_name": person,
                        "team_id": team_id,
                        "timezone": "Europe/Paris",
                        "roles": ["coordinator"] if person == "dcoord" else [],
                        "channels": {},
                        "active": True,
                    }
                ),
            )
            for person, team_id in [*team, ("dcoord", "team-x")]
        ],
    )
    assert (
        await service.wait_for_rows(
            "SELECT count(*) FROM directory_people WHERE person_id LIKE 'd%'", 6
        )
        == 6
    )
    last_week = (datetime.now(UTC) - timedelta(days=7)).isoformat()
    for person, _team in team:
        body = checkin(f"c-{person}", person, occurred_at=last_week, mood=4)
        assert (
            await service.client.post("/v1/checkins", json=body, headers=AUTH)
        ).status_code == 202

    async def read() -> Any:
        answer = await service.client.get("/v1/teams/team-d/trends", headers=bearer("dcoord"))
        assert answer.status_code == 200
        return answer.json()

    first = await read()
    assert first["overall"]["mood_mean"] == 4.0
    assert [w["figures"]["people"] for w in first["weeks"] if w["figures"]] == [5]
    late = checkin("c-d0-late", "d0", occurred_at=last_week, mood=1)
    assert (await service.client.post("/v1/checkins", json=late, headers=AUTH)).status_code == 202
    assert await read() == first


async def test_a_closed_week_reads_the_same_after_a_members_erasure(
    service: RunningService,
) -> None:
    # Differencing across an erasure: a manager reads the trend, a member is erased (their
    # check-ins deleted), the manager reads again; recomputed, the difference would be that
    # member's figures. A week is served as first released (trend_weeks, migration 0006).
    team = [f"e{i}" for i in range(6)]
    await publish(
        service.endpoints.bootstrap_servers,
        service.topic("directory.people"),
        [
            (
                person.encode(),
                encode(
                    {
                        "person_id": person,
                        "display_name": person,
                        "team_id": "coordination" if person == "ecoord" else "team-e",
                        "timezone": "Europe/Paris",
                        "roles": ["coordinator"] if person == "ecoord" else [],
                        "channels": {},
                        "active": True,
                    }
                ),
            )
            for person in [*team, "ecoord"]
        ],
    )
    assert (
        await service.wait_for_rows(
            "SELECT count(*) FROM directory_people WHERE person_id LIKE 'e%'", 7
        )
        == 7
    )
    last_week = (datetime.now(UTC) - timedelta(days=7)).isoformat()
    for person in team:
        body = checkin(
            f"c-{person}", person, occurred_at=last_week, mood=1 if person == "e5" else 4
        )
        assert (
            await service.client.post("/v1/checkins", json=body, headers=AUTH)
        ).status_code == 202

    async def read() -> Any:
        answer = await service.client.get(
            "/v1/teams/team-e/trends", params={"weeks": "2"}, headers=bearer("ecoord")
        )
        assert answer.status_code == 200
        return answer.json()

    # Two first readings at once store one row per week and agree.
    first, second = await asyncio.gather(read(), read())
    assert first == second
    assert first["overall"]["mood_mean"] == 3.5
    assert [w["figures"]["people"] for w in first["weeks"] if w["figures"]] == [6]
    stored = await service.rows(
        "SELECT state, count(*) FROM trend_weeks WHERE team_id = 'team-e' GROUP BY state"
    )
    assert {row["state"]: row["count"] for row in stored} == {"shown": 1, "quiet": 1}

    erased = await service.client.post("/v1/people/e5/erasure", headers=bearer("e5"))
    assert erased.status_code == 202
    assert (
        await service.wait_for_rows(
            "SELECT 6 - count(*) FROM checkins WHERE team_id = 'team-e'", 1, timeout=60
        )
        == 1
    )
    assert await read() == first  # recomputed, mood 4.0 over 5 people would give e5's 1
    # The stored weeks hold counts and sums only: no subject id of anyone.
    (totals,) = await service.rows(
        "SELECT totals::text FROM trend_weeks WHERE team_id = 'team-e' AND state = 'shown'"
    )
    subjects = await service.rows("SELECT subject_id FROM checkins WHERE team_id = 'team-e'")
    assert subjects and not any(row["subject_id"] in totals[0] for row in subjects)
