"""The coordinator's audit log over the real broker and database: a case opened from a
check-in, acknowledged and read, a policy saved, then ``GET /v1/audit`` newest first with
its filters and cursor; the page reads audited; never a key, never a responder; never the
person the case is about."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.escalation_support import (
    AUTH,
    STAFF,
    SUBJECTS,
    Escalation,
    bearer,
    recorded,
    seed_directory,
)
from tests.kafka_reading import publish

pytestmark = pytest.mark.integration


async def test_coordinators_read_the_audit_newest_first_and_each_page_is_audited(
    escalation: Escalation,
) -> None:
    await seed_directory(escalation, STAFF)
    topic = escalation.topic("wellbeing.checkins.recorded")
    checkin = recorded("c-1", "worker-1", datetime.now(UTC), wants_contact=True, mood=3)
    await publish(escalation.endpoints.bootstrap_servers, topic, [checkin])
    assert await escalation.wait_for("SELECT count(*) FROM alerts", 1) == 1
    case_id = (await escalation.rows("SELECT id FROM cases"))[0]["id"]
    http, coord = escalation.client, bearer("coord-1")
    taken = await http.post(f"/v1/cases/{case_id}/acknowledge", headers=bearer("resp-a"))
    assert taken.status_code == 200, taken.text
    view = await http.get(f"/v1/cases/{case_id}", headers=coord)
    assert view.status_code == 200, view.text
    # Acknowledged, nobody reached yet: the contact timeout (600 s in the tests) is the
    # deadline, read from the case's pending timer.
    acknowledged = datetime.fromisoformat(view.json()["acknowledged_at"])
    contact_due = datetime.fromisoformat(view.json()["contact_due_at"])
    assert contact_due - acknowledged == timedelta(seconds=600)
    assert view.json()["ack_due_at"] is None
    policy = {"steps": [{"target": "responders", "timeout_seconds": 120}]}
    assert (await http.put("/v1/policies/default", json=policy, headers=coord)).is_success

    for refused in (AUTH, bearer("resp-a"), bearer("worker-1")):
        assert (await http.get("/v1/audit", headers=refused)).status_code == 403
    answer = await http.get("/v1/audit", headers=coord)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    entries = answer.json()["entries"]
    assert [(e["action"], e["actor"], e["case_id"]) for e in entries[:3]] == [
        ("policy_changed", "person:coord-1", None),
        ("read", "person:coord-1", case_id),
        ("acknowledged", "person:resp-a", case_id),
    ]
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs, reverse=True)
    assert "worker-1" not in answer.text
    assert SUBJECTS.subject_id("worker-1") not in answer.text

    of_case = await http.get(
        "/v1/audit", params={"case_id": case_id, "actor": "person:resp-a"}, headers=coord
    )
    assert {e["action"] for e in of_case.json()["entries"]} == {"acknowledged"}
    first = (await http.get("/v1/audit", params={"limit": 2}, headers=coord)).json()
    assert len(first["entries"]) == 2 and first["older"] == first["entries"][-1]["seq"]
    older = await http.get(
        "/v1/audit", params={"limit": 2, "before": first["older"]}, headers=coord
    )
    assert all(e["seq"] < first["older"] for e in older.json()["entries"])

    reads = await escalation.rows(
        "SELECT actor, case_ids, subject_ids FROM case_audit WHERE action = 'audit_read'"
    )
    assert len(reads) == 4  # the four pages read above, refused calls none
    assert {(r["actor"], len(r["case_ids"]), len(r["subject_ids"])) for r in reads} == {
        ("person:coord-1", 0, 0)
    }
