"""The case work's API client: the calls it makes and how it reads the answers."""

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from kinship_console.adapters.api import ConflictError, NotAllowedError, UnavailableError
from kinship_console.adapters.cases_api import (
    FieldsRejectedError,
    HttpCasesApi,
    Policy,
    PolicyStep,
    Rotation,
)

CASE_VIEW = {
    "case_id": "c/1",
    "status": "acknowledged",
    "severity": "critical",
    "rules": ["immediate_risk"],
    "step": 1,
    "responder_id": "rosa",
    "opened_at": "2026-12-01T09:00:00Z",
    "acknowledged_at": "2026-12-01T09:03:00Z",
    "contacted_at": None,
    "resolved_at": None,
    "outcome": None,
    "consent": "immediate_risk",
    "consent_expires_at": None,
    "reveal_allowed": True,
    "note_may_be_shown": False,
    "contact_channel": None,
    "follow_up_at": None,
    "safety_plan_recorded": False,
    "notes": 0,
    "explanation": {
        "rules_version": "kinship-default-2026.12",
        "rules": [
            {
                "rule": "immediate_risk",
                "reason": "Immediate risk",
                "thresholds": [
                    {"setting": "phq9_item9", "condition": "item 9 >= 1", "source": "K"}
                ],
                "checkin_ids": ["ck"],
            }
        ],
        "checkins": [{"checkin_id": "ck", "at": "2026-12-01T08:58:00Z", "scores": {"mood": 1}}],
    },
    "timeline": [{"at": "2026-12-01T09:00:00Z", "action": "opened", "actor": "detection"}],
    "a_future_field": 1,
}


class Recorder:
    """Answers each request from a table and keeps what was sent."""

    def __init__(self, answers: dict[tuple[str, str], httpx.Response]) -> None:
        self.answers = answers
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.answers[(request.method, request.url.raw_path.decode())]

    def body(self, index: int = -1) -> Any:
        return json.loads(self.seen[index].content)


def api(recorder: Recorder) -> HttpCasesApi:
    return HttpCasesApi(
        {
            "checkin": "http://127.0.0.1:8001",
            "escalation": "http://127.0.0.1:8002/",
            "notifications": "http://127.0.0.1:8003",
            "recognition": "http://127.0.0.1:8004",
        },
        transport=httpx.MockTransport(recorder),
    )


async def test_the_case_view_is_read_with_the_id_quoted_and_the_token() -> None:
    recorder = Recorder({("GET", "/v1/cases/c%2F1"): httpx.Response(200, json=CASE_VIEW)})
    case = await api(recorder).case("tok", "c/1")
    assert recorder.seen[0].url.host == "127.0.0.1" and recorder.seen[0].url.port == 8002
    assert recorder.seen[0].headers["authorization"] == "Bearer tok"
    assert case.explanation.rules[0].thresholds[0].condition == "item 9 >= 1"
    assert case.explanation.checkins[0].scores == {"mood": 1}
    assert case.timeline[0].action == "opened"


async def test_reveal_asks_escalation_for_a_grant_and_check_in_for_the_person() -> None:
    recorder = Recorder(
        {
            ("POST", "/v1/cases/c1/reveal-grant"): httpx.Response(
                200, json={"case_id": "c1", "grant": "g" * 20, "expires_at": "2026-12-01T09:05Z"}
            ),
            ("POST", "/v1/reveal"): httpx.Response(
                200,
                json={
                    "case_id": "c1",
                    "display_name": "Ada",
                    "channels": {"email": "ada@example.org"},
                    "timezone": "Europe/London",
                    "note": None,
                },
            ),
        }
    )
    client = api(recorder)
    grant = await client.reveal_grant("tok", "c1")
    person = await client.reveal("tok", grant.grant)
    assert recorder.seen[1].url.port == 8001
    assert recorder.body() == {"grant": "g" * 20}
    assert person.display_name == "Ada" and person.channels == {"email": "ada@example.org"}


