"""Answering an alert from Slack and email: Slack's request signature (checked before
anything is read), reading button presses and email replies (hostile input refused with a
reason, never a 500), and the routes over the in-memory unit of work: one-time, idempotent,
audited as the recipient, and refused for anyone else."""

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from dishka import provide
from fastapi import FastAPI

from kinship_contracts.alert_replies import (
    SlackButtonValue,
    mint_reply_token,
    read_reply_token,
    reply_address,
    reply_token_from,
    slack_user_binding,
)
from kinship_escalation.domain.alert_responses import (
    AlertResponse,
    UnreadableResponseError,
    answer_of,
    read_email_reply,
    read_slack_press,
)
from kinship_escalation.entrypoints.slack_http import (
    ReplayGuard,
    ResponsePoster,
    slack_request_problem,
)
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.settings import EscalationSettings
from tests.unit.escalation.conftest import (
    LINK_LIFETIME,
    LINK_SECRET,
    NOW,
    Clock,
    link_token,
)
from tests.unit.escalation.test_http import Fakes, fake_app
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork
from tests.unit.fakes.relay import FakeRelay

SIGNING_SECRET = "unit-slack-signing-secret-0123456789"
REPLY_DOMAIN = "reply.kinship.test"
MAIL = {"Authorization": "Bearer all-scopes-key"}
"""A key with every scope, email:inbound among them (the fakes' key)."""
REPORTS = {"Authorization": "Bearer reports-key"}
STAMP = int(NOW.timestamp())


