"""The channels: signed JSON webhooks, Slack incoming webhooks, email over SMTP.

Failures are reported with coarse reasons only (``domain.channels.REASONS``): never an
exception's text, a status code or a connection detail, which would let anyone who can set a
webhook URL probe the network through Kinship.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
import httpx

from kinship_contracts.notifications import NotificationRequest
from kinship_notifications.adapters.network import AddressRefusedError
from kinship_notifications.domain.channels import (
    Address,
    ChannelKind,
    DeliveryFailedError,
    Rendered,
    rfc3339,
    slack_body,
    webhook_body,
)
from kinship_notifications.domain.replies import AlertReplies
from kinship_notifications.domain.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
    signing_key,
)


@dataclass(frozen=True)
class SmtpServer:
    """Where email goes out."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Senders:
    """Sends one rendered message to one address, carrying the delivery id to the channel
    (implements ``handlers.ports.Sender``).

    ``http`` must be the guarded client (``adapters.network.guarded_client``): it refuses
    private and metadata addresses at connect time. ``https_only`` refuses plain-http web
    channels before any connection (outside the dev profile).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        webhook_secret: bytes,
        smtp: SmtpServer,
        timeout: float,
        *,
        https_only: bool = True,
        clock: Callable[[], datetime] = _utc_now,
        replies: AlertReplies | None = None,
        shared_signing: bool = False,
    ) -> None:
        self._http = http
        self._secret = webhook_secret
        self._shared_signing = shared_signing
        self._smtp = smtp
        self._timeout = timeout
        self._https_only = https_only
        self._clock = clock
        self._replies = replies

    async def send(
        self, address: Address, request: NotificationRequest, rendered: Rendered
    ) -> None:
        """Deliver or raise ``DeliveryFailedError``."""
        if address.channel is ChannelKind.EMAIL:
            await self._email(address.target, request, rendered)
            return
        url = address.target
        if self._https_only and not url.lower().startswith("https://"):
            raise DeliveryFailedError("refused_address", permanent=True)
        if address.channel is ChannelKind.WEBHOOK:
            sent_at = self._clock()
            body = webhook_body(request, rendered.text, sent_at)
            secret = signing_key(self._secret, url, shared=self._shared_signing)
            headers = {
                "content-type": "application/json",
                SIGNATURE_HEADER: signature(secret, body),
                TIMESTAMP_HEADER: rfc3339(sent_at),
                DELIVERY_HEADER: request.id,
                "X-Kinship-Kind": request.kind.value,
            }
        else:
            value = None
            if request.alert is not None and self._replies is not None:
                value = self._replies.slack_value(request.alert, address.slack_user_id)
                if value is not None:  # buttons: the text carries no tokened link
                    rendered = self._replies.slack_text(request.alert, rendered)
            body = slack_body(request, rendered, value)
            headers = {"content-type": "application/json", DELIVERY_HEADER: request.id}
        await self._post(url, body, headers)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            response = await self._http.post(
                url, content=body, headers=headers, timeout=self._timeout
            )
        except AddressRefusedError:
            raise DeliveryFailedError("refused_address", permanent=True) from None
        except httpx.TimeoutException:
            raise DeliveryFailedError("timeout") from None
        except httpx.HTTPError:
            raise DeliveryFailedError("failed") from None
        if not response.is_success:  # redirects are not followed: a 3xx is a refusal too
            raise DeliveryFailedError("rejected_by_receiver")

    async def _email(self, to: str, request: NotificationRequest, rendered: Rendered) -> None:
        message = EmailMessage()
        message["From"] = self._smtp.sender
        message["To"] = to
        message["Subject"] = rendered.subject
        # The delivery id as Message-ID: a redelivery is recognisably the same message.
        message["Message-ID"] = f"<{request.id.replace(':', '.')}@kinship>"
        message[DELIVERY_HEADER] = request.id
        if request.alert is not None and self._replies is not None:
            reply_to = self._replies.reply_to(request.alert, to, self._clock())
            if reply_to is not None:  # a reply "ack" or "hand on" answers the alert
                message["Reply-To"] = reply_to
        message.set_content(rendered.text)
        try:
            await aiosmtplib.send(
                message,
                hostname=self._smtp.host,
                port=self._smtp.port,
                username=self._smtp.username,
                password=self._smtp.password,
                start_tls=self._smtp.starttls,
                timeout=self._timeout,
            )
        except TimeoutError:  # aiosmtplib's timeouts are TimeoutErrors too
            raise DeliveryFailedError("timeout") from None
        except aiosmtplib.SMTPRecipientsRefused as error:  # every recipient (the one) refused
            codes = [refused.code for refused in error.recipients]
            raise DeliveryFailedError(
                "rejected_by_receiver", permanent=_permanent(*codes)
            ) from None
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as error:
            raise DeliveryFailedError(
                "rejected_by_receiver", permanent=_permanent(error.code)
            ) from None
        except aiosmtplib.SMTPResponseException:
            # The server refused the session itself (greeting, HELO, login, our sender): every
            # colleague's mail meets the same refusal, so it counts against the circuit and
            # is retried, whatever its code, until the server or our settings are fixed.
            raise DeliveryFailedError("rejected_by_receiver") from None
        except (aiosmtplib.SMTPException, OSError):
            raise DeliveryFailedError("failed") from None


def _permanent(*codes: int) -> bool:
    """Whether an SMTP refusal of this message to this recipient is final.

    A 5xx reply to RCPT (550 no such mailbox, a leaver) or to the message (554 rejected) will
    be the same on every attempt: no retry, and the endpoint (the whole mail domain) is not to
    blame, since it answered. A 4xx (mailbox busy, greylisting) is worth another attempt.
    """
    return bool(codes) and all(code >= 500 for code in codes)
