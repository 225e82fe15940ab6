"""The on-call HTTP API over the in-memory unit of work (the real routes, fakes behind them):
schedules and overrides for coordinators, ``/v1/oncall/now`` for staff, calendar feeds at
secret URLs, and the on-call load report."""

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import icalendar
import pytest
from dishka import provide
from fastapi import FastAPI
from pydantic import BaseModel

from kinship_escalation.domain.policies import EscalationPolicy
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.schedules import policies_targeting, token_hash
from kinship_escalation.settings import EscalationSettings
from kinship_runtime.access import policies
from kinship_runtime.access_log import AccessLog
from tests.escalation_support import bearer
from tests.unit.escalation.conftest import NOW, Clock, checkin, context
from tests.unit.escalation.test_http import Fakes, fake_app
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork
from tests.unit.fakes.relay import FakeRelay

PUBLIC_URL = "http://127.0.0.1:8002/"
KEY = {"Authorization": "Bearer all-scopes-key"}

SCHEDULE: dict[str, Any] = {
    "time_zone": "Europe/London",
    "layers": [
        {
            "name": "main",
            "participants": ["resp-a", "resp-b"],
            "rotation": {"every": 1, "unit": "days"},
            "handoff_time": "09:00",
            "start_date": "2026-11-02",
        }
    ],
}
"""resp-a holds even days from Monday 2 November 2026 at 09:00 London (= UTC in winter):
24 November 09:00 to 25 November 09:00 is resp-a's, the next day resp-b's."""


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


class OnCallFakes(Fakes):
    """The escalation fakes, plus the settings the feed URLs are made from."""

    @provide
    def settings(self) -> EscalationSettings:
        return EscalationSettings(env="dev", public_url=PUBLIC_URL)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def ctx(clock: Clock) -> EscalationContext:
    return context(clock)


