"""The case work's API client: the calls it makes and how it reads the answers."""

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from kinship_console.adapters.api import (
    ConflictError,
    NotAllowedError,
    NotFoundError,
    UnavailableError,
)
from kinship_console.adapters.cases_api import (
    FieldsRejectedError,
    HttpCasesApi,
    Policy,
    PolicyClashError,
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
                    "note_unreadable": True,
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
    assert (person.note, person.note_unreadable) == (None, True)


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
    assert len(recorder.seen) == 1, "a refused change is never sent again"


POLICY = {
    "name": "platform-high",
    "team_id": "platform",
    "severity": "high",
    "steps": [
        {
            "targets": [
                {"kind": "schedule", "schedule": "care-week"},
                {"kind": "people", "people": ["rosa", "sam"]},
                {"kind": "responders"},
            ],
            "notify": "round_robin",
            "timeout_seconds": 120,
            "repeat": 2,
        },
        {
            "targets": [{"kind": "coordinators"}],
            "notify": "all",
            "timeout_seconds": 120,
            "repeat": 1,
        },
    ],
    "contact_timeout_seconds": 3600,
    "urgent_from": "high",
    "unanswered_interval_seconds": 900,
}


async def test_policies_are_listed_read_and_put_as_the_service_takes_them() -> None:
    default = {
        "name": "default",
        "team_id": None,
        "severity": None,
        "steps": [
            {"target": "rotation:weekday", "timeout_seconds": 300},
            {"target": "person:ada", "timeout_seconds": 60},
        ],
        "contact_timeout_seconds": 3600,
    }
    recorder = Recorder(
        {
            ("GET", "/v1/policies"): httpx.Response(200, json=[default, POLICY]),
            ("GET", "/v1/policies/platform-high"): httpx.Response(200, json=POLICY),
            ("PUT", "/v1/policies/platform-high"): httpx.Response(200, json=POLICY),
            ("DELETE", "/v1/policies/platform-high"): httpx.Response(204),
            ("GET", "/v1/schedules"): httpx.Response(
                200, json=[{"name": "care-week", "time_zone": "UTC", "layers": []}]
            ),
        }
    )
    client = api(recorder)
    listed = await client.policies("t")
    assert [p.name for p in listed] == ["default", "platform-high"]
    assert [t.body() for s in listed[0].steps for t in s.targets] == [
        {"kind": "schedule", "schedule": "weekday"},
        {"kind": "people", "people": ["ada"]},
    ], "the form stored before per-team policies is read as targets"
    policy = await client.policy("t", "platform-high")
    assert await client.save_policy("t", "platform-high", policy) == policy
    assert recorder.body() == POLICY, "sent exactly as read: nothing lost or added"
    await client.delete_policy("t", "platform-high")
    assert await client.schedules("t") == ["care-week"]
    assert [(r.method, r.url.path) for r in recorder.seen] == [
        ("GET", "/v1/policies"),
        ("GET", "/v1/policies/platform-high"),
        ("PUT", "/v1/policies/platform-high"),
        ("DELETE", "/v1/policies/platform-high"),
        ("GET", "/v1/schedules"),
    ]


async def test_a_refused_policy_names_each_field_by_its_full_location_once() -> None:
    detail = [
        {"loc": ["body", "steps", 1, "targets", 0, "schedule"], "msg": "x", "input": "nights"},
        {"loc": ["body", "contact_timeout_seconds"], "msg": "y", "input": 0},
    ]
    recorder = Recorder(
        {("PUT", "/v1/policies/default"): httpx.Response(422, json={"detail": detail})}
    )
    policy = Policy.model_validate({**POLICY, "name": "default"})
    with pytest.raises(FieldsRejectedError) as refused:
        await api(recorder).save_policy("t", "default", policy)
    assert refused.value.locations == [
        ("steps", 1, "targets", 0, "schedule"),
        ("contact_timeout_seconds",),
    ]
    assert "nights" not in repr(refused.value.fields), "field names, never the values"
    assert len(recorder.seen) == 1, "a refused change is never sent again"


async def test_a_clash_names_the_policies_and_is_sent_once() -> None:
    detail = (
        "policies ['platform-high', 'platform-urgent'] all apply to team 'platform' at "
        "severity high: keep one, or narrow the others"
    )
    recorder = Recorder(
        {("PUT", "/v1/policies/platform-high"): httpx.Response(409, json={"detail": detail})}
    )
    with pytest.raises(PolicyClashError) as clash:
        await api(recorder).save_policy("t", "platform-high", Policy.model_validate(POLICY))
    assert clash.value.names == ["platform-high", "platform-urgent"]
    assert isinstance(clash.value, ConflictError)
    assert len(recorder.seen) == 1
    odd = Recorder({("PUT", "/v1/policies/x"): httpx.Response(409, json={"detail": [1]})})
    with pytest.raises(PolicyClashError) as unreadable:
        await api(odd).save_policy("t", "x", Policy.model_validate(POLICY))
    assert unreadable.value.names == []


async def test_a_refused_delete_keeps_its_type_and_is_sent_once() -> None:
    recorder = Recorder({("DELETE", "/v1/policies/default"): httpx.Response(404, json={})})
    with pytest.raises(NotFoundError):
        await api(recorder).delete_policy("t", "default")
    assert len(recorder.seen) == 1


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
    assert len(refusing.seen) == 1, "a refused change is never sent again"


async def test_answers_that_make_no_sense_are_unavailable() -> None:
    recorder = Recorder(
        {
            ("GET", "/v1/cases"): httpx.Response(200, json={"not": "a list"}),
            ("GET", "/v1/reports/programme?weeks=12"): httpx.Response(200, json=[1, 2]),
            ("GET", "/v1/cases/c1"): httpx.Response(200, json={"case_id": "c1"}),
        }
    )
    client = api(recorder)
    for call in (client.open_cases("t"), client.programme("t"), client.case("t", "c1")):
        with pytest.raises(UnavailableError):
            await call
    # The programme report is recognition's (closed weeks, k >= 5), never a live aggregate.
    assert recorder.seen[1].url.port == 8004