def slack_headers(body: bytes, at: int = STAMP, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Headers as Slack signs a request."""
    base = f"v0:{at}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(at),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def press_body(
    value: str, action: str = "kinship_acknowledge", user: str = "U0RESPA", **extra: object
) -> bytes:
    """A ``block_actions`` payload as Slack posts it (a form field ``payload``)."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "someone"},
        "actions": [{"action_id": action, "value": value, "type": "button"}],
        "response_url": "https://hooks.slack.com/actions/T0/1/x",
        **extra,
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def reply(
    token: str | None,
    sender: str = "resp-a@example.org",
    text: str = "ack\n\n> Kinship alert\n",
    **headers: str,
) -> bytes:
    message = EmailMessage()
    message["From"] = f"Resp A <{sender}>"
    message["To"] = reply_address(token, REPLY_DOMAIN) if token else "someone@example.org"
    message["Subject"] = "Re: Kinship alert"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return bytes(message)


# ---- the signature, before anything else ------------------------------------------------------


def test_a_request_signed_like_slack_signs_passes_and_any_flaw_is_named() -> None:
    body = press_body("k1 a t")
    good = {k.lower(): v for k, v in slack_headers(body).items()}
    assert slack_request_problem(SIGNING_SECRET, body, good, STAMP + 10) is None
    assert slack_request_problem(SIGNING_SECRET, body, {}, STAMP) == "unsigned"
    assert slack_request_problem(SIGNING_SECRET, body + b"x", good, STAMP) == "bad_signature"
    assert slack_request_problem("another-secret", body, good, STAMP) == "bad_signature"
    assert slack_request_problem(SIGNING_SECRET, body, good, STAMP + 301) == "stale"
    assert slack_request_problem(SIGNING_SECRET, body, good, STAMP - 301) == "stale"
    for timestamp in ("abc", "1e9", "", "-5", "9" * 40, "\uff11\uff12"):
        hostile = good | {"x-slack-request-timestamp": timestamp}
        assert slack_request_problem(SIGNING_SECRET, body, hostile, STAMP) in {"stale", "unsigned"}
    for signature in ("v0=é", "sha256=00", "v1=" + "0" * 64, "v0=" + "0" * 64):
        hostile = good | {"x-slack-signature": signature}
        assert slack_request_problem(SIGNING_SECRET, body, hostile, STAMP) == "bad_signature"
    latin = b"payload=\xff\xfe"
    signed = {k.lower(): v for k, v in slack_headers(latin).items()}
    assert slack_request_problem(SIGNING_SECRET, latin, signed, STAMP) == "bad_signature"


def test_a_signature_seen_within_five_minutes_is_a_replay() -> None:
    guard = ReplayGuard(window=300)
    assert guard.first_time("v0=a", now=0)
    assert not guard.first_time("v0=a", now=299)
    assert guard.first_time("v0=b", now=299)
    assert guard.first_time("v0=a", now=700)  # long stale by then: the timestamp refuses it
    full = ReplayGuard(window=300, capacity=2)
    assert full.first_time("1", now=0) and full.first_time("2", now=1)
    assert not full.first_time("3", now=2)  # flooded: refused, nothing forgotten


# ---- reading presses and replies --------------------------------------------------------------


def test_a_press_is_read_and_hostile_payloads_are_refused_with_a_reason() -> None:
    value = SlackButtonValue("a1", "v1.1.x", "bind").encode()
    press = read_slack_press(press_body(value, "kinship_hand_on", "U123"))
    assert (press.response, press.value.alert_id, press.slack_user_id) == (
        AlertResponse.HAND_ON,
        "a1",
        "U123",
    )
    hostile = {
        b"": "missing payload",
        b"payload=%7B": "not a Slack interaction payload",
        b"payload=1": "missing payload",
        b"other=1": "missing payload",
        urlencode(
            {"payload": json.dumps({"type": "view_submission"})}
        ).encode(): "not a button press",
        urlencode({"payload": json.dumps({"type": "block_actions"})}).encode(): "missing user.id",
        press_body(value, "approve"): "not a Kinship button",
        press_body("k1 only-two"): "not a Kinship button value",
        press_body(value, user=""): "missing user or action",
        press_body(value)[:-3] + b"%FF": "not a Slack interaction payload",
        b"payload=" + b"[" * 5000: "not a Slack interaction payload",
        b"x" * (64 * 1024 + 1): "too large",
    }
    for body, reason in hostile.items():
        with pytest.raises(UnreadableResponseError) as refused:
            read_slack_press(body)
        assert refused.value.reason == reason, body[:40]


def test_the_first_unquoted_line_of_a_reply_is_its_answer() -> None:
    assert answer_of("ACK") is AlertResponse.ACKNOWLEDGE
    assert answer_of(" Yes! ") is AlertResponse.ACKNOWLEDGE
    assert answer_of("Hand  on.") is AlertResponse.HAND_ON
    assert answer_of("no") is AlertResponse.HAND_ON
    assert answer_of("acknowledged, thanks") is None
    token = "a1.abc.0123456789abcdef"
    text = "\n> ack\n>> yes\n\nhand on\nack\n"
    got = read_email_reply(reply(token, text=text), REPLY_DOMAIN)
    assert (got.token, got.sender, got.response) == (
        token,
        "resp-a@example.org",
        AlertResponse.HAND_ON,
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (reply(None), "not sent to a reply address"),
        (reply("a1.abc.0123456789abcdef", text="> ack\nplease call me"), "reply 'ack'"),
        (reply("a1.abc.0123456789abcdef", text="\n\n"), "reply 'ack'"),
        (
            reply("a1.abc.0123456789abcdef", Authentication_Results="mx; dmarc=fail"),
            "dmarc=fail",
        ),
        (b"From: a@b.c, d@e.f\r\nTo: ack+x.y.z@reply.kinship.test\r\n\r\nack\r\n", "exactly one"),
        (b"To: ack+x@reply.kinship.test\r\n\r\nack\r\n", "exactly one sender"),
        (b"\x00\xff\xfe garbage \x80" * 100, "exactly one sender"),
        (b"From: a@b.c\r\nTo: ack+t@other.test\r\n\r\nack\r\n", "not sent to a reply address"),
        (
            b"From: a@b.c\r\nTo: ack+t@reply.kinship.test\r\nContent-Type: image/png\r\n\r\nx",
            "no plain-text part",
        ),
        (b"From: a@b.c\r\n\r\n" + b"x" * (1024 * 1024), "too large"),
    ],
)
def test_an_unusable_reply_is_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(UnreadableResponseError) as refused:
        read_email_reply(raw, REPLY_DOMAIN)
    assert reason in refused.value.reason


def test_a_reply_token_checks_for_its_alert_and_sender_only() -> None:
    token = mint_reply_token(LINK_SECRET, "a" * 32, "Resp-A@Example.org", NOW)
    assert len(reply_address(token, REPLY_DOMAIN).split("@")[0]) <= 64
    read = read_reply_token(token.upper())  # mail systems may change the case
    assert read is not None and read.alert_id == "a" * 32 and read.expires_at == NOW
    assert reply_token_from(LINK_SECRET, read, " resp-a@example.org")
    assert not reply_token_from(LINK_SECRET, read, "mallory@example.org")
    assert not reply_token_from(b"another-secret-0123456789abcdef012", read, "resp-a@example.org")
    for bad in ("", "a.b", "a.b.c.d", "a1.zz.short", "a1.b.0123456789abcde!"):
        assert read_reply_token(bad) is None


