"""Webhook calls through the guarded network backend (``adapters.network``) and the senders.

The refusals are shown WITHOUT a connection to any address but loopback: a resolver stub
answers for test host names, and a spy on the inner backend records every connection it was
asked for (and would fail the test for anything but 127.0.0.1). Allowed calls go to a real
receiver on 127.0.0.1.
"""

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address

import httpcore
import httpx
import pytest

from kinship_contracts.notifications import Alert, MessageKind, NotificationRequest, Recipient
from kinship_notifications.adapters.network import (
    AddressRefusedError,
    GuardedNetworkBackend,
    guarded_client,
)
from kinship_notifications.adapters.senders import Senders, SmtpServer
from kinship_notifications.domain.addresses import Allowlist, IPAddress
from kinship_notifications.domain.channels import (
    Address,
    ChannelKind,
    DeliveryFailedError,
    Rendered,
)
from kinship_notifications.domain.signing import endpoint_secret
from tests.receivers import WebhookReceiver

MASTER = b"m" * 32
SENT_AT = datetime.now(UTC).replace(microsecond=250000)
"""When the senders send: reset to now as each test starts (a receiver refuses bodies more
than five minutes old, and the whole suite runs longer than that after this module loads)."""
LOOPBACK = Allowlist.parse("127.0.0.1")