async def test_case_actions_send_what_the_service_expects() -> None:
    summary = httpx.Response(200, json=CASE_VIEW)
    recorder = Recorder(
        {
            ("POST", "/v1/cases/c1/contact"): summary,
            ("POST", "/v1/cases/c1/handover"): summary,
            ("POST", "/v1/cases/c1/follow-up"): summary,
            ("POST", "/v1/cases/c1/resolve"): summary,
            ("POST", "/v1/cases/c1/notes"): httpx.Response(201, json={"note_id": "n1"}),
            ("PUT", "/v1/cases/c1/safety-plan"): httpx.Response(204),
        }
    )
    client = api(recorder)
    await client.record_contact("t", "c1", "phone")
    assert recorder.body() == {"channel": "phone"}
    await client.hand_over("t", "c1", None, "workload", None)
    assert recorder.body() == {"reason": "workload"}
    await client.hand_over("t", "c1", "sam", "other", "see note")
    assert recorder.body() == {"reason": "other", "to_person_id": "sam", "note": "see note"}
    await client.plan_follow_up("t", "c1", datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    assert recorder.body() == {"at": "2026-12-08T09:00:00+00:00"}
    await client.resolve("t", "c1", "supported")
    assert recorder.body() == {"outcome": "supported"}
    await client.add_note("t", "c1", "called")
    assert recorder.body() == {"text": "called"}
    await client.write_safety_plan("t", "c1", "sister", "walks")
    assert recorder.body() == {"who_to_call": "sister", "what_helps": "walks"}


async def test_a_refused_safety_plan_is_typed() -> None:
    recorder = Recorder(
        {("PUT", "/v1/cases/c1/safety-plan"): httpx.Response(409, json={"detail": "not critical"})}
    )
    with pytest.raises(ConflictError):
        await api(recorder).write_safety_plan("t", "c1", "a", "b")


async def test_a_refused_policy_names_each_field_by_its_full_location() -> None:
    detail = [
        {"loc": ["body", "steps", 1, "repeat"], "msg": "x", "input": 9},
        {"loc": ["body", "contact_timeout_seconds"], "msg": "y", "input": 0},
    ]
    recorder = Recorder(
        {("PUT", "/v1/policies/default"): httpx.Response(422, json={"detail": detail})}
    )
    policy = Policy(
        steps=[PolicyStep(target="responders", timeout_seconds=60)], contact_timeout_seconds=60
    )
    with pytest.raises(FieldsRejectedError) as refused:
        await api(recorder).save_policy("t", policy)
    assert refused.value.locations == [("steps", 1, "repeat"), ("contact_timeout_seconds",)]
    assert "9" not in repr(refused.value.fields), "field names, never the values"
    assert recorder.body()["steps"] == [
        {"target": "responders", "timeout_seconds": 60, "repeat": 1}
    ]


async def test_a_rotation_is_put_under_its_name_and_other_refusals_keep_their_type() -> None:
    rotation = Rotation(
        name="care-week",
        members=["rosa"],
        shift_hours=24,
        starts_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    saved = rotation.model_dump(mode="json")
    recorder = Recorder({("PUT", "/v1/rotations/care-week"): httpx.Response(200, json=saved)})
    assert await api(recorder).save_rotation("t", rotation) == rotation
    refusing = Recorder({("PUT", "/v1/rotations/care-week"): httpx.Response(403, json={})})
    with pytest.raises(NotAllowedError):
        await api(refusing).save_rotation("t", rotation)


async def test_answers_that_make_no_sense_are_unavailable() -> None:
    recorder = Recorder(
        {
            ("GET", "/v1/cases"): httpx.Response(200, json={"not": "a list"}),
            ("GET", "/v1/metrics/programme"): httpx.Response(200, json=[1, 2]),
            ("GET", "/v1/cases/c1"): httpx.Response(200, json={"case_id": "c1"}),
        }
    )
    client = api(recorder)
    for call in (client.open_cases("t"), client.programme("t"), client.case("t", "c1")):
        with pytest.raises(UnavailableError):
            await call
