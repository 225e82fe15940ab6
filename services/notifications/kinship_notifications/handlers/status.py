"""Where a delivery stands: for coordinators, never its content or address, and only a
coarse reason when it failed (``domain.channels.REASONS``)."""

from kinship_notifications.domain.deliveries import DeliveryState
from kinship_notifications.handlers.ports import NotificationsUnitOfWork
from kinship_runtime.access import Actor


class CoordinatorsOnlyError(Exception):
    """Someone other than a coordinator asked for a delivery's state."""

    def __init__(self) -> None:
        super().__init__("delivery status is for coordinators")


async def delivery_state(
    actor: Actor, delivery_id: str, uow: NotificationsUnitOfWork
) -> DeliveryState | None:
    """A delivery's status and attempts, or None when there is no such delivery."""
    if not actor.is_coordinator:
        raise CoordinatorsOnlyError
    return await uow.delivery_state(delivery_id)
