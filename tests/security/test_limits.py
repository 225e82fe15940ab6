"""Request limits (issue 11, "Why" 11): a huge unauthenticated body is answered before it is
read (the service does not grow), a NUL byte is a 422 (not a 500), and submissions are
rate-limited per person and per calling system.
"""

import asyncio
import select
import socket
from pathlib import Path

import pytest

from tests.security.flows import checkin_body, kudos_body, pulse_body
from tests.security.stack import RATE_PER_KEY, RATE_PER_PERSON, Stack

pytestmark = pytest.mark.security

MIB = 1024 * 1024
HUGE = 64 * MIB
GROWTH_ALLOWED = 8 * MIB

ROUTES = {
    "checkin": ("POST", "/v1/checkins"),
    "escalation": ("POST", "/v1/cases/some-case/feedback"),
    "notifications": ("PUT", "/v1/preferences/someone"),
    "recognition": ("POST", "/v1/kudos"),
}


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in bytes."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) * 1024
    return found


def send_huge(port: int, head: bytes, chunked: bool) -> tuple[int, int]:
    """Send ``head`` then up to ``HUGE`` bytes of body, stopping as soon as an answer is
    readable; (the status answered, how many body bytes were sent before it).

    A plain blocking socket, not asyncio streams: when the service answers and closes while
    the body is still coming, its kernel resets the connection, and an asyncio transport whose
    write fails drops the answer it had not read yet; the kernel keeps it for ``recv``."""
    chunk = b"[" + b"0," * (MIB // 2 - 1) + b"0"
    if chunked:
        chunk = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        try:
            while sent < HUGE and not select.select([sock], [], [], 0.01)[0]:
                sock.sendall(chunk)
                sent += len(chunk)
        except (ConnectionError, TimeoutError):
            pass  # the service answered and closed the connection: what we want
        answer = b""
        sock.settimeout(30)
        while b"\r\n" not in answer:
            received = sock.recv(4096)
            assert received, f"the connection closed without an answer after {sent} bytes"
            answer += received
    return int(answer.split(b"\r\n")[0].split()[1]), sent


async def post_huge(port: int, method: str, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """Send ``HUGE`` bytes of body as fast as the service takes them; (the status it answers,
    how many body bytes were sent before the answer came)."""
    head = f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    chunked = headers.get("transfer-encoding") == "chunked"
    return await asyncio.to_thread(send_huge, port, head.encode(), chunked)


@pytest.mark.parametrize("service", list(ROUTES))
@pytest.mark.parametrize(
    ("how", "credential", "expected"),
    [
        ("declared", None, 413),
        ("chunked", None, 401),
        ("declared", "survey-tool", 413),
        ("chunked", "survey-tool", 413),
    ],
    ids=["unauthenticated-content-length", "unauthenticated-chunked", "key-content-length",
         "key-chunked"],
)  # fmt: skip
async def test_a_64_mib_body_is_answered_before_it_is_read(
    stack: Stack, service: str, how: str, credential: str | None, expected: int
) -> None:
    process = stack.processes[service]
    assert process.process is not None
    pid = process.process.pid
    headers = stack.key(credential) if credential else {}
    headers = {k.lower(): v for k, v in headers.items()}
    if how == "declared":
        headers["content-length"] = str(HUGE)
    else:
        headers["transfer-encoding"] = "chunked"
    before = memory(pid)
    method, path = ROUTES[service]
    status, sent = await post_huge(process.port, method, path, headers)
    after = memory(pid)
    assert status == expected, (how, credential)
    assert sent < HUGE // 2, f"answered only after {sent // MIB} MiB"
    assert after["VmRSS"] - before["VmRSS"] < GROWTH_ALLOWED, (before, after)
    assert after["VmHWM"] - before["VmHWM"] < GROWTH_ALLOWED, (before, after)
    assert (await stack.call("GET", service, "/readyz")).status_code == 200


async def test_a_nul_byte_is_refused_with_422_and_nothing_is_stored(stack: Stack) -> None:
    rae, survey = stack.people.rae, stack.key("survey-tool")
    bodies = [
        checkin_body(rae, mood=3, source="survey\x00tool"),
        checkin_body(rae, mood=3, note="before\x00after"),
    ]
    for body in bodies:
        answer = await stack.call("POST", "checkin", "/v1/checkins", survey, json=body)
        assert answer.status_code == 422, answer.text
        assert "\x00" not in answer.text and "\\u0000" not in answer.text
    ids = [body["id"] for body in bodies]
    assert await stack.rows("checkin", "SELECT id FROM checkins WHERE id = ANY($1)", ids) == []
    as_rae = stack.bearer(rae.id)
    kudos = kudos_body(rae, stack.people.coordinator, "thanks")
    kudos["source"] = "chat\x00bot"
    answer = await stack.call("POST", "recognition", "/v1/kudos", as_rae, json=kudos)
    assert answer.status_code == 422, answer.text
    pulse = pulse_body(rae, source="survey\x00tool")
    answer = await stack.call("POST", "recognition", "/v1/pulse", as_rae, json=pulse)
    assert answer.status_code == 422, answer.text
    assert await stack.rows("recognition", "SELECT id FROM kudos WHERE id = $1", kudos["id"]) == []


async def test_a_persons_submissions_are_rate_limited(stack: Stack) -> None:
    rae = stack.people.rae
    answers = []
    bodies = [checkin_body(rae, mood=4) for _ in range(RATE_PER_PERSON + 1)]
    for body in bodies:
        answer = await stack.call(
            "POST", "checkin", "/v1/checkins", stack.bearer(rae.id), json=body
        )
        answers.append(answer)
    assert [a.status_code for a in answers] == [202] * RATE_PER_PERSON + [429]
    assert int(answers[-1].headers["retry-after"]) >= 1
    refused = bodies[-1]["id"]
    assert await stack.rows("checkin", "SELECT id FROM checkins WHERE id = $1", refused) == []


async def test_a_calling_systems_submissions_are_rate_limited(stack: Stack) -> None:
    bot = stack.key("chat-bot")
    statuses = []
    for _ in range(RATE_PER_KEY + 1):
        body = checkin_body(stack.people.rae, mood=4)
        statuses.append(
            (await stack.call("POST", "checkin", "/v1/checkins", bot, json=body)).status_code
        )
    assert statuses == [202] * RATE_PER_KEY + [429]
    # Another system's budget is its own.
    other = await stack.call(
        "POST", "checkin", "/v1/checkins", stack.key("survey-tool"),
        json=checkin_body(stack.people.rae, mood=4),
    )  # fmt: skip
    assert other.status_code == 202
