"""On-call schedules over the real stack (the escalation service in-process on the test
Kafka and PostgreSQL): an override replaces the scheduled responder for its window only, a
daylight-saving change hands off at the right local hour, and the calendar feed parses,
lists the shifts and stops working when its secret is rotated."""

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import icalendar
import pytest

from tests.escalation_support import STAFF, Escalation, bearer, person, seed_directory

pytestmark = pytest.mark.integration


def coordinator() -> dict[str, str]:
    return bearer("coord-1")


def daily(zone: str, start: date, people: list[str]) -> dict[str, Any]:
    """A schedule handing off every day at 09:00 in ``zone`` from ``start``."""
    return {
        "time_zone": zone,
        "layers": [
            {
                "name": "day",
                "participants": people,
                "rotation": {"every": 1, "unit": "days"},
                "handoff_time": "09:00",
                "start_date": start.isoformat(),
            }
        ],
    }


async def put(escalation: Escalation, name: str, body: dict[str, Any]) -> None:
    answer = await escalation.client.put(f"/v1/schedules/{name}", json=body, headers=coordinator())
    assert answer.status_code == 200, answer.text


async def on_call(escalation: Escalation, name: str, at: str) -> dict[str, Any]:
    """The schedule's entry of ``/v1/oncall/now?at=``, as a peer responder reads it."""
    answer = await escalation.client.get(
        "/v1/oncall/now", params={"at": at}, headers=bearer("resp-b")
    )
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = [s for s in answer.json()["schedules"] if s["schedule"] == name]
    assert len(found) == 1
    return found[0]


async def who(escalation: Escalation, name: str, at: str) -> str | None:
    shift = (await on_call(escalation, name, at))["on_call"]
    return None if shift is None else str(shift["person_id"])


async def test_an_override_replaces_the_scheduled_responder_for_its_window(
    escalation: Escalation,
) -> None:
    await seed_directory(escalation, STAFF)
    await put(escalation, "peer-support", daily("Europe/London", date(2026, 11, 2), ["resp-a"]))
    override = {
        "person_id": "resp-b",
        "start": "2026-11-24T12:00:00Z",
        "end": "2026-11-24T14:00:00Z",
    }
    added = await escalation.client.post(
        "/v1/schedules/peer-support/overrides", json=override, headers=coordinator()
    )
    assert added.status_code == 201, added.text

    before = await on_call(escalation, "peer-support", "2026-11-24T11:59:00Z")
    assert before["on_call"]["person_id"] == "resp-a"
    assert (before["next_handoff"], before["next_on_call"]) == ("2026-11-24T12:00:00Z", ["resp-b"])
    during = await on_call(escalation, "peer-support", "2026-11-24T12:00:00Z")
    assert (during["on_call"]["person_id"], during["on_call"]["source"]) == ("resp-b", "override")
    assert during["on_call"]["until"] == "2026-11-24T14:00:00Z"
    assert await who(escalation, "peer-support", "2026-11-24T13:59:59Z") == "resp-b"
    assert await who(escalation, "peer-support", "2026-11-24T14:00:00Z") == "resp-a"

    # Removed, the override no longer applies; the change is audited as the coordinator.
    path = f"/v1/schedules/peer-support/overrides/{added.json()['id']}"
    assert (await escalation.client.delete(path, headers=coordinator())).status_code == 204
    assert await who(escalation, "peer-support", "2026-11-24T13:00:00Z") == "resp-a"
    audit = await escalation.rows("SELECT action, actor FROM case_audit ORDER BY seq")
    assert [(r["action"], r["actor"]) for r in audit] == [
        ("schedule_saved", "person:coord-1"),
        ("schedule_override_added", "person:coord-1"),
        ("schedule_override_removed", "person:coord-1"),
    ]


