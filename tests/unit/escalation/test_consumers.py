"""The Kafka subscriptions (``entrypoints.consumers``): what each topic's batch does, in one
unit of work, and which service dead-letters which topic."""

from datetime import timedelta

import pytest

from kinship_contracts.directory import DirectoryChange, OutreachPreference
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_escalation.domain.casework import PreferenceChange
from kinship_escalation.entrypoints.consumers import (
    SUBSCRIPTIONS,
    store_checkins,
    store_directory,
    store_erased_subjects,
    store_erasures,
    store_outreach,
    store_receipts,
    store_signals,
)
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.erasure import Consumed
from tests.unit.escalation.conftest import (
    NOW,
    RECEIPTS,
    STAFF,
    checkin,
    receipt,
    sent,
    signal,
    subject,
)
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork, FakeVault


@pytest.fixture
async def fresh() -> FakeEscalationUnitOfWork:
    """A unit of work not entered yet (the store functions enter it), with ``STAFF``."""
    work = FakeEscalationUnitOfWork()
    async with work:
        await work.directory.apply(STAFF)
    return work


def test_subscriptions_name_their_consumers_and_dead_letter_owners() -> None:
    declared = [(s.topic.name, s.purpose, s.topic.dead_letter_owner) for s in SUBSCRIPTIONS]
    assert declared == [
        ("wellbeing.checkins.recorded", "checkins", "escalation"),
        ("wellbeing.checkins.urgent", "urgent", "escalation"),
        ("wellbeing.signals.submitted", "signals", "escalation"),
        ("notifications.receipts", "receipts", "escalation"),
        ("directory.people", "directory", "checkin"),
        ("privacy.outreach.preferences", "outreach", "escalation"),
        ("privacy.erasure.requested", "erasure", "checkin"),
        ("privacy.erasure.subjects", "erasure-subjects", "escalation"),
    ]


async def test_a_batch_of_checkins_is_evaluated_and_committed_in_one_unit_of_work(
    fresh: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    event = checkin("c-1", wants_contact=True)
    await store_checkins([event], fresh, ctx)
    await store_checkins([event], fresh, ctx)  # the urgent lane's copy, or a redelivery
    assert fresh.commits == 3
    assert len(fresh.tables.cases) == 1
    assert sent(fresh).alerted() == [("resp-a", 1)]


async def test_a_batch_that_fails_leaves_nothing_behind_for_ingest_to_retry_record_by_record(
    fresh: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    # A record the handlers cannot use (no time), after a good one in the same batch.
    broken = checkin("c-2", wants_contact=True).model_copy(update={"occurred_at": None})
    with pytest.raises(TypeError):
        await store_checkins([checkin("c-1", wants_contact=True), broken], fresh, ctx)
    assert fresh.rollbacks == 1
    assert fresh.tables.observations == {}
    assert fresh.tables.outbox == []


async def test_a_signal_delivered_again_is_acted_on_once(
    fresh: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    incident = Consumed(signal("sig-1", NOW - timedelta(minutes=5), person_id="worker-1"), NOW)
    await store_signals([incident, incident], fresh, ctx)
    await store_signals([incident], fresh, ctx)
    assert len(sent(fresh).proposals) == 1
    assert ("signals", "sig-1") in fresh.tables.processed


async def test_a_receipt_delivered_again_is_acted_on_once(
    fresh: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await store_checkins([checkin("c-1", wants_contact=True)], fresh, ctx)
    (alert_id,) = fresh.tables.alerts
    failed = receipt(alert_id)
    await store_receipts([failed], fresh, ctx)
    await store_receipts([failed], fresh, ctx)
    assert sent(fresh).alerted() == [("resp-a", 1), ("resp-b", 2)]
    assert ("receipts", failed.id) in fresh.tables.processed


async def test_directory_changes_are_applied(fresh: FakeEscalationUnitOfWork) -> None:
    await store_directory([DirectoryChange("resp-a", None)], fresh)
    assert "resp-a" not in fresh.tables.people
    assert fresh.commits == 2


async def test_both_halves_of_an_erasure_each_once_then_one_receipt(
    fresh: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await store_checkins([checkin("c-1", "worker-1", wants_contact=True)], fresh, ctx)
    request = ErasureRequested(
        id="er-1", person_id="worker-1", requested_at=NOW, source="hr-portal"
    )
    subjects = SubjectsErased(
        id="er-1:subjects", erasure_id="er-1", subject_ids=[subject("worker-1")], occurred_at=NOW
    )
    await store_erasures([request, request], fresh, ctx)
    await store_erasures([request], fresh, ctx)
    assert fresh.published(RECEIPTS) == []  # one half is not a receipt
    await store_erased_subjects([subjects], fresh, ctx)
    await store_erased_subjects([subjects, subjects], fresh, ctx)
    (receipt_sent,) = fresh.published(RECEIPTS)
    assert (receipt_sent["erasure_id"], receipt_sent["service"]) == ("er-1", "escalation")
    assert receipt_sent["removed"]["open_cases_closed"] == 1
    assert {("erasure", "er-1"), ("erasure-subjects", "er-1:subjects")} <= fresh.tables.processed


async def test_the_subjects_of_an_erasure_are_asked_of_the_vault_while_it_is_open(
    fresh: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault
) -> None:
    await store_checkins([checkin("c-1", "worker-1", wants_contact=True)], fresh, ctx)
    announced = SubjectsErased(
        id="er-1:subjects", erasure_id="er-1", occurred_at=NOW, subjects_in_vault=True
    )
    # Closed already (a replay after completion): nothing is erased, no receipt.
    await store_erased_subjects([announced], fresh, ctx)
    assert fresh.tables.processed.isdisjoint({("erasure-subjects", "er-1:subjects")})
    # Open: the ids come from the vault, never from the event.
    vault.erasures["er-1"] = [subject("worker-1")]
    await store_erasures(
        [ErasureRequested(id="er-1", person_id="worker-1", requested_at=NOW, source="hr")],
        fresh,
        ctx,
    )
    await store_erased_subjects([announced], fresh, ctx)
    (receipt_sent,) = fresh.published(RECEIPTS)
    assert receipt_sent["removed"]["open_cases_closed"] == 1


async def test_outreach_preferences_are_kept_in_one_unit_of_work(
    fresh: FakeEscalationUnitOfWork,
) -> None:
    who = subject("worker-1")
    await store_outreach([PreferenceChange(who, OutreachPreference.WELCOME, NOW)], fresh)
    assert fresh.commits == 2
    async with fresh:
        assert await fresh.preferences.of(who) is OutreachPreference.WELCOME


async def test_shared_notes_are_remembered_with_the_checkins_that_carry_them(
    fresh: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    shared = checkin("c-1", wants_contact=True).model_copy(update={"note_shared": True})
    await store_checkins([shared, checkin("c-2", mood=3)], fresh, ctx)
    assert fresh.tables.shared_notes == {"c-1"}
