"""Updating the Slack alert after a press: which message each outcome posts to the press's
``response_url`` (or none), which URLs may be called at all (refused before any connection),
and the posting itself against a receiver on 127.0.0.1: one JSON POST, one retry after a
5xx, nothing followed, the press's own answer unchanged whatever Slack does."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from kinship_escalation.adapters.slack_responses import (
    ResponseUrlPolicy,
    SlackResponder,
    parse_prefix,
    response_client,
)
from kinship_escalation.entrypoints.slack_http import REPLACES, slack_message
from kinship_escalation.handlers.acknowledge_routes import Outcome
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.settings import EscalationSettings
from kinship_runtime.settings import InsecureSettingsError
from tests.escalation_support import bearer
from tests.receivers import WebhookReceiver, free_port
from tests.unit.escalation.conftest import Clock, link_token
from tests.unit.escalation.test_acknowledge_routes import (
    SIGNING_SECRET,
    STAMP,
    RecordingPoster,
    SlackFakes,
    button,
    press_body,
    slack_headers,
)
from tests.unit.escalation.test_http import fake_app
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork
from tests.unit.fakes.relay import FakeRelay

SLACK_URL = "https://hooks.slack.com/actions/T0/1/x"
"""The shape of a real response_url: only ever given to the fake poster or to ``admit``."""


# ---- which message, for which outcome ---------------------------------------------------------


def test_every_outcome_has_a_rule_and_only_refusals_to_others_leave_the_alert() -> None:
    assert set(REPLACES) == set(Outcome)
    kept = {outcome for outcome, replaces in REPLACES.items() if not replaces}
    assert kept == {Outcome.REFUSED, Outcome.INVALID}
    for outcome in Outcome:
        message = slack_message(outcome, "A sentence.")
        assert set(message) == {"replace_original", "response_type", "text"}  # no buttons
        assert message["replace_original"] is REPLACES[outcome]
        assert message["response_type"] == ("in_channel" if REPLACES[outcome] else "ephemeral")


@pytest.fixture
def poster() -> RecordingPoster:
    return RecordingPoster()


@pytest.fixture
def app(
    service: FakeEscalationUnitOfWork,
    relay: FakeRelay,
    ctx: EscalationContext,
    poster: RecordingPoster,
) -> FastAPI:
    return fake_app(SlackFakes(service, relay, ctx, poster))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escalation") as http:
        yield http
    await app.state.dishka_container.close()


@pytest.fixture
def alert_id(case_id: str, service: FakeEscalationUnitOfWork) -> str:
    (only,) = service.tables.alerts
    return only


async def press(
    client: httpx.AsyncClient, body: bytes, at: int = STAMP, secret: str = SIGNING_SECRET
) -> httpx.Response:
    return await client.post(
        "/v1/slack/interactions", content=body, headers=slack_headers(body, at, secret)
    )


async def posted_for(
    client: httpx.AsyncClient, poster: RecordingPoster, body: bytes, at: int = STAMP
) -> tuple[httpx.Response, dict[str, Any]]:
    """Press; the answer and the one message handed over for the press's response_url,
    which is the answer's message without ``kinship_outcome``."""
    before = len(poster.submitted)
    answer = await press(client, body, at)
    assert answer.status_code == 200, answer.text
    (handed,) = poster.submitted[before:]
    url, message = handed
    assert url == SLACK_URL
    expected = {k: v for k, v in answer.json().items() if k != "kinship_outcome"}
    assert message == expected
    return answer, message


