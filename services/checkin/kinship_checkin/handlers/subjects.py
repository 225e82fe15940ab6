"""The vault's guarded answers to Kinship's own services: the only way back from a pseudonym.

- ``lookup``: a person's subject id, for a service that knows the person already (one-way).
- ``screen``: which of some staff is the subject of a case (no one is paged about themself).
- ``resolve_for_delivery``: the person behind a subject, for delivering one message; audited.
"""

from collections.abc import Sequence

from kinship_checkin.handlers.ports import CheckinUnitOfWork


async def lookup_subjects(
    person_ids: Sequence[str], uow: CheckinUnitOfWork, *, create: bool = True
) -> dict[str, str]:
    """Each person's subject id (people seen for the first time get a new random one, unless
    ``create`` is false: then they are left out)."""
    return await uow.subjects_for(sorted(set(person_ids)), create=create)


async def screen(subject_id: str, person_ids: Sequence[str], uow: CheckinUnitOfWork) -> list[str]:
    """Those of ``person_ids`` who are the subject ``subject_id`` (at most one)."""
    subjects = await uow.subjects_for(sorted(set(person_ids)), create=False)
    return sorted(person for person, subject in subjects.items() if subject == subject_id)


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
