"""Body limits and authentication before the body is read (kinship_runtime.limits)."""

import json
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from kinship_devstack.loopback import read_body
from kinship_runtime.limits import IDENTITY_KEY, RequestLimits

MAX = 1024


class Recorder:
    """The wrapped app: records what reached it."""

    def __init__(self) -> None:
        self.calls: list[tuple[Scope, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        self.calls.append((scope, body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def identify(token: str) -> object | None:
    return {"who": "system:tests"} if token == "good" else None


def request(
    path: str = "/v1/checkins",
    *,
    length: int | None = None,
    token: str | None = "good",
    method: str = "POST",
) -> Scope:
    headers = []
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {"type": "http", "method": method, "path": path, "headers": headers}


class Client:
    """Feeds body chunks and records how much of them the server read."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.read = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if not self.chunks:
            return {"type": "http.disconnect"}
        chunk = self.chunks.pop(0)
        self.read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def body(self) -> Any:
        return json.loads(self.sent[1]["body"])


async def run(scope: Scope, chunks: list[bytes], **options: Any) -> tuple[Recorder, Client]:
    app, client = Recorder(), Client(chunks)
    limits = RequestLimits(app, max_body_bytes=MAX, identify=identify, **options)
    await limits(scope, client.receive, client.send)
    return app, client


async def test_a_small_authenticated_body_reaches_the_app_whole_with_its_identity() -> None:
    app, client = await run(request(length=10), [b"01234", b"56789"])
    assert client.status == 200
    ((scope, body),) = app.calls
    assert body == b"0123456789"
    assert scope["state"][IDENTITY_KEY] == {"who": "system:tests"}


async def test_a_declared_oversized_body_is_413_before_the_app_sees_it() -> None:
    app, client = await run(request(length=MAX + 1), [b"x" * (MAX + 1)])
    assert (client.status, app.calls) == (413, [])
    assert str(MAX) in client.body["detail"]


async def test_an_undeclared_oversized_body_is_413_too() -> None:
    app, client = await run(request(), [b"x" * 600, b"x" * 600])
    assert (client.status, app.calls) == (413, [])


async def test_a_huge_body_is_not_read_beyond_the_drain_limit() -> None:
    chunks = [b"x" * 1024] * 100
    app, client = await run(request(length=1024 * 100), chunks, drain_bytes=4096)
    assert (client.status, app.calls) == (413, [])
    assert client.read == 0  # declared larger than the drain limit: nothing read at all


async def test_an_unauthenticated_body_is_refused_before_it_is_read() -> None:
    app, client = await run(request(length=MAX * 64, token=None), [b"x" * 1024] * 64)
    assert (client.status, app.calls) == (413, [])
    app, client = await run(request(length=100, token="forged"), [b"y" * 100])
    assert (client.status, app.calls) == (401, [])
    app, client = await run(request(length=5000, token="forged"), [b"x" * 5000], drain_bytes=0)
    assert (client.status, client.read, app.calls) == (413, 0, [])


async def test_an_unauthenticated_small_body_gets_401_without_the_app() -> None:
    app, client = await run(request(length=50, token=None), [b"z" * 50], drain_bytes=0)
    assert (client.status, client.read, app.calls) == (401, 0, [])
    assert any(name == b"www-authenticate" for name, _ in client.sent[0]["headers"])


@pytest.mark.parametrize("path", ["/v1/alerts/a-1/acknowledge", "/healthz"])
async def test_public_paths_take_a_body_without_a_token(path: str) -> None:
    app, client = await run(
        request(path, length=5, token=None), [b"hello"], public_paths=("/v1/alerts/",)
    )
    assert client.status == 200 and app.calls[0][1] == b"hello"


async def test_reads_without_a_body_pass_straight_through() -> None:
    app, client = await run(request(method="GET", token=None), [])
    assert client.status == 200 and len(app.calls) == 1
