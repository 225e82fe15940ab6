"""Keeping the directory view (time zones and teams), over the in-memory unit of work."""

from kinship_contracts.directory import DirectoryChange, DirectoryPerson
from kinship_contracts.subjects import Pseudonymiser
from kinship_recognition.handlers.directory import apply_directory
from tests.unit.fakes.recognition import FakeRecognitionUnitOfWork, Person

PSEUDONYMS = Pseudonymiser(b"p" * 32)


def change(person_id: str, team: str = "team-a", timezone: str = "UTC") -> DirectoryChange:
    person = DirectoryPerson(
        person_id=person_id, display_name=person_id.title(), team_id=team, timezone=timezone
    )
    return DirectoryChange(person_id, person)


async def test_directory_changes_apply_in_order_the_last_per_person_winning() -> None:
    uow = FakeRecognitionUnitOfWork({"gone": Person("team-z")}, subject_of=PSEUDONYMS.subject_id)
    changes = [
        change("ann", "team-a"),
        change("ann", "team-b", "Europe/Berlin"),
        change("bob"),
        DirectoryChange("gone", None),
    ]
    async with uow:
        await apply_directory(changes, uow)
    assert uow.people == {
        "ann": Person("team-b", "Europe/Berlin", subject_id=PSEUDONYMS.subject_id("ann")),
        "bob": Person("team-a", subject_id=PSEUDONYMS.subject_id("bob")),
    }
    assert uow.commits == 1
