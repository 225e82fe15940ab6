"""The escalation service's side of trust, across services over the real broker and database:
the check-in service runs in-process beside it, as the vault and as the only place that can
turn a reveal grant into a name.

- A critical check-in → a case → an alert → acknowledged by its link → a reveal grant → the
  check-in service reveals the person to the assigned responder; everyone else is refused.
- Nobody is alerted about themself: the real vault screens the responders.
- Erasure: after both halves, nothing in the escalation schema names the person or their
  subject id, another person's case is intact, and nothing more goes out about their case.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tests.conftest import Endpoints
from tests.database import open_dead_letters
from tests.escalation_support import (
    AUTH,
    Services,
    bearer,
    encode_person,
    escalation_beside_checkin,
    mentions,
    person,
    pg_dump,
)
from tests.kafka_reading import encode, publish, read_all

pytestmark = pytest.mark.integration

CRITICAL_PHQ9 = [0, 0, 0, 0, 0, 0, 0, 0, 2]


@pytest.fixture
async def services(
    service_env: dict[str, str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Services]:
    async with escalation_beside_checkin(service_env, endpoints, monkeypatch) as running:
        yield running


STAFF = [
    person("resp-a", "team-r", "peer_responder"),
    person("resp-b", "team-s", "peer_responder"),
    person("coord-1", "team-c", "coordinator"),
    encode_person("worker-1", "team-x", {"email": "worker-1@example.org"}),
]


async def test_the_assigned_responder_learns_who_the_person_is_and_nobody_else_does(
    services: Services,
) -> None:
    escalation = services.escalation
    await services.directory(STAFF)
    await services.check_in("worker-1", phq9=CRITICAL_PHQ9)
    assert await escalation.wait_for("SELECT count(*) FROM alerts", 1) == 1
    case_id = (await escalation.rows("SELECT id FROM cases"))[0]["id"]
    (first,) = await services.alerts_of(case_id)
    assert first["recipient"] == {"person_id": "resp-a"}
    grant_path = f"/v1/cases/{case_id}/reveal-grant"

    # Not acknowledged yet: no grant, even for the responder it is assigned to.
    early = await escalation.client.post(grant_path, headers=bearer("resp-a"))
    assert early.status_code == 409

    taken = await escalation.client.post(escalation.link(first["alert"]))
    assert (taken.status_code, taken.json()["responder_id"]) == (200, "resp-a")

    refused = {
        "another responder": bearer("resp-b"),
        "a coordinator": bearer("coord-1"),
        "the person themself": bearer("worker-1"),
        "a key with every scope": AUTH,
    }
    for who, headers in refused.items():
        answer = await escalation.client.post(grant_path, headers=headers)
        assert answer.status_code == 403, who

    issued = await escalation.client.post(grant_path, headers=bearer("resp-a"))
    assert issued.status_code == 200, issued.text
    assert issued.headers["cache-control"] == "no-store"
    grant = {"grant": issued.json()["grant"]}

    revealed = await services.checkin.post("/v1/reveal", json=grant, headers=bearer("resp-a"))
    assert revealed.status_code == 200, revealed.text
    body = revealed.json()
    assert (body["case_id"], body["display_name"], body["timezone"]) == (
        case_id,
        "Worker-1",
        "Europe/London",
    )
    assert body["channels"] == {"email": "worker-1@example.org"}
    assert body["note"] is None  # consent for the note comes with the responder's view

    for who, headers in refused.items():  # the same grant, presented by anyone else
        answer = await services.checkin.post("/v1/reveal", json=grant, headers=headers)
        assert answer.status_code == 403, who
        assert "Worker-1" not in answer.text

    granted = await escalation.rows(
        "SELECT actor, case_ids FROM case_audit WHERE action = 'revealed'"
    )
    assert [(r["actor"], r["case_ids"]) for r in granted] == [("person:resp-a", [case_id])]
    reveals = await services.checkin_rows(
        "SELECT actor, case_id FROM audit WHERE action = 'reveal'"
    )
    assert [(r["actor"], r["case_id"]) for r in reveals] == [("person:resp-a", case_id)]


async def test_a_responder_in_distress_is_never_alerted_about_themself(
    services: Services,
) -> None:
    escalation = services.escalation
    await services.directory(STAFF)
    # resp-a would be first (least loaded, then by id): the vault says the case is theirs.
    await services.check_in("resp-a", phq9=CRITICAL_PHQ9)
    assert await escalation.wait_for("SELECT count(*) FROM alerts", 1) == 1
    alerts = await escalation.rows("SELECT recipient_id, step FROM alerts")
    assert [(a["recipient_id"], a["step"]) for a in alerts] == [("resp-b", 1)]
    skipped = await escalation.rows("SELECT seq FROM case_audit WHERE action = 'screen_skipped'")
    assert skipped == []
    # The escalation service never learns whose case it is: no subject id next to a person.
    directory = await escalation.rows(
        "SELECT count(*) AS n FROM directory_people WHERE subject_id IS NOT NULL"
    )
    assert directory[0]["n"] == 0


async def test_after_both_halves_of_an_erasure_nothing_names_the_person_or_their_subject(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    escalation, coordinator = services.escalation, bearer("coord-1")
    await services.directory(
        [
            *STAFF[:3],
            person("resp-c", "team-t", "peer_responder"),
            person("worker-2", "team-y"),
            person("worker-3", "team-z"),
        ]
    )
    rotation = {"name": "day", "members": ["resp-c", "resp-a"], "starts_at": "2026-11-01T00:00:00Z"}
    put = await escalation.client.put("/v1/rotations/day", json=rotation, headers=coordinator)
    assert put.status_code == 200, put.text
    policy = {
        "steps": [
            {"target": "person:resp-c", "timeout_seconds": 3},
            {"target": "responders", "timeout_seconds": 3},
            {"target": "coordinators", "timeout_seconds": 3},
        ],
        "contact_timeout_seconds": 600,
    }
    put = await escalation.client.put("/v1/policies/default", json=policy, headers=coordinator)
    assert put.status_code == 200, put.text

    # resp-c handles worker-2's critical case (rest owed), and acknowledges worker-3's.
    await services.check_in("worker-2", phq9=CRITICAL_PHQ9)
    assert await escalation.wait_for("SELECT count(*) FROM cases", 1) == 1
    handled = (await escalation.rows("SELECT id FROM cases"))[0]["id"]
    for action, body in (
        ("acknowledge", None),
        ("contact", None),
        ("resolve", {"outcome": "supported"}),
    ):
        answer = await escalation.client.post(
            f"/v1/cases/{handled}/{action}", json=body, headers=bearer("resp-c")
        )
        assert answer.status_code == 200, (action, answer.text)
    await services.check_in("worker-3", wants_contact=True, mood=3)
    assert await escalation.wait_for("SELECT count(*) FROM cases", 2) == 2
    held = (await escalation.rows("SELECT id FROM cases WHERE id <> $1", handled))[0]["id"]
    answer = await escalation.client.post(f"/v1/cases/{held}/acknowledge", headers=bearer("resp-c"))
    assert answer.status_code == 200, answer.text
    assert (await escalation.client.get("/v1/cases", headers=bearer("resp-c"))).is_success

    # Then resp-c is in distress themself: a case about them, an incident, a dead letter.
    await services.check_in("resp-c", phq9=CRITICAL_PHQ9)
    assert await escalation.wait_for("SELECT count(*) FROM cases", 3) == 3
    theirs = (await escalation.rows("SELECT id FROM cases WHERE id <> ALL($1)", [handled, held]))[
        0
    ]["id"]
    subject = (await services.vault.subjects(["resp-c"]))["resp-c"]
    signals = escalation.topic("wellbeing.signals.submitted")
    incident = {
        "id": f"sig-{uuid.uuid4().hex[:8]}",
        "person_id": "resp-c",
        "kind": "critical_incident",
        "severity": 5,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "incident-tool",
    }
    broken = {**incident, "id": "sig-broken", "severity": 9}  # invalid: a dead letter
    await publish(
        escalation.endpoints.bootstrap_servers,
        signals,
        [(b"resp-c", encode(incident)), (b"resp-c", encode(broken))],
    )
    assert (
        await escalation.wait_for(
            "SELECT count(*) FROM timers WHERE kind = 'exposure_follow_up'", 2
        )
        == 2
    )
    assert await escalation.wait_for("SELECT count(*) FROM dead_letter_keys", 1) == 1
    before = await pg_dump(escalation.endpoints, escalation.settings.owned_schema())
    assert mentions(before, "resp-c") and mentions(before, subject)  # what there is to forget

    erased = await services.checkin.post("/v1/people/resp-c/erasure", headers=bearer("resp-c"))
    assert erased.status_code == 202, erased.text
    erasure_id = erased.json()["erasure_id"]
    done = "SELECT count(*) FROM erasure_progress WHERE receipt_sent_at IS NOT NULL"
    assert await escalation.wait_for(done, 1, timeout=30) == 1
    # What was queued before went out (other cases keep escalating meanwhile).
    assert await escalation.wait_for("SELECT count(*) = 0 FROM outbox", 1) == 1
    theirs_alerts = "SELECT count(*) AS n FROM alerts WHERE case_id = $1"
    after_erasure = await escalation.rows(theirs_alerts, theirs)
    sent = [
        r
        for r in await escalation.messages("notifications.requests", timeout=3)
        if r.get("case_id") == theirs
    ]

    await asyncio.sleep(8)  # more than two step timeouts: their case would have escalated

    # Nothing more went out about their case, nor to them.
    assert (await escalation.rows(theirs_alerts, theirs)) == after_erasure
    later = [
        r
        for r in await escalation.messages("notifications.requests", timeout=3)
        if r.get("case_id") == theirs
    ]
    assert len(later) == len(sent)
    case = (await escalation.rows("SELECT status, subject_id FROM cases WHERE id = $1", theirs))[0]
    assert (case["status"], case["subject_id"][:7]) == ("resolved", "erased:")
    assert subject not in case["subject_id"]

    # No table names them or their subject id any more.
    dump = await pg_dump(escalation.endpoints, escalation.settings.owned_schema())
    for needle in ("resp-c", subject, "Resp-C"):
        assert not mentions(dump, needle), needle
    # Their dead letter cannot be opened any more.
    dead = await read_all(escalation.endpoints.bootstrap_servers, f"{signals}.dlq", expect=1)
    assert await open_dead_letters(
        escalation.endpoints.database_url, escalation.settings, dead
    ) == [None]

    # Other people's cases are intact: worker-2's as resolved, worker-3's with a new responder.
    others = {
        r["id"]: r
        for r in await escalation.rows(
            "SELECT id, status, outcome, subject_id, responder_id FROM cases WHERE id <> $1",
            theirs,
        )
    }
    assert (others[handled]["status"], others[handled]["outcome"]) == ("resolved", "supported")
    assert others[handled]["subject_id"] not in (case["subject_id"], subject)
    assert others[held]["status"] == "assigned"  # waiting for someone new
    released = await escalation.rows(
        "SELECT recipient_id FROM alerts WHERE case_id = $1 AND step = 2", held
    )
    assert released and {r["recipient_id"] for r in released} <= {"resp-a", "resp-b"}
    rotations = await escalation.client.get("/v1/rotations", headers=coordinator)
    assert [r["members"] for r in rotations.json()] == [["resp-a"]]
    steps = (await escalation.client.get("/v1/policies/default", headers=coordinator)).json()
    assert [s["targets"] for s in steps["steps"]] == [
        [{"kind": "coordinators"}],
        [{"kind": "responders"}],
        [{"kind": "coordinators"}],
    ]

    receipts = await read_all(
        escalation.endpoints.bootstrap_servers,
        escalation.topic("privacy.erasure.receipts"),
        expect=2,
    )
    mine = [json.loads(r.value) for r in receipts if json.loads(r.value)["service"] == "escalation"]
    assert [(r["erasure_id"], r["removed"]["open_cases_closed"]) for r in mine] == [(erasure_id, 1)]
    status = await services.checkin.get(f"/v1/erasures/{erasure_id}", headers=bearer("resp-c"))
    assert status.json()["services"]["escalation"] is not None
