"""Acknowledgement links (issue 11, "Why" 7): the token exists only in what the responder
receives. It is not in any service's log, not in ``notifications.deliveries``, not on
``notifications.requests`` (nor any other topic); an expired or forged link is refused and
changes nothing; the pages are not cached and leak no referrer.

Lee's critical check-in opens a case; the alerted responder gets the alert by email (the
stack's SMTP server on 127.0.0.1), with the link and its token.
"""

from datetime import UTC, datetime, timedelta

import pytest

from kinship_contracts.links import mint_ack_token
from tests.security.flows import alert_email, alerted, case_row, open_case
from tests.security.stack import Stack, mentions, record_mentions

pytestmark = pytest.mark.security

PRIVATE = {"cache-control": "no-store", "referrer-policy": "no-referrer"}


@pytest.fixture(scope="module")
async def alert(stack: Stack) -> tuple[str, str, str, str]:
    """(case id, link without token, alert id, token) of the alert about Lee's case."""
    case_id = await open_case(stack, stack.people.lee)
    link, alert_id, token = await alert_email(stack, case_id)
    return case_id, link, alert_id, token


def path_of(stack: Stack, link: str) -> str:
    return link.removeprefix(stack.url("escalation", ""))


async def test_the_token_is_in_no_log_no_table_and_on_no_topic(
    stack: Stack, alert: tuple[str, str, str, str]
) -> None:
    case_id, link, alert_id, token = alert
    assert link.startswith(stack.url("escalation", "/v1/alerts/"))
    page = await stack.call("GET", "escalation", path_of(stack, link), params={"token": token})
    assert page.status_code == 200  # a page with a button: a link scanner acknowledges nothing
    for name, value in PRIVATE.items():
        assert page.headers[name] == value
    assert await case_row(stack, case_id) != {}

    for service in stack.processes:
        assert not mentions(await stack.pg_dump(service), token), service
    topics = await stack.read_many(await stack.topics())
    requests = topics["notifications.requests"]
    alert_requests = [r for r in requests if alert_id.encode() in (r.value or b"")]
    assert alert_requests, "the alert request is on the topic (without its token)"
    for name, records in topics.items():
        assert not [r for r in records if record_mentions(r, token)], name
    # The access log names routes, never query strings: the token followed above is not there.
    logs = stack.log_text()
    assert "GET /v1/alerts/{alert_id}/acknowledge 200" in logs
    assert token not in logs and token[-20:] not in logs
    assert alert_id not in logs  # nor the path with its parameters


async def test_an_expired_link_is_refused_and_changes_nothing(
    stack: Stack, alert: tuple[str, str, str, str]
) -> None:
    case_id, link, alert_id, _token = alert
    before = await case_row(stack, case_id)
    # The link exactly as the notifications service minted it, an hour past its expiry.
    expired = mint_ack_token(
        stack.secrets.link.encode(), alert_id, datetime.now(UTC) - timedelta(hours=1)
    )
    for method in ("GET", "POST"):
        answer = await stack.call(
            method,
            "escalation",
            path_of(stack, link),
            {"accept": "text/html"},
            params={"token": expired},
        )
        assert answer.status_code == 410, (method, answer.text)
        assert "expired" in answer.text
        for name, value in PRIVATE.items():
            assert answer.headers[name] == value
    assert await case_row(stack, case_id) == before
    used = await stack.value(
        "escalation", "SELECT link_used_at FROM alerts WHERE id = $1", alert_id
    )
    assert used is None


async def test_a_forged_link_is_refused_and_changes_nothing(
    stack: Stack, alert: tuple[str, str, str, str]
) -> None:
    case_id, link, alert_id, token = alert
    before = await case_row(stack, case_id)
    version, expires, mac = token.split(".")
    later = int(datetime.now(UTC).timestamp()) + 30 * 24 * 3600
    forged = {
        "a changed signature": f"{version}.{expires}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}",
        "a later expiry with the same signature": f"{version}.{later}.{mac}",
        "another secret": mint_ack_token(
            b"an-attacker-secret-of-enough-length-0123456789",
            alert_id,
            datetime.now(UTC) + timedelta(hours=1),
        ),
        "another alert's token": mint_ack_token(
            stack.secrets.link.encode(), f"{alert_id}-other", datetime.now(UTC) + timedelta(hours=1)
        ),
        "no signature": f"{version}.{expires}.",
    }
    for what, attempt in forged.items():
        answer = await stack.call(
            "POST", "escalation", path_of(stack, link), params={"token": attempt}
        )
        assert answer.status_code == 403, (what, answer.text)
        assert answer.headers["cache-control"] == "no-store"
    assert await case_row(stack, case_id) == before
    used = await stack.value(
        "escalation", "SELECT link_used_at FROM alerts WHERE id = $1", alert_id
    )
    assert used is None

    # The genuine link works, once, for the responder it was sent to.
    taken = await stack.call("POST", "escalation", path_of(stack, link), params={"token": token})
    assert taken.status_code == 200, taken.text
    assert taken.json()["responder_id"] == await alerted(stack, case_id)
    again = await stack.call("POST", "escalation", path_of(stack, link), params={"token": token})
    assert again.status_code == 403
    assert token not in stack.log_text()
