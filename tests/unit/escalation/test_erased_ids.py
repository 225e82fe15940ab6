"""Check-ins about an erased person consumed after their erasure (a backlog, a replay of
the check-in topics) are skipped, not observed again under their old subject id nor opening
a case about them; everybody else's still are. Over the in-memory ports."""

from datetime import timedelta

from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_escalation.entrypoints.consumers import store_checkins, store_erasures
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.erasure import erase_subject_sets
from kinship_escalation.settings import EscalationSettings
from tests.unit.escalation.conftest import NOW, STAFF, Clock, checkin, subject
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork

ERIN = "worker-1"


async def erase(uow: FakeEscalationUnitOfWork, ctx: EscalationContext, person: str) -> None:
    await store_erasures(
        [ErasureRequested(id="er-1", person_id=person, requested_at=NOW, source="hr")], uow, ctx
    )
    # As the vault serves it: the ids asked of the check-in service, not inline.
    opened = SubjectsErased(
        id="er-1:subjects",
        erasure_id="er-1",
        subject_ids=[subject(person)],
        occurred_at=NOW,
        subjects_in_vault=True,
    )
    async with uow:
        await erase_subject_sets([opened], uow, ctx)


def about(uow: FakeEscalationUnitOfWork, subject_id: str) -> list[str]:
    """Observations and cases kept under ``subject_id``."""
    t = uow.tables
    return [oid for oid, (s, _, _) in t.observations.items() if s == subject_id] + [
        cid for cid, stored in t.cases.items() if stored.case.subject_id == subject_id
    ]


def urgent(id_: str, person: str) -> CheckinRecorded:
    return checkin(id_, person, wants_contact=True)


async def test_a_checkin_replayed_after_the_erasure_is_skipped_and_opens_no_case(
    ctx: EscalationContext,
) -> None:
    uow = FakeEscalationUnitOfWork()
    async with uow:
        await uow.directory.apply(STAFF)  # responders to alert
    await store_checkins([urgent("c-1", ERIN)], uow, ctx)
    assert about(uow, subject(ERIN))  # the test is real: observed, and a case opened
    await erase(uow, ctx, ERIN)
    assert about(uow, subject(ERIN)) == []
    cases, alerts, outbox = dict(uow.tables.cases), dict(uow.tables.alerts), list(uow.tables.outbox)

    # The same check-in again (a replay), and someone else's in the same batch.
    await store_checkins([urgent("c-1", ERIN), urgent("c-2", "worker-2")], uow, ctx)

    assert about(uow, subject(ERIN)) == []
    new_alerts = [sent for a, sent in uow.tables.alerts.items() if a not in alerts]
    assert new_alerts and all(
        uow.tables.cases[sent.record.case_id].case.subject_id == subject("worker-2")
        for sent in new_alerts
    )
    new_cases = [stored.case.subject_id for c, stored in uow.tables.cases.items() if c not in cases]
    assert new_cases == [subject("worker-2")]  # only the other person's
    assert subject(ERIN).encode() not in b"".join(
        (m.key or b"") + (m.value or b"") for m in uow.tables.outbox[len(outbox) :]
    )


async def test_the_record_holds_keyed_hashes_and_expires_with_the_topics_retention(
    ctx: EscalationContext, clock: Clock
) -> None:
    uow = FakeEscalationUnitOfWork()
    await erase(uow, ctx, ERIN)
    erased = ctx.erased_ids
    assert uow.tables.erased_ids == {erased.digest(subject(ERIN)): NOW + erased.keep_for}
    assert subject(ERIN) not in repr(uow.tables.erased_ids)

    clock.now = NOW + erased.keep_for - timedelta(seconds=1)
    await store_checkins([checkin("c-late", ERIN, at=clock.now)], uow, ctx)
    assert about(uow, subject(ERIN)) == []

    async with uow:
        # Only her person id's digest (kept a week: the ingestion topics' retention) is due.
        assert await uow.erasure.forget_erased(clock.now, 1000) == 1
        assert uow.tables.erased_people == {} and len(uow.tables.erased_ids) == 1
        assert await uow.erasure.forget_erased(NOW + erased.keep_for, 1000) == 1
    clock.now = NOW + erased.keep_for
    await store_checkins([checkin("c-later", ERIN, at=clock.now)], uow, ctx)
    assert about(uow, subject(ERIN)) == ["c-later"]  # the topics have dropped hers by now


def test_the_key_is_the_services_own_and_the_time_a_bounded_setting() -> None:
    settings = EscalationSettings(env="dev", dead_letter_key="a" * 40)
    assert settings.erased_ids().keep_for == timedelta(
        days=30 + 8
    )  # retention + a segment outliving it
    assert settings.erased_ids().key != settings.dead_letter_wrapping_key()
    again = EscalationSettings(env="dev", dead_letter_key="a" * 40, erased_ids_days=7)
    assert again.erased_ids().key == settings.erased_ids().key
    assert again.erased_ids().keep_for == timedelta(days=7)


async def test_an_old_style_event_with_inline_ids_erases_but_records_nothing(
    ctx: EscalationContext,
) -> None:
    # Inline ids are not checked against the vault: one naming a person never erased must
    # not stop their check-ins (the urgent lane's too) being evaluated for 30 days.
    uow = FakeEscalationUnitOfWork()
    inline = SubjectsErased(
        id="er-9:subjects", erasure_id="er-9", subject_ids=[subject(ERIN)], occurred_at=NOW
    )
    async with uow:
        await erase_subject_sets([inline], uow, ctx)
    async with uow:
        await uow.directory.apply(STAFF)
    await store_checkins([urgent("c-9", ERIN)], uow, ctx)
    assert about(uow, subject(ERIN))
