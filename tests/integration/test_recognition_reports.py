"""Team celebrations and programme reports, against the real broker and database.

Both are about groups, and a group counts only with at least five people in it: each test
tries four first. Reports cover closed weeks only, so the report tests read them as of a
time after this week has closed (through the PostgreSQL unit of work), or over HTTP now
with last week's facts in the tables.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg
import pytest

from kinship_contracts.cases import CaseEventKind
from kinship_recognition.adapters.postgres import PostgresRecognitionUnitOfWork
from kinship_recognition.domain.reports import ProgrammeReport, closes_at, monday_of
from kinship_recognition.handlers.reports import programme_report
from kinship_runtime.database import create_pool
from kinship_runtime.directory import DirectoryProjection
from tests.escalation_support import AUTH, SUBJECTS, bearer, encode_person, recorded
from tests.kafka_reading import encode, publish, read_all
from tests.notifications_support import kudos
from tests.recognition_support import RunningRecognition as Recognition

THIS_WEEK_CLOSED = closes_at(monday_of(datetime.now(UTC).date())) + timedelta(hours=1)
"""A time at which the week in progress has closed: its facts are in the report."""


@asynccontextmanager
async def database(recognition: Recognition) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(recognition.settings)  # as the service makes it (json codecs)
    try:
        yield pool
    finally:
        await pool.close()


class _RollBackError(Exception):
    """Raised to roll a reading back."""


async def report_as_of(
    recognition: Recognition,
    now: datetime,
    team_id: str | None = None,
    weeks: int = 2,
    *,
    keep: bool = True,
) -> ProgrammeReport:
    """The programme report the service would give at ``now``. A week is stored the first
    time it is served; ``keep=False`` rolls that back (a reading as of a time to come, of a
    week the test goes on to fill)."""
    async with database(recognition) as pool:
        uow = PostgresRecognitionUnitOfWork(pool, DirectoryProjection())
        try:
            async with uow:
                report = await programme_report(uow, weeks, team_id, now)
                if not keep:
                    raise _RollBackError
        except _RollBackError:
            pass
        return report


pytestmark = pytest.mark.integration


async def directory(recognition: Recognition, team: str, people: list[str]) -> None:
    records = [encode_person(person, team, {}) for person in people]
    await publish(
        recognition.endpoints.bootstrap_servers, recognition.topic("directory.people"), records
    )


async def awards(recognition: Recognition, expect: int) -> list[dict[str, Any]]:
    topic = recognition.topic("recognition.awards")
    return [
        json.loads(r.value)
        for r in await read_all(recognition.endpoints.bootstrap_servers, topic, expect)
    ]


async def test_team_kudos_are_celebrated_with_five_senders_not_four(
    recognition: Recognition,
) -> None:
    four = [f"a{n}" for n in range(4)]
    five = [f"b{n}" for n in range(5)]
    await directory(recognition, "team-a", four)
    await directory(recognition, "team-b", five)
    assert await recognition.wait_for("SELECT count(*) FROM directory_people", 9) == 9
    sent = 0
    for sender in four:  # 12 kudos from four people: no team celebration
        for n in range(3):
            body = kudos(f"ka-{sender}-{n}", sender, "outsider")
            sent += (
                await recognition.client.post("/v1/kudos", json=body, headers=AUTH)
            ).status_code == 202
    for sender in five:  # 10 kudos from five people: the team's first milestone
        for n in range(2):
            body = kudos(f"kb-{sender}-{n}", sender, "outsider")
            sent += (
                await recognition.client.post("/v1/kudos", json=body, headers=AUTH)
            ).status_code == 202
    assert sent == 22
    team = await recognition.rows("SELECT id, team_id FROM awards WHERE kind = 'team_milestone'")
    assert [(row["id"], row["team_id"]) for row in team] == [("team-kudos:team-b:10", "team-b")]

    published = await awards(recognition, expect=22 + 1)
    team_awards = [a for a in published if a["kind"] == "team_milestone"]
    assert [(a["id"], a["team_id"], a["count"]) for a in team_awards] == [
        ("team-kudos:team-b:10", "team-b", 10)
    ]
    topic = recognition.topic("notifications.requests")
    requests = [
        json.loads(r.value)
        for r in await read_all(recognition.endpoints.bootstrap_servers, topic, 22 + 5)
    ]
    celebrated = sorted(
        r["recipient"]["subject_id"]
        for r in requests
        if r["id"].startswith("celebration:team-kudos:")
    )
    # each member of team-b by the subject id the vault gives them, nobody from team-a
    assert celebrated == sorted([await recognition.subject(member) for member in five])


async def test_team_participation_is_celebrated_at_five_people_not_four(
    recognition: Recognition,
) -> None:
    await directory(recognition, "team-p", [f"p{n}" for n in range(6)])
    await directory(recognition, "team-q", [f"q{n}" for n in range(4)])
    assert await recognition.wait_for("SELECT count(*) FROM directory_people", 10) == 10
    now = datetime.now(UTC)
    checkins = [recorded(f"cp-{n}", f"p{n}", now, team="team-p", mood=3) for n in range(5)]
    checkins += [recorded(f"cq-{n}", f"q{n}", now, team="team-q", mood=3) for n in range(4)]
    topic = recognition.topic("wellbeing.checkins.recorded")
    await publish(recognition.endpoints.bootstrap_servers, topic, checkins)
    assert await recognition.wait_for("SELECT count(*) FROM checkin_weeks", 9) == 9
    await publish(recognition.endpoints.bootstrap_servers, topic, checkins)  # a replay
    assert await recognition.wait_for("SELECT count(*) FROM awards", 1) == 1
    published = await awards(recognition, expect=1)
    # 5 of 6 is 83 %: the 75 % milestone, once; four of four earn nothing.
    assert [(a["id"], a["count"]) for a in published] == [("team-participation:team-p:75", 75)]


def case(
    case_id: str, person: str, sequence: int, kind: CaseEventKind, at: datetime, **fields: Any
) -> tuple[bytes, bytes]:
    body = {
        "id": f"{case_id}:{sequence}",
        "case_id": case_id,
        "sequence": sequence,
        "kind": kind.value,
        "occurred_at": at.isoformat(),
        "subject_id": SUBJECTS.subject_id(person),
        "team_id": "team-c",
        "status": "opened",
        "severity": "high",
        "rules": ["sustained_low_mood"],
        **fields,
    }
    return case_id.encode(), encode(body)


def lifecycle(n: int, opened: datetime) -> list[tuple[bytes, bytes]]:
    """A case opened, acknowledged after n minutes, contacted, resolved, with feedback."""
    case_id = f"case-{n}"
    person = f"person-{n}"
    return [
        case(case_id, person, 1, CaseEventKind.OPENED, opened),
        case(
            case_id,
            person,
            2,
            CaseEventKind.ACKNOWLEDGED,
            opened + timedelta(minutes=n),
            responder_id="resp-a",
        ),
        case(case_id, person, 3, CaseEventKind.CONTACTED, opened + timedelta(minutes=2 * n)),
        case(
            case_id,
            person,
            4,
            CaseEventKind.RESOLVED,
            opened + timedelta(hours=1),
            outcome="supported",
            responder_id="resp-a",
        ),
        case(
            case_id,
            person,
            5,
            CaseEventKind.FEEDBACK_RECEIVED,
            opened + timedelta(hours=2),
            feedback_score=4,
            feedback_from="person",
        ),
    ]


def pulse(id_: str, person: str, helps: int) -> dict[str, Any]:
    return {
        "id": id_,
        "person_id": person,
        "survey_id": "2026-11",
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "tests",
        "answers": {"programme_helps": helps, "comfortable_asking": 4},
    }


async def test_the_programme_report_shows_groups_of_five_and_never_of_four(
    recognition: Recognition,
) -> None:
    server = recognition.endpoints.bootstrap_servers
    # The whole lifecycle (feedback two hours after opening) inside the week in progress, even
    # late on a Sunday: otherwise the feedback falls in next week and the test depends on the hour.
    next_monday = monday_of(datetime.now(UTC).date()) + timedelta(weeks=1)
    week_ends = datetime.combine(next_monday, time(), UTC)
    opened = min(datetime.now(UTC) - timedelta(seconds=5), week_ends - timedelta(hours=3))
    cases_topic = recognition.topic("escalation.cases")
    await publish(server, cases_topic, [e for n in range(1, 5) for e in lifecycle(n, opened)])
    for n in range(4):
        answered = await recognition.client.post(
            "/v1/pulse", json=pulse(f"pulse-{n}", f"r{n}", 5), headers=AUTH
        )
        assert answered.status_code == 202
    assert await recognition.wait_for("SELECT count(*) FROM case_feedback", 4) == 4

    four = (await report_as_of(recognition, THIS_WEEK_CLOSED, keep=False)).weeks[-1]
    assert four.cases is None and four.pulse is None and four.satisfaction == {}
    assert "cases: fewer than 5 people" in four.withheld
    assert "pulse: fewer than 5 people" in four.withheld
    assert "satisfaction.person: fewer than 5 people" in four.withheld

    await publish(server, cases_topic, lifecycle(5, opened) * 2)  # the fifth, twice
    pulse_topic = recognition.topic("programme.pulse.submitted")
    await publish(server, pulse_topic, [(b"r4", encode(pulse("pulse-4", "r4", 3)))])
    assert await recognition.wait_for("SELECT count(*) FROM pulse_responses", 5) == 5
    assert await recognition.wait_for("SELECT count(*) FROM case_feedback", 5) == 5
    respondents = {
        row[0] for row in await recognition.rows("SELECT respondent FROM pulse_responses")
    }
    assert respondents == {await recognition.subject(f"r{n}") for n in range(5)}

    five = await report_as_of(recognition, THIS_WEEK_CLOSED)
    week = five.weeks[-1]
    assert week.cases is not None
    assert week.cases.opened == 5 and week.cases.acknowledged == 5
    assert week.cases.time_to_acknowledge_seconds.median == pytest.approx(180.0)
    assert week.cases.time_to_first_contact_seconds.median == pytest.approx(360.0)
    assert week.cases.outcomes == {"supported": 5}
    assert week.satisfaction["person"].responses == 5
    assert week.satisfaction["person"].mean_score == 4.0
    assert week.pulse is not None and week.pulse.respondents == 5
    assert week.pulse.mean_agreement["programme_helps"] == pytest.approx(4.6)
    text = five.model_dump_json()
    assert not any(
        f"person-{n}" in text or SUBJECTS.subject_id(f"person-{n}") in text for n in range(1, 6)
    )

    team = (await report_as_of(recognition, THIS_WEEK_CLOSED, team_id="team-c")).weeks[-1]
    assert team.cases is None
    assert "cases: reported for the whole organisation only" in team.withheld

    # Now, over HTTP, this week is still open: none of it is reported.
    now = (await recognition.client.get("/v1/reports/programme", headers=AUTH)).json()
    assert now["end"] <= monday_of(datetime.now(UTC).date()).isoformat()
    assert all(
        w["pulse"] is None and (w["cases"] or {}).get("opened", 0) == 0 for w in now["weeks"]
    )
    chart = await recognition.client.get(
        "/v1/reports/programme/chart.svg", params={"weeks": "4"}, headers=AUTH
    )
    assert chart.status_code == 200
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert b"time to acknowledge (min)" in chart.content
    png = await recognition.client.get("/v1/reports/programme/chart.png", headers=AUTH)
    assert png.content.startswith(b"\x89PNG")


async def test_org_pulse_minus_the_visible_teams_reveals_no_hidden_small_team(
    recognition: Recognition,
) -> None:
    # The attack over the real database: teams of 6, 7 and 2 answer; the 2-person
    # team would be the organisation's figure minus the two visible teams.
    teams = {"team-a": 6, "team-b": 7, "team-c": 2}
    for team, size in teams.items():
        await directory(recognition, team, [f"{team}-{n}" for n in range(size)])
    assert await recognition.wait_for("SELECT count(*) FROM directory_people", 15) == 15
    for team, size in teams.items():
        for n in range(size):
            helps = 1 if team == "team-c" else 4
            body = pulse(f"p-{team}-{n}", f"{team}-{n}", helps)
            sent = await recognition.client.post("/v1/pulse", json=body, headers=AUTH)
            assert sent.status_code == 202
    org = (await report_as_of(recognition, THIS_WEEK_CLOSED)).weeks[-1]
    assert org.pulse is not None and org.pulse.respondents == 15
    left = org.pulse.respondents
    for team in teams:
        shown = (await report_as_of(recognition, THIS_WEEK_CLOSED, team_id=team)).weeks[-1].pulse
        left -= shown.respondents if shown is not None else 0
    assert left >= 5  # team-c's two hide among at least five: team-a is withheld with them


async def test_a_report_is_the_same_before_and_after_one_more_response(
    recognition: Recognition,
) -> None:
    # Answers of the week before last (closed whatever the day), recorded in time: written
    # as the service would have written them then.
    earlier = monday_of(datetime.now(UTC).date()) - timedelta(days=12)
    at = datetime.combine(earlier, datetime.min.time(), UTC) + timedelta(hours=10)
    await recognition.rows(
        "INSERT INTO pulse_responses (survey_id, respondent, response_id, team_id, answered_at,"
        " programme_helps, recorded_at) SELECT '2026-10', 's-' || n, 'p-' || n, 'team-a', $1,"
        " 3 + n % 2, $1 FROM generate_series(1, 6) AS n",
        at,
    )

    async def read() -> dict[str, Any]:
        response = await recognition.client.get(
            "/v1/reports/programme", params={"weeks": "3"}, headers=AUTH
        )
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        body.pop("generated_at")
        return body

    before = await read()
    shown = [(w["week"], w["pulse"]["respondents"]) for w in before["weeks"] if w["pulse"]]
    assert shown == [(monday_of(earlier).isoformat(), 6)]
    one_more = pulse("p-new", "ann", 1)  # answered now, in the week in progress
    assert (
        await recognition.client.post("/v1/pulse", json=one_more, headers=AUTH)
    ).status_code == 202
    late = {**pulse("p-late", "bob", 1), "occurred_at": at.isoformat()}  # for a closed week
    assert (await recognition.client.post("/v1/pulse", json=late, headers=AUTH)).status_code == 202
    assert await recognition.wait_for("SELECT count(*) FROM pulse_responses", 8) == 8
    assert await read() == before


async def test_reports_are_for_coordinators_and_bad_pulses_are_refused(
    recognition: Recognition,
) -> None:
    await publish(
        recognition.endpoints.bootstrap_servers,
        recognition.topic("directory.people"),
        [
            encode_person("coord", "team-c", {}, "coordinator"),
            encode_person("resp-a", "team-r", {}, "peer_responder"),
            encode_person("emp", "team-e", {}),
        ],
    )
    assert await recognition.wait_for("SELECT count(*) FROM directory_people", 3) == 3
    responder = await recognition.client.get(
        "/v1/reports/programme", headers=bearer("resp-a", "peer_responder")
    )
    assert responder.status_code == 403
    coordinator = await recognition.client.get("/v1/reports/programme", headers=bearer("coord"))
    assert coordinator.status_code == 200
    claimed = await recognition.client.get(
        "/v1/reports/programme", headers=bearer("emp", "coordinator")
    )
    assert claimed.status_code == 403  # a token's roles claim grants nothing
    bad = await recognition.client.post("/v1/pulse", json=pulse("p-bad", "r1", 9), headers=AUTH)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-2:] == ["answers", "programme_helps"]
    other = await recognition.client.post(
        "/v1/pulse", json=pulse("p-other", "r1", 4), headers=bearer("r2")
    )
    assert other.status_code == 403
    weeks = await recognition.client.get(
        "/v1/reports/programme", params={"weeks": "53"}, headers=AUTH
    )
    assert weeks.status_code == 422
    topic = recognition.topic("programme.pulse.submitted")
    await publish(recognition.endpoints.bootstrap_servers, topic, [(b"r1", b'{"id": "p-x"}')])
    dlq = await read_all(recognition.endpoints.bootstrap_servers, f"{topic}.dlq", 1)
    assert len(dlq) == 1 and dict(dlq[0].headers)["kinship-dlq-code"] == b"validation_failed"


async def test_two_first_readings_at_once_store_one_copy_and_both_serve_it(
    recognition: Recognition,
) -> None:
    # Six answers in the week before last (closed whatever the hour), recorded in time.
    week = monday_of(datetime.now(UTC).date()) - timedelta(weeks=2)
    at = datetime.combine(week + timedelta(days=1), time(10), UTC)
    await recognition.rows(
        "INSERT INTO pulse_responses (survey_id, respondent, response_id, team_id, answered_at,"
        " programme_helps, recorded_at) SELECT 'race', 's-' || n, 'p-' || n, 'team-a', $1,"
        " CASE WHEN n = 6 THEN 1 ELSE 5 END, $1 FROM generate_series(1, 6) AS n",
        at,
    )
    now = datetime.now(UTC)
    async with database(recognition) as pool:
        first = PostgresRecognitionUnitOfWork(pool, DirectoryProjection())
        second = PostgresRecognitionUnitOfWork(pool, DirectoryProjection())
        async with first:
            early = await programme_report(first, 3, None, now)  # stored, not yet committed
            # Meanwhile s-6 is erased (committed), and a second first reader comes: it finds
            # no stored week, releases its own (without s-6) and waits on the first's row.
            await recognition.rows("DELETE FROM pulse_responses WHERE respondent = 's-6'")

            async def read_second() -> ProgrammeReport:
                async with second:
                    return await programme_report(second, 3, None, now)

            late = asyncio.create_task(read_second())
            await asyncio.sleep(0.5)
            assert not late.done()  # blocked on the first reader's uncommitted row
        # The first commits: the second's insert does nothing and it serves the first's copy.
        assert await late == early
    (shown,) = [w for w in early.weeks if w.week == week]
    assert shown.pulse is not None and shown.pulse.respondents == 6
    stored = await recognition.rows("SELECT week FROM report_weeks ORDER BY week")
    assert [row[0] for row in stored] == [w.week for w in early.weeks]
