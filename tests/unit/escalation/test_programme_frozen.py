"""Programme weeks frozen at first read (``handlers.programme``): a closed week is served as
first computed, and erasure anonymises what the weeks count instead of deleting it, so a
reading before and after someone's erasure cannot be subtracted to give their score."""

from datetime import UTC, datetime, time, timedelta

from kinship_contracts.cases import CaseOutcome
from kinship_contracts.privacy import SubjectsErased
from kinship_escalation.domain.programme import programme_measures
from kinship_escalation.handlers.cases import acknowledge, resolve
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.erasure import erase_subject_sets
from kinship_escalation.handlers.feedback import give_feedback
from kinship_escalation.handlers.programme import programme_report
from tests.unit.escalation.conftest import NOW, Clock, checkin, subject
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork

WORKERS = [f"worker-{n}" for n in range(1, 7)]


async def six_people_gave_feedback(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> dict[str, str]:
    """Six cases opened, resolved and scored by their people this week (worker-6 gives 1)."""
    cases: dict[str, str] = {}
    for n, worker in enumerate(WORKERS, start=1):
        await handle_checkins([checkin(f"c-{n}", worker, wants_contact=True)], uow, ctx)
        (case_id,) = set(uow.tables.cases) - set(cases.values())
        responder = uow.tables.cases[case_id].case.responder_id
        assert responder is not None
        await acknowledge(case_id, responder, uow, ctx)
        await resolve(case_id, responder, CaseOutcome.SUPPORTED, uow, ctx)
        assert await give_feedback(case_id, "person", 1 if n == 6 else 5, worker, uow, ctx)
        cases[worker] = case_id
    return cases


async def test_a_week_read_before_and_after_an_erasure_is_the_same(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await six_people_gave_feedback(uow, ctx)
    monday = datetime.combine(NOW.date() - timedelta(days=NOW.weekday()), time(), UTC)
    clock.now = monday + timedelta(weeks=2, days=1)
    before = await programme_report(uow, 4, clock.now)
    (week,) = [w for w in before.weeks if w.week == monday.date()]
    assert week.model_dump()["feedback"]["person"] == {"count": 6, "mean_score": 4.33}

    await erase_subject_sets(
        [
            SubjectsErased(
                id="e:s", erasure_id="e", subject_ids=[subject("worker-6")], occurred_at=clock.now
            )
        ],
        uow,
        ctx,
    )
    # Anonymised, not deleted: recomputed, the week is the same (so a copy computed after
    # the erasure, here or in the recognition service, cannot be set against this one).
    recomputed = programme_measures(
        await uow.cases.programme_facts(monday, clock.now), clock.now, 4
    )
    assert recomputed == before
    after = await programme_report(uow, 4, clock.now)
    assert after == before


async def test_a_later_read_serves_older_weeks_as_stored_and_computes_new_ones(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await six_people_gave_feedback(uow, ctx)
    monday = datetime.combine(NOW.date() - timedelta(days=NOW.weekday()), time(), UTC)
    clock.now = monday + timedelta(weeks=1, hours=2)  # the week has just closed
    first = await programme_report(uow, 1, clock.now)
    assert [w.week for w in first.weeks] == [monday.date()]
    assert set(uow.tables.programme_weeks) == {monday.date()}
    clock.now += timedelta(weeks=3)
    later = await programme_report(uow, 4, clock.now)
    assert [w.week for w in later.weeks] == [(monday + timedelta(weeks=n)).date() for n in range(4)]
    assert later.weeks[0] == first.weeks[0]
    assert set(uow.tables.programme_weeks) == {w.week for w in later.weeks}
    assert later.start == monday.date() and later.end == (monday + timedelta(weeks=4)).date()
