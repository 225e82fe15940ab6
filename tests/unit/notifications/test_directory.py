"""Following the directory (``handlers.directory``): who can be reached, and where."""

from kinship_contracts.directory import Channels, DirectoryChange, DirectoryPerson
from kinship_notifications.handlers.directory import apply_directory
from tests.unit.fakes.notifications import FakeNotificationsUnitOfWork


def person(person_id: str, **fields: object) -> DirectoryPerson:
    return DirectoryPerson.model_validate(
        {"person_id": person_id, "display_name": "P", "team_id": "team-a", **fields}
    )


async def test_the_last_change_of_a_person_in_a_batch_wins_and_a_tombstone_removes() -> None:
    uow = FakeNotificationsUnitOfWork()
    changes = [
        DirectoryChange("p-1", person("p-1", channels={"email": "old@example.org"})),
        DirectoryChange("p-2", person("p-2", timezone="Europe/Berlin")),
        DirectoryChange("p-1", person("p-1", channels={"webhook": "http://127.0.0.1:9/p-1"})),
    ]
    async with uow:
        await apply_directory(changes, uow)
    async with uow:
        found = await uow.reachable("p-1")
    assert found is not None
    assert found.channels == Channels(webhook="http://127.0.0.1:9/p-1")
    async with uow:
        await apply_directory([DirectoryChange("p-1", None)], uow)
        assert await uow.reachable("p-1") is None
        berlin = await uow.reachable("p-2")
    assert berlin is not None and berlin.timezone == "Europe/Berlin"