async def test_each_outcome_posts_its_message_replacing_the_alert_or_only_to_the_presser(
    client: httpx.AsyncClient,
    poster: RecordingPoster,
    alert_id: str,
    case_id: str,
    clock: Clock,
) -> None:
    other = press_body(button(alert_id, "U0RESPA"), user="U0MALLORY")
    answer, message = await posted_for(client, poster, other)
    assert answer.json()["kinship_outcome"] == "refused"
    assert (message["replace_original"], message["response_type"]) == (False, "ephemeral")

    forged = press_body(button(alert_id)[:-1] + "0")
    answer, message = await posted_for(client, poster, forged)
    assert answer.json()["kinship_outcome"] == "invalid"
    assert (message["replace_original"], message["response_type"]) == (False, "ephemeral")

    held = await client.post(f"/v1/cases/{case_id}/acknowledge", headers=bearer("resp-a"))
    assert held.status_code == 200, held.text  # taken in the console: the alert unspent
    answer, message = await posted_for(
        client, poster, press_body(button(alert_id, "U0RESPA"), "kinship_hand_on")
    )
    assert answer.json()["kinship_outcome"] == "holding"
    assert message["replace_original"] is True and "case list" in message["text"]

    answer, message = await posted_for(client, poster, press_body(button(alert_id, "U0RESPA")))
    assert answer.json()["kinship_outcome"] == "already_acknowledged"
    assert message == {
        "replace_original": True,
        "response_type": "in_channel",
        "text": "Already acknowledged: the case is yours.",
    }
    answer, message = await posted_for(
        client, poster, press_body(button(alert_id, "U0RESPA"), "kinship_hand_on", extra=1)
    )
    assert answer.json()["kinship_outcome"] == "already_acknowledged"  # spent: no hand-on

    unknown = press_body(f"k1 no-such-alert {link_token('no-such-alert')}")
    answer, message = await posted_for(client, poster, unknown)
    assert answer.json()["kinship_outcome"] == "unknown"
    assert message["replace_original"] is True

    clock.advance(hours=24, seconds=1)
    late = int(clock.now.timestamp())
    answer, message = await posted_for(client, poster, press_body(button(alert_id)), at=late)
    assert answer.json()["kinship_outcome"] == "expired"
    assert message["replace_original"] is True and "expired" in message["text"]


async def test_a_press_that_acknowledges_or_hands_on_replaces_the_alert(
    client: httpx.AsyncClient, poster: RecordingPoster, alert_id: str
) -> None:
    answer, message = await posted_for(
        client, poster, press_body(button(alert_id), "kinship_hand_on")
    )
    assert answer.json()["kinship_outcome"] == "handed_on"
    assert message == {
        "replace_original": True,
        "response_type": "in_channel",
        "text": "Handed on: the next responder is being alerted now.",
    }
    answer, message = await posted_for(client, poster, press_body(button(alert_id), extra=2))
    assert answer.json()["kinship_outcome"] == "already_answered"
    assert message["replace_original"] is True


async def test_no_message_for_a_press_that_is_not_slacks_or_not_readable(
    client: httpx.AsyncClient, poster: RecordingPoster, alert_id: str
) -> None:
    body = press_body(button(alert_id))
    assert (await client.post("/v1/slack/interactions", content=body)).status_code == 401
    assert (
        await press(client, body, secret="not-the-signing-secret-0123456789")
    ).status_code == 401
    assert (await press(client, body, at=STAMP - 301)).status_code == 401
    unreadable = urlencode({"payload": json.dumps({"type": "view_submission"})}).encode()
    assert (await press(client, unreadable)).status_code == 400
    assert poster.submitted == []
    assert (await press(client, body)).status_code == 200
    assert (await press(client, body)).status_code == 401  # the replay: no second message
    assert len(poster.submitted) == 1


async def test_a_press_without_a_response_url_hands_over_nothing_callable(
    client: httpx.AsyncClient, poster: RecordingPoster, alert_id: str
) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0RESPA"},
        "actions": [{"action_id": "kinship_acknowledge", "value": button(alert_id)}],
    }
    answer = await press(client, urlencode({"payload": json.dumps(payload)}).encode())
    assert answer.json()["kinship_outcome"] == "acknowledged"
    (handed,) = poster.submitted
    assert handed[0] is None
    assert ResponseUrlPolicy(["https://hooks.slack.com/"], https_only=True).admit(None) is None


# ---- which URLs may be called -----------------------------------------------------------------


