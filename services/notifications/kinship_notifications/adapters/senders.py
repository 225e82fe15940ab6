"""The channels: signed JSON webhooks, Slack incoming webhooks, email over SMTP."""

import json
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib
import httpx

from kinship_contracts.notifications import NotificationRequest
from kinship_notifications.domain.channels import (
    Address,
    ChannelKind,
    DeliveryFailedError,
    Rendered,
    webhook_body,
)
from kinship_notifications.domain.policy import signature


@dataclass(frozen=True)
class SmtpServer:
    """Where email goes out."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False


class Senders:
    """Sends one rendered message to one address, carrying the delivery id to the channel
    (implements ``handlers.ports.Sender``)."""

    def __init__(
        self, http: httpx.AsyncClient, webhook_secret: bytes, smtp: SmtpServer, timeout: float
    ) -> None:
        self._http = http
        self._secret = webhook_secret
        self._smtp = smtp
        self._timeout = timeout

    async def send(
        self, address: Address, request: NotificationRequest, rendered: Rendered
    ) -> None:
        """Deliver or raise ``DeliveryFailedError``."""
        if address.channel is ChannelKind.EMAIL:
            await self._email(address.target, request, rendered)
            return
        if address.channel is ChannelKind.WEBHOOK:
            body = webhook_body(request, rendered.text)
            headers = {
                "content-type": "application/json",
                "X-Kinship-Signature": signature(self._secret, body),
                "X-Kinship-Delivery": request.id,
                "X-Kinship-Kind": request.kind.value,
            }
        else:
            body = json.dumps({"text": f"*{rendered.subject}*\n{rendered.text}"}).encode()
            headers = {"content-type": "application/json"}
        try:
            response = await self._http.post(
                address.target, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.TimeoutException as error:
            raise DeliveryFailedError("timeout") from error
        except httpx.TransportError as error:
            raise DeliveryFailedError(f"transport:{type(error).__name__}") from error
        if not response.is_success:
            raise DeliveryFailedError(f"http_{response.status_code}")

    async def _email(self, to: str, request: NotificationRequest, rendered: Rendered) -> None:
        message = EmailMessage()
        message["From"] = self._smtp.sender
        message["To"] = to
        message["Subject"] = rendered.subject
        # The delivery id as Message-ID: a redelivery is recognisably the same message.
        message["Message-ID"] = f"<{request.id.replace(':', '.')}@kinship>"
        message["X-Kinship-Delivery"] = request.id
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
        except (aiosmtplib.SMTPException, OSError) as error:
            raise DeliveryFailedError(f"smtp:{type(error).__name__}") from error
