"""HTTP API of the notifications service: preferences and delivery status.

Every route states who may call it (``kinship_runtime.access``): preferences are for people
(their own; a coordinator may read anyone's), delivery status for coordinators; an API key
never reaches either. The row-level rules are the handlers'.
"""

import dataclasses
from datetime import time
from typing import Annotated

from dishka import FromDishka
from dishka.integrations.fastapi import DishkaRoute
from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from kinship_contracts.directory import Role
from kinship_notifications.domain.policy import Preferences
from kinship_notifications.handlers.ports import NotificationsUnitOfWork
from kinship_notifications.handlers.preferences import (
    NotYourPreferencesError,
    preferences_of,
    set_preferences,
)
from kinship_notifications.handlers.status import CoordinatorsOnlyError, delivery_state
from kinship_runtime.access import Actor, allow, forbidden

People = Annotated[Actor, Depends(allow(everyone=True))]
"""Any signed-in person (the handlers allow only their own preferences, or coordinators)."""
Coordinators = Annotated[Actor, Depends(allow(roles=[Role.COORDINATOR]))]

PersonId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
DeliveryId = Annotated[str, Path(min_length=1, max_length=300, pattern=r"^[\x21-\x7e]+$")]


class PreferencesBody(BaseModel):
    """A person's delivery preferences. Quiet hours never apply to critical alerts."""

    model_config = ConfigDict(extra="forbid")

    locale: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    quiet_start: time | None = Field(default=None, description="Local time, e.g. 22:00.")
    quiet_end: time | None = Field(default=None, description="Local time, e.g. 07:00.")
    recognition_opt_out: bool = Field(default=False, description="No celebration messages.")
    max_per_day: int = Field(default=5, ge=0, le=100, description="Non-critical messages.")


def notifications_router() -> APIRouter:
    """Routes: preferences (``/v1/preferences/{person_id}``) and ``/v1/deliveries/{id}``."""
    router = APIRouter(route_class=DishkaRoute)

    @router.put("/v1/preferences/{person_id}", tags=["preferences"], response_model=PreferencesBody)
    async def put_preferences(
        person_id: PersonId,
        body: PreferencesBody,
        actor: People,
        uow: FromDishka[NotificationsUnitOfWork],
    ) -> PreferencesBody:
        """Set your locale, quiet hours, opt-outs and daily limit (your own only)."""
        try:
            async with uow:
                await set_preferences(actor, person_id, Preferences(**body.model_dump()), uow)
        except NotYourPreferencesError as error:
            raise forbidden(str(error)) from None
        return body

    @router.get("/v1/preferences/{person_id}", tags=["preferences"], response_model=PreferencesBody)
    async def get_preferences(
        person_id: PersonId, actor: People, uow: FromDishka[NotificationsUnitOfWork]
    ) -> PreferencesBody:
        """A person's preferences (the defaults when none were set): your own, or anyone's
        for coordinators."""
        try:
            async with uow:
                preferences = await preferences_of(actor, person_id, uow)
        except NotYourPreferencesError as error:
            raise forbidden(str(error)) from None
        return PreferencesBody(**dataclasses.asdict(preferences))

    @router.get("/v1/deliveries/{delivery_id}", tags=["deliveries"])
    async def delivery(
        delivery_id: DeliveryId, actor: Coordinators, uow: FromDishka[NotificationsUnitOfWork]
    ) -> dict[str, object]:
        """Where a delivery stands (coordinators): status, attempts and a coarse reason; never
        its content, its address or a connection detail."""
        try:
            async with uow:
                found = await delivery_state(actor, delivery_id, uow)
        except CoordinatorsOnlyError as error:
            raise forbidden(str(error)) from None
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such delivery")
        return dataclasses.asdict(found)

    return router
