"""Evaluation inputs: post-case feedback scores (from ``escalation.cases``) and pulse-survey
answers, kept for programme reports; neither is ever used for an award about a person."""

from collections.abc import Sequence

from kinship_contracts.cases import CaseEvent, CaseEventKind
from kinship_contracts.pulse import PulseSubmitted
from kinship_contracts.subjects import Pseudonymiser
from kinship_recognition.handlers.ports import RecognitionUnitOfWork


async def record_case_feedback(events: Sequence[CaseEvent], uow: RecognitionUnitOfWork) -> None:
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
            )


async def record_pulse(
    responses: Sequence[PulseSubmitted], uow: RecognitionUnitOfWork, pseudonyms: Pseudonymiser
) -> None:
    """Keep pulse answers under the respondent's pseudonym; their latest answers win."""
    for pulse in responses:
        await uow.add_pulse(pulse, pseudonyms.subject_id(pulse.person_id))
