"""Kafka subscriptions of the check-in service: thin functions over the handlers.

Each ``store`` function receives a batch of events; its other parameters are injected from
a fresh request scope (``kinship_runtime.ingest``).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dishka import FromDishka

from kinship_checkin.domain.privacy import CheckinPrivacy
from kinship_checkin.handlers.directory import apply_directory
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_checkin.handlers.recording import RecordingTopics, record_checkins
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.directory import DirectoryChange
from kinship_contracts.topics import CHECKINS_SUBMITTED, DIRECTORY_PEOPLE
from kinship_runtime.ingest import Subscription
from kinship_runtime.records import parse_directory, parse_records


async def store_submissions(
    submissions: Sequence[CheckinSubmitted],
    uow: FromDishka[CheckinUnitOfWork],
    privacy: FromDishka[CheckinPrivacy],
    topics: FromDishka[RecordingTopics],
) -> None:
    """Record a batch of submitted check-ins once each."""
    async with uow:
        await record_checkins(submissions, uow, privacy, topics, datetime.now(UTC))


async def store_directory(
    changes: Sequence[DirectoryChange], uow: FromDishka[CheckinUnitOfWork]
) -> None:
    """Apply a batch of directory changes."""
    async with uow:
        await apply_directory(changes, uow)


SUBSCRIPTIONS: tuple[Subscription[Any], ...] = (
    Subscription(
        CHECKINS_SUBMITTED,
        "submissions",
        parse=parse_records(CheckinSubmitted),
        store=store_submissions,
        description="Check-ins from other systems; invalid ones go to the .dlq topic.",
    ),
    Subscription(
        DIRECTORY_PEOPLE,
        "directory",
        parse=parse_directory,
        store=store_directory,
        description="The organisation directory: person to team and time zone.",
    ),
)
