"""Outreach preferences: the person's choice wins over the directory's, escalation learns them by
subject id only (kinship_checkin.handlers.outreach)."""

import json
from datetime import UTC, datetime

from kinship_checkin.handlers.directory import apply_directory
from kinship_checkin.handlers.outreach import choose_outreach, outreach_of_person
from kinship_contracts.directory import DirectoryChange, DirectoryPerson, OutreachPreference
from tests.unit.fakes.checkin import FakeCheckinUnitOfWork

NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)


def stated(person_id: str, preference: str | None) -> DirectoryChange:
    record: dict[str, object] = {"person_id": person_id, "display_name": "X", "team_id": "t"}
    if preference is not None:
        record["outreach"] = preference
    return DirectoryChange(person_id, DirectoryPerson.model_validate(record))


async def test_the_default_is_ask_first_and_nothing_is_published_until_someone_chooses() -> None:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        assert await outreach_of_person("ann", uow) is OutreachPreference.ASK_FIRST
        await apply_directory([stated("ann", None)], uow, "outreach", NOW)
    assert uow.outbox == [] and "ann" not in uow.vault


async def test_the_directory_sets_a_default_and_escalation_hears_it_by_subject_id() -> None:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        await apply_directory([stated("ann", "welcome")], uow, "outreach", NOW)
        assert await outreach_of_person("ann", uow) is OutreachPreference.WELCOME
    (message,) = uow.outbox
    body = json.loads(message.value or b"")
    assert (message.topic, message.key) == ("outreach", uow.vault["ann"].encode())
    assert body["preference"] == "welcome" and body["chosen_by"] == "directory"
    assert "ann" not in (message.value or b"").decode()


async def test_the_persons_own_choice_wins_over_the_directory() -> None:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        await apply_directory([stated("ann", "welcome")], uow, "outreach", NOW)
        await choose_outreach("ann", OutreachPreference.RESOURCES_ONLY, uow, "outreach", NOW)
        await apply_directory([stated("ann", "welcome")], uow, "outreach", NOW)
        assert await outreach_of_person("ann", uow) is OutreachPreference.RESOURCES_ONLY
    assert [json.loads(m.value or b"")["preference"] for m in uow.outbox] == [
        "welcome",
        "resources_only",
    ]


async def test_choosing_the_same_again_publishes_nothing_new() -> None:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        await choose_outreach("ann", OutreachPreference.WELCOME, uow, "outreach", NOW)
        await choose_outreach("ann", OutreachPreference.WELCOME, uow, "outreach", NOW)
    assert len(uow.outbox) == 1
