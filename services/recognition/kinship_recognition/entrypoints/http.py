"""HTTP API of the recognition service."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel

from kinship_contracts.kudos import KudosSubmitted
from kinship_recognition import handlers
from kinship_recognition.bootstrap import RecognitionService
from kinship_recognition.domain.kudos import KudosRefusal
from kinship_runtime.auth import Caller


class KudosAccepted(BaseModel):
    """The kudos were accepted (or had been before)."""

    id: str
    status: Literal["accepted", "duplicate"]


def recognition_router(service: RecognitionService) -> APIRouter:
    """The service's routes."""
    router = APIRouter()
    authenticated = Depends(service.authenticator.dependency())

    @router.post("/v1/kudos", status_code=202, response_model=KudosAccepted, tags=["kudos"])
    async def give_kudos(
        kudos: KudosSubmitted, caller: Annotated[Caller, authenticated]
    ) -> KudosAccepted:
        """Kudos to a colleague: the same id again is accepted with no second effect."""
        if caller.person_id is not None and caller.person_id != kudos.from_person_id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="send kudos as yourself")
        async with service.store.unit() as unit:
            outcome = await handlers.give_kudos(unit, service.context, kudos)
        service.relay.wake()
        if outcome.refusal is KudosRefusal.DAILY_LIMIT:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                detail=f"at most {service.settings.kudos_daily_limit} kudos a day; try tomorrow",
            )
        if outcome.refusal is not None:
            field = "to_person_id" if outcome.refusal is KudosRefusal.SELF_KUDOS else "message"
            message = {
                KudosRefusal.SELF_KUDOS: "kudos go to someone else",
                KudosRefusal.EMPTY_MESSAGE: "the message is empty once markup is removed",
            }[outcome.refusal]
            detail = [{"loc": ["body", field], "msg": message, "type": outcome.refusal.value}]
            raise HTTPException(422, detail=detail)
        return KudosAccepted(id=kudos.id, status="duplicate" if outcome.duplicate else "accepted")

    return router
