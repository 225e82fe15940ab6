"""``PUT`` and ``DELETE /v1/directory/people/{person_id}``: an HR system keeps the
organisation directory over HTTP, as it may on the compacted ``directory.people``.

Calling systems only, with ``directory:publish``: the directory gives people their roles
(responder, coordinator, team manager) and responders their alert channels, so no person's
token may change it, a coordinator's neither (403). ``PUT`` takes the topic's value (the
contract's ``DirectoryPerson``) and the path's id must be the body's (422 otherwise);
``DELETE`` removes the person (a tombstone). Both are queued through the outbox
(``handlers.directory_intake``) and answered 202: every service, this one included, applies
the change when its consumer reads it, so it shows within moments, not at once. A PUT or
DELETE repeated changes nothing more (the topic holds a person's latest record).

Hosted by the check-in service: it already produces on ``directory.people`` (an erasure's
tombstone), owns the topic's dead letters, and is the service HR systems call for erasures.
Counted against the submission rate limits per key. Nothing of the record is logged.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from dishka import FromDishka
from dishka.integrations.fastapi import DishkaRoute
from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel

from kinship_checkin.handlers.directory_intake import publish_person, remove_person
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.directory import DirectoryPerson
from kinship_contracts.topics import DIRECTORY_PEOPLE
from kinship_runtime.access import Actor, allow
from kinship_runtime.identity import Scope
from kinship_runtime.outbox import OutboxRelay

PublishDirectory = Annotated[
    Actor, Depends(allow(scopes=[Scope.DIRECTORY_PUBLISH], rate_limited=True))
]
"""Calling systems with ``directory:publish`` (the HR system); never a person."""

PersonId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]

REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown API key"},
    403: {"description": "A person's token, or a key without directory:publish"},
    422: {"description": "Invalid (the fields named, never quoted)"},
    429: {"description": "Over the key's submission rate limit"},
}


class DirectoryAccepted(BaseModel):
    """The change is queued for ``directory.people``; every service applies it shortly."""

    person_id: str
    status: Literal["accepted"] = "accepted"
    removed: bool


directory_routes = APIRouter(prefix="/v1/directory", route_class=DishkaRoute, tags=["directory"])


@directory_routes.put(
    "/people/{person_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DirectoryAccepted,
    summary="Add or replace a person in the directory",
    responses=REFUSALS,
)
async def put_person(
    person_id: PersonId,
    person: DirectoryPerson,
    _actor: PublishDirectory,
    uow: FromDishka[CheckinUnitOfWork],
    settings: FromDishka[CheckinSettings],
    relay: FromDishka[OutboxRelay],
) -> DirectoryAccepted:
    """The person's whole record, as a ``directory.people`` value (it replaces the last)."""
    if person.person_id != person_id:
        detail = [
            {
                "loc": ["body", "person_id"],
                "msg": "must be the person id in the path",
                "type": "path_mismatch",
            }
        ]
        raise HTTPException(422, detail=detail)
    async with uow:
        await publish_person(person, uow, settings.topic(DIRECTORY_PEOPLE), datetime.now(UTC))
    relay.wake()
    return DirectoryAccepted(person_id=person_id, removed=False)


@directory_routes.delete(
    "/people/{person_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DirectoryAccepted,
    summary="Remove a person from the directory (a tombstone)",
    responses=REFUSALS,
)
async def delete_person(
    person_id: PersonId,
    _actor: PublishDirectory,
    uow: FromDishka[CheckinUnitOfWork],
    settings: FromDishka[CheckinSettings],
    relay: FromDishka[OutboxRelay],
) -> DirectoryAccepted:
    """The person leaves the directory: a tombstone, applied by every service as a removal.
    It is not an erasure (``POST /v1/people/{person_id}/erasure`` forgets what Kinship
    keeps about them)."""
    async with uow:
        await remove_person(person_id, uow, settings.topic(DIRECTORY_PEOPLE))
    relay.wake()
    return DirectoryAccepted(person_id=person_id, removed=True)
