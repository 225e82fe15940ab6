"""Kudos: the rules (no self-kudos, a daily limit, no markup) and giving kudos through the
handler, with its milestones and team celebrations, over the in-memory unit of work."""

from datetime import UTC, datetime, timedelta

import pytest

from kinship_contracts.kudos import KudosSubmitted
from kinship_recognition.domain.kudos import (
    KudosRefusal,
    clean_message,
    milestone_reached,
    refusal,
)
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.kudos import KudosOutcome, give_kudos
from kinship_runtime.vault import VaultUnavailableError
from tests.unit.fakes.recognition import FakeRecognitionUnitOfWork, FakeVault, Person, kudos

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
TOPICS = AwardTopics("awards", "requests", b"r" * 32)
VAULT = FakeVault()


async def give(
    uow: FakeRecognitionUnitOfWork, item: KudosSubmitted, limit: int = 10, now: datetime = NOW
) -> KudosOutcome:
    async with uow:
        (outcome,) = await give_kudos([item], uow, TOPICS, VAULT, daily_limit=limit, now=now)
    return outcome


def award_ids(uow: FakeRecognitionUnitOfWork) -> list[str]:
    return [award["id"] for award in uow.published("awards")]


# The rules -------------------------------------------------------------------


def test_markup_is_stripped_to_plain_text() -> None:
    assert clean_message('<b>Great</b> <a href="http://x">work</a><script>x()</script>!') == (
        "Great work!"
    )


def test_refusals() -> None:
    assert refusal(kudos(to="ann"), 0, 10) is KudosRefusal.SELF_KUDOS
    assert refusal(kudos(message="<i></i>"), 0, 10) is KudosRefusal.EMPTY_MESSAGE
    assert refusal(kudos(), 10, 10) is KudosRefusal.DAILY_LIMIT
    assert refusal(kudos(), 9, 10) is None


def test_kudos_milestones() -> None:
    assert [n for n in range(1, 30) if milestone_reached(n)] == [5, 10, 25]


# Giving kudos ----------------------------------------------------------------


async def test_accepted_kudos_are_stored_awarded_and_celebrated_with_the_recipient() -> None:
    uow = FakeRecognitionUnitOfWork()
    outcome = await give(uow, kudos("k-1", "ann", "bob"))
    assert outcome == KudosOutcome("k-1", accepted=True)
    assert list(uow.kudos) == ["k-1"] and uow.kudos["k-1"].received_at == NOW
    (award,) = uow.published("awards")
    bob = VAULT.subject("bob")
    assert (award["kind"], award["subject_id"]) == ("kudos_received", bob)
    assert uow.awards["kudos:k-1"].person_id == "bob"
    (request,) = uow.published("requests")
    assert request["id"] == f"celebration:{award['id']}"
    assert request["kind"] == "celebration" and request["recipient"] == {"subject_id": bob}
    assert request["params"] == {"text": "A colleague sent you kudos"}
    assert uow.commits == 1


async def test_the_same_kudos_again_are_a_duplicate_with_no_second_effect() -> None:
    uow = FakeRecognitionUnitOfWork()
    await give(uow, kudos("k-1"))
    again = await give(uow, kudos("k-1", message="changed"))
    assert again == KudosOutcome("k-1", accepted=True, duplicate=True)
    assert uow.kudos["k-1"].message == "Thanks!"
    assert list(uow.awards) == ["kudos:k-1"]
    assert len(award_ids(uow)) == 1 and len(uow.published("requests")) == 1


async def test_self_kudos_are_refused_and_change_nothing() -> None:
    uow = FakeRecognitionUnitOfWork()
    outcome = await give(uow, kudos("k-self", "ann", "ann"))
    assert outcome == KudosOutcome("k-self", accepted=False, refusal=KudosRefusal.SELF_KUDOS)
    assert uow.kudos == {} and uow.outbox == [] and uow.awards == {}


async def test_kudos_empty_once_markup_is_removed_are_refused() -> None:
    uow = FakeRecognitionUnitOfWork()
    outcome = await give(uow, kudos(message="<img src=x><script>alert(1)</script>"))
    assert outcome.refusal is KudosRefusal.EMPTY_MESSAGE
    assert uow.kudos == {}


async def test_markup_is_stripped_before_the_message_is_stored() -> None:
    uow = FakeRecognitionUnitOfWork()
    await give(uow, kudos(message='<b>Great</b> <a href="http://x">handover</a>'))
    assert uow.kudos["k-1"].message == "Great handover"


