"""The case view's deadlines (``ack_due_at``, ``contact_due_at``) from each case's pending
timers: in the list and the explained view, only for the wait the case is in now."""

from datetime import datetime, timedelta

import httpx

from kinship_escalation.domain.timers import (
    CaseDeadlines,
    ack_timeout,
    case_deadlines,
    contact_timeout,
)
from tests.escalation_support import bearer
from tests.unit.escalation.conftest import NOW, Clock
from tests.unit.escalation.test_http import (  # noqa: F401  (fixtures)
    app,
    client,
)

LATER = NOW + timedelta(minutes=5)


def test_the_current_steps_ack_timeout_while_unacknowledged() -> None:
    pending = [ack_timeout("c", 1, 1, NOW), ack_timeout("c", 2, 1, LATER)]
    assert case_deadlines("assigned", 2, 1, False, pending) == CaseDeadlines(ack_due_at=LATER)
    assert case_deadlines("opened", 1, 1, False, pending) == CaseDeadlines(ack_due_at=NOW)
    assert case_deadlines("assigned", 2, 2, False, pending) == CaseDeadlines()
    # acknowledged: a step's timer left behind is no deadline
    assert case_deadlines("acknowledged", 2, 1, False, pending) == CaseDeadlines()


def test_the_contact_timeout_while_acknowledged_and_nobody_reached() -> None:
    pending = [contact_timeout("c", 1, NOW), contact_timeout("c", 2, LATER)]
    due = CaseDeadlines(contact_due_at=LATER)
    assert case_deadlines("acknowledged", 1, 1, False, pending) == due
    assert case_deadlines("acknowledged", 1, 1, True, pending) == CaseDeadlines()
    assert case_deadlines("contacted", 1, 1, True, pending) == CaseDeadlines()
    assert case_deadlines("resolved", 1, 1, True, pending) == CaseDeadlines()


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def test_list_and_view_show_the_deadline_of_the_wait_the_case_is_in(
    client: httpx.AsyncClient,  # noqa: F811  (the HTTP tests' fixtures)
    case_id: str,
    clock: Clock,
) -> None:
    coord, responder = bearer("coord-1"), bearer("resp-a")
    (listed,) = (await client.get("/v1/cases", headers=coord)).json()
    # the default policy of the unit context: 300 s to acknowledge, 3600 s to reach
    assert _at(listed["ack_due_at"]) == NOW + timedelta(seconds=300)
    assert listed["contact_due_at"] is None

    clock.advance(minutes=2)
    taken = await client.post(f"/v1/cases/{case_id}/acknowledge", headers=responder)
    assert taken.status_code == 200, taken.text
    view = (await client.get(f"/v1/cases/{case_id}", headers=responder)).json()
    assert view["ack_due_at"] is None
    assert _at(view["contact_due_at"]) == NOW + timedelta(minutes=2, seconds=3600)
    (mine,) = (await client.get("/v1/cases?assigned_to=me", headers=responder)).json()
    assert (mine["ack_due_at"], _at(mine["contact_due_at"])) == (None, _at(view["contact_due_at"]))

    reached = await client.post(f"/v1/cases/{case_id}/contact", headers=responder)
    assert reached.status_code == 200, reached.text
    view = (await client.get(f"/v1/cases/{case_id}", headers=responder)).json()
    assert (view["ack_due_at"], view["contact_due_at"]) == (None, None)
