"""Who the signed-in person is, and finding colleagues by name
(kinship_checkin.handlers.people), over the in-memory unit of work."""

from typing import Any

import pytest

from kinship_checkin.handlers.people import SearchTooShortError, about, find_people
from kinship_contracts.directory import DirectoryChange, DirectoryPerson
from tests.unit.fakes.checkin import FakeCheckinUnitOfWork


def person(person_id: str, name: str, team: str = "t-1", **fields: Any) -> DirectoryChange:
    record = {"person_id": person_id, "display_name": name, "team_id": team, **fields}
    return DirectoryChange(person_id, DirectoryPerson.model_validate(record))


async def directory(*changes: DirectoryChange) -> FakeCheckinUnitOfWork:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        await uow.apply_directory(list(changes))
    return uow


async def test_a_manager_without_a_list_manages_their_own_team() -> None:
    uow = await directory(person("mia", "Mia M", "platform", roles=["team_manager"]))
    async with uow:
        profile = await about("mia", uow)
    assert profile.display_name == "Mia M" and profile.team_id == "platform"
    assert profile.roles == ("team_manager",)
    assert profile.managed_teams == ("platform",)


async def test_listed_teams_are_managed_and_other_roles_manage_nothing() -> None:
    uow = await directory(
        person("lee", "Lee", "ops", roles=["team_manager", "peer_responder"], manages=["b", "a"]),
        person("rosa", "Rosa", "care", roles=["peer_responder"], manages=["care"]),
    )
    async with uow:
        lee, rosa = await about("lee", uow), await about("rosa", uow)
    assert lee.managed_teams == ("a", "b")
    assert lee.roles == ("peer_responder", "team_manager")
    assert rosa.managed_teams == ()


async def test_someone_the_directory_does_not_know_is_an_employee_with_no_role() -> None:
    uow = await directory()
    async with uow:
        profile = await about("newcomer", uow)
    assert (profile.display_name, profile.team_id, profile.roles) == (None, None, ())


async def test_search_finds_active_people_by_part_of_the_name_or_the_start_of_the_id() -> None:
    uow = await directory(
        person("ada", "Ada Lovelace"),
        person("ben", "Ben Adams"),
        person("cleo", "Cleo Park"),
        person("adrian", "Zed Gone", active=False),
    )
    async with uow:
        by_name = await find_people("ada", uow)
        by_id = await find_people("cle", uow)
    assert [(m.person_id, m.display_name) for m in by_name] == [
        ("ada", "Ada Lovelace"),
        ("ben", "Ben Adams"),
    ]
    assert [m.person_id for m in by_id] == ["cleo"]


async def test_search_needs_two_characters_and_gives_at_most_twenty() -> None:
    uow = await directory(*(person(f"p{n:02}", f"Sam {n:02}") for n in range(30)))
    async with uow:
        with pytest.raises(SearchTooShortError):
            await find_people(" s ", uow)
        found = await find_people("  sam  ", uow, limit=50)
    assert len(found) == 20
    assert found[0].display_name == "Sam 00"
