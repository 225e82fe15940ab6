"""Where a delivery stands: for operators and systems, never its content or address."""

from kinship_notifications.domain.deliveries import DeliveryState
from kinship_notifications.handlers.ports import NotificationsUnitOfWork
from kinship_runtime.auth import Caller


class SystemsOnlyError(Exception):
    """A person asked for a delivery's state (systems only)."""

    def __init__(self) -> None:
        super().__init__("systems only")


async def delivery_state(
    caller: Caller, delivery_id: str, uow: NotificationsUnitOfWork
) -> DeliveryState | None:
    """A delivery's status and attempts, or None when there is no such delivery."""
    if not caller.is_system:
        raise SystemsOnlyError
    return await uow.delivery_state(delivery_id)
