"""A person's delivery preferences (``handlers.preferences``): who may read and change them."""

from datetime import time

import pytest

from kinship_notifications.domain.policy import Preferences
from kinship_notifications.handlers.preferences import (
    NotYourPreferencesError,
    preferences_of,
    set_preferences,
)
from kinship_runtime.auth import Caller
from tests.unit.fakes.notifications import FakeNotificationsUnitOfWork

SYSTEM = Caller("hr-portal")
ANN = Caller("person", person_id="ann")
NIGHTS = Preferences(locale="de", quiet_start=time(22), quiet_end=time(7), max_per_day=3)


async def test_someone_without_preferences_gets_the_defaults() -> None:
    uow = FakeNotificationsUnitOfWork()
    async with uow:
        assert await preferences_of(ANN, "ann", uow) == Preferences()


async def test_a_person_sets_and_reads_their_own_preferences() -> None:
    uow = FakeNotificationsUnitOfWork()
    async with uow:
        assert await set_preferences(ANN, "ann", NIGHTS, uow) == NIGHTS
    async with uow:
        assert await preferences_of(ANN, "ann", uow) == NIGHTS


async def test_a_person_may_neither_read_nor_change_someone_elses_preferences() -> None:
    uow = FakeNotificationsUnitOfWork()
    async with uow:
        await set_preferences(SYSTEM, "bob", NIGHTS, uow)  # systems may, for anyone
    with pytest.raises(NotYourPreferencesError):
        async with uow:
            await set_preferences(ANN, "bob", Preferences(), uow)
    with pytest.raises(NotYourPreferencesError):
        async with uow:
            await preferences_of(ANN, "bob", uow)
    async with uow:
        assert await preferences_of(SYSTEM, "bob", uow) == NIGHTS
