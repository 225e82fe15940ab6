"""A person's own copy of what the check-in service holds (kinship_checkin.handlers.my_data)."""

from datetime import UTC, datetime

from kinship_checkin.domain.privacy import NoteCipher
from kinship_checkin.handlers.my_data import personal_data
from kinship_checkin.handlers.outreach import choose_outreach
from kinship_checkin.handlers.recording import RecordingTopics, record_checkins
from kinship_contracts.directory import DirectoryChange, DirectoryPerson, OutreachPreference
from tests.unit.fakes.checkin import FakeCheckinUnitOfWork, submitted

NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)
NOTES = NoteCipher({"n1": b"n" * 32}, "n1")
TOPICS = RecordingTopics("recorded", "urgent")


async def test_the_download_has_the_persons_checkins_with_their_own_notes_opened() -> None:
    uow = FakeCheckinUnitOfWork()
    ann = DirectoryPerson.model_validate(
        {"person_id": "ann", "display_name": "Ann", "team_id": "t-1", "timezone": "Europe/Berlin"}
    )
    async with uow:
        await uow.apply_directory([DirectoryChange("ann", ann)])
        await record_checkins(
            [
                submitted("c-1", "ann", note="my own words", who5=[3, 3, 3, 3, 3]),
                submitted("c-2", "ann", mood=2),
                submitted("c-3", "bob", note="not ann's"),
            ],
            uow,
            NOTES,
            TOPICS,
            NOW,
        )
        await choose_outreach("ann", OutreachPreference.WELCOME, uow, "outreach", NOW)
        await uow.audit("reveal", "person:rosa", subject_id=uow.vault["ann"], case_id="case-1")
    async with uow:
        held = await personal_data("ann", uow, NOTES)
    assert [item.checkin.id for item in held.checkins] == ["c-1", "c-2"]
    first = held.checkins[0]
    assert first.note == "my own words"
    assert first.checkin.who5_percent == 60
    assert held.checkins[1].note is None and held.checkins[1].checkin.mood == 2
    assert held.outreach is OutreachPreference.WELCOME and held.outreach_chosen_by == "person"
    assert held.directory is not None and held.directory.timezone == "Europe/Berlin"
    assert [(e.action, e.actor, e.case_id) for e in held.audit] == [
        ("reveal", "staff", "case-1")  # the responder is not named
    ]
    # The export itself is audited, under the person's subject id, and shown as theirs.
    assert uow.audits[-1].action == "export" and uow.audits[-1].actor == "person:ann"
    assert uow.audits[-1].subject_id == uow.vault["ann"]
    async with uow:
        again = await personal_data("ann", uow, NOTES)
    assert [(e.action, e.actor) for e in again.audit] == [("reveal", "staff"), ("export", "you")]


async def test_someone_who_never_checked_in_gets_the_defaults_and_no_subject_is_made() -> None:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        held = await personal_data("newcomer", uow, NOTES)
    assert held.checkins == [] and held.audit == [] and held.directory is None
    assert held.outreach is OutreachPreference.ASK_FIRST and held.outreach_chosen_by is None
    assert "newcomer" not in uow.vault


async def test_a_note_whose_key_is_gone_is_marked_unreadable_not_dropped() -> None:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        await record_checkins([submitted("c-1", "ann", note="words")], uow, NOTES, TOPICS, NOW)
        uow.keys.clear()  # the person's data key is gone (a crash halfway through erasure)
    async with uow:
        held = await personal_data("ann", uow, NOTES)
    (only,) = held.checkins
    assert only.note is None and only.note_unreadable
