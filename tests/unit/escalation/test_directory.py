"""The directory view (``handlers.directory``): roles decide who can be alerted."""

from kinship_contracts.directory import DirectoryChange
from kinship_escalation.domain.policies import StaffMember
from kinship_escalation.handlers.directory import apply_directory
from tests.unit.escalation.conftest import person
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork


async def test_directory_changes_decide_the_staff_by_person_id(
    uow: FakeEscalationUnitOfWork,
) -> None:
    await apply_directory(
        [
            person("resp-c", "team-t", "peer_responder", "coordinator"),
            person("resp-a", "team-r", "peer_responder", active=False),
            DirectoryChange("resp-b", None),
            person("coord-1", "team-n", "coordinator"),
        ],
        uow,
    )
    assert await uow.directory.staff() == [
        StaffMember("coord-1", "team-n", False, True),
        StaffMember("resp-c", "team-t", True, True),
    ]
    assert await uow.directory.person("resp-b") is None
    assert await uow.directory.person("resp-a") is None  # inactive
    worker = await uow.directory.person("worker-1")
    assert worker == StaffMember("worker-1", "team-x", False, False)
    assert await uow.directory.team_of("coord-1") == "team-n"
    assert await uow.directory.team_of("nobody") is None


async def test_the_last_change_of_a_person_in_a_batch_wins(uow: FakeEscalationUnitOfWork) -> None:
    await apply_directory(
        [person("resp-d", "team-1", "peer_responder"), DirectoryChange("resp-d", None)], uow
    )
    await apply_directory(
        [DirectoryChange("resp-e", None), person("resp-e", "team-2", "peer_responder")], uow
    )
    assert await uow.directory.person("resp-d") is None
    assert await uow.directory.person("resp-e") is not None
