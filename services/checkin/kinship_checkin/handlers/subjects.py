"""The vault's guarded answers to Kinship's own services: the only way back from a pseudonym.

- ``lookup``: a person's subject id, for a service that knows the person already (one-way).
- ``screen``: which of some staff is the subject of a case (no one is paged about themself).
- ``resolve_for_delivery``: the person behind a subject, for delivering one message.

Every answer is audited (the calling key, the purpose it states and how many people it asked
about; never the people) and bounded: each call asks about at most as many people as its
largest real use needs (``LOOKUP_MAX_IDS``, ``LOOKUP_EXISTING_MAX_IDS``, ``SCREEN_MAX_IDS``);
the HTTP routes also rate-limit each calling key (ids per window).
"""

from collections.abc import Sequence

from kinship_checkin.handlers.ports import CheckinUnitOfWork

LOOKUP_MAX_IDS = 1000
"""People per lookup that may be given a subject id: one consumed batch of pulse answers,
signals (a team's members each) or awards (a team's members each), which the calling services
split at this size (``kinship_runtime.vault``)."""
LOOKUP_EXISTING_MAX_IDS = 1
"""People per lookup that must not be given one (``create=false``): only ever the person asking
for their own data or streak."""
SCREEN_MAX_IDS = 500
"""People per screen: an alert's candidates (every coordinator, every peer responder, one
on-call layer, or the people a policy names) or one feedback giver; larger pools are split."""
UNSTATED = "unstated"


class TooManyIdsError(ValueError):
    """A call asked about more people than its use needs (the message says the limit)."""

    def __init__(self, limit: int, what: str) -> None:
        super().__init__(f"at most {limit} person_ids per call {what}")
        self.limit = limit


def lookup_limit(create: bool) -> int:
    """How many people one lookup may ask about."""
    return LOOKUP_MAX_IDS if create else LOOKUP_EXISTING_MAX_IDS


async def lookup_subjects(
    person_ids: Sequence[str],
    uow: CheckinUnitOfWork,
    *,
    create: bool = True,
    actor: str,
    purpose: str = UNSTATED,
) -> dict[str, str]:
    """Each person's subject id (people seen for the first time get a new random one, unless
    ``create`` is false: then they are left out); audited as one record per call."""
    wanted = sorted(set(person_ids))
    limit = lookup_limit(create)
    if len(wanted) > limit:
        raise TooManyIdsError(limit, "with create=true" if create else "with create=false")
    found = await uow.subjects_for(wanted, create=create)
    await uow.audit(
        "lookup",
        actor,
        detail={"purpose": purpose, "count": len(wanted), "answered": len(found), "create": create},
    )
    return found


async def screen(
    subject_id: str,
    person_ids: Sequence[str],
    uow: CheckinUnitOfWork,
    *,
    actor: str,
    purpose: str = UNSTATED,
) -> list[str]:
    """Those of ``person_ids`` who are the subject ``subject_id`` (at most one); audited as
    one record per call, concerning that subject (as a delivery resolution does)."""
    wanted = sorted(set(person_ids))
    if len(wanted) > SCREEN_MAX_IDS:
        raise TooManyIdsError(SCREEN_MAX_IDS, "to screen")
    subjects = await uow.subjects_for(wanted, create=False)
    conflicts = sorted(person for person, subject in subjects.items() if subject == subject_id)
    await uow.audit(
        "screen",
        actor,
        subject_id=subject_id,
        detail={"purpose": purpose, "count": len(wanted), "conflicts": len(conflicts)},
    )
    return conflicts


async def resolve_for_delivery(
    subject_id: str, request_id: str, actor: str, uow: CheckinUnitOfWork
) -> str | None:
    """The person to deliver request ``request_id`` to; the resolution is audited."""
    person_id = await uow.person_of(subject_id)
    await uow.audit(
        "resolve_for_delivery",
        actor,
        subject_id=subject_id,
        detail={"request_id": request_id, "found": person_id is not None},
    )
    return person_id
