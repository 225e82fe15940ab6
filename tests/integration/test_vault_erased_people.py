"""A service whose own erasure consumer lags gets no new subject id for an erased person
(review 7, gap 1), against the real broker and database with the real check-in service (the
vault) in-process: Ann's kudos and pulse answer are produced, then the check-in service
erases her; recognition, started only afterwards and without its erasure consumers (they
lag), reads them. The vault, asked with each person's newest record time, refuses her: her
old kudos and answer are not stored, not dead-lettered, and the vault holds no subject id
for her, while Bob's are stored; the kudos and answer she gets or gives after her erasure
are processed under a new subject id. Likewise escalation's signals (its erasure consumers
not running): Erin's old incident is skipped and mints her nothing, Bob's is acted on, and
one about her produced after the erasure is acted on under a new subject id."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from kinship_recognition.composition import create_app as create_recognition_app
from kinship_recognition.settings import RecognitionSettings
from tests.conftest import Endpoints
from tests.database import wait_for_count
from tests.escalation_support import AUTH, bearer, escalation_beside_checkin, escalation_env
from tests.integration.test_escalation_erased_signals import BOB as WORKER
from tests.integration.test_escalation_erased_signals import (
    COUNT_FOLLOW_UPS,
    ERIN,
    FOLLOW_UPS,
    PEOPLE,
    incident,
    pseudonym_of,
)
from tests.integration.test_recognition_erased_people import pulse_answer
from tests.kafka_reading import encode, publish, read_all
from tests.notifications_support import kudos
from tests.recognition_support import (
    Checkin,
    RunningRecognition,
    checkin_running,
    consumed_to_end,
)
from tests.vault_support import TEST_KEY, VaultOverAsgi

pytestmark = pytest.mark.integration

ANN, BOB, CAT = "ann-31c7d0", "bob-0e9a55", "cat-7b12f4"
ANN_OLD_NOTE = "to-ann-before-6d1a"


@pytest.fixture
def schema(service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in escalation_env(service_env).items():
        monkeypatch.setenv(name, value)
    return f"{service_env['KINSHIP_DATABASE_SCHEMA']}_v"


@asynccontextmanager
async def lagging_recognition(
    schema: str, endpoints: Endpoints, checkin_app: Any, checkin: Checkin
) -> AsyncIterator[RunningRecognition]:
    """Recognition on ``schema`` without its erasure consumers (they lag behind)."""
    configured = RecognitionSettings(
        database_schema=schema,
        checkin_api_key=SecretStr(TEST_KEY),
        excluded_consumers="erasure,erasure-subjects",
    )
    app = create_recognition_app(configured, VaultOverAsgi(checkin_app))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://recognition.test"
        ) as client,
    ):
        yield RunningRecognition(client, configured, endpoints, checkin, checkin_app)


async def test_a_lagging_services_old_events_about_an_erased_person_mint_no_subject_id(
    schema: str, endpoints: Endpoints
) -> None:
    servers = endpoints.bootstrap_servers
    async with checkin_running(f"{schema}_c", endpoints) as (checkin_app, checkin):
        kudos_topic = checkin.topic("recognition.kudos.submitted")
        pulse_topic = checkin.topic("programme.pulse.submitted")
        # Produced before her erasure, consumed by recognition only after it.
        await publish(
            servers,
            kudos_topic,
            [
                (ANN.encode(), encode(kudos("k-old-ann", BOB, ANN, ANN_OLD_NOTE))),
                (CAT.encode(), encode(kudos("k-old-cat", BOB, CAT))),
            ],
        )
        await publish(
            servers,
            pulse_topic,
            [
                (ANN.encode(), pulse_answer("p-old-ann", ANN, 1)),
                (BOB.encode(), pulse_answer("p-old-bob", BOB, 4)),
            ],
        )
        asked = await checkin.client.post(f"/v1/people/{ANN}/erasure", headers=AUTH)
        assert asked.status_code == 202
        done = "SELECT count(*) FROM erasures WHERE erased_at IS NOT NULL"
        assert await checkin.wait_for(done, 1) == 1

        async with lagging_recognition(schema, endpoints, checkin_app, checkin) as recognition:
            settings = recognition.settings
            groups = (("kudos", kudos_topic), ("pulse", pulse_topic))
            for group, name in groups:
                assert await consumed_to_end(recognition, settings.consumer_group(group), name, 2)
            # Her kudos and answer from before the erasure: not stored, no subject id made.
            assert await recognition.rows("SELECT id FROM kudos") == [("k-old-cat",)]
            assert await pseudonyms(checkin, ANN) == []
            (bob,) = await pseudonyms(checkin, BOB)
            assert await answers(recognition) == [("p-old-bob", bob)]
            refused = await checkin.rows(
                "SELECT count(*) FROM audit"
                " WHERE action = 'lookup' AND (detail->>'refused')::int > 0"
            )
            assert refused == [(2,)]  # the vault's audit counts refusals, never names them

            # What she gets and gives after her erasure is new: processed, under a new id.
            await publish(servers, kudos_topic, [(ANN.encode(), encode(kudos("k-new", CAT, ANN)))])
            await publish(servers, pulse_topic, [(ANN.encode(), pulse_answer("p-new", ANN, 5))])
            for group, name in groups:
                assert await consumed_to_end(recognition, settings.consumer_group(group), name, 3)
            kudos_rows = await recognition.rows("SELECT id FROM kudos ORDER BY id")
            (ann,) = await pseudonyms(checkin, ANN)
            assert await answers(recognition) == [("p-new", ann), ("p-old-bob", bob)]

    assert kudos_rows == [("k-new",), ("k-old-cat",)]
    assert ANN_OLD_NOTE not in str(kudos_rows)
    for name in (kudos_topic, pulse_topic):
        assert await read_all(servers, f"{name}.dlq", timeout=1.0) == []  # not dead letters


async def pseudonyms(checkin: Checkin, person: str) -> list[str]:
    rows = await checkin.rows("SELECT subject_id FROM pseudonyms WHERE person_id = $1", person)
    return [row[0] for row in rows]


async def answers(recognition: RunningRecognition) -> list[Any]:
    return await recognition.rows(
        "SELECT response_id, respondent FROM pulse_responses ORDER BY response_id"
    )


async def test_escalation_lagging_on_erasures_mints_no_subject_id_for_an_old_signal(
    service_env: dict[str, str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Erin's and Bob's incidents wait in the topic (escalation's signals consumer is down)
    while the check-in service erases Erin; escalation comes back with its erasure consumers
    lagging (not running): Bob's incident is acted on, Erin's is skipped and the vault mints
    her nothing; an incident about her produced after the erasure is acted on."""
    servers = endpoints.bootstrap_servers
    down = service_env | {"KINSHIP_EXCLUDED_CONSUMERS": "signals,erasure,erasure-subjects"}
    lagging = service_env | {"KINSHIP_EXCLUDED_CONSUMERS": "erasure,erasure-subjects"}
    async with escalation_beside_checkin(down, endpoints, monkeypatch) as services:
        escalation = services.escalation
        signals = escalation.topic("wellbeing.signals.submitted")
        group = escalation.settings.consumer_group("signals")
        await services.directory(PEOPLE)
        await publish(servers, signals, [incident(ERIN), incident(WORKER)])
        await asyncio.sleep(0.05)  # the erasure strictly after their records' timestamps
        erased = await services.checkin.post(f"/v1/people/{ERIN}/erasure", headers=bearer(ERIN))
        assert erased.status_code == 202, erased.text
        done = "SELECT count(*) FROM erasures WHERE erased_at IS NOT NULL"
        schema = services.checkin_settings.owned_schema()
        assert await wait_for_count(endpoints.database_url, schema, done, 1) == 1
        assert await escalation.rows("SELECT * FROM erased_ids") == []  # escalation: no record

    async with escalation_beside_checkin(lagging, endpoints, monkeypatch) as services:
        escalation = services.escalation
        assert await consumed_to_end(escalation, group, signals, 2)
        assert await escalation.wait_for(COUNT_FOLLOW_UPS, 2) == 2
        (bob,) = await pseudonym_of(services, WORKER)
        assert [row["subject_id"] for row in await escalation.rows(FOLLOW_UPS)] == [bob, bob]
        assert await pseudonym_of(services, ERIN) == []  # the vault refused her

        await publish(servers, signals, [incident(ERIN)])  # after her erasure: a new one
        assert await consumed_to_end(escalation, group, signals, 3)
        assert await escalation.wait_for(COUNT_FOLLOW_UPS, 4) == 4
        (erin,) = await pseudonym_of(services, ERIN)
        followed = sorted(row["subject_id"] for row in await escalation.rows(FOLLOW_UPS))
        assert followed == sorted([bob, bob, erin, erin])
    assert await read_all(servers, f"{signals}.dlq", timeout=1.0) == []  # not dead letters
