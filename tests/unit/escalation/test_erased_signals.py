"""Signals about an erased person consumed after the erasure (a backlog, a replay of
``wellbeing.signals.submitted``) are skipped before the vault is asked for their subject id
(which would mint the erased person a new one): no exposure follow-ups, no load for
detection, no case. One produced after the erasure is acted on, and so are a team's signals
and other people's. The record of erased person ids (keyed hashes with the erasure request's
time), how long it is kept, and that it names no one. Over the in-memory ports."""

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from kinship_contracts.privacy import ErasureRequested
from kinship_contracts.signals import SignalSubmitted
from kinship_contracts.topics import DAY_MS, SIGNALS_SUBMITTED
from kinship_escalation.domain.cases import StoredCase
from kinship_escalation.entrypoints import consumers
from kinship_escalation.entrypoints.consumers import parse_signals, store_erasures, store_signals
from kinship_escalation.handlers import erasure as erasure_handlers
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.erasure import Consumed, skip_replayed
from kinship_escalation.settings import ERASED_IDS_LABEL, ERASED_PEOPLE_LABEL, EscalationSettings
from kinship_runtime.erased_ids import PERSON_KEEP_DAYS, SEGMENT_DAYS, ErasedIds, derive_key
from kinship_runtime.records import produced_at
from tests.unit.escalation.conftest import NOW, STAFF, Clock, person, sent, signal, subject
from tests.unit.fakes.escalation import FakeCases, FakeErasure, FakeEscalationUnitOfWork, FakeVault
from tests.unit.fakes.kafka import FakeRecord, Timed
from tests.unit.fakes.metrics import Counted

ERIN, BOB = "worker-1", "worker-2"
HOUR = timedelta(hours=1)
ERASED_AT = NOW - HOUR
"""When escalation carried out Erin's erasure (requested a few minutes before; it is ``NOW``
when the tests consume signals)."""


@pytest.fixture
def skipped(monkeypatch: pytest.MonkeyPatch) -> Counted:
    counted = Counted()
    monkeypatch.setattr(erasure_handlers, "ERASED_SIGNALS_SKIPPED", counted)
    return counted


def overtime(id_: str, at: datetime, **about: str) -> SignalSubmitted:
    """A severe overtime signal (load for detection)."""
    body = {"id": id_, "kind": "overtime", "severity": 5, "occurred_at": at.isoformat()}
    return SignalSubmitted.model_validate(body | {"source": "rota", **about})


def at(item: SignalSubmitted, produced_at: datetime | None) -> Consumed:
    return Consumed(item, produced_at)


async def erase(
    uow: FakeEscalationUnitOfWork,
    ctx: EscalationContext,
    when: datetime = ERASED_AT,
    requested_at: datetime | None = None,
    id_: str = "er-1",
) -> None:
    """Erin's erasure request (made five minutes before ``when`` unless said) carried out by
    escalation at ``when``; the clock back where it was after."""
    clock = ctx.clock
    assert isinstance(clock, Clock)
    request = ErasureRequested(
        id=id_,
        person_id=ERIN,
        requested_at=requested_at or when - timedelta(minutes=5),
        source="hr",
    )
    then, clock.now = clock.now, when
    try:
        await store_erasures([request], uow, ctx)
    finally:
        clock.now = then


async def erin_was_erased(ctx: EscalationContext) -> FakeEscalationUnitOfWork:
    """The directory has Erin and Bob in team-x (and the staff); Erin was erased an hour ago."""
    uow = FakeEscalationUnitOfWork()
    async with uow:
        await uow.directory.apply([*STAFF, person(BOB, "team-x")])
    await erase(uow, ctx)
    uow.tables.outbox.clear()
    return uow


def asked(vault: FakeVault) -> set[str]:
    """Everyone the vault was asked about."""
    return {person_id for lookup in vault.lookups for person_id in lookup}


def followed_up(uow: FakeEscalationUnitOfWork) -> set[str | None]:
    """The subjects with exposure follow-ups armed."""
    return {
        armed.timer.subject_id
        for armed in uow.tables.timers.values()
        if armed.timer.id.startswith("exposure_follow_up:")
    }


