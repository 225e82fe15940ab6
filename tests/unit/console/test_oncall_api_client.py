"""The on-call API client: the calls it makes (once each) and how it reads the answers."""

from datetime import UTC, datetime

import httpx
import pytest

from kinship_console.adapters.api import NotFoundError, UnavailableError
from kinship_console.adapters.cases_api import FieldsRejectedError
from kinship_console.adapters.oncall_api import HttpOnCallApi
from tests.unit.console.test_cases_api_client import Recorder

NOW = {
    "at": "2026-12-01T09:00:00Z",
    "schedules": [
        {
            "schedule": "care",
            "kind": "schedule",
            "time_zone": "Europe/London",
            "on_call": {
                "person_id": "rosa",
                "layer": "days",
                "source": "override",
                "until": "2026-12-01T17:00:00Z",
            },
            "order": ["rosa", "sam"],
            "resting": ["tom"],
            "next_handoff": "2026-12-01T17:00:00Z",
            "next_on_call": ["sam"],
            "a_future_field": True,
        }
    ],
}


def client(recorder: Recorder) -> HttpOnCallApi:
    return HttpOnCallApi(
        {
            "checkin": "http://127.0.0.1:9001",
            "escalation": "http://127.0.0.1:9002",
            "notifications": "http://127.0.0.1:9003",
            "recognition": "http://127.0.0.1:9004",
        },
        transport=httpx.MockTransport(recorder),
    )


async def test_on_call_now_is_read_with_the_persons_token() -> None:
    recorder = Recorder({("GET", "/v1/oncall/now"): httpx.Response(200, json=NOW)})
    found = await client(recorder).oncall_now("tok")
    (care,) = found.schedules
    assert care.on_call is not None and care.on_call.person_id == "rosa"
    assert (care.resting, care.next_on_call) == (["tom"], ["sam"])
    assert recorder.seen[0].headers["authorization"] == "Bearer tok"


async def test_an_answer_that_makes_no_sense_is_unavailable() -> None:
    recorder = Recorder({("GET", "/v1/oncall/now"): httpx.Response(200, json={"at": "soon"})})
    with pytest.raises(UnavailableError):
        await client(recorder).oncall_now("tok")


async def test_an_override_is_posted_once_and_a_refused_field_is_named() -> None:
    refused = httpx.Response(
        422, json={"detail": [{"loc": ["body", "person_id"], "msg": "x", "type": "value_error"}]}
    )
    recorder = Recorder({("POST", "/v1/schedules/care%2Fx/overrides"): refused})
    start = datetime(2026, 12, 2, 9, tzinfo=UTC)
    with pytest.raises(FieldsRejectedError) as raised:
        await client(recorder).add_override("tok", "care/x", "rosa", start, start.replace(hour=17))
    assert raised.value.locations == [("person_id",)]
    assert len(recorder.seen) == 1, "a refused change is never sent twice"
    assert recorder.body() == {
        "person_id": "rosa",
        "start": "2026-12-02T09:00:00+00:00",
        "end": "2026-12-02T17:00:00+00:00",
    }


async def test_removing_an_override_that_is_gone_is_not_found() -> None:
    path = "/v1/schedules/care/overrides/ov-1"
    recorder = Recorder({("DELETE", path): httpx.Response(404, json={"detail": "no"})})
    with pytest.raises(NotFoundError):
        await client(recorder).remove_override("tok", "care", "ov-1")
    assert len(recorder.seen) == 1


async def test_a_new_feed_returns_its_url_and_only_a_web_url() -> None:
    url = "https://127.0.0.1:8002/v1/calendar/abc.ics"
    good = Recorder({("POST", "/v1/calendar-feeds"): httpx.Response(201, json={"url": url})})
    assert await client(good).new_calendar_feed("tok") == url
    assert good.body() == {"person": "me"}
    odd = Recorder(
        {("POST", "/v1/calendar-feeds"): httpx.Response(201, json={"url": "javascript:x"})}
    )
    with pytest.raises(UnavailableError):
        await client(odd).new_calendar_feed("tok")


async def test_stopping_the_feed_reads_a_204() -> None:
    path = "/v1/calendar-feeds/person/me"
    recorder = Recorder({("DELETE", path): httpx.Response(204)})
    await client(recorder).stop_calendar_feed("tok")
    assert [r.method for r in recorder.seen] == ["DELETE"]
