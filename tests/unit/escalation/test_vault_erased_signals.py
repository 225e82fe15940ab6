"""Signals about a person the check-in service erased, consumed while escalation's own
erasure consumer lags (escalation has no record of the erasure yet): the vault, asked with
when each person's newest signal was produced, refuses a subject id for a person it erased
at or after it and says when it erased them, so the signals produced before the erasure
are skipped (no exposure follow-up, no load, no case; counted, never by id) while one
produced after it, another person's, a record without a timestamp and a team's signal (for
its other members) are acted on (review 7, gap 1). Over the in-memory ports."""

from datetime import timedelta

import pytest

from kinship_contracts.signals import SignalSubmitted
from kinship_escalation.entrypoints.consumers import store_signals
from kinship_escalation.handlers import signals as signal_handlers
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.erasure import Consumed
from tests.unit.escalation.conftest import NOW, STAFF, person, signal, subject
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork, FakeVault
from tests.unit.fakes.metrics import Counted

ERIN, BOB = "worker-1", "worker-2"
HOUR = timedelta(hours=1)
ERASED_AT = NOW - HOUR
"""When the check-in service erased Erin; escalation has not carried it out yet."""
OLD, NEW = ERASED_AT - HOUR, ERASED_AT + timedelta(milliseconds=1)


@pytest.fixture
def skipped(monkeypatch: pytest.MonkeyPatch) -> Counted:
    counted = Counted()
    monkeypatch.setattr(signal_handlers, "ERASED_SIGNALS_SKIPPED", counted)
    return counted


@pytest.fixture
async def uow(vault: FakeVault) -> FakeEscalationUnitOfWork:
    """Escalation's directory still has Erin (and Bob) in team-x; the vault erased her."""
    uow = FakeEscalationUnitOfWork()
    async with uow:
        await uow.directory.apply([*STAFF, person(ERIN, "team-x"), person(BOB, "team-x")])
    vault.erased_people[ERIN] = ERASED_AT
    vault.unknown.add(ERIN)  # her old subject id is gone: any answer would be a new one
    return uow


def overtime(id_: str, **about: str) -> SignalSubmitted:
    body = {"id": id_, "kind": "overtime", "severity": 5, "occurred_at": OLD.isoformat()}
    return SignalSubmitted.model_validate(body | {"source": "rota", **about})


def followed_up(uow: FakeEscalationUnitOfWork) -> set[str | None]:
    """The subjects with exposure follow-ups armed."""
    return {
        armed.timer.subject_id
        for armed in uow.tables.timers.values()
        if armed.timer.id.startswith("exposure_follow_up:")
    }


def loads(uow: FakeEscalationUnitOfWork) -> list[str]:
    return sorted(subject_id for subject_id, _ in uow.tables.signals)


async def test_a_signal_produced_before_the_vaults_erasure_is_skipped_and_mints_nothing(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault, skipped: Counted
) -> None:
    items = [
        Consumed(signal("sig-1", OLD, person_id=ERIN), OLD),
        Consumed(overtime("ot-1", person_id=ERIN), ERASED_AT),  # at the erasure: before it
        Consumed(signal("sig-2", OLD, person_id=BOB), OLD),
    ]
    await store_signals(items, uow, ctx)

    assert vault.dated == [{ERIN: ERASED_AT, BOB: OLD}]  # each person's newest record
    assert ERIN in vault.unknown  # no subject id made for her
    assert followed_up(uow) == {subject(BOB)} and loads(uow) == []
    assert uow.tables.cases == {}
    assert skipped.adds == [(2, {"consumer": "signals"})]


async def test_her_signal_produced_after_the_erasure_is_acted_on_beside_an_old_one(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault, skipped: Counted
) -> None:
    items = [
        Consumed(overtime("ot-1", person_id=ERIN), OLD),  # before: skipped
        Consumed(overtime("ot-2", person_id=ERIN), NEW),  # after: a new signal
        Consumed(signal("sig-3", NEW, person_id=ERIN), NEW),  # a crisis after: never dropped
    ]
    await store_signals(items, uow, ctx)

    assert vault.dated == [{ERIN: NEW}]
    assert loads(uow) == [subject(ERIN)]  # ot-2 alone
    assert followed_up(uow) == {subject(ERIN)}
    assert skipped.adds == [(1, {"consumer": "signals"})]


async def test_a_team_signal_from_before_her_erasure_is_acted_on_for_the_others(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault, skipped: Counted
) -> None:
    await store_signals([Consumed(signal("sig-4", OLD, team_id="team-x"), OLD)], uow, ctx)

    assert ERIN in vault.unknown
    assert followed_up(uow) == {subject(BOB)}
    assert skipped.adds == []  # the signal is not skipped: she is left out of it


async def test_a_record_without_a_timestamp_is_acted_on_as_before(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault, skipped: Counted
) -> None:
    await store_signals([Consumed(signal("sig-5", OLD, person_id=ERIN), None)], uow, ctx)

    assert vault.dated == [{}]  # asked as before: no time to judge by
    assert followed_up(uow) == {subject(ERIN)} and skipped.adds == []