async def test_a_critical_incident_about_an_erased_person_consumed_later_is_skipped_unasked(
    ctx: EscalationContext, vault: FakeVault, skipped: Counted
) -> None:
    uow = await erin_was_erased(ctx)
    backlog = signal("sig-1", ERASED_AT - HOUR, person_id=ERIN)  # never consumed before
    at_the_erasure = overtime("ot-1", ERASED_AT, person_id=ERIN)

    await store_signals([at(backlog, ERASED_AT - HOUR), at(at_the_erasure, ERASED_AT)], uow, ctx)

    assert ERIN not in asked(vault)  # no subject id minted for her
    assert followed_up(uow) == set() and uow.tables.signals == []
    assert uow.tables.outbox == [] and uow.tables.cases == {}
    assert skipped.adds == [(2, {"consumer": "signals"})]  # counted, never by id
    assert not any(event_id in ("sig-1", "ot-1") for _, event_id in uow.tables.processed)


async def test_a_signal_produced_after_the_erasure_is_acted_on(
    ctx: EscalationContext, vault: FakeVault, skipped: Counted
) -> None:
    uow = await erin_was_erased(ctx)
    incident = signal("sig-2", ERASED_AT, person_id=ERIN)

    await store_signals([at(incident, ERASED_AT + timedelta(milliseconds=1))], uow, ctx)

    assert ERIN in asked(vault)
    assert followed_up(uow) == {subject(ERIN)}
    assert skipped.adds == []


async def test_a_team_signal_and_other_peoples_in_the_same_batch_are_acted_on(
    ctx: EscalationContext, vault: FakeVault, skipped: Counted
) -> None:
    uow = await erin_was_erased(ctx)
    old = ERASED_AT - HOUR

    await store_signals(
        [
            at(signal("sig-1", old, person_id=ERIN), old),
            at(signal("sig-3", old, person_id="resp-a"), old),
            at(signal("sig-4", old, team_id="team-x"), old),  # names no one: never skipped
            at(overtime("ot-2", old, person_id=BOB), old),
        ],
        uow,
        ctx,
    )

    assert ERIN not in asked(vault) and {"resp-a", BOB} <= asked(vault)
    assert followed_up(uow) == {subject("resp-a"), subject(BOB)}  # the team's: Bob alone now
    assert [s for s, _ in uow.tables.signals] == [subject(BOB)]
    assert {p["id"] for p in sent(uow).proposals} == {"defusing:sig-3", "defusing:sig-4"}
    assert skipped.adds == [(1, {"consumer": "signals"})]


async def test_a_record_without_a_timestamp_is_acted_on_rather_than_dropped_on_a_guess(
    ctx: EscalationContext, vault: FakeVault
) -> None:
    uow = await erin_was_erased(ctx)
    await store_signals([at(signal("sig-1", ERASED_AT - HOUR, person_id=ERIN), None)], uow, ctx)
    assert ERIN in asked(vault) and followed_up(uow) == {subject(ERIN)}


async def test_nothing_is_looked_up_or_skipped_when_nobody_was_erased_or_no_one_is_named(
    ctx: EscalationContext, skipped: Counted
) -> None:
    looked: list[list[bytes]] = []

    class Counting(FakeErasure):
        async def erased_since(
            self, digests: Sequence[bytes], now: datetime
        ) -> dict[bytes, datetime]:
            looked.append(list(digests))
            return await super().erased_since(digests, now)

    uow = FakeEscalationUnitOfWork()
    uow.erasure = Counting(uow)
    items = [
        at(signal("sig-1", NOW, person_id=ERIN), NOW - HOUR),
        at(overtime("ot-1", NOW, person_id=BOB), None),
    ]
    team = [at(signal("sig-2", NOW, team_id="team-x"), NOW - HOUR)]
    async with uow:
        assert await skip_replayed(items, uow, ctx) == [item.signal for item in items]
        assert await skip_replayed(team, uow, ctx) == [team[0].signal]
        assert await skip_replayed([], uow, ctx) == []
    assert looked == [ctx.erased_people.digests([ERIN, BOB])]  # a team's: no lookup
    assert skipped.adds == []


