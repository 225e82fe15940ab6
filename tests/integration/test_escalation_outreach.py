"""Closing the loop across services, over the real broker and database: the check-in service
runs in-process beside the escalation service (its HTTP API, consumers and outbox), people
check in and choose their outreach preference there, and responders act with their own
tokens.

- Immediate risk → alert → acknowledged by its link → the responder's case view → a reveal
  grant → the check-in service's audited reveal (with the note the person shared) → contact
  recorded → a private note and a safety plan → resolved → follow-ups scheduled; the audit
  records of both services and the events on ``escalation.cases``.
- ``ask_first`` (everyone's default): nobody learns who the person is until they tap yes on
  the question's link.
- ``resources_only``: resources, no case and nobody alerted — except immediate risk, which
  overrides the preference (duty of care).
"""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kinship_contracts.links import ConsentAnswer, mint_consent_token
from tests.conftest import Endpoints
from tests.escalation_support import (
    Services,
    bearer,
    encode_person,
    escalation_beside_checkin,
    mentions,
    person,
    pg_dump,
)

pytestmark = pytest.mark.integration

IMMEDIATE_RISK = [0, 0, 0, 0, 0, 0, 0, 0, 2]
"""PHQ-9 with item 9 positive: immediate risk, a critical case."""
MODERATE = [2, 2, 1, 1, 1, 1, 1, 1, 0]
"""PHQ-9 totalling 10 without item 9: a high case (moderate depression), no immediate risk."""
NOTE = "I have not slept for days and I keep thinking about it"

STAFF = [
    person("resp-a", "team-r", "peer_responder"),
    person("coord-1", "team-c", "coordinator"),
    encode_person("worker-1", "team-x", {"email": "worker-1@example.org"}),
    encode_person("worker-2", "team-x", {"email": "worker-2@example.org"}),
]


@pytest.fixture
async def services(
    service_env: dict[str, str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Services]:
    async with escalation_beside_checkin(service_env, endpoints, monkeypatch) as running:
        yield running


async def case_of(services: Services, checkin_id: str) -> str:
    """The id of the case the check-in ``checkin_id`` opened (waits for it)."""
    escalation = services.escalation
    count = "SELECT count(*) FROM cases WHERE $1 = ANY(observation_ids)"
    for _ in range(100):
        if (await escalation.rows(count, checkin_id))[0][0]:
            break
        await asyncio.sleep(0.2)
    found = await escalation.rows(
        "SELECT id FROM cases WHERE $1 = ANY(observation_ids)", checkin_id
    )
    assert len(found) == 1, f"no case for {checkin_id}"
    return str(found[0]["id"])


async def requests_of(services: Services, kind: str, expect: int = 1) -> list[dict[str, Any]]:
    """The notification requests of ``kind`` so far (waits for ``expect`` of them)."""
    found: list[dict[str, Any]] = []
    for _ in range(50):
        requests = await services.escalation.messages("notifications.requests", timeout=2)
        found = [r for r in requests if r["kind"] == kind]
        if len(found) >= expect:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"{len(found)} {kind} requests, expected {expect}")


async def case_events(services: Services, case_id: str, expect: int) -> list[dict[str, Any]]:
    """The case's events on ``escalation.cases``, in order (waits for ``expect``)."""
    mine: list[dict[str, Any]] = []
    for _ in range(50):
        events = await services.escalation.messages("escalation.cases", timeout=2)
        mine = sorted((e for e in events if e["case_id"] == case_id), key=lambda e: e["sequence"])
        if len(mine) >= expect:
            return mine
        await asyncio.sleep(0.2)
    raise AssertionError(f"{len(mine)} events for {case_id}, expected {expect}")


async def choose_outreach(services: Services, person_id: str, preference: str) -> None:
    """The person chooses at the check-in service; wait until escalation has it."""
    chosen = await services.checkin.put(
        "/v1/me/outreach", json={"preference": preference}, headers=bearer(person_id)
    )
    assert chosen.status_code == 200, chosen.text
    query = "SELECT count(*) FROM outreach_preferences WHERE preference = $1"
    for _ in range(100):
        if (await services.escalation.rows(query, preference))[0][0]:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the preference did not reach the escalation service")


