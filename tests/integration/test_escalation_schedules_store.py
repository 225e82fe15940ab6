"""The escalation adapter's on-call statements against a real PostgreSQL: schedules saved,
read and deleted whole; calendar feeds kept by token hash, one per owner and feed, forgotten
with their owner; the pages, cases and time zones the load report reads; the schedule lock."""

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from kinship_contracts.directory import DirectoryChange, DirectoryPerson
from kinship_escalation.adapters.postgres import PostgresEscalationUnitOfWork
from kinship_escalation.domain.schedules import Schedule
from kinship_escalation.handlers.ports import CalendarFeed
from kinship_runtime.directory import DirectoryProjection

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)

SCHEDULE = Schedule.model_validate(
    {
        "name": "peer-support",
        "time_zone": "America/New_York",
        "layers": [
            {
                "name": "main",
                "participants": ["resp-a", "resp-b"],
                "rotation": {"every": 1, "unit": "weeks"},
                "handoff_time": "09:00",
                "start_date": "2026-01-05",
                "restrictions": [{"days": ["mon", "fri"], "start": "17:00", "end": "09:00"}],
            }
        ],
        "overrides": [
            {
                "person_id": "resp-c",
                "start": "2026-03-03T12:00:00-05:00",
                "end": "2026-03-04T12:00Z",
            }
        ],
        "holidays": [{"date": "2026-12-25", "name": "Christmas Day"}],
    }
)


def uow_of(pool: asyncpg.Pool) -> PostgresEscalationUnitOfWork:
    return PostgresEscalationUnitOfWork(pool, DirectoryProjection())


async def test_a_schedule_is_stored_whole_replaced_and_deleted(
    escalation_pool: asyncpg.Pool,
) -> None:
    uow = uow_of(escalation_pool)
    async with uow:
        assert await uow.on_call.schedule("peer-support") is None
        await uow.on_call.save_schedule(SCHEDULE)
        await uow.on_call.save_schedule(SCHEDULE.model_copy(update={"name": "another"}))
    async with uow:
        assert await uow.on_call.schedule("peer-support") == SCHEDULE
        assert [s.name for s in await uow.on_call.schedules()] == ["another", "peer-support"]
        changed = SCHEDULE.model_copy(update={"overrides": ()})
        await uow.on_call.save_schedule(changed)
    async with uow:
        assert await uow.on_call.schedule("peer-support") == changed
        assert await uow.on_call.delete_schedule("peer-support") is True
        assert await uow.on_call.delete_schedule("peer-support") is False
        assert [s.name for s in await uow.on_call.schedules()] == ["another"]


def feed(token_hash: str, kind: str, subject: str, owner: str) -> CalendarFeed:
    return CalendarFeed(token_hash, kind, subject, owner, NOW)  # type: ignore[arg-type]


async def test_a_feed_is_kept_by_its_hash_once_per_owner_and_forgotten_with_its_owner(
    escalation_pool: asyncpg.Pool,
) -> None:
    uow = uow_of(escalation_pool)
    async with uow:
        await uow.feeds.replace(feed("h1", "schedule", "peer-support", "resp-a"))
        await uow.feeds.replace(feed("h2", "schedule", "peer-support", "coord-1"))
        await uow.feeds.replace(feed("h3", "person", "resp-a", "resp-a"))
        await uow.feeds.replace(feed("h4", "schedule", "peer-support", "resp-a"))  # rotated
    async with uow:
        assert await uow.feeds.by_hash("h1") is None
        assert await uow.feeds.by_hash("h4") == feed("h4", "schedule", "peer-support", "resp-a")
        assert [f.token_hash for f in await uow.feeds.of_owner("resp-a")] == ["h3", "h4"]
        assert await uow.feeds.revoke("person", "resp-a", "resp-a") is True
        assert await uow.feeds.revoke("person", "resp-a", "resp-a") is False
        assert await uow.feeds.by_hash("h3") is None
        removed = await uow.erasure.forget_person("resp-a")
        assert removed["calendar_feeds"] == 1
        assert [f.token_hash for f in await uow.feeds.of_owner("coord-1")] == ["h2"]
        columns = await uow.conn.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'calendar_feeds' AND table_schema = current_schema()"
        )
        assert {c["column_name"] for c in columns} == {
            "token_hash",
            "kind",
            "subject",
            "owner",
            "created_at",
        }


async def test_pages_cases_and_time_zones_are_read_for_a_period(
    escalation_pool: asyncpg.Pool,
) -> None:
    uow = uow_of(escalation_pool)
    async with uow:
        changes = [
            DirectoryChange(
                person_id,
                DirectoryPerson.model_validate(
                    {
                        "person_id": person_id,
                        "display_name": person_id,
                        "team_id": "t",
                        "timezone": zone,
                        "roles": ["peer_responder"],
                    }
                ),
            )
            for person_id, zone in (("resp-a", "Europe/London"), ("resp-b", "Asia/Tokyo"))
        ]
        await uow.directory.apply(changes)
        for case_id, responder, acknowledged in (
            ("k1", "resp-a", NOW - timedelta(hours=2)),
            ("k2", "resp-a", NOW - timedelta(days=9)),
            ("k3", None, None),
        ):
            await uow.conn.execute(
                "INSERT INTO cases (id, subject_id, status, severity, rules, observation_ids,"
                " step, attempt, responder_id, opened_at, acknowledged_at, sequence, policy)"
                " VALUES ($1, 's-' || $1, 'acknowledged', 'high', '{}', '{}', 1, 1, $2, $3,"
                " $4, 1, '{}')",
                case_id,
                responder,
                NOW - timedelta(days=10),
                acknowledged,
            )
        for alert_id, recipient, sent, failed in (
            ("a1", "resp-a", NOW - timedelta(hours=3), None),
            ("a2", "resp-b", NOW - timedelta(hours=2), None),
            ("a3", "resp-b", NOW - timedelta(hours=1), NOW),
            ("a4", "resp-a", NOW - timedelta(days=9), None),
            ("a5", "resp-a", NOW, None),
        ):
            await uow.conn.execute(
                "INSERT INTO alerts (id, case_id, recipient_id, step, attempt, sent_at,"
                " failed_at) VALUES ($1, 'k1', $2, 1, 1, $3, $4)",
                alert_id,
                recipient,
                sent,
                failed,
            )
    async with uow:
        start = NOW - timedelta(days=1)
        assert await uow.on_call_records.pages(start, NOW) == {
            "resp-a": [NOW - timedelta(hours=3)],
            "resp-b": [NOW - timedelta(hours=2)],
        }
        assert await uow.on_call_records.cases_taken(start, NOW) == {
            "resp-a": [NOW - timedelta(hours=2)]
        }
        assert await uow.on_call_records.time_zones(["resp-b", "resp-a", "nobody"]) == {
            "resp-a": "Europe/London",
            "resp-b": "Asia/Tokyo",
        }


async def test_edits_of_one_schedule_wait_for_each_other(escalation_pool: asyncpg.Pool) -> None:
    first, second, other = (uow_of(escalation_pool) for _ in range(3))
    async with first:
        await first.on_call_records.serialise_schedule("peer-support")

        async def take() -> None:
            async with second:
                await second.on_call_records.serialise_schedule("peer-support")

        waiting = asyncio.create_task(take())
        await asyncio.sleep(0.3)
        assert not waiting.done()
    await asyncio.wait_for(waiting, timeout=5)
    async with first:
        await first.on_call_records.serialise_schedule("peer-support")
        async with other:  # another schedule's lock is another lock
            await asyncio.wait_for(other.on_call_records.serialise_schedule("nights"), 2)