async def test_the_record_holds_a_keyed_hash_of_the_person_id_with_the_erasures_time(
    ctx: EscalationContext,
) -> None:
    uow = await erin_was_erased(ctx)
    people = ctx.erased_people

    digest = people.digest(ERIN)
    assert uow.tables.erased_people == {digest: (ERASED_AT, ERASED_AT + people.keep_for)}
    assert digest == hmac.new(people.key, f"person:{ERIN}".encode(), hashlib.sha256).digest()
    kept = repr(uow.tables.erased_people).encode() + b"".join(uow.tables.erased_people)
    assert ERIN.encode() not in kept and subject(ERIN).encode() not in kept
    # Neither the subject-id record's digest of the same id nor another key's matches.
    assert ctx.erased_ids.digest(ERIN) != digest
    assert ErasedIds(b"k" * 32, people.keep_for, kind="person").digest(ERIN) != digest


async def test_the_erasures_time_is_when_escalation_carried_it_out_not_the_requests_stamp(
    ctx: EscalationContext, vault: FakeVault
) -> None:
    # A request consumed a day late: a signal produced meanwhile, had it been consumed before
    # the erasure, would have been erased with the rest; consumed after it, it is skipped too.
    uow = FakeEscalationUnitOfWork()
    await erase(uow, ctx, requested_at=ERASED_AT - timedelta(days=1))
    assert uow.tables.erased_people[ctx.erased_people.digest(ERIN)][0] == ERASED_AT
    meanwhile = ERASED_AT - HOUR
    await store_signals([at(signal("sig-1", meanwhile, person_id=ERIN), meanwhile)], uow, ctx)
    assert ERIN not in asked(vault)
    # A request stamped in the future holds back nothing produced after the erasure.
    await erase(uow, ctx, requested_at=NOW + timedelta(days=3), id_="er-2")
    assert uow.tables.erased_people[ctx.erased_people.digest(ERIN)][0] == ERASED_AT
    await store_signals([at(signal("sig-2", NOW, person_id=ERIN), NOW)], uow, ctx)
    assert ERIN in asked(vault)


async def test_erasing_again_keeps_one_digest_with_the_later_times(
    ctx: EscalationContext, clock: Clock, vault: FakeVault
) -> None:
    uow = await erin_was_erased(ctx)
    later = ERASED_AT + timedelta(minutes=30)
    await erase(uow, ctx, when=later, id_="er-2")
    await erase(uow, ctx, when=ERASED_AT - HOUR, id_="er-3")  # an earlier time never wins
    people = ctx.erased_people
    assert uow.tables.erased_people == {people.digest(ERIN): (later, later + people.keep_for)}

    # A signal produced between the first and the second erasure was erased by the second.
    between = ERASED_AT + timedelta(minutes=10)
    await store_signals([at(signal("sig-5", between, person_id=ERIN), between)], uow, ctx)
    assert ERIN not in asked(vault)


async def test_the_record_expires_with_the_topics_retention_and_then_signals_are_acted_on(
    ctx: EscalationContext, clock: Clock, vault: FakeVault
) -> None:
    uow = await erin_was_erased(ctx)
    people = ctx.erased_people
    clock.now = ERASED_AT + people.keep_for  # due, not yet deleted: no longer looked at
    old = ERASED_AT - HOUR
    await store_signals([at(signal("sig-1", old, person_id=ERIN), old)], uow, ctx)
    assert ERIN in asked(vault)

    async with uow:  # what the erased-ids expiry deletes then
        assert await uow.erasure.forget_erased(clock.now - timedelta(seconds=1), 1000) == 0
        assert await uow.erasure.forget_erased(clock.now, 1000) == 1
    assert uow.tables.erased_people == {}
    assert len(uow.tables.erased_ids) == 0  # Erin never checked in: no subject digests here