async def test_immediate_risk_is_alerted_taken_revealed_contacted_noted_resolved_and_followed_up(
    services: Services,
) -> None:
    escalation = services.escalation
    await services.directory(STAFF)
    # The person prefers to be asked first, but immediate risk overrides that (duty of care).
    await choose_outreach(services, "worker-1", "ask_first")
    checkin_id = await services.check_in(
        "worker-1", phq9=IMMEDIATE_RISK, note=NOTE, share_note=True
    )
    case_id = await case_of(services, checkin_id)

    (alert,) = await services.alerts_of(case_id)
    assert alert["recipient"] == {"person_id": "resp-a"}
    assert alert["critical"] is True and alert["alert"]["severity"] == "critical"
    assert NOTE not in json.dumps(alert)
    crisis = await requests_of(services, "crisis_resources")
    assert [r["case_id"] for r in crisis] == [case_id]
    assert await requests_of(services, "consent_request", expect=0) == []  # nobody asks

    path = escalation.link(alert["alert"])
    assert (await escalation.client.get(path)).status_code == 200  # the one-button page
    taken = await escalation.client.post(path)
    assert taken.status_code == 200, taken.text
    assert (taken.json()["status"], taken.json()["responder_id"]) == ("acknowledged", "resp-a")

    # The case view explains itself: rules, cited thresholds, dates and scores, rules version;
    # whether the responder may reach out and why; no item answers, no note, no name.
    view = await escalation.client.get(f"/v1/cases/{case_id}", headers=bearer("resp-a"))
    assert view.status_code == 200, view.text
    detail = view.json()
    assert (detail["consent"], detail["reveal_allowed"], detail["note_may_be_shown"]) == (
        "immediate_risk",
        True,
        True,
    )
    assert detail["explanation"]["rules_version"]
    (rule,) = detail["explanation"]["rules"]
    assert rule["rule"] == "immediate_risk" and rule["checkin_ids"] == ["checkin-1"]
    assert rule["thresholds"] and all(t["source"] for t in rule["thresholds"])
    (facts,) = detail["explanation"]["checkins"]
    assert facts["checkin_id"] == "checkin-1" and checkin_id not in view.text
    assert facts["scores"]["phq9_item9_positive"] is True
    assert "phq9" not in facts["scores"] and NOTE not in view.text and "Worker-1" not in view.text
    assert [t["action"] for t in detail["timeline"]][:3] == ["opened", "assigned", "acknowledged"]

    granted = await escalation.client.post(
        f"/v1/cases/{case_id}/reveal-grant", headers=bearer("resp-a")
    )
    assert granted.status_code == 200, granted.text
    revealed = await services.checkin.post(
        "/v1/reveal", json={"grant": granted.json()["grant"]}, headers=bearer("resp-a")
    )
    assert revealed.status_code == 200, revealed.text
    person_view = revealed.json()
    assert (person_view["display_name"], person_view["timezone"]) == ("Worker-1", "Europe/London")
    assert person_view["channels"] == {"email": "worker-1@example.org"}
    assert person_view["note"] == NOTE  # the person shared it; decrypted by the check-in service

    contact = await escalation.client.post(
        f"/v1/cases/{case_id}/contact", json={"channel": "phone"}, headers=bearer("resp-a")
    )
    assert contact.status_code == 200, contact.text
    private = "Agreed to call the EAP tomorrow; her sister is with her tonight"
    written = await escalation.client.post(
        f"/v1/cases/{case_id}/notes", json={"text": private}, headers=bearer("resp-a")
    )
    assert written.status_code == 201, written.text
    plan = {"who_to_call": "Her sister, then the crisis line", "what_helps": "A walk outside"}
    planned = await escalation.client.put(
        f"/v1/cases/{case_id}/safety-plan", json=plan, headers=bearer("resp-a")
    )
    assert planned.status_code == 204, planned.text
    notes = await escalation.client.get(f"/v1/cases/{case_id}/notes", headers=bearer("resp-a"))
    assert notes.status_code == 200, notes.text
    assert [n["text"] for n in notes.json()["notes"]] == [private]
    assert notes.json()["safety_plan"]["who_to_call"] == plan["who_to_call"]
    resolved = await escalation.client.post(
        f"/v1/cases/{case_id}/resolve",
        json={"outcome": "referred_professional"},
        headers=bearer("resp-a"),
    )
    assert resolved.status_code == 200, resolved.text

    follow_ups = await escalation.rows(
        "SELECT due_at FROM timers WHERE kind = 'case_follow_up' AND case_id = $1 ORDER BY due_at",
        case_id,
    )
    for row, hours in zip(follow_ups, (72, 720), strict=True):  # about 72 h and a month
        assert abs(row["due_at"] - (datetime.now(UTC) + timedelta(hours=hours))) < timedelta(
            minutes=1
        )
    feedback = await requests_of(services, "feedback_request", expect=2)
    assert sorted(r["params"]["from"] for r in feedback) == ["person", "responder"]

    events = await case_events(services, case_id, expect=8)
    assert [e["kind"] for e in events] == [
        "opened",
        "assigned",
        "acknowledged",
        "revealed",
        "contacted",
        "note_added",
        "safety_plan_updated",
        "resolved",
    ]
    assert events[3]["consent"] == "immediate_risk"  # why the responder may know
    assert events[4]["channel"] == "phone"
    assert all(e.get("responder_id") in (None, "resp-a") for e in events)
    published = json.dumps(events)
    for private_text in (NOTE, private, plan["who_to_call"], "Worker-1", "worker-1@example.org"):
        assert private_text not in published  # events carry no personal data

    # Every action is audited with the real caller: here the responder, at both services.
    audit = await escalation.rows(
        "SELECT action, actor FROM case_audit WHERE case_id = $1 ORDER BY seq", case_id
    )
    by_responder = [r["action"] for r in audit if r["actor"] == "person:resp-a"]
    for action in ("revealed", "contacted", "note_added", "safety_plan_updated", "resolved"):
        assert action in by_responder
    assert "notes_read" in by_responder
    reveals = await services.checkin_rows(
        "SELECT actor, case_id, detail FROM audit WHERE action = 'reveal'"
    )
    assert [(r["actor"], r["case_id"]) for r in reveals] == [("person:resp-a", case_id)]
    assert json.loads(reveals[0]["detail"]) == {"note": True}  # an object, not a string

    # At rest, the note and the plan are sealed: the schema's dump holds neither.
    dump = await pg_dump(escalation.endpoints, escalation.settings.owned_schema())
    for private_text in (private, plan["who_to_call"], plan["what_helps"], NOTE):
        assert not mentions(dump, private_text)


