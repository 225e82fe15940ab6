"""The routes behind the console's employee pages against the real broker and database, each
across the boundary it crosses: the check-in service's ``/v1/me``, ``/v1/people`` and
``/v1/me/data`` over the directory it consumed; recognition's ``/v1/me/streak`` and
``/v1/me/data``, notifications' and escalation's ``/v1/me/data``, each finding what it keeps
by subject id through the real check-in service's vault."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kinship_checkin.composition import create_app as create_checkin_app
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.notifications import MessageKind, NotificationRequest, Recipient
from kinship_escalation.composition import create_app as create_escalation_app
from kinship_escalation.domain.rules import IMMEDIATE_RISK
from kinship_escalation.settings import EscalationSettings
from tests.conftest import Endpoints
from tests.database import InProcessService
from tests.escalation_support import AUTH, VaultOf, bearer, escalation_env, vault_client
from tests.integration.conftest import NotificationStarter
from tests.kafka_reading import checkin, encode, publish
from tests.notifications_support import checkin_running, publish_requests
from tests.receivers import WebhookReceiver
from tests.recognition_support import RunningRecognition
from tests.vault_support import VaultOverAsgi

pytestmark = pytest.mark.integration

Checkin = InProcessService[CheckinSettings]


def directory_record(person_id: str, name: str, team: str, **fields: Any) -> tuple[bytes, bytes]:
    body = {
        "person_id": person_id,
        "display_name": name,
        "team_id": team,
        "timezone": "Europe/Berlin",
        "roles": [],
        "channels": {},
        "active": True,
        **fields,
    }
    return person_id.encode(), encode(body)


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    return await check()


@pytest.fixture
async def checkin_service(
    service_env: dict[str, str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Checkin]:
    """A check-in service (consumers and relay running) that accepts people's test tokens."""
    for name, value in escalation_env(service_env).items():
        monkeypatch.setenv(name, value)
    settings = CheckinSettings()
    app = create_checkin_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c") as client,
    ):
        yield InProcessService(client, settings, endpoints)


async def test_checkin_knows_who_you_are_finds_colleagues_and_gives_you_your_data(
    checkin_service: Checkin,
) -> None:
    service = checkin_service
    await publish(
        service.endpoints.bootstrap_servers,
        service.topic("directory.people"),
        [
            directory_record("mia", "Mia Manager", "platform", roles=["team_manager"]),
            directory_record("ann", "Ann Able", "platform"),
            directory_record("anton", "Anton Left", "platform", active=False),
            directory_record("pct", "100% Percy", "care"),
        ],
    )
    assert await service.wait_for("SELECT count(*) FROM directory_people", 4) == 4

    me = await service.client.get("/v1/me", headers=bearer("mia"))
    assert me.status_code == 200, me.text
    body = me.json()
    assert (body["display_name"], body["team_id"]) == ("Mia Manager", "platform")
    assert (body["roles"], body["managed_teams"]) == (["team_manager"], ["platform"])
    assert body["support"], "where to get help now"

    async def found(q: str) -> list[str]:
        answer = await service.client.get("/v1/people", params={"q": q}, headers=bearer("ann"))
        assert answer.status_code == 200, answer.text
        return [p["person_id"] for p in answer.json()["people"]]

    assert await found("an") == ["ann", "mia"]  # Anton has left: not found
    assert await found("0%") == ["pct"]
    assert await found("n%") == []  # a wildcard is a character like any other
    assert await found("ANN A") == ["ann"]

    sent = await service.client.post(
        "/v1/checkins",
        json=checkin("ann-1", "ann", note="words for me", share_note=True, mood=2),
        headers=bearer("ann"),
    )
    assert sent.status_code == 202, sent.text
    await service.client.post("/v1/checkins", json=checkin("mia-1", "mia"), headers=bearer("mia"))
    mine = await service.client.get("/v1/me/data", headers=bearer("ann"))
    assert mine.status_code == 200, mine.text
    data = mine.json()
    (only,) = data["checkins"]
    assert (only["id"], only["note"], only["mood"], only["team_id"]) == (
        "ann-1",
        "words for me",
        2,
        "platform",
    )
    assert data["directory"]["display_name"] == "Ann Able"
    exports = await service.rows("SELECT actor FROM audit WHERE action = 'export'")
    assert [row["actor"] for row in exports] == ["person:ann"]
    assert (await service.client.get("/v1/me/data", headers=AUTH)).status_code == 403


