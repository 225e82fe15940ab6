"""The same programme week from the escalation service (``GET /v1/metrics/programme``) and
the recognition service (``GET /v1/reports/programme``), each frozen at its own first read,
with erasures between the two reads (review 3, H1; decision 76).

Both publish each side's feedback count and mean and the cases opened. Were an erasure to
delete the erased person's rows, the copy read after it would differ from the one read
before by exactly that person: their score by subtraction, and that they had a case. Both
services anonymise instead, so the copies agree whenever each is first read. The events
escalation publishes are relayed to recognition's handlers as its consumers would."""

from datetime import UTC, datetime, time, timedelta

from kinship_contracts.cases import CaseEvent, CaseOutcome
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_escalation.domain.programme import WITHHELD, programme_measures
from kinship_escalation.handlers.cases import acknowledge, resolve
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.erasure import erase_people as escalation_erase_people
from kinship_escalation.handlers.erasure import erase_subject_sets
from kinship_escalation.handlers.feedback import give_feedback
from kinship_escalation.handlers.programme import programme_report as escalation_report
from kinship_recognition.domain.reports import Window
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.erasure import ErasureTopics, erase_people, erase_subjects
from kinship_recognition.handlers.feedback import record_case_feedback
from kinship_recognition.handlers.reports import programme_report as recognition_report
from kinship_recognition.handlers.responders import record_case_events
from tests.unit.escalation.conftest import CASES, NOW, Clock, checkin, subject
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork
from tests.unit.fakes.recognition import (
    ERASED_IDS,
    FakeRecognitionUnitOfWork,
    FakeVault,
    Person,
)

WORKERS = [f"worker-{n}" for n in range(1, 6)]
"""Five people: k is 5, so two erased people merged into one would withhold every cell."""

SCORES = {"worker-1": 5, "worker-2": 4, "worker-3": 5, "worker-4": 5, "worker-5": 1}
MONDAY = datetime.combine(NOW.date() - timedelta(days=NOW.weekday()), time(), UTC)
ESCALATION_READ = MONDAY + timedelta(weeks=1, hours=2)  # closed there (1 h grace)
RECOGNITION_READ = MONDAY + timedelta(weeks=1, days=1, hours=1)  # closed there (1 day)


async def five_people_gave_feedback(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> dict[str, str]:
    """A case for each of five people this week, acknowledged, resolved and scored by its
    person; returns their case ids."""
    cases: dict[str, str] = {}
    for n, worker in enumerate(WORKERS, start=1):
        clock.advance(minutes=10)
        await handle_checkins([checkin(f"c-{n}", worker, clock.now, wants_contact=True)], uow, ctx)
        (case_id,) = set(uow.tables.cases) - set(cases.values())
        responder = uow.tables.cases[case_id].case.responder_id
        assert responder is not None
        await acknowledge(case_id, responder, uow, ctx)
        await resolve(case_id, responder, CaseOutcome.SUPPORTED, uow, ctx)
        assert await give_feedback(case_id, "person", SCORES[worker], worker, uow, ctx)
        cases[worker] = case_id
    return cases


async def relayed(escalation: FakeEscalationUnitOfWork) -> FakeRecognitionUnitOfWork:
    """Recognition, having consumed every case transition escalation published, each as it
    happened."""
    recognition = FakeRecognitionUnitOfWork({w: Person("team-x") for w in WORKERS})
    topics = AwardTopics("awards", "requests", b"r" * 32)
    events = [CaseEvent.model_validate(m) for m in escalation.published(CASES) if "sequence" in m]
    assert events
    async with recognition:
        for event in events:
            await record_case_events([event], recognition, topics, FakeVault(), event.occurred_at)
            await record_case_feedback([event], recognition, event.occurred_at)
    return recognition


async def erase(
    who: str,
    escalation: FakeEscalationUnitOfWork,
    recognition: FakeRecognitionUnitOfWork,
    ctx: EscalationContext,
) -> None:
    """Both halves of one person's erasure (an id of its own), in both services."""
    erasure = f"er-{WORKERS.index(who)}"
    asked = ErasureRequested(id=erasure, person_id=who, requested_at=NOW, source="hr")
    gone = SubjectsErased(
        id=f"{erasure}:s", erasure_id=erasure, subject_ids=[subject(who)], occurred_at=NOW
    )
    await escalation_erase_people([asked], escalation, ctx)
    await erase_subject_sets([gone], escalation, ctx)
    async with recognition:
        await erase_people([asked], recognition, ErasureTopics("receipts"), NOW)
        await erase_subjects([gone], recognition, ErasureTopics("receipts"), ERASED_IDS, NOW)


async def test_copies_first_read_either_side_of_erasures_agree_and_give_nobody_away(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    cases = await five_people_gave_feedback(uow, ctx, clock)
    recognition = await relayed(uow)
    thanked = {key for key in recognition.awards if key.startswith("thanks:")}
    assert f"thanks:{cases['worker-4']}" in thanked and len(recognition.supported) == 5

    # Escalation's copy is first read Monday 02:00, with everyone present.
    (esc,) = (await escalation_report(uow, 1, ESCALATION_READ)).weeks
    assert esc.week == MONDAY.date()
    assert esc.model_dump()["feedback"]["person"] == {"count": 5, "mean_score": 4.0}
    assert esc.cases_opened == 5

    # Two people are erased (two erasures) before recognition's copy is first read.
    clock.now = ESCALATION_READ + timedelta(hours=10)
    await erase("worker-5", uow, recognition, ctx)
    await erase("worker-4", uow, recognition, ctx)
    async with recognition:
        (rec,) = (await recognition_report(recognition, 1, None, RECOGNITION_READ)).weeks

    # The shared cells agree: nothing to subtract, and still shown (five distinct people).
    assert rec.week == esc.week
    assert "person" in rec.satisfaction and rec.cases is not None and not rec.withheld
    assert esc.feedback["person"] != WITHHELD
    assert (rec.satisfaction["person"].responses, rec.satisfaction["person"].mean_score) == (
        esc.feedback["person"].count,
        esc.feedback["person"].mean_score,
    )
    assert rec.cases.opened == esc.cases_opened == 5

    # Escalation recomputed now is its stored copy: each erased person is still one
    # distinct person (two stand-ins, not one merged "erased"), their feedback still counted.
    facts = await uow.cases.programme_facts(MONDAY, RECOGNITION_READ)
    assert len({f.subject for f in facts}) == 5
    assert programme_measures(facts, ESCALATION_READ, 1).weeks == [esc]
    window = Window.closed(RECOGNITION_READ, 1)
    async with recognition:
        (feedback,) = await recognition.feedback(window)
        (opened,) = await recognition.cases(window)
    assert (feedback.responses, feedback.people, opened.opened, opened.people) == (5, 5, 5, 5)

    # And no row left names them: not their person id, subject id or (in recognition,
    # where nothing else keeps it) their cases' ids.
    kept = repr([getattr(recognition, name) for name in recognition._STATE if name != "outbox"])
    for who in ("worker-4", "worker-5"):
        assert who not in kept and subject(who) not in kept and cases[who] not in kept
        assert subject(who) not in repr(uow.tables.cases)
    assert subject("worker-1") in kept and cases["worker-1"] in kept
    # Their responders keep their counts and thanks, under stand-ins for the case ids.
    assert len(recognition.supported) == 5
    assert len({key for key in recognition.awards if key.startswith("thanks:")}) == len(thanked)
