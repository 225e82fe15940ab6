"""HTTP API of the notifications service: preferences and delivery status.

Every route states who may call it (``kinship_runtime.access``): preferences are for people
(their own; a coordinator may read anyone's), delivery status for coordinators; an API key
never reaches either. The row-level rules are the handlers'.
"""

import dataclasses
from datetime import datetime, time, timedelta
from typing import Annotated, Literal

from dishka import FromDishka
from dishka.integrations.fastapi import DishkaRoute
from fastapi import APIRouter, Depends, HTTPException, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kinship_contracts.directory import Role
from kinship_notifications.domain.channels import MAX_METHOD_DELAY, ChannelKind, ContactMethod
from kinship_notifications.domain.policy import Preferences
from kinship_notifications.handlers.my_data import personal_data
from kinship_notifications.handlers.ports import NotificationsUnitOfWork, SubjectLookup
from kinship_notifications.handlers.preferences import (
    NotYourPreferencesError,
    preferences_of,
    set_preferences,
)
from kinship_notifications.handlers.status import CoordinatorsOnlyError, delivery_state
from kinship_runtime.access import OWN_DATA, Actor, allow, forbidden
from kinship_runtime.vault import VaultUnavailableError

People = Annotated[Actor, Depends(allow(everyone=True))]
"""Any signed-in person (the handlers allow only their own preferences, or coordinators)."""
PersonOwnData = Annotated[Actor, Depends(allow(everyone=True, rate_limited=True, bucket=OWN_DATA))]
"""A person's own data: asks the check-in service's vault, so limited per person (own bucket)."""
Coordinators = Annotated[Actor, Depends(allow(roles=[Role.COORDINATOR]))]

PersonId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
DeliveryId = Annotated[str, Path(min_length=1, max_length=300, pattern=r"^[\x21-\x7e]+$")]


class ContactMethodBody(BaseModel):
    """One way to reach you, and how long after a message's first try it may be used."""

    model_config = ConfigDict(extra="forbid")

    channel: ChannelKind
    delay_seconds: int = Field(
        default=0,
        ge=0,
        le=int(MAX_METHOD_DELAY.total_seconds()),
        description="Seconds after the first try (e.g. 120: email two minutes later).",
    )


class PreferencesBody(BaseModel):
    """A person's delivery preferences. Quiet hours never apply to critical alerts."""

    model_config = ConfigDict(extra="forbid")

    locale: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    quiet_start: time | None = Field(default=None, description="Local time, e.g. 22:00.")
    quiet_end: time | None = Field(default=None, description="Local time, e.g. 07:00.")
    recognition_opt_out: bool = Field(default=False, description="No celebration messages.")
    reminders_opt_out: bool = Field(
        default=False,
        description="No regular or overdue check-in reminders (follow-ups after a case or an "
        "incident still come).",
    )
    max_per_day: int = Field(default=5, ge=0, le=100, description="Non-critical messages.")
    contact_methods: list[ContactMethodBody] = Field(
        default_factory=list,
        max_length=len(ChannelKind),
        description="Your channels in order, each with its delay; a failed channel falls "
        "through to the next. Channels you have but leave out come last; none: every channel "
        "you have, each at once.",
    )

    @field_validator("contact_methods")
    @classmethod
    def _each_channel_once(cls, methods: list[ContactMethodBody]) -> list[ContactMethodBody]:
        channels = [method.channel for method in methods]
        if len(set(channels)) != len(channels):
            raise ValueError("each channel at most once")
        delays = [method.delay_seconds for method in methods]
        if delays != sorted(delays):
            raise ValueError("each method's delay at least the one before it")
        return methods

    def preferences(self) -> Preferences:
        """The domain's preferences."""
        fields = self.model_dump(exclude={"contact_methods"})
        methods = tuple(
            ContactMethod(m.channel, timedelta(seconds=m.delay_seconds))
            for m in self.contact_methods
        )
        return Preferences(**fields, contact_methods=methods)

    @classmethod
    def of(cls, preferences: Preferences) -> "PreferencesBody":
        """The body of stored preferences."""
        fields = dataclasses.asdict(preferences)
        fields["contact_methods"] = [
            ContactMethodBody(channel=m.channel, delay_seconds=int(m.delay.total_seconds()))
            for m in preferences.contact_methods
        ]
        return cls(**fields)


_routes = APIRouter(route_class=DishkaRoute)


@_routes.put("/v1/preferences/{person_id}", tags=["preferences"], response_model=PreferencesBody)
async def put_preferences(
    person_id: PersonId,
    body: PreferencesBody,
    actor: People,
    uow: FromDishka[NotificationsUnitOfWork],
) -> PreferencesBody:
    """Set your locale, quiet hours, opt-outs and daily limit (your own only)."""
    try:
        async with uow:
            await set_preferences(actor, person_id, body.preferences(), uow)
    except NotYourPreferencesError as error:
        raise forbidden(str(error)) from None
    return body


@_routes.get("/v1/preferences/{person_id}", tags=["preferences"], response_model=PreferencesBody)
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
    return PreferencesBody.of(preferences)


@_routes.get("/v1/deliveries/{delivery_id}", tags=["deliveries"])
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


class DirectoryKept(BaseModel):
    """Your directory entry as this service keeps it, to reach you."""

    timezone: str
    channels: dict[str, str]
    active: bool


class DeliveryKept(BaseModel):
    """A message addressed to you: its kind and what became of it (no content, no address)."""

    id: str
    kind: str
    critical: bool
    status: str
    attempts: int
    channel: str | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class MyNotificationsData(BaseModel):
    """Everything the notifications service keeps about you."""

    service: Literal["notifications"] = "notifications"
    person_id: str
    preferences: PreferencesBody
    directory: DirectoryKept | None
    deliveries: list[DeliveryKept]


@_routes.get("/v1/me/data", tags=["privacy"], response_model=MyNotificationsData)
async def my_data(
    actor: PersonOwnData,
    response: Response,
    uow: FromDishka[NotificationsUnitOfWork],
    vault: FromDishka[SubjectLookup],
) -> MyNotificationsData:
    """Everything this service keeps about you: your preferences, your time zone and
    channels, and the messages addressed to you (states only). People, themselves."""
    response.headers.update({"Cache-Control": "no-store"})
    me = actor.person_id
    if me is None:  # the policy admits people only; a key never gets here
        raise forbidden("your own data is for you")
    try:
        async with uow:
            held = await personal_data(me, uow, vault)
    except VaultUnavailableError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the check-in service did not answer; try again shortly",
            headers={"Retry-After": "5"},
        ) from None
    directory = held.directory
    return MyNotificationsData(
        person_id=me,
        preferences=PreferencesBody.of(held.preferences),
        directory=(
            DirectoryKept(
                timezone=directory.timezone,
                channels={
                    name: str(value)
                    for name, value in directory.channels.model_dump(exclude_none=True).items()
                },
                active=directory.active,
            )
            if directory is not None
            else None
        ),
        deliveries=[DeliveryKept(**dataclasses.asdict(item)) for item in held.deliveries],
    )


def notifications_router() -> APIRouter:
    """Routes: preferences (``/v1/preferences/{person_id}``) and ``/v1/deliveries/{id}``."""
    return _routes