HOSTILE = [
    "http://hooks.slack.com/actions/T0/1/x",  # plain http outside dev
    "https://hooks.slack.com.evil.example/actions/x",
    "https://evil.example/https://hooks.slack.com/actions/x",
    "https://evil.example/?u=https://hooks.slack.com/",
    "https://hooks.slack.com@evil.example/actions/x",
    "https://user:pw@hooks.slack.com/actions/x",
    "https://hooks.slack.com:8443/actions/x",
    "https://hooks.slack.com\\@evil.example/x",
    "https://hooks.slack.com/actions/x#frag",
    " https://hooks.slack.com/actions/x",
    "https://hooks.slack.com/actions/x\n",
    "https://hooks.slack.com/actions/\x00",
    "https://hooks.slack.com/../actions",
    "https://hooks.slack.com/%2e%2e/actions",
    "https://hooks.slack.com/actions/é",
    "https://hooks.slack.com/actions/" + "x" * 2100,
    "hooks.slack.com/actions/x",
    "//hooks.slack.com/actions/x",
    "file:///etc/passwd",
    "https://[::1]/actions/x",
    "https://127.0.0.1/actions/x",
    "",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_a_response_url_outside_the_prefixes_is_not_admitted(url: str) -> None:
    policy = ResponseUrlPolicy(["https://hooks.slack.com/"], https_only=True)
    assert policy.admit(url) is None


def test_slacks_own_response_urls_are_admitted_as_parsed() -> None:
    policy = ResponseUrlPolicy(["https://hooks.slack.com/"], https_only=True)
    admitted = policy.admit("https://hooks.slack.com/actions/T0/1/x")
    assert admitted is not None and admitted.host == "hooks.slack.com"
    assert policy.admit("https://HOOKS.slack.com:443/actions/T0/1/x") is not None
    narrow = ResponseUrlPolicy(["https://hooks.slack.com/actions/"], https_only=True)
    assert narrow.admit("https://hooks.slack.com/services/T0/B0/x") is None
    assert narrow.admit("https://hooks.slack.com/actionsX/1") is None
    dev = ResponseUrlPolicy(["http://127.0.0.1:8999/slack/"], https_only=False)
    assert dev.admit("http://127.0.0.1:8999/slack/T0/1") is not None
    assert dev.admit("http://127.0.0.1:8998/slack/T0/1") is None
    assert dev.admit("http://localhost:8999/slack/T0/1") is None


@pytest.mark.parametrize(
    "prefix",
    [
        "https://hooks.slack.com",  # no '/': would admit hooks.slack.com.evil.example
        "https://user@hooks.slack.com/",
        "https://hooks.slack.com/?a=1",
        "hooks.slack.com/",
        "ftp://hooks.slack.com/",
        "https://hooks.slack.com/a/../",
        "https://hooks.slack.com/ x/",
    ],
)
def test_a_prefix_that_could_admit_more_than_it_says_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        parse_prefix(prefix, https_only=False)


def test_the_prefixes_setting_defaults_to_slack_and_needs_https_outside_dev() -> None:
    strong = {
        name: f"{name}-a-long-production-secret-0123456789"
        for name, required in EscalationSettings.SECRETS.items()
        if required
    }
    production = {"env": "production", **strong}
    policy = EscalationSettings.model_validate(production).slack_response_urls()
    assert policy.admit(SLACK_URL) is not None
    assert policy.admit("http://127.0.0.1:8999/slack/x") is None
    with pytest.raises(ValueError, match="must be https outside KINSHIP_ENV=dev"):
        EscalationSettings.model_validate(
            production | {"slack_response_url_prefixes": "http://127.0.0.1:8999/"}
        )
    with pytest.raises(InsecureSettingsError):  # the policy itself, however it is reached
        ResponseUrlPolicy(["http://127.0.0.1:8999/"], https_only=True)
    with pytest.raises(ValueError, match="KINSHIP_SLACK_RESPONSE_URL_PREFIXES"):
        EscalationSettings.model_validate(
            production | {"slack_response_url_prefixes": "https://hooks.slack.com"}
        )
    with pytest.raises(ValueError, match="KINSHIP_SLACK_RESPONSE_URL_PREFIXES"):
        EscalationSettings.model_validate(production | {"slack_response_url_prefixes": " , "})
    two = EscalationSettings.model_validate(
        production
        | {"slack_response_url_prefixes": "https://hooks.slack.com/, https://x.example/s/"}
    ).slack_response_urls()
    assert two.admit("https://x.example/s/1") is not None
    dev = EscalationSettings(env="dev", slack_response_url_prefixes="http://127.0.0.1:8999/")
    assert dev.slack_response_urls().admit("http://127.0.0.1:8999/slack/x") is not None


# ---- posting ----------------------------------------------------------------------------------


def recording(
    answer: Callable[[httpx.Request], httpx.Response],
) -> tuple[list[httpx.Request], httpx.AsyncClient]:
    calls: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return answer(request)

    return calls, httpx.AsyncClient(transport=httpx.MockTransport(handle), follow_redirects=False)


def never(request: httpx.Request) -> httpx.Response:
    raise AssertionError("no connection may be opened")


def quiet_libraries(caplog: pytest.LogCaptureFixture) -> None:
    """Everything at DEBUG, but httpx and httpcore capped at WARNING as the service's logging
    caps them (``kinship_runtime.telemetry.configure_logging``: httpx logs every request's
    full URL at INFO)."""
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore"):
        caplog.set_level(logging.WARNING, logger=name)


MESSAGE = {"replace_original": True, "response_type": "in_channel", "text": "Done."}
LOCAL = ResponseUrlPolicy(["http://127.0.0.1:9/slack/"], https_only=False)


async def test_a_refused_url_is_refused_before_any_connection_and_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls, client = recording(never)
    responder = SlackResponder(LOCAL, client, retry_pause=0)
    quiet_libraries(caplog)
    for url in [*HOSTILE, "http://127.0.0.1:10/slack/x", "http://127.0.0.1:9/other/x", 7]:
        assert responder.submit(url, MESSAGE) == "not_admitted"
    await responder.idle()
    await responder.stop()
    assert calls == []
    assert "not_admitted" in caplog.text
    assert "127.0.0.1" not in caplog.text and "hooks.slack.com" not in caplog.text


@pytest.mark.parametrize(
    ("status", "attempts", "outcome"),
    [
        (200, 1, "sent"),
        (500, 2, "failed"),
        (503, 2, "failed"),
        (404, 1, "rejected"),
        (302, 1, "rejected"),
    ],
)
async def test_one_retry_after_a_5xx_none_after_a_refusal_and_no_redirect_followed(
    status: int, attempts: int, outcome: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls, client = recording(
        lambda _r: httpx.Response(status, headers={"location": "http://127.0.0.1:9/elsewhere"})
    )
    responder = SlackResponder(LOCAL, client, retry_pause=0)
    quiet_libraries(caplog)
    assert responder.submit("http://127.0.0.1:9/slack/T0/1/x", MESSAGE) == "queued"
    (task,) = responder._tasks
    await responder.idle()
    assert task.result() == outcome
    assert len(calls) == attempts
    assert all(str(c.url) == "http://127.0.0.1:9/slack/T0/1/x" for c in calls)
    assert all(json.loads(c.content) == MESSAGE for c in calls)
    assert all(c.headers["content-type"] == "application/json" for c in calls)
    assert "/slack/T0" not in caplog.text
    await responder.stop()


async def test_a_timeout_is_retried_once_then_given_up() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    calls, client = recording(slow)
    responder = SlackResponder(LOCAL, client, retry_pause=0)
    responder.submit("http://127.0.0.1:9/slack/x", MESSAGE)
    (task,) = responder._tasks
    await responder.idle()
    assert (task.result(), len(calls)) == ("failed", 2)
    await responder.stop()


async def test_a_receiver_that_never_finishes_is_bounded_by_the_whole_attempts_timeout() -> None:
    """httpx's timeout is per phase: a receiver dripping its answer a byte at a time never
    trips it. The attempt as a whole is bounded (review 3, L5)."""
    calls: list[str] = []

    async def drip(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        await asyncio.sleep(30)
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(drip))
    responder = SlackResponder(LOCAL, client, timeout=0.2, retry_pause=0)
    responder.submit("http://127.0.0.1:9/slack/x", MESSAGE)
    (task,) = responder._tasks
    async with asyncio.timeout(5):
        await responder.idle()
    assert (task.result(), len(calls)) == ("failed", 2)
    await responder.stop()


async def test_posts_are_bounded_and_shutdown_cancels_what_hangs() -> None:
    started: list[str] = []
    release = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        started.append(str(request.url))
        await release.wait()
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(hang))
    responder = SlackResponder(LOCAL, client, concurrency=2, max_waiting=3, retry_pause=0)
    queued = [responder.submit(f"http://127.0.0.1:9/slack/{n}", MESSAGE) for n in range(4)]
    assert queued == ["queued", "queued", "queued", "dropped"]
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(started) == 2  # at most two at a time
    await responder.stop(grace_seconds=0.05)
    assert responder._tasks == set()
    assert responder.submit("http://127.0.0.1:9/slack/late", MESSAGE) == "dropped"
    assert client.is_closed


# ---- over HTTP, to a receiver on 127.0.0.1 ----------------------------------------------------


class Listener:
    """A TCP socket on 127.0.0.1 that only counts the connections it is offered."""

    def __init__(self) -> None:
        self.port = free_port()
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        async def accepted(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.close()

        self._server = await asyncio.start_server(accepted, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    found = WebhookReceiver()
    await found.start()
    yield found
    await found.stop()


@pytest.fixture
async def responder(receiver: WebhookReceiver) -> AsyncIterator[SlackResponder]:
    settings = EscalationSettings(
        env="dev", slack_response_url_prefixes=receiver.url("slack-responses/")
    )
    made = SlackResponder(settings.slack_response_urls(), response_client(), retry_pause=0)
    yield made
    await made.stop()


@pytest.fixture
async def live(
    service: FakeEscalationUnitOfWork,
    relay: FakeRelay,
    ctx: EscalationContext,
    responder: SlackResponder,
) -> AsyncIterator[httpx.AsyncClient]:
    app = fake_app(SlackFakes(service, relay, ctx, responder))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escalation") as http:
        yield http


def pressed(value: str, response_url: str, action: str = "kinship_acknowledge") -> bytes:
    return press_body(value, action, response_url=response_url)


async def test_a_signed_press_updates_the_alert_with_exactly_one_json_post(
    live: httpx.AsyncClient,
    responder: SlackResponder,
    receiver: WebhookReceiver,
    alert_id: str,
    case_id: str,
    service: FakeEscalationUnitOfWork,
) -> None:
    url = receiver.url("slack-responses/T0/1/x")
    answer = await press(live, pressed(button(alert_id, "U0RESPA"), url))
    assert answer.status_code == 200 and answer.json()["kinship_outcome"] == "acknowledged"
    await responder.idle()
    (posted,) = receiver.attempts("slack-responses/T0/1/x")
    assert posted.accepted and posted.headers["content-type"] == "application/json"
    assert json.loads(posted.body) == {
        "replace_original": True,
        "response_type": "in_channel",
        "text": "You have taken this case. Open your case list to continue.",
    }
    assert service.tables.cases[case_id].case.status.value == "acknowledged"
    assert len(receiver.received) == 1


async def test_a_response_url_outside_the_prefixes_opens_no_connection(
    live: httpx.AsyncClient,
    responder: SlackResponder,
    receiver: WebhookReceiver,
    alert_id: str,
    case_id: str,
    service: FakeEscalationUnitOfWork,
) -> None:
    listener = Listener()
    await listener.start()
    try:
        outside = f"http://127.0.0.1:{listener.port}/slack-responses/T0/1/x"
        answer = await press(live, pressed(button(alert_id), outside))
        assert answer.status_code == 200 and answer.json()["kinship_outcome"] == "acknowledged"
        same_host_other_path = receiver.url("elsewhere/slack-responses/x")
        again = await press(
            live, pressed(button(alert_id), same_host_other_path, "kinship_hand_on")
        )
        assert again.json()["kinship_outcome"] == "already_acknowledged"
        await responder.idle()
        await asyncio.sleep(0.2)
        assert listener.connections == 0
        assert receiver.received == []
    finally:
        await listener.stop()
    assert service.tables.cases[case_id].case.status.value == "acknowledged"


async def test_a_failing_receiver_gets_one_retry_and_the_press_stands(
    live: httpx.AsyncClient,
    responder: SlackResponder,
    receiver: WebhookReceiver,
    alert_id: str,
    case_id: str,
    service: FakeEscalationUnitOfWork,
) -> None:
    receiver.fail_first["slack-responses/T0/1/x"] = 10
    url = receiver.url("slack-responses/T0/1/x")
    answer = await press(live, pressed(button(alert_id), url, "kinship_hand_on"))
    assert answer.status_code == 200 and answer.json()["kinship_outcome"] == "handed_on"
    await responder.idle()
    attempts = receiver.attempts("slack-responses/T0/1/x")
    assert [a.accepted for a in attempts] == [False, False]
    assert all(json.loads(a.body)["replace_original"] is True for a in attempts)
    stored = service.tables.cases[case_id]
    assert (stored.case.status.value, stored.case.step) == ("assigned", 2)
