"""The vault refuses a subject id for an event produced at or before the person's erasure
(review 7, gap 1): a caller whose own erasure consumer lags sends, with its lookup, when each
person's newest record was produced; the check-in service, which keeps erased person ids with
each erasure's time, leaves out a person erased at or after it (mints nothing, answers no
subject id made since) and says when it erased each person asked about. Over the in-memory
unit of work and, for the wire, the HTTP route with the runtime's ``VaultClient``."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from kinship_checkin.entrypoints.http import checkin_router
from kinship_checkin.handlers.subjects import lookup_subjects
from kinship_runtime.vault import SubjectsAsOf, VaultClient
from tests.unit.checkin.test_http import ESCALATION, Fakes
from tests.unit.fakes.checkin import ERASED_PEOPLE, FakeCheckinUnitOfWork
from tests.unit.fakes.http import routes_client
from tests.unit.fakes.relay import FakeRelay

ESC = "system:escalation"
ERASED_AT = datetime.now(UTC) - timedelta(hours=1)
"""When the check-in service erased Ann (its own record; now is an hour later)."""
BEFORE, AFTER = ERASED_AT - timedelta(hours=1), ERASED_AT + timedelta(milliseconds=1)


async def ann_was_erased() -> FakeCheckinUnitOfWork:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        await uow.remember_erased(
            ERASED_PEOPLE.digests(["ann"]), ERASED_AT, ERASED_AT + ERASED_PEOPLE.keep_for
        )
    return uow


async def ask(
    uow: FakeCheckinUnitOfWork,
    people: list[str],
    produced_at: dict[str, datetime] | None,
    now: datetime | None = None,
) -> tuple[dict[str, str], list[str], dict[str, datetime]]:
    async with uow:
        found = await lookup_subjects(
            people,
            uow,
            actor=ESC,
            purpose="signals",
            produced_at=produced_at,
            erased=ERASED_PEOPLE,
            now=now or datetime.now(UTC),
        )
    return found.subjects, found.refused, found.erased_at


async def test_a_person_erased_after_their_newest_record_is_refused_and_given_no_subject_id() -> (
    None
):
    uow = await ann_was_erased()
    for produced in (BEFORE, ERASED_AT):  # at the erasure's time is before it too
        subjects, refused, erased_at = await ask(uow, ["ann", "bob"], {"ann": produced})
        assert refused == ["ann"] and erased_at == {"ann": ERASED_AT}
        assert set(subjects) == {"bob"}  # someone else in the same call is answered
    assert "ann" not in uow.vault  # nothing minted for her


async def test_a_record_produced_after_the_erasure_gets_a_new_subject_id_and_the_time() -> None:
    uow = await ann_was_erased()
    subjects, refused, erased_at = await ask(uow, ["ann"], {"ann": AFTER})
    # She may be named again after her erasure; the caller skips her records from before it.
    assert refused == [] and subjects == {"ann": uow.vault["ann"]}
    assert erased_at == {"ann": ERASED_AT}


async def test_a_subject_id_made_after_the_erasure_is_not_answered_for_an_older_record() -> None:
    uow = await ann_was_erased()
    new, _, _ = await ask(uow, ["ann"], {"ann": AFTER})  # a new event: a new subject id
    subjects, refused, _ = await ask(uow, ["ann"], {"ann": BEFORE})
    assert (subjects, refused) == ({}, ["ann"])  # it belongs to what she did after
    assert uow.vault == {"ann": new["ann"]}


async def test_people_without_a_time_and_a_lapsed_record_are_answered_as_before() -> None:
    uow = await ann_was_erased()
    undated, refused, erased_at = await ask(uow, ["ann"], None)
    assert set(undated) == {"ann"} and (refused, erased_at) == ([], {})
    uow = await ann_was_erased()
    lapsed = ERASED_AT + ERASED_PEOPLE.keep_for  # the record no longer counts from then
    subjects, refused, erased_at = await ask(uow, ["ann"], {"ann": BEFORE}, now=lapsed)
    assert set(subjects) == {"ann"} and (refused, erased_at) == ([], {})


async def test_a_dated_lookup_is_audited_with_counts_never_the_people() -> None:
    uow = await ann_was_erased()
    await ask(uow, ["ann", "bob", "cat"], {"ann": BEFORE, "bob": BEFORE})
    await ask(uow, ["dan"], None)
    assert [a.detail for a in uow.audits] == [
        {
            "purpose": "signals",
            "count": 3,
            "answered": 2,
            "create": True,
            "dated": 2,
            "refused": 1,
        },
        {"purpose": "signals", "count": 1, "answered": 1, "create": True},  # as before
    ]
    assert all(a.subject_id is None for a in uow.audits)
    assert not any(p in str(uow.audits) for p in ("ann", "bob", "cat", "dan"))


async def test_a_dated_lookup_without_the_record_is_a_programming_error() -> None:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        with pytest.raises(ValueError, match="record of erased people"):
            await lookup_subjects(["ann"], uow, actor=ESC, produced_at={"ann": BEFORE})
    assert uow.vault == {}


@pytest.fixture
async def http_uow() -> FakeCheckinUnitOfWork:
    return await ann_was_erased()


@pytest.fixture
async def vault(http_uow: FakeCheckinUnitOfWork) -> AsyncIterator[VaultClient]:
    async with routes_client("checkin", checkin_router(), Fakes(http_uow, FakeRelay())) as http:
        transport = http._transport
        client = VaultClient("http://checkin", SecretStr("escalation-key"), transport=transport)
        yield client
        await client.aclose()


async def test_the_client_sends_the_times_and_returns_what_the_vault_said(
    vault: VaultClient, http_uow: FakeCheckinUnitOfWork
) -> None:
    answer = await vault.subjects_as_of(
        ["ann", "bob", "cat"], {"ann": BEFORE, "bob": BEFORE}, purpose="signals"
    )
    assert answer == SubjectsAsOf(
        {"bob": http_uow.vault["bob"], "cat": http_uow.vault["cat"]},
        frozenset({"ann"}),
        {"ann": ERASED_AT},
    )
    assert answer.replayed("ann", BEFORE) and not answer.replayed("ann", AFTER)
    assert not answer.replayed("ann", None) and not answer.replayed("bob", BEFORE)
    # The plain lookup (every other caller) is unchanged: no times sent, Ann answered.
    assert set(await vault.subjects(["ann"], purpose="awards")) == {"ann"}


async def test_the_route_refuses_times_for_people_not_asked_about_or_without_a_zone() -> None:
    uow = await ann_was_erased()
    bodies = [
        {"person_ids": ["bob"], "produced_at": {"ann": BEFORE.isoformat()}},
        {"person_ids": ["bob"], "produced_at": {"bob": BEFORE.replace(tzinfo=None).isoformat()}},
    ]
    async with routes_client("checkin", checkin_router(), Fakes(uow, FakeRelay())) as http:
        for body in bodies:
            response = await http.post("/v1/subjects/lookup", json=body, headers=ESCALATION)
            assert response.status_code == 422, response.text
    assert uow.vault == {} and uow.audits == []


async def test_the_answer_keeps_its_old_shape_for_an_old_caller() -> None:
    uow = await ann_was_erased()
    async with routes_client("checkin", checkin_router(), Fakes(uow, FakeRelay())) as http:
        answer = await http.post(
            "/v1/subjects/lookup", json={"person_ids": ["ann"]}, headers=ESCALATION
        )
        dated = await http.post(
            "/v1/subjects/lookup",
            json={"person_ids": ["ann"], "produced_at": {"ann": BEFORE.isoformat()}},
            headers=ESCALATION,
        )
    assert answer.json() == {"subjects": {"ann": uow.vault["ann"]}, "refused": [], "erased_at": {}}
    assert dated.json()["refused"] == ["ann"] and dated.json()["subjects"] == {}
