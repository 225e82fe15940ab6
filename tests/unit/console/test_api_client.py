"""The typed API client: what it sends, and how each answer it cannot use is typed."""

import json
from datetime import UTC, datetime

import httpx
import pytest

from kinship_console.adapters.api import (
    ApiError,
    ConflictError,
    HttpKinshipApi,
    NotAllowedError,
    NotFoundError,
    NotSignedInError,
    RejectedError,
    UnavailableError,
)
from kinship_contracts.checkins import CheckinSubmitted

CHECKIN = CheckinSubmitted(
    id="console-" + "a" * 32,
    person_id="ada",
    occurred_at=datetime(2026, 11, 29, 9, 0, tzinfo=UTC),
    source="kinship-console",
    mood=2,
    wants_contact=False,
)


def client(handler: httpx.MockTransport) -> HttpKinshipApi:
    return HttpKinshipApi(
        {
            "checkin": "http://127.0.0.1:8001/",
            "escalation": "http://127.0.0.1:8002",
            "notifications": "http://127.0.0.1:8003",
            "recognition": "http://127.0.0.1:8004",
        },
        transport=handler,
    )


async def test_a_check_in_is_posted_with_the_persons_token() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            202,
            json={
                "id": CHECKIN.id,
                "status": "accepted",
                "immediate_support": [{"name": "Crisis line", "description": "", "contact": "1"}],
                "future_field": True,
            },
        )

    receipt = await client(httpx.MockTransport(answer)).submit_checkin("tok-1", CHECKIN)
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "http://127.0.0.1:8001/v1/checkins"
    assert request.headers["authorization"] == "Bearer tok-1"
    body = json.loads(request.content)
    assert body == {
        "id": CHECKIN.id,
        "person_id": "ada",
        "occurred_at": "2026-11-29T09:00:00Z",
        "source": "kinship-console",
        "mood": 2,
        "wants_contact": False,
        "share_note": False,
    }
    assert receipt.immediate_support is not None
    assert receipt.immediate_support[0].name == "Crisis line"


async def test_my_cases_asks_for_the_callers_own_cases() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json=[
                {
                    "case_id": "c1",
                    "status": "assigned",
                    "severity": "high",
                    "opened_at": "2026-11-29T08:00:00Z",
                    "rules": ["self_referral"],
                }
            ],
        )

    (case,) = await client(httpx.MockTransport(answer)).my_cases("tok-2")
    assert str(seen[0].url) == "http://127.0.0.1:8002/v1/cases?assigned_to=me"
    assert seen[0].headers["authorization"] == "Bearer tok-2"
    assert (case.case_id, case.severity, case.status) == ("c1", "high", "assigned")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, NotSignedInError),
        (403, NotAllowedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, RejectedError),
        (400, RejectedError),
        (413, RejectedError),
        (500, UnavailableError),
        (502, UnavailableError),
        (503, UnavailableError),
        (302, UnavailableError),
    ],
)
async def test_each_unusable_answer_is_typed(status: int, error: type[ApiError]) -> None:
    api = client(httpx.MockTransport(lambda _request: httpx.Response(status, json={})))
    with pytest.raises(error) as raised:
        await api.my_cases("t")
    assert raised.value.service == "escalation"
    assert raised.value.status == status


async def test_a_422_names_the_fields_never_the_values() -> None:
    detail = {"detail": [{"loc": ["body", "mood"], "msg": "bad", "input": 9}]}
    api = client(httpx.MockTransport(lambda _request: httpx.Response(422, json=detail)))
    with pytest.raises(RejectedError) as raised:
        await api.submit_checkin("t", CHECKIN)
    assert raised.value.fields == ["mood"]
    assert "9" not in str(raised.value)


@pytest.mark.parametrize(
    "answer",
    [
        lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused", request=request)),
        lambda request: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=request)),
        lambda _request: httpx.Response(200, text="<html>not json</html>"),
        lambda _request: httpx.Response(200, json={"not": "a list"}),
        lambda _request: httpx.Response(200, json=[{"case_id": "c1"}]),
    ],
    ids=["refused", "timeout", "not-json", "wrong-shape", "missing-fields"],
)
async def test_no_answer_or_nonsense_is_unavailable(answer: object) -> None:
    api = client(httpx.MockTransport(answer))  # type: ignore[arg-type]
    with pytest.raises(UnavailableError):
        await api.my_cases("t")
