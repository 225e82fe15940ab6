"""A person's own copy of what the notifications service keeps about them
(``GET /v1/me/data``): their preferences, their directory entry as kept here (time zone,
channels) and the deliveries addressed to them, by their person id or by their subject id
(asked of the check-in service's vault for this request and never stored). Delivery states
only: no message content, no address, no link token.
"""

from dataclasses import dataclass

from kinship_notifications.domain.deliveries import DeliveryState, Reachable
from kinship_notifications.domain.policy import Preferences
from kinship_notifications.handlers.ports import NotificationsUnitOfWork, SubjectLookup


@dataclass(frozen=True)
class PersonalDeliveries:
    """Everything the service keeps about one person."""

    person_id: str
    preferences: Preferences
    directory: Reachable | None
    deliveries: list[DeliveryState]


async def personal_data(
    person_id: str, uow: NotificationsUnitOfWork, vault: SubjectLookup
) -> PersonalDeliveries:
    """What the service keeps about ``person_id``, for them alone."""
    subject_id = (await vault.subjects([person_id], create=False, purpose="my_data")).get(person_id)
    return PersonalDeliveries(
        person_id=person_id,
        preferences=await uow.preferences(person_id),
        directory=await uow.reachable(person_id),
        deliveries=await uow.deliveries_to(person_id, subject_id),
    )