def test_a_consumed_record_carries_its_kafka_timestamp_not_the_bodys_time() -> None:
    produced = datetime.fromisoformat("2026-11-20T09:30:00.125+00:00")
    body = json.dumps(
        {
            "id": "sig-1",
            "person_id": ERIN,
            "kind": "critical_incident",
            "severity": 5,
            "occurred_at": "2030-01-01T00:00:00Z",
            "source": "incident-tool",
        }
    ).encode()

    millis = int(produced.timestamp() * 1000)
    records = [Timed(body, timestamp=millis), Timed(body, timestamp=-1), FakeRecord(body)]
    accepted, rejected = parse_signals([*records, FakeRecord(b"{}")])

    assert [item.event.produced_at for item in accepted] == [produced, None, None]
    assert all(item.event.signal.id == "sig-1" for item in accepted)
    assert [item.record for item in accepted] == records
    assert len(rejected) == 1 and rejected[0].reason["code"] == "validation_failed"
    assert produced_at(Timed(body, timestamp=True)) is None  # a bool is no time
    (subscription,) = [s for s in consumers.SUBSCRIPTIONS if s.purpose == "signals"]
    assert subscription.parse is parse_signals


def settings(**fields: Any) -> EscalationSettings:
    return EscalationSettings(env="dev", **({"dead_letter_key": "a" * 40} | fields))


def test_the_record_is_kept_as_long_as_the_ingestion_topics_by_person_id_keep_records() -> None:
    assert SIGNALS_SUBMITTED.retention_ms // DAY_MS == 7
    assert PERSON_KEEP_DAYS == 7 + SEGMENT_DAYS == 15  # a segment may outlive the retention
    assert settings().erased_people_days == 15
    assert settings().erased_people().keep_for == timedelta(days=15)
    assert settings().erased_people().kind == "person"
    assert settings(erased_people_days=30).erased_people().keep_for == timedelta(days=30)
    for bad in (0, 91):
        with pytest.raises(ValidationError):
            settings(erased_people_days=bad)


def test_the_key_is_derived_from_the_dead_letter_key_with_a_label_of_its_own() -> None:
    one, two = settings(), settings(dead_letter_key="b" * 40)
    key = one.erased_people().key
    assert key != two.erased_people().key and key == settings().erased_people().key
    assert key == derive_key(one.dead_letter_wrapping_key(), ERASED_PEOPLE_LABEL)
    assert key not in (one.dead_letter_wrapping_key(), one.erased_ids().key)
    assert ERASED_PEOPLE_LABEL != ERASED_IDS_LABEL and "escalation" in ERASED_PEOPLE_LABEL
    assert "key=" not in repr(one.erased_people())


CALLS: list[str] = []
"""The erasure's steps, in order (``Ordered``, ``OrderedCases``)."""


class Ordered(FakeErasure):
    """Notes which of the erasure's steps came first."""

    async def remember_erased_people(
        self, digests: Sequence[bytes], erased_at: datetime, until: datetime
    ) -> None:
        CALLS.append("remember_erased_people")
        await super().remember_erased_people(digests, erased_at, until)

    async def forget_person(self, person_id: str) -> dict[str, int]:
        CALLS.append("forget_person")
        return await super().forget_person(person_id)


class OrderedCases(FakeCases):
    async def assigned_to(self, responder_id: str | None, open_only: bool) -> list[StoredCase]:
        CALLS.append("assigned_to")
        return await super().assigned_to(responder_id, open_only)


async def test_the_erasure_records_the_person_before_it_reads_or_deletes_anything(
    ctx: EscalationContext,
) -> None:
    """The record is written first (taking the lock batches wait for): a batch that checked
    before it has committed by the time the erasure reads and deletes."""
    uow = FakeEscalationUnitOfWork()
    uow.erasure, uow.cases = Ordered(uow), OrderedCases(uow)
    CALLS.clear()
    await erase(uow, ctx)
    assert CALLS == ["remember_erased_people", "assigned_to", "forget_person"]
