"""The coordinator's erasures page over fake services: each erasure's progress by part,
overdue ones flagged, never whom they erase; erasing a person on their behalf needs an id
and a confirmation; anyone who is not a coordinator is refused."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from kinship_console.adapters.api import ErasureRecord, Me
from tests.unit.console.cases_fakes import FakeCasesApi
from tests.unit.console.conftest import Console, console_as
from tests.unit.console.test_coordinator_pages import send


@pytest.fixture
def console() -> Iterator[Console]:
    yield from console_as("cora", ["coordinator"])


def fake(console: Console) -> FakeCasesApi:
    assert isinstance(console.api, FakeCasesApi)
    return console.api


def erasure(erasure_id: str, asked: datetime, pending: tuple[str, ...] = ()) -> ErasureRecord:
    done = asked + timedelta(seconds=20)
    services = {
        name: None if name in pending else done
        for name in ("checkin", "escalation", "notifications", "recognition")
    }
    return ErasureRecord(
        erasure_id=erasure_id,
        requested_at=asked,
        requested_by="hr-portal",
        complete=not pending,
        services=services,
    )


def rows(page: str) -> list[str]:
    body = unescape(page[page.index("<tbody>") : page.index("</tbody>")])
    return [row for row in body.split("<tr")[1:]]


def test_each_erasure_shows_which_parts_are_done_and_flags_one_overdue(console: Console) -> None:
    now = datetime.now(UTC)
    fake(console).erasure_list = [
        erasure("er-recent-pending", now - timedelta(minutes=2), pending=("escalation",)),
        erasure("er-stuck-long-ago", now - timedelta(hours=3), pending=("notifications",)),
        erasure("er-all-finished", now - timedelta(days=1)),
    ]
    console.sign_in()
    page = console.client.get("/coordinator/erasures")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    recent, stuck, finished = rows(page.text)
    assert "Waiting for Peer support cases" in recent and "Overdue" not in recent
    assert "Overdue: still waiting for Messages" in stuck and 'class="overdue"' in stuck
    assert "Complete in every part" in finished and "Waiting" not in finished
    assert "ask the operators" in page.text
    assert ("erasures", "100") in fake(console).calls


def test_no_erasures_yet_says_so(console: Console) -> None:
    console.sign_in()
    page = console.client.get("/coordinator/erasures")
    assert page.status_code == 200 and "No erasure has been asked for yet." in page.text


def test_a_peer_responder_is_refused_and_nothing_is_listed(console: Console) -> None:
    api = fake(console)
    api.person = Me(person_id="cora", roles=["peer_responder"])
    api.erasure_list = [erasure("er-1", datetime.now(UTC))]
    console.sign_in()
    page = console.client.get("/coordinator/erasures")
    assert page.status_code == 403 and "Not available to you" in page.text
    assert not any(call[0] == "erasures" for call in api.calls)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"person_id": "", "confirm": "yes"}, "Enter the Kinship id of the person"),
        ({"person_id": "two words", "confirm": "yes"}, "Enter the Kinship id of the person"),
        ({"person_id": "dana"}, "Tick the box to confirm"),
    ],
)
def test_an_erasure_without_an_id_or_a_confirmation_is_not_asked_for(
    console: Console, form: dict[str, str], message: str
) -> None:
    console.sign_in()
    answer = send(console, "/coordinator/erasures", form)
    assert answer.status_code == 422
    assert message in unescape(answer.text) and "There is a problem" in answer.text
    assert fake(console).erasure_requests == []


def test_a_confirmed_erasure_is_asked_for_as_the_coordinator_and_confirmed(
    console: Console,
) -> None:
    console.sign_in()
    answer = send(console, "/coordinator/erasures", {"person_id": " dana ", "confirm": "yes"})
    assert answer.status_code == 303 and answer.headers["location"] == "/coordinator/erasures"
    ((_token, person_id),) = fake(console).erasure_requests
    assert person_id == "dana"
    page = console.client.get("/coordinator/erasures")
    assert "The erasure was requested." in page.text
    assert "dana" not in page.text  # whom it erases is never shown


def test_a_post_without_the_csrf_token_is_refused(console: Console) -> None:
    console.sign_in()
    answer = console.client.post(
        "/coordinator/erasures", data={"person_id": "dana", "confirm": "yes"}
    )
    assert answer.status_code == 403
    assert fake(console).erasure_requests == []
