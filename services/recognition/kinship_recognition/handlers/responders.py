"""Responders: each case's facts kept for programme reports, and responders appreciated for
the cases they supported (milestones) and for thanks from the people they supported.

Only the responder is celebrated (by the subject id the vault gives them); the person
supported is never named, and the outcome of a case is not used for any award (a referral is
as much a success as a conversation).
"""

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from kinship_contracts.awards import AwardKind
from kinship_contracts.cases import CaseEvent, CaseEventKind
from kinship_recognition.domain.awards import Grant
from kinship_recognition.domain.kudos import THANKS_SCORE, supported_milestone
from kinship_recognition.handlers.awards import AwardTopics, give, publish_awards
from kinship_recognition.handlers.ports import RecognitionUnitOfWork, SubjectLookup
from kinship_recognition.metrics import ERASED_SKIPPED


async def record_case_events(
    events: Sequence[CaseEvent],
    uow: RecognitionUnitOfWork,
    topics: AwardTopics,
    vault: SubjectLookup,
    now: datetime,
    *,
    passed_over: Callable[[str, str], bool] = lambda event_id, responder: False,
    produced_at: Mapping[str, datetime | None] | None = None,
) -> None:
    """Fold each case transition into the case's facts and appreciate its responder, unless
    ``passed_over(event id, responder)`` (an erased responder named by a transition produced
    before their erasure: ``handlers.erasure.replayed_responder``).

    ``produced_at`` (by event id; from Kafka) dates each award by the transition that earned
    it: the vault refuses a responder it erased at or after it, and that award is not
    published (counted as passed over), even while this service's own erasure consumer
    lags; what was counted for them here goes when that erasure runs."""
    given: list[Grant] = []
    earned_at: dict[str, datetime | None] = {}  # grant key -> when its transition was produced
    for event in events:
        await uow.record_case_fact(event, now)
        before = len(given)
        if event.kind is CaseEventKind.RESOLVED and event.responder_id is not None:
            if not passed_over(event.id, event.responder_id):
                await _appreciate_support(event, event.responder_id, uow, given)
        elif _is_thanks(event):
            await _appreciate_thanks(event, uow, given, passed_over)
        if produced_at is not None:
            earned_at |= {grant.key: produced_at.get(event.id) for grant in given[before:]}
    skipped = await publish_awards(given, uow, topics, vault, now, produced_at=earned_at)
    if skipped:
        ERASED_SKIPPED.add(len(skipped), {"consumer": "cases"})


async def thanked_responders(events: Sequence[CaseEvent], uow: RecognitionUnitOfWork) -> set[str]:
    """Everyone ``record_case_events`` could appreciate for ``events``: the responders they
    name, and who resolved each thanked case (to look them up in one go)."""
    people = {event.responder_id for event in events if event.responder_id is not None}
    for event in events:
        if _is_thanks(event):
            resolver = await uow.responder_of(event.case_id)
            if resolver is not None:
                people.add(resolver)
    return people


def _is_thanks(event: CaseEvent) -> bool:
    """Feedback from the person supported that thanks their responder."""
    return (
        event.kind is CaseEventKind.FEEDBACK_RECEIVED
        and event.feedback_from == "person"
        and (event.feedback_score or 0) >= THANKS_SCORE
    )


async def _appreciate_support(
    event: CaseEvent, responder_id: str, uow: RecognitionUnitOfWork, given: list[Grant]
) -> None:
    """Count a resolved case once for its responder; celebrate their milestones."""
    if not await uow.add_supported_case(event.case_id, responder_id, event.occurred_at):
        return
    milestone = supported_milestone(await uow.supported_by(responder_id))
    if milestone is None:
        return
    title = (
        "Thank you for supporting a colleague"
        if milestone == 1
        else f"{milestone} colleagues supported"
    )
    grant = Grant(
        key=f"supported:{responder_id}:{milestone}",
        kind=AwardKind.RESPONDER_APPRECIATION,
        title=title,
        count=milestone,
        person_id=responder_id,
    )
    await give(grant, uow, given)


async def _appreciate_thanks(
    event: CaseEvent,
    uow: RecognitionUnitOfWork,
    given: list[Grant],
    passed_over: Callable[[str, str], bool],
) -> None:
    """Pass the thanks on to whoever resolved the case (or the event's responder)."""
    responder = await uow.responder_of(event.case_id) or event.responder_id
    if responder is None or passed_over(event.id, responder):
        return
    grant = Grant(
        key=f"thanks:{event.case_id}",
        kind=AwardKind.RESPONDER_APPRECIATION,
        title="Someone you supported says thank you",
        person_id=responder,
    )
    await give(grant, uow, given)
