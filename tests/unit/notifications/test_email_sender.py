"""How the email sender reports an SMTP server's refusals, over a real SMTP server (aiosmtpd
on loopback): a 5xx for the recipient or the message is final, a 4xx is worth a retry, and a
refusal of the session itself (not of this recipient) or no server at all counts against the
mail domain's circuit."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from kinship_contracts.directory import Channels
from kinship_contracts.notifications import NotificationRequest
from kinship_notifications.adapters.senders import Senders, SmtpServer
from kinship_notifications.domain.channels import (
    Address,
    ChannelKind,
    DeliveryFailedError,
    Rendered,
)
from kinship_notifications.domain.policy import CircuitBreaker
from kinship_notifications.handlers.deliver import DeliveryTools
from tests.receivers import free_port
from tests.unit.fakes.notifications import request
from tests.unit.notifications.test_deliver import World

RENDERED = Rendered("A check-in", "How are you doing this week?\n")


class _Answers:
    """Answers RCPT by the recipient's local part and DATA by the subject; MAIL by the sender."""

    def __init__(self) -> None:
        self.accepted: list[str] = []

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("refused@"):
            return "553 5.7.1 Sender address rejected"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        local = address.split("@", 1)[0]
        if local == "leaver":
            return "550 5.1.1 No such mailbox"
        if local == "relay":
            return "554 5.7.1 Relay access denied"
        if local == "busy":
            return "450 4.2.1 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        content = envelope.content.decode(errors="replace")
        if "Subject: rejected" in content:
            return "554 5.6.0 Message rejected"
        if "Subject: later" in content:
            return "451 4.3.0 Try again later"
        self.accepted.extend(envelope.rcpt_tos)
        return "250 OK"


@pytest.fixture
def server() -> Iterator[tuple[_Answers, int]]:
    answers = _Answers()
    port = free_port()
    controller = Controller(answers, hostname="127.0.0.1", port=port)
    controller.start()
    yield answers, port
    controller.stop()


def mail_request() -> NotificationRequest:
    return request("d-1", "checkin_reminder")


async def send(
    port: int, to: str, rendered: Rendered = RENDERED, sender: str = "kinship@localhost"
) -> None:
    async with httpx.AsyncClient() as client:  # unused by email
        senders = Senders(client, b"s" * 32, SmtpServer("127.0.0.1", port, sender), 2.0)
        await senders.send(Address(ChannelKind.EMAIL, to), mail_request(), rendered)


async def failure(
    port: int, to: str, rendered: Rendered = RENDERED, sender: str = "kinship@localhost"
) -> DeliveryFailedError:
    with pytest.raises(DeliveryFailedError) as caught:
        await send(port, to, rendered, sender)
    return caught.value


async def test_an_accepted_message_raises_nothing(server: tuple[_Answers, int]) -> None:
    answers, port = server
    await send(port, "colleague@example.org")
    assert answers.accepted == ["colleague@example.org"]


@pytest.mark.parametrize("to", ["leaver@example.org", "relay@example.org"])
async def test_a_5xx_for_the_recipient_is_a_permanent_rejection(
    server: tuple[_Answers, int], to: str
) -> None:
    error = await failure(server[1], to)
    assert (error.reason, error.permanent) == ("rejected_by_receiver", True)
    assert server[0].accepted == []


async def test_a_4xx_for_the_recipient_is_a_transient_rejection(
    server: tuple[_Answers, int],
) -> None:
    error = await failure(server[1], "busy@example.org")
    assert (error.reason, error.permanent) == ("rejected_by_receiver", False)


async def test_a_5xx_for_the_message_is_permanent_and_a_4xx_is_not(
    server: tuple[_Answers, int],
) -> None:
    rejected = await failure(server[1], "colleague@example.org", Rendered("rejected", "x\n"))
    assert (rejected.reason, rejected.permanent) == ("rejected_by_receiver", True)
    later = await failure(server[1], "colleague@example.org", Rendered("later", "x\n"))
    assert (later.reason, later.permanent) == ("rejected_by_receiver", False)


async def test_a_5xx_for_our_sender_is_not_the_recipients_fault_and_stays_transient(
    server: tuple[_Answers, int],
) -> None:
    """Every colleague's mail meets the same refusal: it must count against the circuit and
    be retried once the settings are fixed, not fail each message for good."""
    error = await failure(server[1], "colleague@example.org", sender="refused@localhost")
    assert (error.reason, error.permanent) == ("rejected_by_receiver", False)


async def test_no_server_is_a_transient_failure() -> None:
    error = await failure(free_port(), "colleague@example.org")  # nothing listens there
    assert (error.reason, error.permanent) == ("failed", False)


# Through one delivery attempt -------------------------------------------------


@dataclass
class MailWorld(World):
    """The delivery tests' world, sending email for real to the loopback server."""

    mail: Senders | None = None

    @property
    def tools(self) -> DeliveryTools:
        assert self.mail is not None
        return DeliveryTools(self.mail, self.templates, self.breaker, self.vault, self.links)


async def attempt_to(port: int, mailboxes: list[str]) -> tuple[MailWorld, list[str]]:
    """One delivery to each mailbox (their only channel) through a breaker opening at two
    failures; what each attempt came to."""
    world = MailWorld(breaker=CircuitBreaker(threshold=2, cool_down=timedelta(seconds=30)))
    async with httpx.AsyncClient() as client:
        world.mail = Senders(client, b"s" * 32, SmtpServer("127.0.0.1", port, "k@localhost"), 2.0)
        outcomes = []
        for number, mailbox in enumerate(mailboxes):
            world.uow.add_person(f"p-{number}", Channels(email=mailbox))
            await world.queue(request(f"d-{number}", person_id=f"p-{number}"))
            (result,) = await world.attempt()
            outcomes.append(result.outcome)
    return world, outcomes


async def test_bounces_for_leavers_do_not_open_the_circuit_for_their_mail_domain(
    server: tuple[_Answers, int],
) -> None:
    leavers = ["leaver@example.org"] * 3
    world, outcomes = await attempt_to(server[1], [*leavers, "colleague@example.org"])
    assert outcomes == ["failed", "failed", "failed", "delivered"]  # not retried, not blocked
    assert world.uow.delivery("d-0").last_error == "rejected_by_receiver"
    assert server[0].accepted == ["colleague@example.org"]
    assert world.breaker.allows("smtp:example.org", world.clock())


async def test_busy_mailboxes_do_count_against_the_circuit(server: tuple[_Answers, int]) -> None:
    world, outcomes = await attempt_to(server[1], ["busy@example.org"] * 2 + ["a@example.org"])
    assert outcomes == ["retry", "retry", "retry"]
    assert world.uow.delivery("d-2").last_error == "circuit_open"
    assert server[0].accepted == []
