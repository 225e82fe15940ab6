"""HTTP API of the notifications service: preferences and delivery status."""

from datetime import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from kinship_notifications.bootstrap import NotificationService
from kinship_notifications.domain.policy import Preferences
from kinship_runtime.auth import Caller


class PreferencesBody(BaseModel):
    """A person's delivery preferences. Quiet hours never apply to critical alerts."""

    model_config = ConfigDict(extra="forbid")

    locale: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    quiet_start: time | None = Field(default=None, description="Local time, e.g. 22:00.")
    quiet_end: time | None = Field(default=None, description="Local time, e.g. 07:00.")
    recognition_opt_out: bool = Field(default=False, description="No celebration messages.")
    max_per_day: int = Field(default=5, ge=0, le=100, description="Non-critical messages.")


def _may_manage(caller: Caller, person_id: str) -> None:
    if not (caller.is_system or caller.person_id == person_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only for your own preferences")


def notifications_router(service: NotificationService) -> APIRouter:
    """The service's routes."""
    router = APIRouter()
    authenticated = Depends(service.authenticator.dependency())

    @router.put("/v1/preferences/{person_id}", tags=["preferences"], response_model=PreferencesBody)
    async def put_preferences(
        person_id: str, body: PreferencesBody, caller: Annotated[Caller, authenticated]
    ) -> PreferencesBody:
        """Set a person's locale, quiet hours, opt-outs and daily limit."""
        _may_manage(caller, person_id)
        await service.store.save_preferences(person_id, Preferences(**body.model_dump()))
        return body

    @router.get("/v1/preferences/{person_id}", tags=["preferences"], response_model=PreferencesBody)
    async def get_preferences(
        person_id: str, caller: Annotated[Caller, authenticated]
    ) -> PreferencesBody:
        """A person's preferences (the defaults when none were set)."""
        _may_manage(caller, person_id)
        preferences = await service.store.preferences(person_id)
        return PreferencesBody(**preferences.__dict__)

    @router.get("/v1/deliveries/{delivery_id}", tags=["deliveries"])
    async def delivery(
        delivery_id: str, caller: Annotated[Caller, authenticated]
    ) -> dict[str, object]:
        """Where a delivery stands (operators, systems): status and attempts, no content."""
        if not caller.is_system:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="systems only")
        found = await service.store.delivery_status(delivery_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no delivery {delivery_id}")
        return found

    return router