async def test_a_daylight_saving_change_hands_off_at_the_same_local_hour(
    escalation: Escalation,
) -> None:
    # Schedules name only staff: "a" and "b" are two more peer responders.
    extra = [person(name, "team-dst", "peer_responder") for name in ("a", "b")]
    await seed_directory(escalation, [*STAFF, *extra])
    # New York springs forward on 8 March 2026: 09:00 is 14:00Z before, 13:00Z after.
    await put(escalation, "new-york", daily("America/New_York", date(2026, 3, 1), ["a", "b"]))
    saturday = await on_call(escalation, "new-york", "2026-03-07T15:00:00Z")
    assert saturday["on_call"]["person_id"] == "a"  # 7 March is turn 6
    assert saturday["on_call"]["until"] == "2026-03-08T13:00:00Z"  # a 23-hour shift
    assert (saturday["next_handoff"], saturday["next_on_call"]) == (
        "2026-03-08T13:00:00Z",
        ["b"],
    )
    assert await who(escalation, "new-york", "2026-03-08T12:59:00Z") == "a"
    assert await who(escalation, "new-york", "2026-03-08T13:00:00Z") == "b"
    # London falls back on 25 October 2026: 09:00 is 08:00Z before, 09:00Z after.
    await put(escalation, "london", daily("Europe/London", date(2026, 10, 1), ["a", "b"]))
    assert await who(escalation, "london", "2026-10-24T07:59:00Z") == "a"  # turn 22
    assert await who(escalation, "london", "2026-10-24T08:00:00Z") == "b"  # turn 23
    before = await on_call(escalation, "london", "2026-10-24T12:00:00Z")
    assert before["on_call"]["until"] == "2026-10-25T09:00:00Z"  # a 25-hour shift
    assert (before["next_handoff"], before["next_on_call"]) == ("2026-10-25T09:00:00Z", ["a"])
    assert await who(escalation, "london", "2026-10-25T08:30:00Z") == "b"
    assert await who(escalation, "london", "2026-10-25T09:00:00Z") == "a"
    spring = await on_call(escalation, "london", "2026-03-28T12:00:00Z")
    assert spring["on_call"] is None  # before the layer's first turn nobody is on call
    assert (spring["next_handoff"], spring["next_on_call"]) == ("2026-10-01T08:00:00Z", ["a"])


def events(document: bytes) -> list[tuple[datetime, datetime, str]]:
    calendar = icalendar.Calendar.from_ical(document)
    return sorted(
        (e.decoded("dtstart"), e.decoded("dtend"), str(e["summary"]))
        for e in calendar.walk("VEVENT")
    )


async def test_the_calendar_feed_parses_lists_the_shifts_and_rotating_it_retires_the_url(
    escalation: Escalation,
) -> None:
    await seed_directory(escalation, STAFF)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=10)
    await put(escalation, "peer-support", daily("UTC", start, ["resp-a", "resp-b"]))

    issued = await escalation.client.post(
        "/v1/calendar-feeds", json={"schedule": "peer-support"}, headers=bearer("resp-a")
    )
    assert issued.status_code == 201, issued.text
    url = issued.json()["url"]
    assert url.startswith("http://escalation.test/v1/calendar/") and url.endswith(".ics")
    path = url.removeprefix("http://escalation.test")
    token = path.removeprefix("/v1/calendar/").removesuffix(".ics")
    stored = await escalation.rows("SELECT token_hash, kind, subject, owner FROM calendar_feeds")
    assert [dict(r) for r in stored] == [
        {
            "token_hash": hashlib.sha256(token.encode()).hexdigest(),
            "kind": "schedule",
            "subject": "peer-support",
            "owner": "resp-a",
        }
    ]

    feed = await escalation.client.get(path)  # no sign-in
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    found = events(feed.content)
    # Every day from the schedule's start (28 days back is before it) to 92 days ahead.
    first = datetime(start.year, start.month, start.day, 9, tzinfo=UTC)
    expected = [
        (
            first + timedelta(days=k),
            first + timedelta(days=k + 1),
            f"{('resp-a', 'resp-b')[k % 2]} on call: peer-support / day",
        )
        for k in range(len(found))
    ]
    assert found == expected
    assert found[-1][0] >= datetime.now(UTC) + timedelta(days=91)

    mine = await escalation.client.post(
        "/v1/calendar-feeds", json={"person": "me"}, headers=bearer("resp-b")
    )
    own = events(
        (
            await escalation.client.get(mine.json()["url"].removeprefix("http://escalation.test"))
        ).content
    )
    assert own == [
        (s, e, "On call: peer-support / day") for s, e, text in found if text.startswith("resp-b")
    ]

    rotated = await escalation.client.post(
        "/v1/calendar-feeds", json={"schedule": "peer-support"}, headers=bearer("resp-a")
    )
    assert rotated.status_code == 201
    assert (await escalation.client.get(path)).status_code == 404
    new_path = rotated.json()["url"].removeprefix("http://escalation.test")
    assert events((await escalation.client.get(new_path)).content) == found

    # A schedule a policy still targets is not deleted.
    policy = {
        "steps": [
            {"target": "rotation:peer-support", "timeout_seconds": 60},
            {"target": "coordinators", "timeout_seconds": 60},
        ]
    }
    saved = await escalation.client.put("/v1/policies/default", json=policy, headers=coordinator())
    assert saved.status_code == 200, saved.text
    refused = await escalation.client.delete("/v1/schedules/peer-support", headers=coordinator())
    assert refused.status_code == 409
