"""Kafka subscriptions of the check-in service: thin functions over the handlers.

Each ``store`` function receives a batch of events; its other parameters are injected from
a fresh request scope (``kinship_runtime.ingest``).
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from dishka import FromDishka

from kinship_checkin.domain.privacy import NoteCipher
from kinship_checkin.handlers.directory import apply_directory
from kinship_checkin.handlers.erasure import (
    Consumed,
    ErasureTopics,
    erase_people,
    record_receipts,
    skip_replayed,
)
from kinship_checkin.handlers.outreach import OutreachTopic
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_checkin.handlers.recording import RecordingTopics, record_checkins
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.directory import DirectoryChange
from kinship_contracts.privacy import ErasureReceipt, ErasureRequested
from kinship_contracts.topics import (
    CHECKINS_SUBMITTED,
    DIRECTORY_PEOPLE,
    ERASURE_RECEIPTS,
    ERASURE_REQUESTED,
)
from kinship_runtime.erased_ids import ErasedIds
from kinship_runtime.erasure import parse_erasure_requests
from kinship_runtime.ingest import Subscription
from kinship_runtime.records import (
    Accepted,
    Record,
    Rejected,
    parse_directory,
    parse_records,
    produced_at,
)

_parse_submitted = parse_records(CheckinSubmitted)


def parse_submissions(
    records: Sequence[Record],
) -> tuple[list[Accepted[Consumed]], list[Rejected]]:
    """Submitted check-ins (rejections as ``parse_records``), each with its record's time."""
    accepted, rejected = _parse_submitted(records)
    consumed = [
        Accepted(item.record, Consumed(item.event, produced_at(item.record))) for item in accepted
    ]
    return consumed, rejected


async def store_submissions(
    consumed: Sequence[Consumed],
    uow: FromDishka[CheckinUnitOfWork],
    notes: FromDishka[NoteCipher],
    topics: FromDishka[RecordingTopics],
    erased: FromDishka[ErasedIds],
) -> None:
    """Record a batch of submitted check-ins once each, but for those of a person erased
    after they were produced (replayed or consumed late: ``skip_replayed``)."""
    now = datetime.now(UTC)
    async with uow:
        submissions = await skip_replayed(consumed, uow, erased, now)
        if submissions:
            await record_checkins(submissions, uow, notes, topics, now)


async def store_directory(
    changes: Sequence[DirectoryChange],
    uow: FromDishka[CheckinUnitOfWork],
    outreach: FromDishka[OutreachTopic],
) -> None:
    """Apply a batch of directory changes."""
    async with uow:
        await apply_directory(changes, uow, outreach.name, datetime.now(UTC))


async def store_erasures(
    requests: Sequence[ErasureRequested],
    uow: FromDishka[CheckinUnitOfWork],
    topics: FromDishka[ErasureTopics],
    settings: FromDishka[CheckinSettings],
    erased: FromDishka[ErasedIds],
) -> None:
    """Carry out erasure requests."""
    keep = timedelta(days=settings.erasure_subjects_days)
    async with uow:
        await erase_people(
            requests, uow, topics, datetime.now(UTC), erased=erased, keep_subjects=keep
        )


async def store_receipts(
    receipts: Sequence[ErasureReceipt], uow: FromDishka[CheckinUnitOfWork]
) -> None:
    """Follow every service's erasure receipts (a complete erasure forgets its subjects)."""
    async with uow:
        await record_receipts(receipts, uow, datetime.now(UTC))


SUBSCRIPTIONS: tuple[Subscription[Any], ...] = (
    Subscription(
        CHECKINS_SUBMITTED,
        "submissions",
        parse=parse_submissions,
        store=store_submissions,
        description="Check-ins from other systems; invalid ones go to the .dlq topic. Those "
        "produced before their person's erasure (a backlog or a replay) are skipped.",
    ),
    Subscription(
        DIRECTORY_PEOPLE,
        "directory",
        parse=parse_directory,
        store=store_directory,
        description="The organisation directory: teams, time zones, contact details for "
        "reveals. This service owns the topic's dead letters.",
    ),
    Subscription(
        ERASURE_REQUESTED,
        "erasure",
        parse=parse_erasure_requests,
        store=store_erasures,
        description="Erasure requests: forget the person, name their subject ids to the other "
        "services, tombstone them in the directory. This service owns the dead letters.",
    ),
    Subscription(
        ERASURE_RECEIPTS,
        "erasure-receipts",
        parse=parse_records(ErasureReceipt),
        store=store_receipts,
        description="Every service's erasure receipts, for the status coordinators read.",
    ),
)
