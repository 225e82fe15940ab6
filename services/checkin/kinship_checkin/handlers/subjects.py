"""The vault's guarded answers to Kinship's own services: the only way back from a pseudonym.

- ``lookup``: a person's subject id, for a service that knows the person already (one-way);
  never for an event about a person produced at or before their erasure (``produced_at``).
- ``screen``: which of some staff is the subject of a case (no one is paged about themself).
- ``resolve_for_delivery``: the person behind a subject, for delivering one message.

Every answer is audited (the calling key, the purpose it states and how many people it asked
about; never the people) and bounded: each call asks about at most as many people as its
largest real use needs (``LOOKUP_MAX_IDS``, ``LOOKUP_EXISTING_MAX_IDS``, ``SCREEN_MAX_IDS``);
the HTTP routes also rate-limit each calling key (ids per window).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_runtime.erased_ids import ErasedIds

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


@dataclass(frozen=True)
class Lookup:
    """A lookup's answer: each person's subject id, but for the people refused.

    ``erased_at`` holds, for each person asked about with a ``produced_at`` whom this service
    erased (as far as its record of erased people still keeps it), when: the caller skips
    each of that person's events produced at or before it. ``refused`` are those of them
    whose newest event is at or before it: they are left out of ``subjects`` (no subject id
    is made for them, and none made since is answered: it belongs to what they did after).
    """

    subjects: dict[str, str]
    refused: list[str] = field(default_factory=list)
    erased_at: dict[str, datetime] = field(default_factory=dict)


async def lookup_subjects(
    person_ids: Sequence[str],
    uow: CheckinUnitOfWork,
    *,
    create: bool = True,
    actor: str,
    purpose: str = UNSTATED,
    produced_at: Mapping[str, datetime] | None = None,
    erased: ErasedIds | None = None,
    now: datetime | None = None,
) -> Lookup:
    """Each person's subject id (people seen for the first time get a new random one, unless
    ``create`` is false: then they are left out); audited as one record per call.

    ``produced_at`` (person → when the newest event the caller holds about them was
    produced; people left out are answered as before) makes the lookup refuse a person
    erased at or after that time (``erased``, this service's record of erased person ids,
    checked at ``now`` first in the transaction: it waits for an erasure in progress, which
    holds the record's lock, decision 79). A caller whose erasure consumer lags would
    otherwise be given a new subject id for the erased person's old event, and what it
    stored under it would outlive the erasure (review 7, gap 1)."""
    wanted = sorted(set(person_ids))
    limit = lookup_limit(create)
    if len(wanted) > limit:
        raise TooManyIdsError(limit, "with create=true" if create else "with create=false")
    asked = set(wanted)
    dated = {person: at for person, at in (produced_at or {}).items() if person in asked}
    erased_at: dict[str, datetime] = {}
    if dated:
        if erased is None or now is None:
            raise ValueError("a lookup with produced_at needs the record of erased people")
        found = await uow.erased_since(erased.digests(dated), now)
        erased_at = {p: found[erased.digest(p)] for p in sorted(dated) if erased.digest(p) in found}
    refused = [person for person, at in erased_at.items() if dated[person] <= at]
    answerable = sorted(asked - set(refused))
    found_subjects = await uow.subjects_for(answerable, create=create) if answerable else {}
    detail: dict[str, object] = {
        "purpose": purpose,
        "count": len(wanted),
        "answered": len(found_subjects),
        "create": create,
    }
    if dated:
        detail |= {"dated": len(dated), "refused": len(refused)}
    await uow.audit("lookup", actor, detail=detail)
    return Lookup(found_subjects, refused, erased_at)


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