async def test_ask_first_nobody_learns_who_it_is_until_the_person_taps_yes(
    services: Services,
) -> None:
    escalation = services.escalation
    await services.directory(STAFF)
    checkin_id = await services.check_in("worker-1", phq9=MODERATE)  # nobody chose: ask first
    case_id = await case_of(services, checkin_id)
    (alert,) = await services.alerts_of(case_id)
    (question,) = await requests_of(services, "consent_request")
    assert question["case_id"] == case_id and "subject_id" in question["recipient"]
    taken = await escalation.client.post(escalation.link(alert["alert"]))
    assert taken.status_code == 200, taken.text

    # Acknowledged, but the person has not answered: no grant, nothing to reveal.
    refused = await escalation.client.post(
        f"/v1/cases/{case_id}/reveal-grant", headers=bearer("resp-a")
    )
    assert refused.status_code == 409, refused.text
    contact = await escalation.client.post(f"/v1/cases/{case_id}/contact", headers=bearer("resp-a"))
    assert contact.status_code == 409, contact.text
    detail = (await escalation.client.get(f"/v1/cases/{case_id}", headers=bearer("resp-a"))).json()
    assert (detail["consent"], detail["reveal_allowed"]) == ("asked", False)
    reveals = await services.checkin_rows("SELECT count(*) FROM audit WHERE action = 'reveal'")
    assert reveals[0][0] == 0

    # The person taps yes in the message: the link opens a page, the button answers.
    params = question["params"]
    expires = datetime.fromisoformat(params["consent_expires_at"])
    token = mint_consent_token(
        escalation.settings.ack_link_secret(), params["consent_id"], ConsentAnswer.YES, expires
    )
    path = str(params["consent_yes_url"]).removeprefix(escalation.settings.public_url)
    page = await escalation.client.get(f"{path}?token={token}")
    assert page.status_code == 200 and '<form method="post"' in page.text
    detail = (await escalation.client.get(f"/v1/cases/{case_id}", headers=bearer("resp-a"))).json()
    assert detail["consent"] == "asked"  # opening the page answered nothing
    answered = await escalation.client.post(f"{path}?token={token}")
    assert answered.status_code == 200, answered.text
    assert answered.json() == {"consent": "yes"}
    again = await escalation.client.post(f"{path}?token={token}")
    assert again.status_code == 409  # answered once

    granted = await escalation.client.post(
        f"/v1/cases/{case_id}/reveal-grant", headers=bearer("resp-a")
    )
    assert granted.status_code == 200, granted.text
    revealed = await services.checkin.post(
        "/v1/reveal", json={"grant": granted.json()["grant"]}, headers=bearer("resp-a")
    )
    assert revealed.status_code == 200, revealed.text
    assert revealed.json()["display_name"] == "Worker-1"
    assert revealed.json()["note"] is None  # no note shared
    events = await case_events(services, case_id, expect=6)
    assert [e["kind"] for e in events] == [
        "opened",
        "assigned",
        "consent_requested",
        "acknowledged",
        "consent_given",
        "revealed",
    ]
    answer = await escalation.rows(
        "SELECT actor FROM case_audit WHERE case_id = $1 AND action = 'consent_given'", case_id
    )
    assert [r["actor"] for r in answer] == ["subject"]