class StubResolver:
    """Answers for test host names; records every lookup."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self._answers = {host: [list(a) for a in seq] for host, seq in answers.items()}
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.lookups.append(host)
        answers = self._answers[host]
        current = answers.pop(0) if len(answers) > 1 else answers[0]
        return [ip_address(a) for a in current]


class SpyBackend(httpcore.AsyncNetworkBackend):
    """The inner backend: records connections; really connects to 127.0.0.1 only."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        assert host == "127.0.0.1", f"the guard let a connection to {host} through"
        return await self._real.connect_tcp(host, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AssertionError("never a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)


@pytest.fixture(autouse=True)
def sent_now() -> None:
    global SENT_AT
    SENT_AT = datetime.now(UTC).replace(microsecond=250000)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver(master=MASTER)  # verifies with its endpoint's secret
    await server.start()
    yield server
    await server.stop()


def senders(
    resolver: StubResolver,
    spy: SpyBackend,
    allowlist: Allowlist = LOOPBACK,
    https_only: bool = False,
    shared_signing: bool = False,
) -> tuple[Senders, httpx.AsyncClient]:
    client = guarded_client(GuardedNetworkBackend(allowlist, resolve=resolver, inner=spy))
    smtp = SmtpServer("127.0.0.1", 9, "k@localhost")
    sender = Senders(
        client,
        MASTER,
        smtp,
        2.0,
        https_only=https_only,
        clock=lambda: SENT_AT,
        shared_signing=shared_signing,
    )
    return sender, client


def alert(
    link: str = "http://127.0.0.1:8002/v1/alerts/a-1/acknowledge?token=v1.1.x",
) -> NotificationRequest:
    return NotificationRequest(
        id="alert:a-1",
        kind=MessageKind.ALERT,
        recipient=Recipient(person_id="resp-a"),
        critical=True,
        template="alert",
        alert=Alert(
            alert_id="a-1",
            case_id="k-1",
            severity="critical",
            step=1,
            reason="Immediate risk",
            opened_at=SENT_AT - timedelta(minutes=1),
            ack_url=link,
        ),
        created_at=SENT_AT,
    )


RENDERED = Rendered("Kinship alert", "text\n")


async def test_a_name_resolving_to_a_private_address_is_refused_before_any_connection() -> None:
    resolver = StubResolver({"internal.test": [["10.0.0.7"]]})
    spy = SpyBackend()
    sender, client = senders(resolver, spy)
    async with client:
        with pytest.raises(DeliveryFailedError) as refused:
            await sender.send(
                Address(ChannelKind.WEBHOOK, "http://internal.test/hook"), alert(), RENDERED
            )
    assert (refused.value.reason, refused.value.permanent) == ("refused_address", True)
    assert resolver.lookups == ["internal.test"]
    assert spy.connects == []


@pytest.mark.parametrize(
    "answers",
    [
        ["169.254.169.254"],
        ["fd00:ec2::254"],
        ["127.0.0.1", "10.0.0.7"],  # one bad address among good ones refuses the call
        ["::ffff:10.0.0.7"],
        ["0.0.0.0"],  # noqa: S104 - an answer to refuse, not a bind
    ],
)
async def test_every_resolved_address_is_checked(answers: list[str]) -> None:
    resolver = StubResolver({"hooks.test": [answers]})
    spy = SpyBackend()
    backend = GuardedNetworkBackend(LOOPBACK, resolve=resolver, inner=spy)
    with pytest.raises(AddressRefusedError):
        await backend.connect_tcp("hooks.test", 443, timeout=1.0)
    assert spy.connects == []


async def test_the_metadata_service_is_refused_even_when_the_allowlist_names_it() -> None:
    resolver = StubResolver({"metadata.google.internal": [["169.254.169.254"]]})
    spy = SpyBackend()
    backend = GuardedNetworkBackend(
        Allowlist.parse("metadata.google.internal, 169.254.0.0/16"), resolve=resolver, inner=spy
    )
    with pytest.raises(AddressRefusedError) as refused:
        await backend.connect_tcp("metadata.google.internal", 80, timeout=1.0)
    assert refused.value.reason == "metadata"
    assert spy.connects == []


async def test_the_connection_goes_to_the_checked_address_without_a_second_lookup(
    receiver: WebhookReceiver,
) -> None:
    # A rebinding name: loopback (admitted) for the first lookup, private for any later one.
    resolver = StubResolver({"rebind.test": [["127.0.0.1"], ["10.0.0.7"]]})
    spy = SpyBackend()
    sender, client = senders(resolver, spy)
    url = f"http://rebind.test:{receiver.port}/resp-a"
    async with client:
        await sender.send(Address(ChannelKind.WEBHOOK, url), alert(), RENDERED)
    assert resolver.lookups == ["rebind.test"]
    assert spy.connects == [("127.0.0.1", receiver.port)]
    (received,) = receiver.accepted("resp-a")
    assert received.headers["host"] == f"rebind.test:{receiver.port}"
    # A new connection looks the name up again, and now it is refused.
    sender, client = senders(resolver, spy)
    async with client:
        with pytest.raises(DeliveryFailedError, match="refused_address"):
            await sender.send(Address(ChannelKind.WEBHOOK, url), alert(), RENDERED)
    assert spy.connects == [("127.0.0.1", receiver.port)]


async def test_a_webhook_is_signed_with_its_endpoints_secret_and_carries_its_timestamp(
    receiver: WebhookReceiver,
) -> None:
    spy = SpyBackend()
    sender, client = senders(StubResolver({"127.0.0.1": [["127.0.0.1"]]}), spy)
    url = receiver.url("resp-a")
    async with client:
        await sender.send(Address(ChannelKind.WEBHOOK, url), alert(), RENDERED)
    (received,) = receiver.accepted("resp-a")
    secret = endpoint_secret(MASTER, url).encode()
    expected = "sha256=" + hmac.new(secret, received.body, hashlib.sha256).hexdigest()
    assert received.headers["x-kinship-signature"] == expected
    other = endpoint_secret(MASTER, receiver.url("resp-b")).encode()
    assert received.headers["x-kinship-signature"] != (
        "sha256=" + hmac.new(other, received.body, hashlib.sha256).hexdigest()
    )
    master = "sha256=" + hmac.new(MASTER, received.body, hashlib.sha256).hexdigest()
    assert received.headers["x-kinship-signature"] != master
    body = json.loads(received.body)
    stamp = SENT_AT.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert (body["delivery_id"], body["sent_at"]) == ("alert:a-1", stamp)
    assert stamp.endswith(".250Z")
    assert received.headers["x-kinship-timestamp"] == body["sent_at"]
    assert received.headers["x-kinship-delivery"] == "alert:a-1"


@pytest.mark.parametrize("shared", [False, True], ids=["per endpoint", "shared"])
async def test_a_receiver_built_to_the_spec_alone_verifies_only_shared_signing(
    shared: bool,
) -> None:
    # KINSHIP_WEBHOOK_SIGNING=shared: a receiver that knows only KINSHIP_WEBHOOK_SECRET (the
    # spec's interface) verifies X-Kinship-Signature with it; per-endpoint bodies it refuses.
    receiver = WebhookReceiver(master=MASTER, shared=True)
    await receiver.start()
    try:
        sender, client = senders(
            StubResolver({"127.0.0.1": [["127.0.0.1"]]}), SpyBackend(), shared_signing=shared
        )
        url = receiver.url("resp-a")
        async with client:
            if shared:
                await sender.send(Address(ChannelKind.WEBHOOK, url), alert(), RENDERED)
            else:
                with pytest.raises(DeliveryFailedError, match="rejected_by_receiver"):
                    await sender.send(Address(ChannelKind.WEBHOOK, url), alert(), RENDERED)
    finally:
        await receiver.stop()
    assert len(receiver.accepted("resp-a")) == (1 if shared else 0)
    (received,) = receiver.attempts("resp-a")
    master = "sha256=" + hmac.new(MASTER, received.body, hashlib.sha256).hexdigest()
    assert (received.headers["x-kinship-signature"] == master) is shared


async def test_a_slack_message_carries_its_delivery_id_in_slacks_metadata(
    receiver: WebhookReceiver,
) -> None:
    sender, client = senders(StubResolver({"127.0.0.1": [["127.0.0.1"]]}), SpyBackend())
    async with client:
        await sender.send(Address(ChannelKind.SLACK, receiver.url("slack-a")), alert(), RENDERED)
    (received,) = receiver.accepted("slack-a")
    body = json.loads(received.body)
    assert body["metadata"] == {
        "event_type": "kinship_delivery",
        "event_payload": {"delivery_id": "alert:a-1"},
    }
    assert body["text"].startswith("*")
    assert received.headers["x-kinship-delivery"] == "alert:a-1"


async def test_outside_the_dev_profile_plain_http_is_refused_before_any_lookup() -> None:
    resolver = StubResolver({"hooks.test": [["127.0.0.1"]]})
    spy = SpyBackend()
    sender, client = senders(resolver, spy, https_only=True)
    async with client:
        for channel in (ChannelKind.WEBHOOK, ChannelKind.SLACK):
            with pytest.raises(DeliveryFailedError) as refused:
                await sender.send(Address(channel, "http://hooks.test/x"), alert(), RENDERED)
            assert (refused.value.reason, refused.value.permanent) == ("refused_address", True)
    assert resolver.lookups == [] and spy.connects == []


def mocked(handler: httpx.MockTransport) -> Senders:
    smtp = SmtpServer("127.0.0.1", 9, "k@localhost")
    client = httpx.AsyncClient(transport=handler, follow_redirects=False)
    return Senders(client, MASTER, smtp, 1.0, https_only=False, clock=lambda: SENT_AT)


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused to 10.1.2.3:5432"), "failed"),
        (httpx.ConnectTimeout("timed out connecting to 10.1.2.3:22"), "timeout"),
        (httpx.ReadTimeout("read timed out"), "timeout"),
        (httpx.RemoteProtocolError("Server disconnected: SSH-2.0-OpenSSH_9.6"), "failed"),
        (httpx.Response(503, text="upstream 10.1.2.3 down"), "rejected_by_receiver"),
        (httpx.Response(404), "rejected_by_receiver"),
        (
            httpx.Response(302, headers={"location": "http://127.0.0.1:9/elsewhere"}),
            "rejected_by_receiver",
        ),
    ],
    ids=["refused", "connect-timeout", "read-timeout", "protocol", "503", "404", "redirect"],
)
async def test_failures_are_reported_coarsely(
    outcome: Exception | httpx.Response, reason: str
) -> None:
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    sender = mocked(httpx.MockTransport(handle))
    with pytest.raises(DeliveryFailedError) as failed:
        await sender.send(Address(ChannelKind.WEBHOOK, "http://127.0.0.1:9/x"), alert(), RENDERED)
    assert (failed.value.reason, str(failed.value), failed.value.permanent) == (
        reason,
        reason,
        False,
    )
    # No error text travels with it: not as its cause, not as its shown context.
    error = failed.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert calls == ["http://127.0.0.1:9/x"]  # a redirect is not followed
