"""Evaluation inputs: post-case feedback scores (from ``escalation.cases``) and pulse-survey
answers, kept for programme reports; neither is ever used for an award about a person."""

from collections.abc import Mapping, Sequence
from datetime import datetime

from kinship_contracts.cases import CaseEvent, CaseEventKind
from kinship_contracts.pulse import PulseSubmitted
from kinship_recognition.handlers.ports import RecognitionUnitOfWork, SubjectLookup
from kinship_recognition.metrics import ERASED_SKIPPED
from kinship_runtime.vault import SubjectsAsOf, newest


async def record_case_feedback(
    events: Sequence[CaseEvent], uow: RecognitionUnitOfWork, now: datetime
) -> None:
    """Keep each case's feedback score, once per side ('person' or 'responder')."""
    for event in events:
        if (
            event.kind is CaseEventKind.FEEDBACK_RECEIVED
            and event.feedback_from is not None
            and event.feedback_score is not None
        ):
            await uow.add_feedback(
                event.case_id,
                event.feedback_from,
                event.subject_id,
                event.feedback_score,
                event.occurred_at,
                now,
            )


async def record_pulse(
    responses: Sequence[PulseSubmitted],
    uow: RecognitionUnitOfWork,
    vault: SubjectLookup,
    now: datetime,
    produced_at: Mapping[str, datetime | None] | None = None,
) -> None:
    """Keep pulse answers under the respondent's subject id (the vault's, asked once for the
    batch and not kept beside the person id); their latest answers win while the week of
    their stored answers is open.

    ``produced_at`` (by response id; from Kafka, None without a timestamp) goes to the vault
    as each respondent's newest record time: an answer of a person the vault erased at or
    after its record was produced is skipped (counted, not stored), even while this
    service's own erasure consumer lags, and the vault mints them no new subject id."""
    if not responses:
        return
    produced = produced_at or {}
    people = sorted({pulse.person_id for pulse in responses})
    if produced:
        dated = newest(produced, {pulse.id: [pulse.person_id] for pulse in responses})
        answer = await vault.subjects_as_of(people, dated, purpose="pulse")
    else:
        answer = SubjectsAsOf(await vault.subjects(people, purpose="pulse"))
    kept = [
        p
        for p in responses
        if p.person_id in answer.subjects and not answer.replayed(p.person_id, produced.get(p.id))
    ]  # one without a timestamp of a person refused for a dated one has no subject id either
    if len(kept) < len(responses):
        ERASED_SKIPPED.add(len(responses) - len(kept), {"consumer": "pulse"})
    for pulse in sorted(kept, key=lambda p: p.occurred_at):
        await uow.add_pulse(pulse, answer.subjects[pulse.person_id], now)
