"""Keeping the directory view (teams and roles, never a subject id), over the in-memory unit
of work."""

from kinship_contracts.directory import DirectoryChange, DirectoryPerson
from kinship_recognition.handlers.directory import apply_directory
from tests.unit.fakes.recognition import FakeRecognitionUnitOfWork, Person


def change(person_id: str, team: str = "team-a", timezone: str = "UTC") -> DirectoryChange:
    person = DirectoryPerson(
        person_id=person_id, display_name=person_id.title(), team_id=team, timezone=timezone
    )
    return DirectoryChange(person_id, person)


async def test_directory_changes_apply_in_order_the_last_per_person_winning() -> None:
    uow = FakeRecognitionUnitOfWork({"gone": Person("team-z")})
    changes = [
        change("ann", "team-a"),
        change("ann", "team-b", "Europe/Berlin"),
        change("bob"),
        DirectoryChange("gone", None),
    ]
    async with uow:
        await apply_directory(changes, uow)
    assert uow.people == {"ann": Person("team-b", "Europe/Berlin"), "bob": Person("team-a")}
    assert uow.commits == 1
