"""Giving and publishing awards: once each, addressed by subject id, signed requests."""

from datetime import UTC, datetime

import pytest

from kinship_contracts.awards import AwardKind
from kinship_contracts.links import REQUEST_SIGNATURE_HEADER, request_signed
from kinship_contracts.topics import NOTIFICATION_REQUESTS, RECOGNITION_AWARDS
from kinship_recognition.domain.awards import Grant
from kinship_recognition.handlers.awards import (
    AwardTopics,
    TeamMilestone,
    celebrate_team,
    give,
    publish_awards,
)
from kinship_runtime.vault import VaultUnavailableError
from tests.unit.fakes.recognition import FakeRecognitionUnitOfWork, FakeVault, Person

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
REQUEST_KEY = b"r" * 32
TOPICS = AwardTopics("awards", "requests", REQUEST_KEY)
TO_BOB = Grant("kudos:k-1", AwardKind.KUDOS_RECEIVED, "A colleague sent you kudos", person_id="bob")


def headers(uow: FakeRecognitionUnitOfWork, topic: str) -> list[dict[str, bytes]]:
    return [dict(m.headers) for m in uow.outbox if m.topic == topic]


async def award(uow: FakeRecognitionUnitOfWork, vault: FakeVault, *grants: Grant) -> None:
    async with uow:
        given: list[Grant] = []
        for grant in grants:
            await give(grant, uow, given)
        await publish_awards(given, uow, TOPICS, vault, NOW, new_id=lambda: "award-1")


async def test_a_persons_award_goes_to_their_subject_under_a_new_id_once() -> None:
    uow, vault = FakeRecognitionUnitOfWork(), FakeVault()
    await award(uow, vault, TO_BOB)
    await award(uow, vault, TO_BOB)  # a replay: nothing new
    bob = vault.subject("bob")
    assert [(m.topic, m.key, m.event_id) for m in uow.outbox] == [
        ("awards", bob.encode(), "award-1"),
        ("requests", bob.encode(), "celebration:award-1"),
    ]
    (published,) = uow.published("awards")
    assert published["subject_id"] == bob and "person_id" not in published
    (request,) = uow.published("requests")
    assert request["recipient"] == {"subject_id": bob}
    assert request["template"] == "celebration" and request["created_at"].startswith("2026-11-25")
    assert b"bob" not in b"".join(m.value or b"" for m in uow.outbox)
    assert b"kudos:k-1" not in b"".join(m.value or b"" for m in uow.outbox)  # the key stays here
    assert headers(uow, "awards")[0]["ce_type"] == RECOGNITION_AWARDS.event_type.encode()
    assert headers(uow, "requests")[0]["ce_type"] == NOTIFICATION_REQUESTS.event_type.encode()


async def test_the_award_row_keeps_the_person_and_never_their_subject() -> None:
    uow, vault = FakeRecognitionUnitOfWork(), FakeVault()
    await award(uow, vault, TO_BOB)
    stored = uow.awards["kudos:k-1"]
    assert (stored.person_id, stored.subject_id) == ("bob", None)


async def test_celebration_requests_are_signed_and_awards_are_not_requests() -> None:
    uow, vault = FakeRecognitionUnitOfWork(), FakeVault()
    await award(uow, vault, TO_BOB)
    (request,) = [m for m in uow.outbox if m.topic == "requests"]
    signature = dict(request.headers)[REQUEST_SIGNATURE_HEADER].decode()
    assert request_signed(REQUEST_KEY, request.value or b"", signature)
    assert not request_signed(b"x" * 32, request.value or b"", signature)
    assert not request_signed(REQUEST_KEY, (request.value or b"") + b" ", signature)
    assert REQUEST_SIGNATURE_HEADER not in headers(uow, "awards")[0]


async def test_a_streak_award_names_the_subject_it_was_given_to_without_the_vault() -> None:
    uow, vault = FakeRecognitionUnitOfWork(), FakeVault()
    streak = Grant(
        "streak:subject-1:4",
        AwardKind.CHECKIN_STREAK,
        "4 weeks of check-ins",
        count=4,
        subject_id="subject-1",
    )
    await award(uow, vault, streak)
    assert [m.key for m in uow.outbox] == [b"subject-1", b"subject-1"]
    assert [m.event_id for m in uow.outbox] == [
        "streak:subject-1:4",
        "celebration:streak:subject-1:4",
    ]
    assert vault.calls == []


async def test_everyone_celebrated_in_a_unit_of_work_is_looked_up_in_one_call() -> None:
    uow = FakeRecognitionUnitOfWork({"t1": Person("team-t"), "t2": Person("team-t")})
    vault = FakeVault()
    to_cat = Grant("kudos:k-2", AwardKind.KUDOS_RECEIVED, "Kudos", person_id="cat")
    team = Grant(
        "team-kudos:team-t:10", AwardKind.TEAM_MILESTONE, "Ten", count=10, team_id="team-t"
    )
    await award(uow, vault, TO_BOB, to_cat, team)
    assert vault.calls == [["bob", "cat", "t1", "t2"]]


async def test_an_unreachable_vault_rolls_the_awards_back_to_be_retried() -> None:
    uow, vault = FakeRecognitionUnitOfWork(), FakeVault()
    vault.unavailable = True
    with pytest.raises(VaultUnavailableError):
        await award(uow, vault, TO_BOB)
    assert uow.awards == {} and uow.outbox == [] and uow.rollbacks == 1
    vault.unavailable = False
    await award(uow, vault, TO_BOB)  # the retry gives the award after all
    assert len(uow.published("awards")) == 1


def test_an_award_names_exactly_one_recipient() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Grant("x", AwardKind.KUDOS_RECEIVED, "x", person_id="bob", subject_id="s-bob")
    with pytest.raises(ValueError, match="exactly one"):
        Grant("x", AwardKind.KUDOS_RECEIVED, "x")


async def test_a_team_milestone_is_celebrated_once_with_each_active_members_subject() -> None:
    people = {
        "t1": Person("team-t"),
        "t2": Person("team-t"),
        "gone": Person("team-t", active=False),
    }
    uow, vault = FakeRecognitionUnitOfWork(people), FakeVault()
    milestone = TeamMilestone("team-t", "team-kudos:team-t:10", 10, "Ten thanks")
    for _ in range(2):
        async with uow:
            given: list[Grant] = []
            await celebrate_team(milestone, uow, given)
            await publish_awards(given, uow, TOPICS, vault, NOW)
    (published,) = uow.published("awards")
    assert (published["id"], published["team_id"], published["count"]) == (
        "team-kudos:team-t:10",
        "team-t",
        10,
    )
    assert [m.key for m in uow.outbox if m.topic == "awards"] == [b"team-t"]
    t1, t2 = vault.subject("t1"), vault.subject("t2")
    assert sorted((m.event_id, m.key) for m in uow.outbox if m.topic == "requests") == sorted(
        [
            (f"celebration:team-kudos:team-t:10:{t1}", t1.encode()),
            (f"celebration:team-kudos:team-t:10:{t2}", t2.encode()),
        ]
    )
    assert b"t1" not in b"".join(m.value or b"" for m in uow.outbox if m.topic == "requests")
    assert "gone" not in vault.vault
