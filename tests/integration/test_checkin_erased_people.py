"""Submitted check-ins of an erased person read again after the erasure (the submissions
consumer group reset to the start of ``wellbeing.checkins.submitted``: a replay) are skipped,
against the real broker and database (check-in service in-process): Ann's old check-in and
note do not come back under a new subject id, while the check-in she submitted after her
erasure, and Bob's, are recorded. The record's SQL (kept times, expiry, the lock) on the
service's own schema."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from kinship_checkin.adapters.postgres import PostgresCheckinUnitOfWork
from kinship_checkin.composition import create_app
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.privacy import ErasureRequested
from kinship_runtime.directory import DirectoryProjection
from tests.conftest import Endpoints
from tests.database import rows, schema_pool, wait_for_count
from tests.escalation_support import escalation_env
from tests.kafka_reading import checkin, encode, publish, read_all, reset_to_start

pytestmark = pytest.mark.integration

NOTE = "ann-private-words-5c1e"


@asynccontextmanager
async def running(settings: CheckinSettings) -> AsyncIterator[None]:
    """The check-in service, consumers and workers, until the block ends."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://checkin"),
    ):
        yield


@pytest.fixture
def settings(service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> CheckinSettings:
    for name, value in escalation_env(service_env).items():
        monkeypatch.setenv(name, value)
    return CheckinSettings()


async def consumed(bootstrap: str, group: str, topic: str, count: int) -> bool:
    """Whether ``group`` committed offsets past ``count`` records of ``topic`` (20 s)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for _ in range(200):
            offsets = await admin.list_consumer_group_offsets(group)
            if sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic) >= count:
                return True
            await asyncio.sleep(0.1)
        return False
    finally:
        await admin.close()


async def test_a_replay_after_an_erasure_skips_the_persons_old_checkins_and_keeps_new_ones(
    settings: CheckinSettings, endpoints: Endpoints
) -> None:
    servers, schema = endpoints.bootstrap_servers, settings.owned_schema()
    submitted = settings.topic("wellbeing.checkins.submitted")
    group = settings.consumer_group("submissions")

    async def query(sql: str, *args: object) -> list[asyncpg.Record]:
        return await rows(endpoints.database_url, schema, sql, *args)

    async def wait_for(sql: str, count: int) -> int:
        return await wait_for_count(endpoints.database_url, schema, sql, count, 20.0)

    async with running(settings):
        await publish(
            servers,
            submitted,
            [
                (b"ann", encode(checkin("c-ann-old", "ann", note=NOTE, mood=1))),
                (b"bob", encode(checkin("c-bob-old", "bob"))),
            ],
        )
        assert await wait_for("SELECT count(*) FROM checkins", 2) == 2
        (old_subject,) = await query("SELECT subject_id FROM pseudonyms WHERE person_id = 'ann'")

        request = ErasureRequested(
            id="er-ann", person_id="ann", requested_at=datetime.now(UTC), source="hr"
        )
        await publish(
            servers,
            settings.topic("privacy.erasure.requested"),
            [(b"ann", encode(request.model_dump(mode="json")))],
        )
        done = "SELECT count(*) FROM erasures WHERE erased_at IS NOT NULL"
        assert await wait_for(done, 1) == 1
        ((digest, erased_at, expires_at),) = await query(
            "SELECT digest, erased_at, expires_at FROM erased_ids"
        )
        assert b"ann" not in bytes(digest) and len(bytes(digest)) == 32
        assert expires_at - erased_at == timedelta(days=15)
        assert [row["id"] for row in await query("SELECT id FROM checkins")] == ["c-bob-old"]

        # After her erasure Ann checks in again (a crisis): a new check-in, recorded.
        await asyncio.sleep(0.05)  # its record's timestamp strictly after the erasure's
        await publish(
            servers,
            submitted,
            [(b"ann", encode(checkin("c-ann-new", "ann", wants_contact=True, mood=1)))],
        )
        assert await wait_for("SELECT count(*) FROM checkins", 2) == 2
        assert await consumed(servers, group, submitted, 3)

    # The consumer group is reset to the start of the topic (a replay) and the service
    # reads every record again, with their original timestamps.
    assert await reset_to_start(servers, group, submitted) >= 1
    async with running(settings):
        assert await consumed(servers, group, submitted, 3)
        await asyncio.sleep(0.5)  # a wrongly stored replay would show by now

    stored = await query("SELECT id, subject_id FROM checkins ORDER BY id")
    assert [row["id"] for row in stored] == ["c-ann-new", "c-bob-old"]
    (new_subject,) = await query("SELECT subject_id FROM pseudonyms WHERE person_id = 'ann'")
    assert new_subject != old_subject and stored[0]["subject_id"] == new_subject[0]
    notes = await query("SELECT count(*) FROM checkins WHERE note_ciphertext IS NOT NULL")
    assert notes[0][0] == 0  # her old note is not stored again
    recorded = await read_all(servers, settings.topic("wellbeing.checkins.recorded"), expect=3)
    ids = sorted(json.loads(record.value)["id"] for record in recorded)
    assert ids == ["c-ann-new", "c-ann-old", "c-bob-old"]  # the old one once: before erasure
    dead = await read_all(servers, f"{submitted}.dlq", timeout=1.0)
    assert dead == []  # skipped, not dead-lettered


async def test_the_records_sql_keeps_the_later_times_expires_and_waits_for_an_erasure(
    settings: CheckinSettings, endpoints: Endpoints
) -> None:
    async with running(settings):  # the service's migrations applied to its schema
        pass
    now = datetime.now(UTC)
    # Erasure times ahead of the clock, so that they are kept as given (the time kept is the
    # later of the given one and the clock once the erasure holds the lock).
    first, later = now + timedelta(hours=1), now + timedelta(hours=2)
    a, b, c = b"a" * 32, b"b" * 32, b"c" * 32
    async with schema_pool(endpoints, settings.owned_schema()) as pool:

        def uow() -> PostgresCheckinUnitOfWork:
            return PostgresCheckinUnitOfWork(pool, DirectoryProjection(keep_contact=True))

        async with uow() as one:
            await one.remember_erased([a], later, later + timedelta(days=7))
        async with uow() as two:  # erased again, earlier and shorter: the later times win
            await two.remember_erased([a, b], first, first + timedelta(days=1))
        async with uow() as check:
            assert await check.erased_since([a, b, c], now) == {a: later, b: first}
            assert await check.erased_since([b], first + timedelta(days=1)) == {}  # expired
        async with uow() as expiry:
            assert await expiry.forget_erased(first + timedelta(days=1), 1000) == 1
        async with uow() as check:
            assert await check.erased_since([a, b], now) == {a: later}

        async def check_c() -> dict[bytes, datetime]:
            async with uow() as batch:
                return await batch.erased_since([c], now)

        # A batch checking while an erasure is in progress waits for it, then sees it.
        erasure = uow()
        await erasure.__aenter__()
        try:
            await erasure.remember_erased([c], later, later + timedelta(days=7))
            checking = asyncio.create_task(check_c())
            await asyncio.sleep(0.5)
            assert not checking.done()
        finally:
            await erasure.__aexit__(None, None, None)
        assert await checking == {c: later}


async def test_a_checkin_back_dated_by_its_producer_but_appended_after_the_erasure_is_recorded(
    settings: CheckinSettings, endpoints: Endpoints
) -> None:
    """The submitted topic is stamped by the broker (``LogAppendTime``): a producer's wrong
    clock, or a back-dated record, cannot move the erasure's cut-off. Ann's check-in
    published after her erasure with a producer timestamp an hour before it is a new one."""
    servers, schema = endpoints.bootstrap_servers, settings.owned_schema()
    submitted = settings.topic("wellbeing.checkins.submitted")

    async def query(sql: str, *args: object) -> list[asyncpg.Record]:
        return await rows(endpoints.database_url, schema, sql, *args)

    async with running(settings):
        request = ErasureRequested(
            id="er-ann", person_id="ann", requested_at=datetime.now(UTC), source="hr"
        )
        await publish(
            servers,
            settings.topic("privacy.erasure.requested"),
            [(b"ann", encode(request.model_dump(mode="json")))],
        )
        done = "SELECT count(*) FROM erasures WHERE erased_at IS NOT NULL"
        assert await wait_for_count(endpoints.database_url, schema, done, 1, 20.0) == 1
        ((erased_at,),) = await query("SELECT erased_at FROM erased_ids")

        await asyncio.sleep(0.05)  # appended strictly after the erasure's time
        back_dated = erased_at - timedelta(hours=1)
        producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all")
        await producer.start()
        try:
            sent = await producer.send_and_wait(
                submitted,
                encode(checkin("c-ann-back-dated", "ann", mood=1)),
                key=b"ann",
                timestamp_ms=int(back_dated.timestamp() * 1000),
            )
        finally:
            await producer.stop()
        appended = datetime.fromtimestamp(sent.timestamp / 1000, UTC)
        assert sent.timestamp_type == 1  # LogAppendTime: the broker's clock, not the producer's
        assert appended > erased_at

        count = "SELECT count(*) FROM checkins"
        assert await wait_for_count(endpoints.database_url, schema, count, 1, 20.0) == 1
        assert [row["id"] for row in await query("SELECT id FROM checkins")] == ["c-ann-back-dated"]
    (record,) = await read_all(servers, submitted, expect=1)
    assert record.timestamp_type == 1 and record.timestamp == sent.timestamp
