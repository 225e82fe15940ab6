"""Sealed dead letters against PostgreSQL: exact recovery, crypto-shredding, expiry."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from kinship_runtime.database import migrate_schema
from kinship_runtime.dead_letters import DeadLetterKeys, dead_letter_aad, shred_dead_letters
from tests.conftest import Endpoints
from tests.kafka_reading import checkin, encode
from tests.unit.fakes.kafka import FakeRecord

pytestmark = pytest.mark.integration

PLANTED = "SECRET-NOTE-123"


@pytest.fixture
async def pool(endpoints: Endpoints, database: str, tmp_path: Path) -> AsyncIterator[asyncpg.Pool]:
    conn = await asyncpg.connect(endpoints.database_url)
    await migrate_schema(conn, database, tmp_path)  # the runtime's tables only
    await conn.close()
    created = await asyncpg.create_pool(
        endpoints.database_url, server_settings={"search_path": database}
    )
    assert created is not None
    yield created
    await created.close()


async def test_a_dead_letter_opens_to_its_exact_bytes_until_its_person_is_erased(
    pool: asyncpg.Pool,
) -> None:
    keys = DeadLetterKeys(pool, b"w" * 32)
    alice = FakeRecord(
        encode(checkin("c-1", person="alice", note=PLANTED)),
        key=b"alice",
        headers=[("x-who", b"alice")],
        offset=5,
    )
    bob = FakeRecord(encode(checkin("c-2", person="bob", note="bob's note")), key=b"bob", offset=6)
    sealed_alice, sealed_bob = await keys.seal([alice, bob])
    assert sealed_alice.value is not None and PLANTED.encode() not in sealed_alice.value
    opened = await keys.open(sealed_alice.key_id, sealed_alice.value, dead_letter_aad(alice))
    assert opened == alice.value
    assert sealed_alice.headers is not None
    headers = await keys.open_headers(
        sealed_alice.key_id, sealed_alice.headers, dead_letter_aad(alice)
    )
    assert headers == [("x-who", b"alice")]

    async with pool.acquire() as conn:
        assert await shred_dead_letters(conn, ["alice"]) == 1
        dump = await conn.fetch("SELECT person_ref FROM dead_letter_key_people")
    assert await keys.open(sealed_alice.key_id, sealed_alice.value, dead_letter_aad(alice)) is None
    assert sealed_bob.value is not None
    assert await keys.open(sealed_bob.key_id, sealed_bob.value, dead_letter_aad(bob)) == bob.value
    assert "alice" not in {row["person_ref"] for row in dump}


async def test_a_wrong_wrapping_key_or_position_does_not_open_a_dead_letter(
    pool: asyncpg.Pool,
) -> None:
    record = FakeRecord(b'{"person_id": "p"}', offset=1)
    (sealed,) = await DeadLetterKeys(pool, b"w" * 32).seal([record])
    assert sealed.value is not None
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        await DeadLetterKeys(pool, b"x" * 32).open(sealed.key_id, sealed.value, "t:0:1")
    with pytest.raises(Exception):  # noqa: B017
        await DeadLetterKeys(pool, b"w" * 32).open(sealed.key_id, sealed.value, "other:0:1")


async def test_keys_expire_with_the_dead_letter_topics_retention(pool: asyncpg.Pool) -> None:
    expired = DeadLetterKeys(pool, b"w" * 32, retention=timedelta(seconds=-1))
    await expired.seal([FakeRecord(b"old", offset=1)])
    (new,) = await DeadLetterKeys(pool, b"w" * 32).seal([FakeRecord(b"new", offset=2)])
    remaining = {row["key_id"] for row in await pool.fetch("SELECT key_id FROM dead_letter_keys")}
    assert remaining == {new.key_id}


async def test_expiry_deletes_keys_past_retention_with_no_new_dead_letter(
    pool: asyncpg.Pool,
) -> None:
    """The periodic worker's statement: no seal needed for keys (and their people links) to
    go once past their retention."""
    keys = DeadLetterKeys(pool, b"w" * 32)
    old, kept = await keys.seal(
        [FakeRecord(b'{"person_id": "p-expiring"}', offset=3), FakeRecord(b"kept", offset=4)]
    )
    links = "SELECT count(*) FROM dead_letter_key_people WHERE key_id = $1"
    assert await pool.fetchval(links, old.key_id) >= 1  # linked to the people it names
    await pool.execute(
        "UPDATE dead_letter_keys SET expires_at = now() - interval '1 s' WHERE key_id = $1",
        old.key_id,
    )
    assert await keys.expire() >= 1  # (other tests' expired keys may go too)
    remaining = {row["key_id"] for row in await pool.fetch("SELECT key_id FROM dead_letter_keys")}
    assert old.key_id not in remaining and kept.key_id in remaining
    assert await pool.fetchval(links, old.key_id) == 0
    assert await keys.expire() == 0