async def test_the_daily_limit_counts_a_senders_kudos_of_the_last_24_hours() -> None:
    uow = FakeRecognitionUnitOfWork()
    for n in range(3):
        assert (await give(uow, kudos(f"k-{n}", to=f"p{n}"), limit=3)).accepted
    over = await give(uow, kudos("k-over", to="p9"), limit=3)
    assert over.refusal is KudosRefusal.DAILY_LIMIT and "k-over" not in uow.kudos
    other_sender = await give(uow, kudos("k-cat", sender="cat", to="p9"), limit=3)
    assert other_sender.accepted
    tomorrow = NOW + timedelta(days=1, seconds=1)
    assert (await give(uow, kudos("k-next", to="p9"), limit=3, now=tomorrow)).accepted


async def test_a_kudos_milestone_is_celebrated_once_when_reached() -> None:
    uow = FakeRecognitionUnitOfWork()
    for n in range(6):
        await give(uow, kudos(f"k-{n}", sender=f"s{n}", to="bob"))
    await give(uow, kudos("k-4", sender="s4", to="bob"))  # the fifth again
    milestones = [a for a in uow.published("awards") if a["kind"] == "kudos_milestone"]
    assert [(a["count"], a["subject_id"]) for a in milestones] == [(5, VAULT.subject("bob"))]
    assert [k for k in uow.awards if k.startswith("kudos-milestone:")] == ["kudos-milestone:bob:5"]
    assert milestones[0]["title"] == "5 kudos from colleagues"
    assert f"celebration:{milestones[0]['id']}" in [r["id"] for r in uow.published("requests")]


def team(name: str, members: list[str], inactive: tuple[str, ...] = ()) -> dict[str, Person]:
    people = {member: Person(name) for member in members}
    people.update({member: Person(name, active=False) for member in inactive})
    return people


async def test_team_kudos_from_four_senders_are_not_celebrated() -> None:
    four = [f"a{n}" for n in range(4)]
    uow = FakeRecognitionUnitOfWork(team("team-a", four))
    for sender in four:
        for n in range(6):  # 24 kudos, but only four people sent them
            await give(uow, kudos(f"ka-{sender}-{n}", sender, "outsider"))
    assert [a for a in uow.published("awards") if a["kind"] == "team_milestone"] == []


async def test_team_kudos_are_celebrated_once_for_only_the_highest_milestone_with_five_senders() -> (
    None
):
    four, fifth = [f"b{n}" for n in range(4)], "b4"
    uow = FakeRecognitionUnitOfWork(team("team-b", [*four, fifth], inactive=("b-left",)))
    for sender in four:
        for n in range(6):
            await give(uow, kudos(f"kb-{sender}-{n}", sender, "outsider"))
    await give(uow, kudos("kb-fifth-1", fifth, "outsider"))  # 25 kudos, five senders
    await give(uow, kudos("kb-fifth-2", fifth, "outsider"))  # 26: nothing new
    team_awards = [a for a in uow.published("awards") if a["kind"] == "team_milestone"]
    assert [(a["id"], a["team_id"], a["count"]) for a in team_awards] == [
        ("team-kudos:team-b:25", "team-b", 25)
    ]
    assert "person_id" not in team_awards[0] and "subject_id" not in team_awards[0]
    celebrated = sorted(
        (r["id"], r["recipient"]["subject_id"])
        for r in uow.published("requests")
        if r["id"].startswith("celebration:team-kudos:")
    )
    subjects = [VAULT.subject(member) for member in [*four, fifth]]
    assert celebrated == sorted(
        (f"celebration:team-kudos:team-b:25:{subject}", subject) for subject in subjects
    )


async def test_kudos_from_someone_outside_the_directory_celebrate_no_team() -> None:
    uow = FakeRecognitionUnitOfWork()
    for n in range(12):
        await give(uow, kudos(f"k-{n}", sender=f"s{n}", to="bob"))
    assert all(a["kind"] != "team_milestone" for a in uow.published("awards"))


async def test_a_batch_of_kudos_asks_the_vault_once_for_everyone_celebrated() -> None:
    uow, vault = FakeRecognitionUnitOfWork(), FakeVault()
    batch = [kudos(f"k-{n}", sender=f"s{n}", to=f"r{n % 2}") for n in range(4)]
    async with uow:
        outcomes = await give_kudos(batch, uow, TOPICS, vault, daily_limit=10, now=NOW)
    assert [o.accepted for o in outcomes] == [True] * 4
    assert vault.calls == [["r0", "r1"]]
    assert len(uow.published("requests")) == 4


async def test_kudos_wait_for_the_vault_rather_than_go_uncelebrated() -> None:
    uow, vault = FakeRecognitionUnitOfWork(), FakeVault()
    vault.unavailable = True
    with pytest.raises(VaultUnavailableError):
        async with uow:
            await give_kudos([kudos("k-1")], uow, TOPICS, vault, daily_limit=10, now=NOW)
    assert uow.kudos == {} and uow.outbox == []  # rolled back: the retry will do it all