async def test_resources_only_gets_resources_and_no_outreach_except_immediate_risk(
    services: Services,
) -> None:
    escalation = services.escalation
    await services.directory(STAFF)
    await choose_outreach(services, "worker-2", "resources_only")
    low = await services.check_in("worker-2", phq9=MODERATE)
    (care,) = await requests_of(services, "self_care")
    assert care["id"].endswith(low) and care["resources"]
    assert "subject_id" in care["recipient"]
    await asyncio.sleep(1)  # the same batch decided both: nothing else is on its way
    assert (await escalation.rows("SELECT count(*) FROM cases"))[0][0] == 0
    assert (await escalation.rows("SELECT count(*) FROM alerts"))[0][0] == 0

    # Immediate risk overrides the preference: a case, an alert, and a reveal once taken.
    risk = await services.check_in("worker-2", phq9=IMMEDIATE_RISK)
    case_id = await case_of(services, risk)
    (alert,) = await services.alerts_of(case_id)
    assert alert["recipient"] == {"person_id": "resp-a"}
    assert (await escalation.client.post(escalation.link(alert["alert"]))).status_code == 200
    detail = (await escalation.client.get(f"/v1/cases/{case_id}", headers=bearer("resp-a"))).json()
    assert (detail["consent"], detail["reveal_allowed"]) == ("immediate_risk", True)
    granted = await escalation.client.post(
        f"/v1/cases/{case_id}/reveal-grant", headers=bearer("resp-a")
    )
    assert granted.status_code == 200, granted.text
    revealed = await services.checkin.post(
        "/v1/reveal", json={"grant": granted.json()["grant"]}, headers=bearer("resp-a")
    )
    assert revealed.json()["display_name"] == "Worker-2"
    overridden = await escalation.rows(
        "SELECT count(*) FROM case_audit WHERE case_id = $1 AND action = 'opened'", case_id
    )
    assert overridden[0][0] == 1