def test_a_reply_token_whose_expiry_no_date_can_hold_is_no_token() -> None:
    """Eight base36 digits reach the year 90000, past what ``datetime`` holds: a hostile
    reply address is no token (refused like any other), never an exception."""
    mac = "0123456789abcdef"
    last = read_reply_token(f"a1.38et6qnz.{mac}")  # 9999-12-31T23:59:59Z, the last one
    assert last is not None and last.expires_at == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert read_reply_token(f"a1.38et6qo0.{mac}") is None  # a second later
    assert read_reply_token(f"a1.zzzzzzzz.{mac}") is None  # 36**8 - 1


# ---- the routes -------------------------------------------------------------------------------


class RecordingPoster:
    """Records what the Slack route hands over for the press's ``response_url`` (never
    calls anything)."""

    def __init__(self) -> None:
        self.submitted: list[tuple[object, dict[str, Any]]] = []

    def submit(self, response_url: object, message: Mapping[str, Any]) -> str:
        self.submitted.append((response_url, dict(message)))
        return "queued"


class SlackFakes(Fakes):
    def __init__(
        self,
        uow: FakeEscalationUnitOfWork,
        relay: FakeRelay,
        ctx: EscalationContext,
        poster: ResponsePoster | None = None,
    ) -> None:
        super().__init__(uow, relay, ctx)
        self.poster = poster if poster is not None else RecordingPoster()

    @provide
    def response_poster(self) -> ResponsePoster:
        return self.poster

    @provide
    def settings(self) -> EscalationSettings:
        return EscalationSettings(
            env="dev",
            slack_enabled=True,
            slack_signing_secret=SIGNING_SECRET,
            email_reply_domain=REPLY_DOMAIN,
        )


@pytest.fixture
def app(service: FakeEscalationUnitOfWork, relay: FakeRelay, ctx: EscalationContext) -> FastAPI:
    return fake_app(SlackFakes(service, relay, ctx))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escalation") as http:
        yield http


@pytest.fixture
def alert_id(case_id: str, service: FakeEscalationUnitOfWork) -> str:
    (only,) = service.tables.alerts
    return only


def button(alert_id: str, slack_user: str | None = None) -> str:
    binding = slack_user_binding(LINK_SECRET, alert_id, slack_user) if slack_user else None
    return SlackButtonValue(alert_id, link_token(alert_id), binding).encode()


async def press(
    client: httpx.AsyncClient, body: bytes, at: int = STAMP, secret: str = SIGNING_SECRET
) -> httpx.Response:
    return await client.post(
        "/v1/slack/interactions", content=body, headers=slack_headers(body, at, secret)
    )


def transitions(service: FakeEscalationUnitOfWork, kind: str) -> list[str]:
    return [r.actor for r in service.tables.audit if r.action == kind]


async def test_a_signed_press_acknowledges_once_and_a_second_press_changes_nothing(
    client: httpx.AsyncClient, case_id: str, alert_id: str, service: FakeEscalationUnitOfWork
) -> None:
    first = await press(client, press_body(button(alert_id, "U0RESPA")))
    assert first.status_code == 200, first.text
    assert first.json()["replace_original"] is True
    assert first.json()["kinship_outcome"] == "acknowledged"
    assert service.tables.cases[case_id].case.status.value == "acknowledged"
    assert service.tables.cases[case_id].case.responder_id == "resp-a"
    again = await press(client, press_body(button(alert_id, "U0RESPA"), extra="x"))
    assert again.status_code == 200
    assert again.json()["kinship_outcome"] == "already_acknowledged"
    assert "Already acknowledged" in again.json()["text"]
    assert transitions(service, "acknowledged") == ["person:resp-a"]
    assert transitions(service, "answered_by_slack") == ["person:resp-a"]