async def test_recognition_gives_your_streak_and_kudos_through_the_vault(
    recognition: RunningRecognition,
) -> None:
    this_week = datetime.now(UTC) - timedelta(days=datetime.now(UTC).weekday())
    for back in range(3):
        at = (this_week - timedelta(weeks=back)).replace(hour=12)
        sent = await recognition.checkin.client.post(
            "/v1/checkins",
            json=checkin(f"w-{back}", "wren", occurred_at=at.isoformat()),
            headers=bearer("wren"),
        )
        assert sent.status_code == 202, sent.text
    # The check-in service publishes them by subject id; recognition counts the weeks.
    assert await recognition.wait_for("SELECT count(*) FROM checkin_weeks", 3) == 3
    streak = await recognition.client.get("/v1/me/streak", headers=bearer("wren"))
    assert streak.status_code == 200, streak.text
    assert (streak.json()["current_weeks"], streak.json()["longest_weeks"]) == (3, 3)
    nobody = (await recognition.client.get("/v1/me/streak", headers=bearer("xavi"))).json()
    assert nobody["current_weeks"] == 0
    pseudonyms = "SELECT count(*) AS n FROM pseudonyms WHERE person_id = 'xavi'"
    assert (await recognition.checkin.rows(pseudonyms))[0]["n"] == 0, "xavi never checked in"

    thanks = {
        "id": "k-1",
        "from_person_id": "xavi",
        "to_person_id": "wren",
        "message": "Thanks for the <b>help</b>",
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "tests",
    }
    given = await recognition.client.post("/v1/kudos", json=thanks, headers=bearer("xavi"))
    assert given.status_code == 202, given.text
    data = (await recognition.client.get("/v1/me/data", headers=bearer("wren"))).json()
    assert [(k["from_person_id"], k["message"]) for k in data["kudos_received"]] == [
        ("xavi", "Thanks for the help")
    ]
    assert [a["kind"] for a in data["awards"]] == ["kudos_received"]
    assert len(data["checkin_weeks"]) == 3 and data["streak"]["current_weeks"] == 3
    sender = (await recognition.client.get("/v1/me/data", headers=bearer("xavi"))).json()
    assert [k["id"] for k in sender["kudos_sent"]] == ["k-1"] and sender["checkin_weeks"] == []
    subject = await recognition.subject("wren")
    linked = await recognition.rows(
        "SELECT count(*) AS n FROM directory_people WHERE subject_id IS NOT NULL"
    )
    assert linked[0]["n"] == 0, "the answer of the vault is never kept"
    assert subject not in str(data)


def message(id_: str, recipient: Recipient) -> NotificationRequest:
    return NotificationRequest.model_validate(
        {
            "id": id_,
            "kind": MessageKind.CHECKIN_REMINDER,
            "recipient": recipient.model_dump(),
            "template": MessageKind.CHECKIN_REMINDER.value,
            "created_at": datetime.now(UTC),
        }
    )


async def test_notifications_gives_the_messages_to_you_by_id_and_by_subject(
    start_notifications: NotificationStarter,
    webhooks: WebhookReceiver,
    service_env: dict[str, str],
    endpoints: Endpoints,
) -> None:
    schema = f"{service_env['KINSHIP_DATABASE_SCHEMA']}_c"
    async with (
        checkin_running(schema, endpoints) as (checkin_app, vault),
        start_notifications(VaultOverAsgi(checkin_app)) as notifications,
    ):
        await publish(
            endpoints.bootstrap_servers,
            notifications.topic("directory.people"),
            [
                directory_record("ann", "Ann", "t", channels={"webhook": webhooks.url("ann")}),
                directory_record("bob", "Bob", "t", channels={"webhook": webhooks.url("bob")}),
            ],
        )
        assert await notifications.wait_for("SELECT count(*) FROM directory_people", 2) == 2
        looked_up = await vault.client.post(
            "/v1/subjects/lookup", json={"person_ids": ["ann"]}, headers=AUTH
        )
        subject = looked_up.json()["subjects"]["ann"]
        await publish_requests(
            endpoints.bootstrap_servers,
            notifications.topic("notifications.requests"),
            [
                message("to-ann", Recipient(person_id="ann")),
                message("to-ann-subject", Recipient(subject_id=subject)),
                message("to-bob", Recipient(person_id="bob")),
            ],
        )
        assert await notifications.wait_for("SELECT count(*) FROM deliveries", 3) == 3
        answer = await notifications.client.get("/v1/me/data", headers=bearer("ann"))
        assert answer.status_code == 200, answer.text
        data = answer.json()
        assert sorted(d["id"] for d in data["deliveries"]) == ["to-ann", "to-ann-subject"]
        assert data["directory"]["channels"] == {"webhook": webhooks.url("ann")}
        assert subject not in answer.text
        bob = (await notifications.client.get("/v1/me/data", headers=bearer("bob"))).json()
        assert [d["id"] for d in bob["deliveries"]] == ["to-bob"]


async def test_escalation_gives_you_the_cases_about_you_and_never_names_staff(
    service_env: dict[str, str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in escalation_env(service_env).items():
        monkeypatch.setenv(name, value)
    settings = EscalationSettings()
    checkin_schema = f"{settings.owned_schema()}_c"
    async with (
        checkin_running(checkin_schema, endpoints) as (checkin_app, vault),
        vault_client(checkin_app) as client,
    ):
        app = create_escalation_app(settings, providers=[VaultOf(client)])
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://escalation.test"
            ) as escalation,
        ):
            sent = await vault.client.post(
                "/v1/checkins",
                json=checkin("risk-1", "wren", phq9=[1] * 8 + [2], mood=1),
                headers=bearer("wren"),
            )
            assert sent.status_code == 202, sent.text
            running = InProcessService(escalation, settings, endpoints)
            assert await running.wait_for("SELECT count(*) FROM cases", 1) == 1

            async def cases() -> list[Any]:
                answer = await escalation.get("/v1/me/data", headers=bearer("wren"))
                assert answer.status_code == 200, answer.text
                return list(answer.json()["cases"])

            (case,) = await until(cases)
            assert case["severity"] == "critical"
            assert IMMEDIATE_RISK in case["rules"]
            assert case["history"][0]["action"] == "opened"
            assert all(not entry["by"].startswith("person:") for entry in case["history"])
            data = (await escalation.get("/v1/me/data", headers=bearer("wren"))).json()
            assert [o["id"] for o in data["observations"]] == ["risk-1"]
            other = (await escalation.get("/v1/me/data", headers=bearer("xavi"))).json()
            assert other["cases"] == [] and other["observations"] == []
            # Asking for your data never gives you a pseudonym you did not have.
            pseudonyms = "SELECT count(*) AS n FROM pseudonyms WHERE person_id = $1"
            assert (await vault.rows(pseudonyms, "xavi"))[0]["n"] == 0
            assert (await vault.rows(pseudonyms, "wren"))[0]["n"] == 1
