"""The coordinator's audit log (``GET /v1/audit``, ``handlers/audit.py``) over the fakes:
newest first, filters, the ``before`` cursor, what a record shows (never whom it concerns),
that each page read is itself audited, that configuration changes are audited, and that
only people with the coordinator role may read it (never a key)."""

import httpx
import pytest

from kinship_escalation.domain.cases import AuditFilter, AuditRecord
from kinship_escalation.handlers.audit import MAX_PAGE, READ_ACTION, read_audit
from kinship_escalation.handlers.cases import acknowledge
from kinship_escalation.handlers.context import EscalationContext
from tests.escalation_support import bearer
from tests.unit.escalation.test_http import (  # noqa: F401  (fixtures)
    ALL_SCOPES,
    REPORTS,
    app,
    client,
)
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork


async def _records(uow: FakeEscalationUnitOfWork, n: int) -> None:
    for i in range(n):
        case = f"case-{i % 3}"
        await uow.cases.audit(AuditRecord("read", f"person:r-{i % 2}", (case,), ("s",)))


async def test_newest_first_with_a_cursor_to_older_pages(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await _records(uow, 7)
    first = await read_audit(AuditFilter(), 3, "coord-1", uow, ctx)
    assert [e.seq for e in first.entries] == [7, 6, 5]
    assert first.older == 5
    second = await read_audit(AuditFilter(before=first.older), 3, "coord-1", uow, ctx)
    assert [e.seq for e in second.entries] == [4, 3, 2]
    last = await read_audit(AuditFilter(before=second.older), 3, "coord-1", uow, ctx)
    # seq 1 and nothing older: the first page's read record (seq 8) is newer than the cursor
    assert [e.seq for e in last.entries] == [1]
    assert last.older is None


async def test_each_page_read_is_audited_naming_the_reader_and_no_case(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await _records(uow, 2)
    await read_audit(AuditFilter(), 10, "coord-1", uow, ctx)
    await read_audit(AuditFilter(), 10, "coord-1", uow, ctx)
    reads = [r for r in uow.tables.audit if r.action == READ_ACTION]
    assert [(r.actor, r.case_ids, r.subject_ids) for r in reads] == [("person:coord-1", (), ())] * 2
    page = await read_audit(AuditFilter(action=READ_ACTION), 10, "coord-1", uow, ctx)
    assert [e.actor for e in page.entries] == ["person:coord-1"] * 2


async def test_filters_by_case_actor_and_action(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await _records(uow, 6)
    await uow.cases.audit(AuditRecord("list", "person:r-0", ("case-1", "case-2"), ("s", "t")))
    by_case = await read_audit(AuditFilter(case_id="case-1"), 50, "c", uow, ctx)
    by_actor = await read_audit(AuditFilter(actor="person:r-1"), 50, "c", uow, ctx)
    both = await read_audit(
        AuditFilter(case_id="case-1", actor="person:r-0", action="read"), 50, "c", uow, ctx
    )
    assert [(e.seq, e.case_id, e.cases) for e in by_case.entries] == [
        (7, None, 2),
        (5, "case-1", 1),
        (2, "case-1", 1),
    ]
    assert [e.seq for e in by_actor.entries] == [6, 4, 2]
    assert [e.seq for e in both.entries] == [5]
    assert by_case.older is None


async def test_a_page_is_one_to_two_hundred_records(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    for limit in (0, MAX_PAGE + 1):
        with pytest.raises(ValueError):
            await read_audit(AuditFilter(), limit, "c", uow, ctx)


async def test_the_route_is_for_coordinators_only_never_a_key(
    client: httpx.AsyncClient,  # noqa: F811  (the HTTP tests' fixture)
    case_id: str,
) -> None:
    assert (await client.get("/v1/audit")).status_code == 401
    for refused in (bearer("resp-a"), bearer("worker-1"), ALL_SCOPES, REPORTS):
        assert (await client.get("/v1/audit", headers=refused)).status_code == 403
    assert (await client.get("/v1/audit?limit=201", headers=bearer("coord-1"))).status_code == 422


async def test_the_route_shows_actions_and_configuration_changes_without_whom_they_concern(
    client: httpx.AsyncClient,  # noqa: F811  (the HTTP tests' fixtures)
    service: FakeEscalationUnitOfWork,
    case_id: str,
    ctx: EscalationContext,
) -> None:
    coord = bearer("coord-1")
    async with service:
        await acknowledge(case_id, "resp-a", service, ctx)
    policy = {"steps": [{"target": "responders", "timeout_seconds": 60}]}
    assert (await client.put("/v1/policies/default", json=policy, headers=coord)).is_success
    rotation = {"name": "night", "members": ["resp-a"], "starts_at": "2026-11-23T08:00:00+00:00"}
    assert (await client.put("/v1/rotations/night", json=rotation, headers=coord)).is_success
    assert (await client.get("/v1/cases", headers=coord)).is_success

    answer = await client.get("/v1/audit", headers=coord)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    entries = body["entries"]
    assert [(e["action"], e["actor"]) for e in entries[:3]] == [
        ("list", "person:coord-1"),
        ("rotation_saved", "person:coord-1"),
        ("policy_changed", "person:coord-1"),
    ]
    assert (entries[0]["case_id"], entries[0]["cases"]) == (case_id, 1)  # a list of one case
    assert {"acknowledged", "opened"} <= {e["action"] for e in entries if e["case_id"] == case_id}
    assert all(set(e) == {"seq", "at", "action", "actor", "case_id", "cases"} for e in entries)
    assert "worker-1" not in answer.text
    assert body["older"] is None

    page = await client.get(
        "/v1/audit", params={"case_id": case_id, "action": "acknowledged"}, headers=coord
    )
    assert [(e["action"], e["actor"]) for e in page.json()["entries"]] == [
        ("acknowledged", "person:resp-a")
    ]
    reads = await client.get("/v1/audit", params={"action": READ_ACTION}, headers=coord)
    assert len(reads.json()["entries"]) == 2  # the two pages read before this one
    one = await client.get("/v1/audit", params={"limit": 1}, headers=coord)
    assert one.json()["older"] == one.json()["entries"][0]["seq"]
    older = await client.get("/v1/audit", params={"before": one.json()["older"]}, headers=coord)
    assert older.json()["entries"][0]["seq"] == one.json()["entries"][0]["seq"] - 1