@pytest.fixture
def app(service: FakeEscalationUnitOfWork, ctx: EscalationContext) -> FastAPI:
    return fake_app(OnCallFakes(service, FakeRelay(), ctx))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # Wrapped in the runtime's access log, as the service runs.
    transport = httpx.ASGITransport(app=AccessLog(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://escalation") as http:
        yield http
    await app.state.dishka_container.close()


COORD = bearer("coord-1")
RESP_A, RESP_B, WORKER = bearer("resp-a"), bearer("resp-b"), bearer("worker-1")


@pytest.fixture(autouse=True)
def fresh_tokens() -> None:
    global COORD, RESP_A, RESP_B, WORKER
    COORD, RESP_A, RESP_B = bearer("coord-1"), bearer("resp-a"), bearer("resp-b")
    WORKER = bearer("worker-1")


async def put_schedule(client: httpx.AsyncClient, name: str = "peer-support") -> None:
    answer = await client.put(f"/v1/schedules/{name}", json=SCHEDULE, headers=COORD)
    assert answer.status_code == 200, answer.text


def audited(service: FakeEscalationUnitOfWork) -> list[tuple[str, str]]:
    return [(record.action, record.actor) for record in service.tables.audit]


# ---- who may call what ------------------------------------------------------------------------


def test_each_on_call_route_states_its_policy_and_only_the_feed_is_public(app: FastAPI) -> None:
    table = {
        route: [p.describe() for p in found]
        for route, found in policies(app).items()
        if "/schedules" in route or "/oncall" in route or "/calendar" in route
    }
    coordinators = ["people who are coordinator"]
    assert table == {
        "PUT /v1/schedules/{name}": coordinators,
        "GET /v1/schedules": coordinators,
        "GET /v1/schedules/{name}": coordinators,
        "DELETE /v1/schedules/{name}": coordinators,
        "GET /v1/schedules/{name}/overrides": coordinators,
        "POST /v1/schedules/{name}/overrides": coordinators,
        "DELETE /v1/schedules/{name}/overrides/{override_id}": coordinators,
        "GET /v1/oncall/now": ["people who are coordinator or peer_responder"],
        "GET /v1/oncall/load": coordinators,
        "POST /v1/calendar-feeds": ["any signed-in person"],
        "GET /v1/calendar-feeds": ["any signed-in person"],
        "DELETE /v1/calendar-feeds/{kind}/{subject}": ["any signed-in person"],
        "GET /v1/calendar/{token}.ics": [],
    }


async def test_schedules_are_refused_without_credentials_to_responders_employees_and_keys(
    client: httpx.AsyncClient,
) -> None:
    routes: list[tuple[str, str, Any]] = [
        ("PUT", "/v1/schedules/peer-support", SCHEDULE),
        ("GET", "/v1/schedules", None),
        ("GET", "/v1/schedules/peer-support", None),
        ("DELETE", "/v1/schedules/peer-support", None),
        ("POST", "/v1/schedules/peer-support/overrides", {}),
        ("DELETE", "/v1/schedules/peer-support/overrides/ov-1", None),
        ("GET", "/v1/oncall/load", None),
    ]
    for method, path, body in routes:
        assert (await client.request(method, path, json=body)).status_code == 401, path
        for headers in (RESP_A, WORKER, KEY):
            answer = await client.request(method, path, json=body, headers=headers)
            assert answer.status_code == 403, (path, headers)
    assert (await client.get("/v1/oncall/now", headers=WORKER)).status_code == 403
    assert (await client.get("/v1/oncall/now", headers=KEY)).status_code == 403
    assert (await client.get("/v1/oncall/now", headers=RESP_A)).status_code == 200


# ---- schedules --------------------------------------------------------------------------------


async def test_a_coordinator_puts_a_schedule_the_path_naming_it_and_reads_it_back(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    answer = await client.put("/v1/schedules/peer-support", json=SCHEDULE, headers=COORD)
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "peer-support"
    assert answer.json()["layers"][0]["participants"] == ["resp-a", "resp-b"]
    same = await client.put(
        "/v1/schedules/peer-support", json={**SCHEDULE, "name": "peer-support"}, headers=COORD
    )
    assert same.status_code == 200
    listed = await client.get("/v1/schedules", headers=COORD)
    assert [s["name"] for s in listed.json()] == ["peer-support"]
    one = await client.get("/v1/schedules/peer-support", headers=COORD)
    assert one.json() == answer.json()
    assert (await client.get("/v1/schedules/nope", headers=COORD)).status_code == 404
    assert audited(service) == [("schedule_saved", "person:coord-1")] * 2


async def test_a_bad_schedule_is_refused_with_field_errors_and_nothing_is_stored(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    other = await client.put(
        "/v1/schedules/peer-support", json={**SCHEDULE, "name": "nights"}, headers=COORD
    )
    assert other.status_code == 422
    assert other.json()["detail"][0]["loc"] == ["body", "name"]
    zone = await client.put(
        "/v1/schedules/peer-support",
        json={**SCHEDULE, "time_zone": "Mars/Olympus"},
        headers=COORD,
    )
    assert zone.status_code == 422
    assert zone.json()["detail"][0]["loc"] == ["body", "time_zone"]
    layer = {**SCHEDULE["layers"][0], "participants": []}
    empty = await client.put(
        "/v1/schedules/peer-support", json={**SCHEDULE, "layers": [layer]}, headers=COORD
    )
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body", "layers", 0, "participants"]
    bad_name = await client.put("/v1/schedules/Peer%20Support", json=SCHEDULE, headers=COORD)
    assert bad_name.status_code == 422
    assert service.tables.schedules == {} and service.tables.audit == []


async def test_deleting_a_schedule_is_refused_while_a_policy_targets_it(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    assert (await client.delete("/v1/schedules/peer-support", headers=COORD)).status_code == 404
    await put_schedule(client)
    await put_schedule(client, "other")
    policy = EscalationPolicy.model_validate(
        {
            "name": "default",
            "steps": [
                {"target": "rotation:peer-support", "timeout_seconds": 60},
                {"target": "coordinators", "timeout_seconds": 60},
            ],
        }
    )
    async with service:
        await service.on_call.save_policy(policy)
    refused = await client.delete("/v1/schedules/peer-support", headers=COORD)
    assert refused.status_code == 409
    assert "['default']" in refused.json()["detail"]
    assert "peer-support" in service.tables.schedules
    assert (await client.delete("/v1/schedules/other", headers=COORD)).status_code == 204
    assert "other" not in service.tables.schedules
    assert ("schedule_deleted", "person:coord-1") in audited(service)
    async with service:
        await service.on_call.save_policy(policy.model_copy(update={"steps": policy.steps[1:]}))
    assert (await client.delete("/v1/schedules/peer-support", headers=COORD)).status_code == 204
    assert (await client.get("/v1/schedules/peer-support", headers=COORD)).status_code == 404


class _Target(BaseModel):
    kind: str
    schedule: str


class _Step(BaseModel):
    targets: list[_Target]


class _Policy(BaseModel):
    name: str
    steps: list[_Step]


def test_a_policy_in_the_object_form_targets_a_schedule_by_its_schedule_field() -> None:
    policy = _Policy(
        name="team-a-critical", steps=[_Step(targets=[_Target(kind="schedule", schedule="night")])]
    )
    assert policies_targeting([policy], "night") == ["team-a-critical"]
    assert policies_targeting([policy], "day") == []


# ---- overrides --------------------------------------------------------------------------------


async def test_an_override_is_its_own_resource_with_an_id(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    await put_schedule(client)
    body = {"person_id": "resp-b", "start": "2026-11-24T12:00:00Z", "end": "2026-11-24T14:00:00Z"}
    added = await client.post("/v1/schedules/peer-support/overrides", json=body, headers=COORD)
    assert added.status_code == 201, added.text
    override = added.json()
    assert override["id"].startswith("ov-")
    assert (override["person_id"], override["layer"]) == ("resp-b", None)
    again = await client.post("/v1/schedules/peer-support/overrides", json=body, headers=COORD)
    assert again.json()["id"] == override["id"]
    listed = await client.get("/v1/schedules/peer-support/overrides", headers=COORD)
    assert [o["id"] for o in listed.json()] == [override["id"]]
    assert len(service.tables.schedules["peer-support"].overrides) == 1

    wrong_layer = {**body, "layer": "nights"}
    refused = await client.post(
        "/v1/schedules/peer-support/overrides", json=wrong_layer, headers=COORD
    )
    assert refused.status_code == 422 and "nights" in refused.json()["detail"]
    backwards = {**body, "end": "2026-11-24T11:00:00Z"}
    assert (
        await client.post("/v1/schedules/peer-support/overrides", json=backwards, headers=COORD)
    ).status_code == 422
    assert (
        await client.post("/v1/schedules/nope/overrides", json=body, headers=COORD)
    ).status_code == 404

    path = f"/v1/schedules/peer-support/overrides/{override['id']}"
    assert (await client.delete(path, headers=COORD)).status_code == 204
    assert len(service.tables.schedules["peer-support"].overrides) == 0
    assert (await client.delete(path, headers=COORD)).status_code == 404
    assert audited(service) == [
        ("schedule_saved", "person:coord-1"),
        ("schedule_override_added", "person:coord-1"),
        ("schedule_override_removed", "person:coord-1"),
    ]


# ---- who is on call ---------------------------------------------------------------------------


async def now_of(
    client: httpx.AsyncClient, instant: datetime, name: str, caller: dict[str, str] | None = None
) -> dict[str, Any]:
    headers = caller or RESP_B  # minted for this test (a default would be the import's)
    answer = await client.get("/v1/oncall/now", params={"at": instant.isoformat()}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    found: list[dict[str, Any]] = [s for s in answer.json()["schedules"] if s["schedule"] == name]
    assert len(found) == 1
    return found[0]


async def test_on_call_now_gives_the_responder_the_order_and_the_next_handoff(
    client: httpx.AsyncClient,
) -> None:
    await put_schedule(client)
    body = {"person_id": "resp-b", "start": "2026-11-24T12:00:00Z", "end": "2026-11-24T14:00:00Z"}
    await client.post("/v1/schedules/peer-support/overrides", json=body, headers=COORD)

    before = await now_of(client, at(24, 11), "peer-support")
    assert before["kind"] == "schedule" and before["time_zone"] == "Europe/London"
    assert before["on_call"] == {
        "person_id": "resp-a",
        "layer": "main",
        "source": "rotation",
        "until": "2026-11-24T12:00:00Z",
    }
    assert before["order"] == ["resp-a", "resp-b"]
    assert (before["next_handoff"], before["next_on_call"]) == ("2026-11-24T12:00:00Z", ["resp-b"])
    during = await now_of(client, at(24, 13), "peer-support")
    assert during["on_call"]["person_id"] == "resp-b"
    assert (during["on_call"]["source"], during["on_call"]["layer"]) == ("override", None)
    assert (during["next_handoff"], during["next_on_call"]) == ("2026-11-24T14:00:00Z", ["resp-a"])
    after = await now_of(client, at(24, 15), "peer-support")
    assert after["on_call"]["person_id"] == "resp-a"
    assert (after["next_handoff"], after["next_on_call"]) == ("2026-11-25T09:00:00Z", ["resp-b"])


async def test_on_call_now_reads_a_rotation_as_a_one_layer_schedule(
    client: httpx.AsyncClient,
) -> None:
    rotation = {"name": "night", "members": ["resp-b", "resp-a"], "shift_hours": 12}
    rotation["starts_at"] = "2026-11-24T00:00:00+00:00"
    assert (
        await client.put("/v1/rotations/night", json=rotation, headers=COORD)
    ).status_code == 200
    found = await now_of(client, at(24, 13), "night")
    assert found["kind"] == "rotation"
    assert found["on_call"]["person_id"] == "resp-a"
    assert found["order"] == ["resp-a", "resp-b"]
    assert (found["next_handoff"], found["next_on_call"]) == ("2026-11-25T00:00:00Z", ["resp-b"])
    # A schedule of the same name takes the rotation's place.
    await put_schedule(client, "night")
    assert (await now_of(client, at(24, 13), "night"))["kind"] == "schedule"


async def test_a_resting_responder_is_shown_resting_and_the_next_one_answers(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    await put_schedule(client)
    async with service:
        await service.workload.rest("resp-a", NOW + timedelta(hours=3))
    resting = await now_of(client, NOW + timedelta(hours=1), "peer-support", COORD)
    assert resting["resting"] == ["resp-a"]
    assert resting["on_call"]["person_id"] == "resp-b"
    assert resting["on_call"]["source"] == "rest_cover"
    assert resting["order"] == ["resp-b", "resp-a"]
    # Rest is a fact about now: an instant after it ends is back to the schedule.
    back = await now_of(client, NOW + timedelta(hours=4), "peer-support")
    assert back["resting"] == [] and back["on_call"]["person_id"] == "resp-a"
    # Who rests (after a critical case) is for coordinators and the person themself.
    at_one = {"at": (NOW + timedelta(hours=1)).isoformat()}
    for caller, shown in ((RESP_B, []), (RESP_A, ["resp-a"])):
        answer = await client.get("/v1/oncall/now", params=at_one, headers=caller)
        (care,) = [s for s in answer.json()["schedules"] if s["schedule"] == "peer-support"]
        assert care["resting"] == shown
        assert care["on_call"]["person_id"] == "resp-b"  # who answers is for everyone


async def test_on_call_now_without_at_is_now_and_an_at_without_offset_is_refused(
    client: httpx.AsyncClient,
) -> None:
    await put_schedule(client)
    answer = await client.get("/v1/oncall/now", headers=COORD)
    assert answer.json()["at"] == "2026-11-24T09:00:00Z"
    naive = await client.get("/v1/oncall/now", params={"at": "2026-11-24T10:00"}, headers=COORD)
    assert naive.status_code == 422
    for far in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
        answer = await client.get("/v1/oncall/now", params={"at": far}, headers=COORD)
        assert answer.status_code == 422, answer.text  # never a 500
        load = await client.get("/v1/oncall/load", params={"to": far}, headers=COORD)
        assert load.status_code == 422, load.text


# ---- calendar feeds ---------------------------------------------------------------------------


def events(document: bytes) -> list[tuple[datetime, datetime, str]]:
    calendar = icalendar.Calendar.from_ical(document)
    return sorted(
        (e.decoded("dtstart"), e.decoded("dtend"), str(e["summary"]))
        for e in calendar.walk("VEVENT")
    )


def feed_path(url: str) -> str:
    assert url.startswith("http://127.0.0.1:8002/v1/calendar/") and url.endswith(".ics")
    return url.removeprefix("http://127.0.0.1:8002")


async def test_a_person_feed_lists_their_shifts_at_a_secret_url_that_rotates(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    await put_schedule(client)
    issued = await client.post("/v1/calendar-feeds", json={"person": "me"}, headers=RESP_A)
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    assert (issued.json()["kind"], issued.json()["subject"]) == ("person", "resp-a")
    path = feed_path(issued.json()["url"])
    token = path.removeprefix("/v1/calendar/").removesuffix(".ics")
    assert len(token) >= 40
    assert list(service.tables.feeds) == [token_hash(token)]  # the hash, never the token

    feed = await client.get(path)  # no credentials: calendar apps cannot sign in
    assert feed.status_code == 200
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    found = events(feed.content)
    assert (at(24, 9), at(25, 9), "On call: peer-support / main") in found
    assert all((start.day - 2) % 2 == 0 for start, _, _ in found if start.month == 11)
    assert not [e for e in found if e[0] == at(25, 9)]  # resp-b's day

    rotated = await client.post("/v1/calendar-feeds", json={"person": "resp-a"}, headers=RESP_A)
    assert (await client.get(path)).status_code == 404
    new_path = feed_path(rotated.json()["url"])
    assert (await client.get(new_path)).status_code == 200
    listed = await client.get("/v1/calendar-feeds", headers=RESP_A)
    assert [(f["kind"], f["subject"]) for f in listed.json()] == [("person", "resp-a")]
    assert "ics" not in listed.text

    assert (await client.delete("/v1/calendar-feeds/person/me", headers=RESP_A)).status_code == 204
    assert (await client.get(new_path)).status_code == 404
    assert (await client.delete("/v1/calendar-feeds/person/me", headers=RESP_A)).status_code == 404
    assert [a for a in audited(service) if a[0].startswith("calendar")] == [
        ("calendar_feed_issued", "person:resp-a"),
        ("calendar_feed_issued", "person:resp-a"),
        ("calendar_feed_revoked", "person:resp-a"),
    ]


async def test_a_schedule_feed_is_for_coordinators_and_participants_only(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    await put_schedule(client)
    someone_else = await client.post(
        "/v1/calendar-feeds", json={"person": "resp-b"}, headers=RESP_A
    )
    assert someone_else.status_code == 403
    stranger = await client.post(
        "/v1/calendar-feeds", json={"schedule": "peer-support"}, headers=WORKER
    )
    assert stranger.status_code == 403
    missing = await client.post("/v1/calendar-feeds", json={"schedule": "nope"}, headers=COORD)
    assert missing.status_code == 404
    both = {"schedule": "peer-support", "person": "me"}
    assert (await client.post("/v1/calendar-feeds", json=both, headers=COORD)).status_code == 422

    by_coordinator = await client.post(
        "/v1/calendar-feeds", json={"schedule": "peer-support"}, headers=COORD
    )
    by_participant = await client.post(
        "/v1/calendar-feeds", json={"schedule": "peer-support"}, headers=RESP_B
    )
    assert by_coordinator.status_code == by_participant.status_code == 201
    first, second = feed_path(by_coordinator.json()["url"]), feed_path(by_participant.json()["url"])
    assert first != second
    found = events((await client.get(first)).content)
    assert (at(24, 9), at(25, 9), "resp-a on call: peer-support / main") in found
    assert (at(25, 9), at(26, 9), "resp-b on call: peer-support / main") in found
    # Each person's URL is their own: resp-b rotating theirs leaves the coordinator's working.
    await client.post("/v1/calendar-feeds", json={"schedule": "peer-support"}, headers=RESP_B)
    assert (await client.get(second)).status_code == 404
    assert (await client.get(first)).status_code == 200


async def test_a_feed_stops_when_its_owner_may_no_longer_have_it(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    await put_schedule(client)
    issued = await client.post(
        "/v1/calendar-feeds", json={"schedule": "peer-support"}, headers=RESP_B
    )
    path = feed_path(issued.json()["url"])
    assert (await client.get(path)).status_code == 200
    layers = [{**SCHEDULE["layers"][0], "participants": ["resp-a"]}]
    await client.put(
        "/v1/schedules/peer-support", json={**SCHEDULE, "layers": layers}, headers=COORD
    )
    assert (await client.get(path)).status_code == 404
    assert (await client.get("/v1/calendar/not-a-token.ics")).status_code == 404
    assert (await client.get("/v1/calendar/" + "x" * 500 + ".ics")).status_code == 404


async def test_a_feed_token_never_reaches_the_access_log(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await put_schedule(client)
    issued = await client.post("/v1/calendar-feeds", json={"person": "me"}, headers=RESP_A)
    path = feed_path(issued.json()["url"])
    token = path.removeprefix("/v1/calendar/").removesuffix(".ics")
    with caplog.at_level(logging.INFO, "kinship.access"):
        assert (await client.get(path)).status_code == 200
        assert (await client.get(path.replace(token, token[::-1]))).status_code == 404
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0].startswith("GET /v1/calendar/{token}.ics 200")
    assert lines[1].startswith("GET /v1/calendar/{token}.ics 404")
    assert not any(token in line or token[::-1] in line for line in caplog.text.splitlines())


# ---- on-call load -----------------------------------------------------------------------------


async def test_the_load_report_counts_time_on_call_nights_pages_and_cases(
    client: httpx.AsyncClient,
    service: FakeEscalationUnitOfWork,
    ctx: EscalationContext,
    clock: Clock,
) -> None:
    await put_schedule(client)
    clock.now = at(24, 2)  # a night page, in resp-b's turn (23 Nov 09:00 to 24 Nov 09:00)
    async with service:
        await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], service, ctx)
    (alerted,) = [sent.record.recipient_id for sent in service.tables.alerts.values()]
    case_id = next(iter(service.tables.cases))
    clock.now = at(24, 2, 10)
    acknowledged = await client.post(f"/v1/cases/{case_id}/acknowledge", headers=bearer(alerted))
    assert acknowledged.status_code == 200, acknowledged.text
    clock.now = at(30, 9)

    answer = await client.get(
        "/v1/oncall/load",
        params={"from": "2026-11-23T09:00:00Z", "to": "2026-11-25T09:00:00Z"},
        headers=COORD,
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    people = {p["person_id"]: p for p in report["people"]}
    assert set(people) == {"resp-a", "resp-b"}
    for person in ("resp-a", "resp-b"):
        assert people[person]["on_call_hours"] == 24
        assert people[person]["night_hours"] == 7  # 23:00-06:00 London, = UTC in November
    assert (people[alerted]["pages"], people[alerted]["night_pages"]) == (1, 1)
    assert people[alerted]["cases"] == 1
    other = ({"resp-a", "resp-b"} - {alerted}).pop()
    assert (people[other]["pages"], people[other]["cases"]) == (0, 0)
    share = report["schedules"]["peer-support"]
    assert [(p["person_id"], p["share"]) for p in share["participants"]] == [
        ("resp-a", 0.5),
        ("resp-b", 0.5),
    ]
    assert share["uncovered"] == "PT0S"

    backwards = await client.get(
        "/v1/oncall/load",
        params={"from": "2026-11-25T09:00:00Z", "to": "2026-11-23T09:00:00Z"},
        headers=COORD,
    )
    assert backwards.status_code == 422
    too_long = await client.get(
        "/v1/oncall/load",
        params={"from": "2025-01-01T00:00:00Z", "to": "2026-11-23T09:00:00Z"},
        headers=COORD,
    )
    assert too_long.status_code == 422


async def test_a_schedule_or_override_naming_someone_who_is_not_staff_is_refused(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    # Escalation pages only peer responders and coordinators: a schedule of anyone else
    # (an employee, a typo) would look right in /v1/oncall/now and page nobody.
    for people in (["resp-a", "worker-1"], ["resp-a", "resp-typo"]):
        body = {**SCHEDULE, "layers": [{**SCHEDULE["layers"][0], "participants": people}]}
        answer = await client.put("/v1/schedules/peer-support", json=body, headers=COORD)
        assert answer.status_code == 422, answer.text
        assert people[1] in answer.text and "peer responder or coordinator" in answer.text
    async with service:
        assert await service.on_call.schedules() == []
    await put_schedule(client)
    override = {
        "person_id": "worker-1",
        "start": at(25, 12).isoformat(),
        "end": at(25, 18).isoformat(),
    }
    refused = await client.post(
        "/v1/schedules/peer-support/overrides", json=override, headers=COORD
    )
    assert refused.status_code == 422, refused.text
    async with service:
        stored = await service.on_call.schedule("peer-support")
    assert stored is not None and stored.overrides == ()
    coordinator = {**override, "person_id": "coord-1"}
    taken = await client.post(
        "/v1/schedules/peer-support/overrides", json=coordinator, headers=COORD
    )
    assert taken.status_code == 201, taken.text


# ---- away ------------------------------------------------------------------------------------


async def test_a_responder_says_they_are_away_reads_it_and_comes_back(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    assert (await client.get("/v1/me/away", headers=RESP_A)).json() == {"away_until": None}
    until = NOW + timedelta(days=3)
    answer = await client.put("/v1/me/away", json={"until": until.isoformat()}, headers=RESP_A)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"away_until": "2026-11-27T09:00:00Z"}
    assert (await client.get("/v1/me/away", headers=RESP_A)).json() == answer.json()
    # Each person's own: resp-b is not away.
    assert (await client.get("/v1/me/away", headers=RESP_B)).json() == {"away_until": None}
    assert service.tables.away == {"resp-a": until}
    assert (await client.delete("/v1/me/away", headers=RESP_A)).status_code == 204
    assert (await client.get("/v1/me/away", headers=RESP_A)).json() == {"away_until": None}
    assert service.tables.away == {}
    # Back when not away changes nothing and leaves no record.
    assert (await client.delete("/v1/me/away", headers=RESP_A)).status_code == 204
    assert [a for a in audited(service) if a[0].startswith("away")] == [
        ("away_set", "person:resp-a"),
        ("away_ended", "person:resp-a"),
    ]


async def test_away_ends_by_itself(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork, clock: Clock
) -> None:
    await put_schedule(client)
    until = NOW + timedelta(hours=2)
    await client.put("/v1/me/away", json={"until": until.isoformat()}, headers=COORD)
    assert (await client.get("/v1/me/away", headers=COORD)).json()["away_until"] is not None
    clock.now = NOW + timedelta(hours=2, seconds=1)
    assert (await client.get("/v1/me/away", headers=COORD)).json() == {"away_until": None}


async def test_away_is_refused_in_the_past_too_far_ahead_and_to_other_people(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    for until in (NOW, NOW - timedelta(hours=1), NOW + timedelta(days=90, seconds=1)):
        answer = await client.put("/v1/me/away", json={"until": until.isoformat()}, headers=RESP_A)
        assert answer.status_code == 422, until
        assert answer.json()["detail"][0]["loc"] == ["body", "until"]
    naive = await client.put("/v1/me/away", json={"until": "2026-11-25T09:00"}, headers=RESP_A)
    assert naive.status_code == 422
    longest = NOW + timedelta(days=90)
    ok = await client.put("/v1/me/away", json={"until": longest.isoformat()}, headers=RESP_A)
    assert ok.status_code == 200
    for method in ("GET", "PUT", "DELETE"):
        body = {"until": (NOW + timedelta(days=1)).isoformat()} if method == "PUT" else None
        assert (await client.request(method, "/v1/me/away", json=body)).status_code == 401
        for headers in (WORKER, KEY):
            answer = await client.request(method, "/v1/me/away", json=body, headers=headers)
            assert answer.status_code == 403, (method, headers)
    assert service.tables.away == {"resp-a": longest}


async def test_away_needs_the_directory_role_not_only_the_tokens(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    async with service:
        service.tables.people.pop("resp-b")
    body = {"until": (NOW + timedelta(days=1)).isoformat()}
    assert (await client.put("/v1/me/away", json=body, headers=RESP_B)).status_code == 403
    assert service.tables.away == {}


async def test_an_away_responder_is_skipped_and_shown_away_not_resting(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    await put_schedule(client)
    until = NOW + timedelta(hours=3)
    await client.put("/v1/me/away", json={"until": until.isoformat()}, headers=RESP_A)
    away = await now_of(client, NOW + timedelta(hours=1), "peer-support", COORD)
    assert (away["away"], away["resting"]) == (["resp-a"], [])
    assert away["on_call"]["person_id"] == "resp-b"
    assert away["order"] == ["resp-b", "resp-a"]
    # Resting too: shown away only (colleagues need not learn of a critical case).
    async with service:
        await service.workload.rest("resp-a", NOW + timedelta(hours=2))
    both = await now_of(client, NOW + timedelta(hours=1), "peer-support", COORD)
    assert (both["away"], both["resting"]) == (["resp-a"], [])
    back = await now_of(client, NOW + timedelta(hours=4), "peer-support", COORD)
    assert (back["away"], back["on_call"]["person_id"]) == ([], "resp-a")
    at_one = {"at": (NOW + timedelta(hours=1)).isoformat()}
    for caller, shown in ((RESP_B, []), (RESP_A, ["resp-a"])):
        answer = await client.get("/v1/oncall/now", params=at_one, headers=caller)
        (care,) = [s for s in answer.json()["schedules"] if s["schedule"] == "peer-support"]
        assert care["away"] == shown
        assert care["on_call"]["person_id"] == "resp-b"
