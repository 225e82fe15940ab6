"""A responder's availability (issue 13): a peer responder or coordinator says they are away
until a time; until then they are not alerted (skipped like someone resting after a critical
case: the next one answers), and it ends by itself, or when they say they are back.

Only people the directory lists as peer responders or coordinators may say so, each about
themself; every change is audited, naming the person.
"""

from datetime import datetime, timedelta

from kinship_escalation.domain.cases import AuditRecord, NotAllowedError
from kinship_escalation.handlers.messages import person_actor
from kinship_escalation.handlers.ports import EscalationUnitOfWork

MAX_AHEAD = timedelta(days=90)
"""The furthest ahead someone may say they are away until."""
SET_ACTION = "away_set"
ENDED_ACTION = "away_ended"


class InvalidAwayError(ValueError):
    """An away time that cannot be: not in the future, or too far ahead."""


async def _check_staff(person_id: str, uow: EscalationUnitOfWork) -> None:
    member = await uow.directory.person(person_id)
    if member is None or not (member.responder or member.coordinator):
        raise NotAllowedError("only peer responders and coordinators can be away")


async def away_until(person_id: str, uow: EscalationUnitOfWork, now: datetime) -> datetime | None:
    """Until when ``person_id`` is away (None: they are not, or it has ended)."""
    await _check_staff(person_id, uow)
    until = await uow.workload.away_until(person_id)
    return until if until is not None and until > now else None


async def set_away(
    person_id: str, until: datetime, uow: EscalationUnitOfWork, now: datetime
) -> datetime:
    """``person_id`` is away until ``until`` (in the future, at most 90 days ahead);
    audited."""
    await _check_staff(person_id, uow)
    if until <= now:
        raise InvalidAwayError("the time you are away until must be in the future")
    if until > now + MAX_AHEAD:
        raise InvalidAwayError("you can be away for at most 90 days at a time")
    await uow.workload.set_away(person_id, until)
    await uow.cases.audit(AuditRecord(SET_ACTION, person_actor(person_id), (), (), at=now))
    return until


async def end_away(person_id: str, uow: EscalationUnitOfWork, now: datetime) -> None:
    """``person_id`` is back now (nothing changes when they were not away); audited when
    they were."""
    await _check_staff(person_id, uow)
    if await uow.workload.end_away(person_id):
        await uow.cases.audit(AuditRecord(ENDED_ACTION, person_actor(person_id), (), (), at=now))
