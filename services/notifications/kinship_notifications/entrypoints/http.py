"""HTTP API of the notifications service: preferences and delivery status."""

import dataclasses
from datetime import time

from dishka import FromDishka
from dishka.integrations.fastapi import DishkaRoute
from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from kinship_notifications.domain.policy import Preferences
from kinship_notifications.handlers.ports import NotificationsUnitOfWork
from kinship_notifications.handlers.preferences import (
    NotYourPreferencesError,
    preferences_of,
    set_preferences,
)
from kinship_notifications.handlers.status import SystemsOnlyError, delivery_state
from kinship_runtime.auth import Authenticated


class PreferencesBody(BaseModel):
    """A person's delivery preferences. Quiet hours never apply to critical alerts."""

    model_config = ConfigDict(extra="forbid")

    locale: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    quiet_start: time | None = Field(default=None, description="Local time, e.g. 22:00.")
    quiet_end: time | None = Field(default=None, description="Local time, e.g. 07:00.")
    recognition_opt_out: bool = Field(default=False, description="No celebration messages.")
    max_per_day: int = Field(default=5, ge=0, le=100, description="Non-critical messages.")


def _forbidden(error: Exception) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=str(error))


def notifications_router() -> APIRouter:
    """Routes: preferences (``/v1/preferences/{person_id}``) and ``/v1/deliveries/{id}``."""
    router = APIRouter(route_class=DishkaRoute)

    @router.put("/v1/preferences/{person_id}", tags=["preferences"], response_model=PreferencesBody)
    async def put_preferences(
        person_id: str,
        body: PreferencesBody,
        caller: Authenticated,
        uow: FromDishka[NotificationsUnitOfWork],
    ) -> PreferencesBody:
        """Set a person's locale, quiet hours, opt-outs and daily limit."""
        try:
            async with uow:
                await set_preferences(caller, person_id, Preferences(**body.model_dump()), uow)
        except NotYourPreferencesError as error:
            raise _forbidden(error) from None
        return body

    @router.get("/v1/preferences/{person_id}", tags=["preferences"], response_model=PreferencesBody)
    async def get_preferences(
        person_id: str, caller: Authenticated, uow: FromDishka[NotificationsUnitOfWork]
    ) -> PreferencesBody:
        """A person's preferences (the defaults when none were set)."""
        try:
            async with uow:
                preferences = await preferences_of(caller, person_id, uow)
        except NotYourPreferencesError as error:
            raise _forbidden(error) from None
        return PreferencesBody(**dataclasses.asdict(preferences))

    @router.get("/v1/deliveries/{delivery_id}", tags=["deliveries"])
    async def delivery(
        delivery_id: str, caller: Authenticated, uow: FromDishka[NotificationsUnitOfWork]
    ) -> dict[str, object]:
        """Where a delivery stands (operators, systems): status and attempts, no content."""
        try:
            async with uow:
                found = await delivery_state(caller, delivery_id, uow)
        except SystemsOnlyError as error:
            raise _forbidden(error) from None
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no delivery {delivery_id}")
        return dataclasses.asdict(found)

    return router