async def test_unsigned_forged_stale_and_replayed_presses_are_refused_and_do_nothing(
    client: httpx.AsyncClient, case_id: str, alert_id: str, service: FakeEscalationUnitOfWork
) -> None:
    body = press_body(button(alert_id))
    unsigned = await client.post("/v1/slack/interactions", content=body)
    assert (unsigned.status_code, unsigned.json()["detail"]) == (401, "unsigned")
    forged = await press(client, body, secret="not-the-signing-secret-0123456789")
    assert (forged.status_code, forged.json()["detail"]) == (401, "bad_signature")
    stale = await press(client, body, at=STAMP - 301)
    assert (stale.status_code, stale.json()["detail"]) == (401, "stale")
    missing = await press(client, urlencode({"payload": "{}"}).encode())
    assert (missing.status_code, missing.json()["detail"]) == (400, "not a button press")
    assert service.tables.cases[case_id].case.status.value == "assigned"
    first = await press(client, body)
    assert first.status_code == 200
    replayed = await press(client, body)
    assert (replayed.status_code, replayed.json()["detail"]) == (401, "replayed")
    assert transitions(service, "acknowledged") == ["person:resp-a"]


async def test_a_press_by_another_slack_user_is_refused_and_audited(
    client: httpx.AsyncClient, case_id: str, alert_id: str, service: FakeEscalationUnitOfWork
) -> None:
    """Refused in the body, with HTTP 200: Slack shows its own generic error for any other
    status, and the reason would be lost."""
    other = await press(client, press_body(button(alert_id, "U0RESPA"), user="U0MALLORY"))
    assert other.status_code == 200, other.text
    assert other.json()["kinship_outcome"] == "refused"
    assert other.json()["text"] == "This alert was sent to someone else: only they can answer it."
    assert other.json()["response_type"] == "ephemeral"
    assert other.json()["replace_original"] is False
    assert transitions(service, "alert_answer_refused") == ["system:slack"]
    assert service.tables.cases[case_id].case.status.value == "assigned"
    assert service.tables.alerts[alert_id].record.link_used_at is None  # still the recipient's
    forged_token = SlackButtonValue(alert_id, link_token(alert_id)[:-1] + "0").encode()
    refused = await press(client, press_body(forged_token))
    assert refused.status_code == 200, refused.text
    assert refused.json()["kinship_outcome"] == "invalid"
    assert "not valid" in refused.json()["text"]
    unknown = SlackButtonValue("no-such-alert", link_token("no-such-alert")).encode()
    gone = await press(client, press_body(unknown))
    assert gone.status_code == 200, gone.text
    assert (gone.json()["kinship_outcome"], gone.json()["text"]) == (
        "unknown",
        "This alert is unknown.",
    )
    assert service.tables.cases[case_id].case.status.value == "assigned"


async def test_hand_on_spends_the_alert_and_alerts_the_next_step_at_once(
    client: httpx.AsyncClient,
    case_id: str,
    alert_id: str,
    service: FakeEscalationUnitOfWork,
) -> None:
    handed = await press(client, press_body(button(alert_id), "kinship_hand_on"))
    assert handed.status_code == 200 and handed.json()["kinship_outcome"] == "handed_on"
    stored = service.tables.cases[case_id]
    assert (stored.case.status.value, stored.case.step) == ("assigned", 2)
    assert stored.case.responder_id == "resp-b"
    assert transitions(service, "declined_by_slack") == ["person:resp-a"]
    assert len(service.tables.alerts) == 2
    late = await press(client, press_body(button(alert_id), extra=1))
    assert late.json()["kinship_outcome"] == "already_answered"
    assert stored.case.status.value == "assigned"


async def test_an_expired_button_is_refused(
    client: httpx.AsyncClient, case_id: str, alert_id: str, clock: Clock
) -> None:
    clock.advance(hours=24, seconds=1)
    body = press_body(button(alert_id))
    expired = await press(client, body, at=int(clock.now.timestamp()))
    assert expired.status_code == 200, expired.text
    assert expired.json()["kinship_outcome"] == "expired"
    assert "expired" in expired.json()["text"]


async def test_someone_elses_press_of_an_expired_bound_button_is_refused_not_expired(
    client: httpx.AsyncClient,
    case_id: str,
    alert_id: str,
    clock: Clock,
    service: FakeEscalationUnitOfWork,
) -> None:
    """Review 3, L1: "expired" replaces the message for the whole channel; another user's
    press must only ever be refused (to them alone) and audited."""
    clock.advance(hours=24, seconds=1)
    body = press_body(button(alert_id, "U0RESPA"), user="U0MALLORY")
    answer = await press(client, body, at=int(clock.now.timestamp()))
    assert answer.status_code == 200, answer.text
    assert answer.json()["kinship_outcome"] == "refused"
    assert answer.json()["replace_original"] is False
    assert transitions(service, "alert_answer_refused") == ["system:slack"]


