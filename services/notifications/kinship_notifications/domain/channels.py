"""Which channel reaches a recipient, and what each channel is sent."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from kinship_contracts.directory import Channels
from kinship_contracts.notifications import NotificationRequest


@dataclass(frozen=True)
class Rendered:
    """A rendered message."""

    subject: str
    text: str
    language: str = "en"
    """The template language it was rendered in (``en`` or ``de``)."""


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
    slack_user_id: str | None = field(default=None, compare=False)
    """Slack only: the recipient's Slack user, when the directory knows it (only they may
    press the alert's buttons)."""

    @property
    def endpoint(self) -> str:
        """The circuit-breaker key: the URL for web channels, the mail domain for email.

        Not the host: recipients often share one (an alerting gateway, Slack), and one
        recipient's dead URL must not fail fast everyone else's alerts.
        """
        if self.channel is ChannelKind.EMAIL:
            return "smtp:" + self.target.rsplit("@", 1)[-1]
        return self.target


DEFAULT_ORDER = (ChannelKind.WEBHOOK, ChannelKind.SLACK, ChannelKind.EMAIL)
"""The order of a person's channels when they chose none: each tried at once when the one
before it fails."""

MAX_METHOD_DELAY = timedelta(hours=1)


@dataclass(frozen=True)
class ContactMethod:
    """One of a person's chosen ways to be reached, in their order: ``delay`` after the
    delivery's first try at the earliest (e.g. Slack at once, email after 2 minutes)."""

    channel: ChannelKind
    delay: timedelta = timedelta(0)


@dataclass(frozen=True)
class PlannedAddress:
    """A channel with its address, and how long after the first try it may be used."""

    address: Address
    delay: timedelta


def address_of(channels: Channels, channel: ChannelKind) -> Address | None:
    """The directory's address for ``channel``, if the person has one."""
    value = {
        ChannelKind.WEBHOOK: channels.webhook,
        ChannelKind.SLACK: channels.slack_webhook,
        ChannelKind.EMAIL: channels.email,
    }[channel]
    if value is None:
        return None
    user = channels.slack_user_id if channel is ChannelKind.SLACK else None
    return Address(channel, str(value), user)


def contact_plan(channels: Channels, methods: Sequence[ContactMethod] = ()) -> list[PlannedAddress]:
    """Where to try, in order: the person's chosen methods that have an address in the
    directory, then their other channels in the default order (never fewer ways to reach
    someone than they have); without a choice, every channel they have, each at once."""
    plan: list[PlannedAddress] = []
    chosen = {method.channel for method in methods}
    for method in methods:
        address = address_of(channels, method.channel)
        if address is not None:
            plan.append(PlannedAddress(address, method.delay))
    last = plan[-1].delay if plan else timedelta(0)
    for channel in DEFAULT_ORDER:
        address = address_of(channels, channel)
        if channel not in chosen and address is not None:
            plan.append(PlannedAddress(address, last))
    return plan


@dataclass(frozen=True)
class FallThrough:
    """After a failed channel: the plan's next method, and when it may be tried."""

    method: int
    at: datetime


def fall_through(
    plan: Sequence[PlannedAddress], failed: int, first_tried_at: datetime, now: datetime
) -> FallThrough | None:
    """The next method after ``failed`` and when (its delay after the first try, or now if
    that has passed); None when ``failed`` was the last one (the round is over)."""
    following = failed + 1
    if following >= len(plan):
        return None
    return FallThrough(following, max(now, first_tried_at + plan[following].delay))


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


SLACK_EVENT_TYPE = "kinship_delivery"


ACKNOWLEDGE_ACTION = "kinship_acknowledge"
HAND_ON_ACTION = "kinship_hand_on"
"""The ``action_id`` of a Slack alert's buttons (the escalation service's
``POST /v1/slack/interactions`` answers them)."""


def slack_body(
    request: NotificationRequest, rendered: Rendered, button_value: str | None = None
) -> bytes:
    """A Slack message: the text, and the delivery id in Slack's message metadata (the same
    id every channel carries), so that a receiver can recognise a repeat. An alert with
    ``button_value`` (its id and one-time token, never a person) also has the buttons
    "Acknowledge" and "I can't take this — hand on" in a Block Kit ``actions`` block; its
    ``rendered`` text must then carry no tokened link (``AlertReplies.slack_text``), since
    everyone in the channel reads the text."""
    text = f"*{rendered.subject}*\n{rendered.text}"
    body: dict[str, object] = {
        "text": text,
        "metadata": {
            "event_type": SLACK_EVENT_TYPE,
            "event_payload": {"delivery_id": request.id},
        },
    }
    if request.alert is not None and button_value is not None:
        body["blocks"] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}},
            {
                "type": "actions",
                "block_id": f"kinship_alert_{request.alert.alert_id}"[:255],
                "elements": [
                    _button("Acknowledge", ACKNOWLEDGE_ACTION, button_value, "primary"),
                    _button("I can't take this — hand on", HAND_ON_ACTION, button_value, None),
                ],
            },
        ]
    return json.dumps(body).encode()


def _button(label: str, action_id: str, value: str, style: str | None) -> dict[str, object]:
    button: dict[str, object] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }
    if style is not None:
        button["style"] = style
    return button
