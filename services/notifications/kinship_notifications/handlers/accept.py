"""Queuing requests for delivery: a fast insert; the delivery worker sends them."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from kinship_notifications.domain.deliveries import QueuedRequest, addressed_once
from kinship_notifications.handlers.ports import NotificationsUnitOfWork


async def accept_requests(
    requests: Sequence[QueuedRequest], uow: NotificationsUnitOfWork, now: datetime
) -> int:
    """Queue requests due at once; a request id seen before is ignored (Kafka redelivers).

    A request naming its recipient by person id and by subject id is kept with the person id
    only. Returns how many were new.
    """
    if not requests:
        return 0
    return await uow.accept(
        [replace(queued, request=addressed_once(queued.request)) for queued in requests], now
    )
