"""A webhook receiver that takes its time answering, so deliveries are in flight for a while."""

import asyncio
from dataclasses import dataclass

from kinship_devstack.loopback import Receive, Scope, Send
from tests.receivers import WebhookReceiver


@dataclass
class SlowWebhookReceiver(WebhookReceiver):
    """``WebhookReceiver`` that waits ``delay`` seconds before it reads and answers a request;
    ``arrived`` counts requests as they come in (before the wait)."""

    delay: float = 1.0
    arrived: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.arrived += 1
            await asyncio.sleep(self.delay)
        await super().__call__(scope, receive, send)
