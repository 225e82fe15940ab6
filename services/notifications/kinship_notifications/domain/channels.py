"""Which channel reaches a recipient, and what each channel is sent."""

import json
from dataclasses import dataclass
from enum import StrEnum

from kinship_contracts.directory import Channels
from kinship_contracts.notifications import NotificationRequest


@dataclass(frozen=True)
class Rendered:
    """A rendered message."""

    subject: str
    text: str


class DeliveryFailedError(Exception):
    """The channel did not take the message; ``reason`` is machine-readable, never content."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChannelKind(StrEnum):
    """The delivery channels."""

    WEBHOOK = "webhook"
    SLACK = "slack"
    EMAIL = "email"


@dataclass(frozen=True)
class Address:
    """Where a delivery goes."""

    channel: ChannelKind
    target: str

    @property
    def endpoint(self) -> str:
        """The circuit-breaker key: the URL for web channels, the mail domain for email.

        Not the host: recipients often share one (an alerting gateway, Slack), and one
        recipient's dead URL must not fail fast everyone else's alerts.
        """
        if self.channel is ChannelKind.EMAIL:
            return "smtp:" + self.target.rsplit("@", 1)[-1]
        return self.target


def choose_address(channels: Channels) -> Address | None:
    """The recipient's first channel, in the order webhook, Slack, email."""
    if channels.webhook is not None:
        return Address(ChannelKind.WEBHOOK, str(channels.webhook))
    if channels.slack_webhook is not None:
        return Address(ChannelKind.SLACK, str(channels.slack_webhook))
    if channels.email is not None:
        return Address(ChannelKind.EMAIL, str(channels.email))
    return None


def webhook_body(request: NotificationRequest, text: str) -> bytes:
    """The webhook JSON: exactly the spec's alert fields for alerts; kind and text otherwise."""
    if request.alert is not None:
        return request.alert.model_dump_json().encode()
    body = {"delivery_id": request.id, "kind": request.kind.value, "text": text}
    return json.dumps(body).encode()
