"""Kudos, pulse answers and case transitions naming a person the check-in service erased,
consumed while recognition's own erasure consumer lags (recognition has no record of the
erasure yet): the vault, asked with when each person's newest record was produced, refuses a
subject id for a person it erased at or after it and says when, so the records produced
before the erasure are skipped (not stored, not dead-lettered, counted by consumer) and no
subject id is minted for the erased person, while one produced after it, another person's and
one without a timestamp are processed (review 7, gap 1). Over the in-memory ports, through
the consumers' store functions."""

from datetime import UTC, datetime, timedelta

import pytest

from kinship_contracts.cases import CaseEventKind
from kinship_recognition.handlers import feedback, responders
from kinship_recognition.handlers import kudos as kudos_handlers
from tests.unit.fakes.metrics import Counted
from tests.unit.fakes.recognition import FakeRecognitionUnitOfWork, case_event, kudos, pulse
from tests.unit.recognition.test_erased_people import Service, rita_resolves, team

HOUR = timedelta(hours=1)
ERASED_AT = (datetime.now(UTC) - HOUR).replace(microsecond=0)
"""When the check-in service erased Ann and Rita (recognition has not carried it out yet); to
the millisecond, as record timestamps are."""
OLD, NEW = ERASED_AT - HOUR, ERASED_AT + timedelta(milliseconds=1)


@pytest.fixture
def skipped(monkeypatch: pytest.MonkeyPatch) -> Counted:
    counted = Counted()
    for module in (feedback, kudos_handlers, responders):
        monkeypatch.setattr(module, "ERASED_SKIPPED", counted)
    return counted


@pytest.fixture
def service() -> Service:
    service = Service(FakeRecognitionUnitOfWork(team()))
    service.vault.erased_people |= {"ann": ERASED_AT, "rita": ERASED_AT}
    return service


async def test_kudos_to_a_person_the_vault_erased_after_they_were_produced_are_skipped(
    service: Service, skipped: Counted
) -> None:
    await service.kudos(
        (kudos("k-1", "bob", "ann"), OLD),
        (kudos("k-2", "cat", "ann"), ERASED_AT),  # at the erasure: before it
        (kudos("k-3", "bob", "cat"), OLD),  # someone else's: given
    )

    assert list(service.uow.kudos) == ["k-3"]  # hers not stored
    assert "ann" not in service.vault.vault  # no subject id minted for her
    assert service.vault.dated == [{"ann": ERASED_AT, "cat": OLD}]
    assert sorted(service.uow.awards) == ["kudos:k-3"]
    assert service.producer.sent == []  # valid events: not dead-lettered
    assert skipped.adds == [(2, {"consumer": "kudos"})]


async def test_kudos_produced_after_her_erasure_are_given_beside_older_ones(
    service: Service, skipped: Counted
) -> None:
    await service.kudos((kudos("k-1", "bob", "ann"), OLD), (kudos("k-4", "cat", "ann"), NEW))

    assert list(service.uow.kudos) == ["k-4"]
    assert service.vault.dated == [{"ann": NEW}]  # her newest record
    subject = service.vault.vault["ann"]  # a new subject id, for what came after
    celebrated = [m for m in service.uow.outbox if m.topic == "requests"]
    assert len(celebrated) == 1 and celebrated[0].key == subject.encode()
    assert skipped.adds == [(1, {"consumer": "kudos"})]


async def test_kudos_without_a_timestamp_are_given_as_before(
    service: Service, skipped: Counted
) -> None:
    await service.kudos((kudos("k-1", "bob", "ann"), None))
    assert list(service.uow.kudos) == ["k-1"] and "ann" in service.vault.vault
    assert skipped.adds == []


async def test_kudos_given_before_are_not_asked_about_again(
    service: Service, skipped: Counted
) -> None:
    # A replay (or Kafka redelivering) leaves no trace at the vault: no lookup, no audit.
    await service.kudos((kudos("k-3", "bob", "cat"), OLD))
    asked = len(service.vault.dated)
    await service.kudos((kudos("k-3", "bob", "cat"), OLD))
    assert len(service.vault.dated) == asked and list(service.uow.kudos) == ["k-3"]
    assert skipped.adds == []


async def test_her_pulse_answer_from_before_is_skipped_and_one_after_is_kept(
    service: Service, skipped: Counted
) -> None:
    await service.pulse(
        (pulse("p-1", "ann", OLD, programme_helps=1), OLD),
        (pulse("p-2", "bob", OLD, programme_helps=4), OLD),
    )
    assert "ann" not in service.vault.vault
    assert list(service.uow.pulse_rows) == [("2026-11", service.vault.vault["bob"])]
    assert skipped.adds == [(1, {"consumer": "pulse"})]

    # One batch with an answer from before her erasure and one from after: only the latter.
    await service.pulse(
        (pulse("p-1", "ann", OLD, programme_helps=1), OLD),
        (pulse("p-3", "ann", NEW, programme_helps=5), NEW),
    )
    row = service.uow.pulse_rows[("2026-11", service.vault.vault["ann"])]
    assert row.response_id == "p-3"
    assert skipped.adds == [(1, {"consumer": "pulse"}), (1, {"consumer": "pulse"})]


async def test_a_pulse_answer_without_a_timestamp_is_kept_as_before(
    service: Service, skipped: Counted
) -> None:
    await service.pulse((pulse("p-1", "ann", OLD, programme_helps=1), None))
    assert [p for _, p in service.uow.pulse_rows] == [service.vault.vault["ann"]]
    assert skipped.adds == []


async def test_a_responder_the_vault_erased_is_not_celebrated_for_an_older_transition(
    service: Service, skipped: Counted
) -> None:
    resolved_by_sam = case_event(
        "case-3", 2, CaseEventKind.RESOLVED, OLD, responder_id="sam", outcome="supported"
    )
    await service.cases((resolved_by_sam, OLD), *((e, OLD) for e in rita_resolves("case-1")))

    assert "rita" not in service.vault.vault  # no subject id minted for her
    published = [m for m in service.uow.outbox if m.topic in ("awards", "requests")]
    sam = service.vault.vault["sam"]
    assert published and all(m.key == sam.encode() for m in published)  # Sam's alone
    assert set(service.uow.case_facts) == {"case-1", "case-3"}  # the cases' facts kept
    assert skipped.adds == [(2, {"consumer": "cases"})]  # her support and her thanks

    await service.cases(*((e, NEW) for e in rita_resolves("case-4")))
    assert "rita" in service.vault.vault  # a case after her erasure: appreciated
