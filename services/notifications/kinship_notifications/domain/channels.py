"""Which channel reaches a recipient, and what each channel is sent."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from kinship_contracts.directory import Channels
from kinship_contracts.notifications import NotificationRequest


@dataclass(frozen=True)
class Rendered:
    """A rendered message."""

    subject: str
    text: str


class DeliveryFailedError(Exception):
    """The channel did not take the message.

    ``reason`` is one of a few coarse words (``REASONS``), never content, an address or an
    error's text: delivery status is shown to coordinators and a detailed connection error
    would let anyone who can set a webhook URL scan ports. ``permanent`` failures are not
    retried (another attempt cannot succeed).
    """

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class TemplateFailedError(DeliveryFailedError):
    """The request's template does not exist or does not render: permanent."""

    def __init__(self) -> None:
        super().__init__("template_error", permanent=True)


REASONS = frozenset(
    {
        "failed",  # the channel could not be reached (connection, name, TLS): no detail
        "timeout",
        "rejected_by_receiver",  # the receiver answered, but not with success (HTTP, SMTP)
        "refused_address",  # the URL's address is not allowed (private, metadata, not https)
        "circuit_open",
        "template_error",
        "no_channel",
        "unknown_recipient",
    }
)
"""Every reason a delivery can fail with (receipts, ``GET /v1/deliveries/{id}``)."""


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


ALERT_FIELDS = frozenset(
    {"alert_id", "case_id", "severity", "step", "reason", "opened_at", "ack_url"}
)
"""The spec's alert body (``Outgoing alerts``)."""


def rfc3339(moment: datetime) -> str:
    """A UTC timestamp as RFC 3339 (``2026-11-24T23:30:00.000Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def webhook_body(request: NotificationRequest, text: str, sent_at: datetime) -> bytes:
    """The webhook JSON: the spec's alert fields for alerts, kind and text otherwise; both
    with ``delivery_id`` and ``sent_at``, which the signature covers, so a receiver can drop
    a repeat and refuse a replay of an old body."""
    stamp = {"delivery_id": request.id, "sent_at": rfc3339(sent_at)}
    if request.alert is not None:
        alert = request.alert.model_dump(mode="json", include=set(ALERT_FIELDS))
        return json.dumps(alert | stamp).encode()
    body = {"kind": request.kind.value, "text": text} | stamp
    return json.dumps(body).encode()
