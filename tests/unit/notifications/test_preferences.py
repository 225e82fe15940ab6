"""A person's delivery preferences (``handlers.preferences``): who may read and change them."""

from datetime import time

import pytest

from kinship_contracts.directory import Role
from kinship_notifications.domain.policy import Preferences
from kinship_notifications.handlers.preferences import (
    NotYourPreferencesError,
    preferences_of,
    set_preferences,
)
from kinship_runtime.access import Actor, Person
from kinship_runtime.identity import Scope, SystemIdentity
from tests.unit.fakes.notifications import FakeNotificationsUnitOfWork

ANN = Actor(person=Person("ann"))
COORDINATOR = Actor(person=Person("cora", frozenset({Role.COORDINATOR})))
RESPONDER = Actor(person=Person("rob", frozenset({Role.PEER_RESPONDER})))
SYSTEM = Actor(system=SystemIdentity("hr-portal", frozenset(Scope)))
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


async def test_a_coordinator_reads_anyones_preferences_but_changes_only_their_own() -> None:
    uow = FakeNotificationsUnitOfWork()
    async with uow:
        await set_preferences(ANN, "ann", NIGHTS, uow)
    async with uow:
        assert await preferences_of(COORDINATOR, "ann", uow) == NIGHTS
    with pytest.raises(NotYourPreferencesError):
        async with uow:
            await set_preferences(COORDINATOR, "ann", Preferences(), uow)
    assert uow.tables.preferences["ann"] == NIGHTS


@pytest.mark.parametrize("actor", [ANN, RESPONDER], ids=["employee", "responder"])
async def test_a_person_may_neither_read_nor_change_someone_elses(actor: Actor) -> None:
    uow = FakeNotificationsUnitOfWork()
    with pytest.raises(NotYourPreferencesError):
        async with uow:
            await set_preferences(actor, "bob", Preferences(max_per_day=0), uow)
    with pytest.raises(NotYourPreferencesError):
        async with uow:
            await preferences_of(actor, "bob", uow)
    assert uow.tables.preferences == {}


async def test_a_calling_system_may_do_neither_even_with_every_scope() -> None:
    uow = FakeNotificationsUnitOfWork()
    with pytest.raises(NotYourPreferencesError):
        async with uow:
            await set_preferences(SYSTEM, "bob", NIGHTS, uow)
    with pytest.raises(NotYourPreferencesError):
        async with uow:
            await preferences_of(SYSTEM, "bob", uow)
    assert uow.tables.preferences == {}
