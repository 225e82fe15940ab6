"""Evaluation inputs: post-case feedback scores (from ``escalation.cases``) and pulse-survey
answers, kept for programme reports; neither is ever used for an award about a person."""

from collections.abc import Sequence
from datetime import datetime

from kinship_contracts.cases import CaseEvent, CaseEventKind
from kinship_contracts.pulse import PulseSubmitted
from kinship_recognition.handlers.ports import RecognitionUnitOfWork, SubjectLookup


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
) -> None:
    """Keep pulse answers under the respondent's subject id (the vault's, asked once for the
    batch and not kept beside the person id); their latest answers win while the week of
    their stored answers is open."""
    if not responses:
        return
    subjects = await vault.subjects(
        sorted({pulse.person_id for pulse in responses}), purpose="pulse"
    )
    for pulse in sorted(responses, key=lambda p: p.occurred_at):
        await uow.add_pulse(pulse, subjects[pulse.person_id], now)