def reply_token(alert_id: str, sender: str = "resp-a@example.org") -> str:
    return mint_reply_token(LINK_SECRET, alert_id, sender, NOW + LINK_LIFETIME)


async def test_an_email_reply_acknowledges_for_its_recipient_only(
    client: httpx.AsyncClient, case_id: str, alert_id: str, service: FakeEscalationUnitOfWork
) -> None:
    mail = {**MAIL, "Content-Type": "message/rfc822"}
    spoofed = reply(reply_token(alert_id), sender="mallory@example.org")
    refused = await client.post("/v1/email/inbound", content=spoofed, headers=mail)
    assert refused.status_code == 403, refused.text
    assert refused.json().get("outcome") == "refused", refused.text
    assert transitions(service, "alert_answer_refused") == ["system:email"]
    no_key = await client.post("/v1/email/inbound", content=reply(reply_token(alert_id)))
    assert no_key.status_code == 401
    wrong_scope = await client.post(
        "/v1/email/inbound", content=reply(reply_token(alert_id)), headers=REPORTS
    )
    assert wrong_scope.status_code == 403
    unreadable = await client.post("/v1/email/inbound", content=b"\x00", headers=mail)
    assert unreadable.status_code == 422 and unreadable.json()["detail"]
    assert service.tables.cases[case_id].case.status.value == "assigned"
    taken = await client.post(
        "/v1/email/inbound", content=reply(reply_token(alert_id)), headers=mail
    )
    assert (taken.status_code, taken.json()["outcome"]) == (200, "acknowledged")
    assert transitions(service, "acknowledged") == ["person:resp-a"]
    again = await client.post(
        "/v1/email/inbound", content=reply(reply_token(alert_id), text="yes"), headers=mail
    )
    assert again.json()["outcome"] == "already_acknowledged"
    assert transitions(service, "acknowledged") == ["person:resp-a"]


async def test_a_reply_address_with_an_expiry_no_date_can_hold_is_refused_not_a_500(
    client: httpx.AsyncClient, case_id: str, service: FakeEscalationUnitOfWork
) -> None:
    mail = {**MAIL, "Content-Type": "message/rfc822"}
    for expiry in ("zzzzzzzz", "38et6qo0"):
        hostile = reply(f"{case_id[:8]}.{expiry}.0123456789abcdef")
        answer = await client.post("/v1/email/inbound", content=hostile, headers=mail)
        assert answer.status_code == 403, answer.text
        assert answer.json()["detail"] == "this reply address is not valid"
    assert service.tables.cases[case_id].case.status.value == "assigned"


async def test_slack_switched_off_answers_404_not_a_5xx(
    service: FakeEscalationUnitOfWork, relay: FakeRelay, ctx: EscalationContext
) -> None:
    class NoSlack(SlackFakes):
        @provide
        def settings(self) -> EscalationSettings:
            return EscalationSettings(env="dev", slack_enabled=False)

    app = fake_app(NoSlack(service, relay, ctx))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escalation") as http:
        body = press_body("k1 a t")
        answer = await http.post(
            "/v1/slack/interactions", content=body, headers=slack_headers(body)
        )
    assert answer.status_code == 404


def test_production_needs_the_signing_secret_while_slack_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KINSHIP_ENV", "dev")
    assert EscalationSettings().slack_signing_key() is None
    strong = {
        name: f"{name}-a-long-production-secret-0123456789"
        for name, required in EscalationSettings.SECRETS.items()
        if required
    }
    production = {"env": "production", **strong}
    assert EscalationSettings.model_validate(production).slack_signing_key() is None
    with pytest.raises(ValueError, match="KINSHIP_SLACK_SIGNING_SECRET"):
        EscalationSettings.model_validate(production | {"slack_enabled": True})
    secret = "slack-signing-secret-0123456789abcdef"
    configured = EscalationSettings.model_validate(
        production | {"slack_enabled": True, "slack_signing_secret": secret}
    )
    assert configured.slack_signing_key() == secret
