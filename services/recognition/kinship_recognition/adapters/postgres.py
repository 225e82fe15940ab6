"""PostgreSQL unit of work of the recognition service: kudos, check-in weeks, awards, case
facts, feedback, pulse answers, the directory projection, erasure and the outbox.

Reports count a fact in its week only if it was recorded before the week closed
(``closes_at``): the SQL below repeats that rule in ``_closes``.
"""

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

import asyncpg

from kinship_contracts.cases import CaseEvent, CaseEventKind
from kinship_contracts.directory import DirectoryChange
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.privacy import ErasureStage
from kinship_contracts.pulse import PULSE_QUESTIONS, PulseSubmitted
from kinship_recognition.domain.anonymise import stand_ins
from kinship_recognition.domain.awards import Grant
from kinship_recognition.domain.records import (
    AwardRecord,
    CaseFactRecord,
    FeedbackRecord,
    KudosRecord,
    PersonalRecords,
    PulseRecord,
)
from kinship_recognition.domain.reports import (
    CLOSING_DELAY,
    CaseWeek,
    FeedbackWeek,
    ParticipationWeek,
    PulseWeek,
    ReleasedWeek,
    TeamParticipation,
    TeamPulse,
    Timing,
    Window,
)
from kinship_recognition.handlers.ports import CheckinWeek
from kinship_runtime.database import Connection
from kinship_runtime.dead_letters import shred_dead_letters
from kinship_runtime.directory import DirectoryProjection, team_members, team_of
from kinship_runtime.erased_ids import ErasedIdsTransaction
from kinship_runtime.erasure import note_done
from kinship_runtime.idempotency import first_time
from kinship_runtime.outbox import OutboxMessage, enqueue

SERVICE = "recognition"
_OPEN_FOR = int((timedelta(weeks=1) + CLOSING_DELAY).total_seconds())
"""Seconds from a week's Monday to its close (``domain.reports.closes_at``)."""

_CASE_TIMES = {
    CaseEventKind.OPENED: "opened_at",
    CaseEventKind.ACKNOWLEDGED: "acknowledged_at",
    CaseEventKind.CONTACTED: "contacted_at",
    CaseEventKind.RESOLVED: "resolved_at",
}


def _monday(column: str) -> str:
    """The UTC Monday of the week a time column falls in."""
    return f"date_trunc('week', {column} AT TIME ZONE 'UTC')"


def _week(column: str) -> str:
    """The week a row falls in (UTC Monday)."""
    return f"{_monday(column)}::date"


def _closes(column: str) -> str:
    """When the week of a time column closes (``domain.reports.closes_at``)."""
    return f"(({_monday(column)} + interval '{_OPEN_FOR} seconds') AT TIME ZONE 'UTC')"


_WEEK_CLOSES = f"((w.week_start + interval '{_OPEN_FOR} seconds') AT TIME ZONE 'UTC')"
"""When a check-in week (``checkin_weeks w``) closes."""


def _released(figures: object) -> ReleasedWeek:
    """A stored week (``figures`` as the pool's codec gives jsonb: decoded, or its text)."""
    if isinstance(figures, str | bytes):
        return ReleasedWeek.model_validate_json(figures)
    return ReleasedWeek.model_validate(figures)


async def _count(conn: Connection, sql: str, *args: object) -> int:
    """Rows a DELETE removed (or an UPDATE changed)."""
    status = await conn.execute(sql, *args)
    return int(status.rsplit(" ", 1)[-1])


_PEOPLE = "unnest($1::text[], $2::text[]) AS p(subject_id, stand_in)"
"""An erasure's subject ids and their stand-ins (``$1``, ``$2``)."""

_CASES = "unnest($3::text[], $4::text[]) AS c(case_id, stand_in)"
"""Their cases' ids and the cases' stand-ins (``$3``, ``$4``)."""

_ANONYMISE_PEOPLE = {
    "checkin_weeks": (
        "UPDATE checkin_weeks w SET subject_id = p.stand_in"  # noqa: S608 (fixed fragments)
        f" FROM {_PEOPLE} WHERE w.subject_id = p.subject_id"
    ),
    "pulse_responses": (
        "UPDATE pulse_responses r SET respondent = p.stand_in,"  # noqa: S608 (fixed fragments)
        " response_id = p.stand_in || ':' || r.survey_id"
        f" FROM {_PEOPLE} WHERE r.respondent = p.subject_id"
    ),
}
_ANONYMISE_CASES = {
    "case_facts": (
        "UPDATE case_facts f SET subject_id = p.stand_in, case_id = c.stand_in,"  # noqa: S608 (fixed fragments)
        " team_id = NULL, severity = 'erased'"
        f" FROM {_PEOPLE}, {_CASES} WHERE f.subject_id = p.subject_id AND f.case_id = c.case_id"
    ),
    "case_feedback": (
        "UPDATE case_feedback f SET subject_id = p.stand_in, case_id = c.stand_in"  # noqa: S608 (fixed fragments)
        f" FROM {_PEOPLE}, {_CASES} WHERE f.subject_id = p.subject_id AND f.case_id = c.case_id"
    ),
}
_RESPONDERS_CASES = {
    "supported_cases": (
        "UPDATE supported_cases s SET case_id = c.stand_in"
        " FROM unnest($1::text[], $2::text[]) AS c(case_id, stand_in)"
        " WHERE s.case_id = c.case_id"
    ),
    "thanks_awards": (
        "UPDATE awards a SET id = 'thanks:' || c.stand_in"
        " FROM unnest($1::text[], $2::text[]) AS c(case_id, stand_in)"
        " WHERE a.id = 'thanks:' || c.case_id"
    ),
}
"""The erased person's case ids in their responders' records (the cases they supported,
the thanks passed on to them) become stand-ins too: a responder's counts and awards stay,
and no case id is left that other records could tie to the erased person."""

"""How erasure anonymises the rows the programme reports count, instead of deleting them:
the subject id (a pulse respondent) becomes its stand-in, a case id its case's stand-in, a
pulse answer's event id is rebuilt from the stand-in, and what the reports do not use goes
(a case's team; its severity, a required column, becomes ``erased``). What the reports
bucket and time by stays: the instants, scores, sides, outcomes, the teams of check-ins and
pulse answers, and when each row was recorded."""


class PostgresRecognitionUnitOfWork(ErasedIdsTransaction):
    """One transaction of the recognition service (implements
    ``handlers.ports.RecognitionUnitOfWork``)."""

    def __init__(self, pool: asyncpg.Pool, directory: DirectoryProjection) -> None:
        super().__init__(pool)
        self._directory = directory

    # Kudos -------------------------------------------------------------------

    async def sent_since(self, person_id: str, since: datetime) -> int:
        """Kudos a person sent since ``since``."""
        value = await self.conn.fetchval(
            "SELECT count(*) FROM kudos WHERE from_person_id = $1 AND received_at >= $2",
            person_id,
            since,
        )
        return int(value)

    async def add_kudos(self, kudos: KudosSubmitted, message: str, now: datetime) -> bool:
        """Store kudos once; False when the id was seen before."""
        value = await self.conn.fetchval(
            "INSERT INTO kudos (id, from_person_id, to_person_id, message, occurred_at,"
            " received_at, from_team_id) VALUES ($1, $2, $3, $4, $5, $6,"
            " (SELECT team_id FROM directory_people WHERE person_id = $2))"
            " ON CONFLICT (id) DO NOTHING RETURNING id",
            kudos.id,
            kudos.from_person_id,
            kudos.to_person_id,
            message,
            kudos.occurred_at,
            now,
        )
        return value is not None

    async def is_known(self, kudos_id: str) -> bool:
        """Whether these kudos were stored before."""
        return await self.conn.fetchval("SELECT 1 FROM kudos WHERE id = $1", kudos_id) is not None

    async def received(self, person_id: str) -> int:
        """Kudos a person has received."""
        value = await self.conn.fetchval(
            "SELECT count(*) FROM kudos WHERE to_person_id = $1", person_id
        )
        return int(value)

    async def team_kudos(self, team_id: str) -> tuple[int, int]:
        """Kudos a team's members have sent, and how many of them sent any."""
        row = await self.conn.fetchrow(
            "SELECT count(*) AS given, count(DISTINCT from_person_id) AS senders"
            " FROM kudos WHERE from_team_id = $1",
            team_id,
        )
        assert row is not None  # an aggregate always returns a row
        return int(row["given"]), int(row["senders"])

    # The directory -----------------------------------------------------------

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        """Apply directory changes to the service's projection."""
        await self._directory.apply(self.conn, changes)

    async def team_of_person(self, person_id: str) -> str | None:
        """A person's team, from the directory."""
        return await team_of(self.conn, person_id)

    async def team_members(self, team_id: str) -> list[str]:
        """The active members of a team (person ids), to celebrate a team milestone with."""
        return await team_members(self.conn, team_id)

    # Check-in weeks ----------------------------------------------------------

    async def add_weeks(
        self, weeks: Sequence[CheckinWeek], now: datetime
    ) -> list[tuple[str, date]]:
        """Record weeks with a check-in; returns those not recorded before."""
        rows = await self.conn.fetch(
            "INSERT INTO checkin_weeks (subject_id, week_start, team_id, recorded_at)"
            " SELECT s, w, t, $4 FROM unnest($1::text[], $2::date[], $3::text[]) AS u(s, w, t)"
            " ON CONFLICT DO NOTHING RETURNING subject_id, week_start",
            [week.subject_id for week in weeks],
            [week.week for week in weeks],
            [week.team_id for week in weeks],
            now,
        )
        return [(row["subject_id"], row["week_start"]) for row in rows]

    async def weeks_of(self, subject_ids: Sequence[str]) -> dict[str, list[date]]:
        """The weeks each subject checked in."""
        rows = await self.conn.fetch(
            "SELECT subject_id, week_start FROM checkin_weeks WHERE subject_id = ANY($1::text[])",
            list(subject_ids),
        )
        found: dict[str, list[date]] = {}
        for row in rows:
            found.setdefault(row["subject_id"], []).append(row["week_start"])
        return found

    async def team_week(self, team_id: str, week: date) -> tuple[int, int]:
        """People whose check-ins in ``week`` named the team, and its active members now."""
        row = await self.conn.fetchrow(
            "SELECT (SELECT count(DISTINCT subject_id) FROM checkin_weeks"
            "  WHERE team_id = $1 AND week_start = $2) AS participants,"
            " (SELECT count(*) FROM directory_people WHERE team_id = $1 AND active) AS members",
            team_id,
            week,
        )
        assert row is not None
        return int(row["participants"]), int(row["members"])

    # Awards ------------------------------------------------------------------

    async def add_award(self, grant: Grant) -> bool:
        """Record an award once, with its one recipient; False when it was given before."""
        value = await self.conn.fetchval(
            "INSERT INTO awards (id, kind, person_id, subject_id, team_id, count)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING id",
            grant.key,
            grant.kind.value,
            grant.person_id,
            grant.subject_id,
            grant.team_id,
            grant.count,
        )
        return value is not None

    async def is_awarded(self, key: str) -> bool:
        """Whether an award was given before."""
        return await self.conn.fetchval("SELECT 1 FROM awards WHERE id = $1", key) is not None

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue messages in this transaction's outbox."""
        await enqueue(self.conn, messages)

    # Cases, feedback and pulse -----------------------------------------------

    async def add_supported_case(
        self, case_id: str, responder_id: str, resolved_at: datetime
    ) -> bool:
        """Count a resolved case for its responder once; False when counted before."""
        value = await self.conn.fetchval(
            "INSERT INTO supported_cases (case_id, responder_id, resolved_at)"
            " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING case_id",
            case_id,
            responder_id,
            resolved_at,
        )
        return value is not None

    async def supported_by(self, responder_id: str) -> int:
        """Cases a responder has supported."""
        value = await self.conn.fetchval(
            "SELECT count(*) FROM supported_cases WHERE responder_id = $1", responder_id
        )
        return int(value)

    async def responder_of(self, case_id: str) -> str | None:
        """Who resolved a case."""
        value = await self.conn.fetchval(
            "SELECT responder_id FROM supported_cases WHERE case_id = $1", case_id
        )
        return str(value) if value is not None else None

    async def record_case_fact(self, event: CaseEvent, now: datetime) -> None:
        """Fold a case transition into the case's facts (times, outcome); replays change nothing.

        The earliest time of each transition wins, so a repeat or a late duplicate does not
        move it; the case keeps the time it was first recorded here.
        """
        column = _CASE_TIMES.get(event.kind)
        times = {
            name: event.occurred_at if name == column else None for name in _CASE_TIMES.values()
        }
        await self.conn.execute(
            "INSERT INTO case_facts (case_id, subject_id, team_id, severity, opened_at,"
            " acknowledged_at, contacted_at, resolved_at, outcome, recorded_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (case_id) DO UPDATE SET"
            " team_id = coalesce(case_facts.team_id, EXCLUDED.team_id),"
            " severity = EXCLUDED.severity,"
            " opened_at = least(case_facts.opened_at, EXCLUDED.opened_at),"
            " acknowledged_at = least(case_facts.acknowledged_at, EXCLUDED.acknowledged_at),"
            " contacted_at = least(case_facts.contacted_at, EXCLUDED.contacted_at),"
            " resolved_at = least(case_facts.resolved_at, EXCLUDED.resolved_at),"
            " outcome = coalesce(EXCLUDED.outcome, case_facts.outcome)",
            event.case_id,
            event.subject_id,
            event.team_id,
            event.severity.value,
            times["opened_at"],
            times["acknowledged_at"],
            times["contacted_at"],
            times["resolved_at"],
            event.outcome.value if event.outcome is not None else None,
            now,
        )

    async def add_feedback(
        self, case_id: str, given_by: str, subject_id: str, score: int, at: datetime, now: datetime
    ) -> None:
        """Store a case's feedback score once per side ('person' or 'responder')."""
        await self.conn.execute(
            "INSERT INTO case_feedback (case_id, given_by, subject_id, score, given_at,"
            " recorded_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            case_id,
            given_by,
            subject_id,
            score,
            at,
            now,
        )

    async def add_pulse(self, pulse: PulseSubmitted, respondent: str, now: datetime) -> None:
        """Store a respondent's answers to a survey round; later answers replace earlier ones
        while the week of the stored answers is open."""
        answers = pulse.answers
        await self.conn.execute(
            "INSERT INTO pulse_responses (survey_id, respondent, response_id, team_id,"  # noqa: S608 (fixed fragments)
            " answered_at, know_how_to_get_support, comfortable_asking, programme_helps,"
            " recorded_at) VALUES ($1, $2, $3,"
            " (SELECT team_id FROM directory_people WHERE person_id = $4), $5, $6, $7, $8, $9)"
            " ON CONFLICT (survey_id, respondent) DO UPDATE SET"
            " response_id = EXCLUDED.response_id, team_id = EXCLUDED.team_id,"
            " answered_at = EXCLUDED.answered_at, recorded_at = EXCLUDED.recorded_at,"
            " know_how_to_get_support = EXCLUDED.know_how_to_get_support,"
            " comfortable_asking = EXCLUDED.comfortable_asking,"
            " programme_helps = EXCLUDED.programme_helps"
            " WHERE EXCLUDED.answered_at > pulse_responses.answered_at"
            f" AND EXCLUDED.recorded_at < {_closes('pulse_responses.answered_at')}",
            pulse.survey_id,
            respondent,
            pulse.id,
            pulse.person_id,
            pulse.occurred_at,
            answers.know_how_to_get_support,
            answers.comfortable_asking,
            answers.programme_helps,
            now,
        )

    # Programme reports -------------------------------------------------------

    async def members(self, team_id: str | None) -> int:
        """Active people in the directory, or in one team."""
        value = await self.conn.fetchval(
            "SELECT count(*) FROM directory_people"
            " WHERE active AND ($1::text IS NULL OR team_id = $1)",
            team_id,
        )
        return int(value)

    async def participation(self, window: Window) -> list[ParticipationWeek]:
        """People who checked in, by week, as each week closed."""
        rows = await self.conn.fetch(
            "SELECT w.week_start AS week, count(DISTINCT w.subject_id) AS people"  # noqa: S608 (fixed fragments)
            " FROM checkin_weeks w WHERE w.week_start >= $1 AND w.week_start < $2"
            f" AND w.recorded_at < {_WEEK_CLOSES} GROUP BY 1",
            window.start,
            window.end,
        )
        return [ParticipationWeek(row["week"], int(row["people"])) for row in rows]

    async def team_participation(self, window: Window) -> list[TeamParticipation]:
        """People who checked in, by week and by the team their check-in named."""
        rows = await self.conn.fetch(
            "SELECT w.week_start AS week, w.team_id, count(DISTINCT w.subject_id) AS people"  # noqa: S608 (fixed fragments)
            " FROM checkin_weeks w WHERE w.week_start >= $1 AND w.week_start < $2"
            f" AND w.recorded_at < {_WEEK_CLOSES} GROUP BY 1, 2",
            window.start,
            window.end,
        )
        return [TeamParticipation(row["week"], row["team_id"], int(row["people"])) for row in rows]

    async def cases(self, window: Window) -> list[CaseWeek]:
        """Cases opened, by week: times to act and outcomes, as they stood when each case's
        week closed."""
        week = _week("opened_at")
        closes = _closes("opened_at")
        facts = (
            "SELECT subject_id, opened_at,"  # noqa: S608 (fixed fragments)
            f" CASE WHEN acknowledged_at < {closes} THEN acknowledged_at END AS acknowledged_at,"
            f" CASE WHEN contacted_at < {closes} THEN contacted_at END AS contacted_at,"
            f" CASE WHEN resolved_at < {closes} THEN outcome END AS outcome"
            " FROM case_facts WHERE opened_at >= $1 AND opened_at < $2"
            f" AND recorded_at < {closes}"
        )
        rows = await self.conn.fetch(
            f"SELECT {week} AS week, count(*) AS opened, count(DISTINCT subject_id) AS people,"  # noqa: S608 (fixed fragments)
            " count(acknowledged_at) AS acknowledged,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM"
            "  acknowledged_at - opened_at)) AS ack_median,"
            " percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM"
            "  acknowledged_at - opened_at)) AS ack_p90,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM"
            "  contacted_at - opened_at)) AS contact_median,"
            " percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM"
            "  contacted_at - opened_at)) AS contact_p90,"
            " coalesce(jsonb_object_agg(outcome, n) FILTER (WHERE outcome IS NOT NULL), '{}')"
            "  AS outcomes"
            f" FROM (SELECT *, count(*) OVER (PARTITION BY {week}, outcome) AS n"
            f"  FROM ({facts}) f) c GROUP BY 1",
            window.start_time,
            window.end_time,
        )
        return [
            CaseWeek(
                week=row["week"],
                opened=int(row["opened"]),
                people=int(row["people"]),
                acknowledged=int(row["acknowledged"]),
                time_to_acknowledge=Timing(median=row["ack_median"], p90=row["ack_p90"]),
                time_to_first_contact=Timing(median=row["contact_median"], p90=row["contact_p90"]),
                outcomes=dict(row["outcomes"]),
            )
            for row in rows
        ]

    async def feedback(self, window: Window) -> list[FeedbackWeek]:
        """Feedback scores by week and by side."""
        week = _week("given_at")
        rows = await self.conn.fetch(
            f"SELECT {week} AS week, given_by, count(*) AS responses,"  # noqa: S608 (fixed fragments)
            " count(DISTINCT subject_id) AS people, avg(score)::float AS mean"
            " FROM case_feedback WHERE given_at >= $1 AND given_at < $2"
            f" AND recorded_at < {_closes('given_at')} GROUP BY 1, 2",
            window.start_time,
            window.end_time,
        )
        return [
            FeedbackWeek(
                row["week"], row["given_by"], int(row["responses"]), int(row["people"]), row["mean"]
            )
            for row in rows
        ]

    def _counted_pulse(self) -> str:
        """Pulse answers as their weeks closed, with the week they count in."""
        columns = ", ".join(PULSE_QUESTIONS)
        return (
            f"SELECT {_week('answered_at')} AS week, respondent, team_id,"  # noqa: S608 (fixed fragments)
            f" answered_at, {columns} FROM pulse_responses"
            " WHERE answered_at >= $1 AND answered_at < $2"
            f" AND recorded_at < {_closes('answered_at')}"
        )

    async def pulse(self, window: Window) -> list[PulseWeek]:
        """Pulse answers by week: respondents and mean agreement."""
        means = ", ".join(f"avg({name})::float AS {name}" for name in PULSE_QUESTIONS)
        rows = await self.conn.fetch(
            f"SELECT week, count(DISTINCT respondent) AS respondents, {means}"  # noqa: S608 (fixed fragments)
            f" FROM ({self._counted_pulse()}) p GROUP BY 1",
            window.start_time,
            window.end_time,
        )
        return [
            PulseWeek(
                row["week"],
                int(row["respondents"]),
                {name: row[name] for name in PULSE_QUESTIONS if row[name] is not None},
            )
            for row in rows
        ]

    async def team_pulse(self, window: Window) -> list[TeamPulse]:
        """Pulse answers by week and team: each respondent's answers of a week count for the
        team of their latest answer that week, so the teams of a week split its people."""
        means = ", ".join(f"avg(p.{name})::float AS {name}" for name in PULSE_QUESTIONS)
        rows = await self.conn.fetch(
            f"WITH counted AS ({self._counted_pulse()}),"  # noqa: S608 (fixed fragments)
            " home AS (SELECT DISTINCT ON (week, respondent) week, respondent, team_id"
            "  FROM counted ORDER BY week, respondent, answered_at DESC)"
            " SELECT p.week, h.team_id, count(DISTINCT p.respondent) AS respondents,"
            f" {means} FROM counted p JOIN home h USING (week, respondent)"
            " GROUP BY p.week, h.team_id",
            window.start_time,
            window.end_time,
        )
        return [
            TeamPulse(
                row["week"],
                row["team_id"],
                int(row["respondents"]),
                {name: row[name] for name in PULSE_QUESTIONS if row[name] is not None},
            )
            for row in rows
        ]

    async def released_weeks(self, window: Window) -> dict[date, ReleasedWeek]:
        """The ``report_weeks`` rows of the window's weeks (migration 0006)."""
        rows = await self.conn.fetch(
            "SELECT week, figures FROM report_weeks WHERE week >= $1 AND week < $2",
            window.start,
            window.end,
        )
        return {row["week"]: _released(row["figures"]) for row in rows}

    async def release_weeks(self, weeks: Sequence[ReleasedWeek], at: datetime) -> None:
        """Insert each week unless it is stored: the first figures served stay."""
        await self.conn.executemany(
            "INSERT INTO report_weeks (week, figures, released_at)"
            " VALUES ($1, $2::text::jsonb, $3) ON CONFLICT (week) DO NOTHING",
            [(week.week, week.model_dump_json(), at) for week in weeks],
        )

    # Erasure -----------------------------------------------------------------

    async def first_time(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """Mark events processed by ``consumer``; returns the ids never seen before."""
        return await first_time(self.conn, consumer, event_ids)

    async def erase_person(self, person_id: str) -> dict[str, int]:
        """Delete what is kept by the person's id; shred their dead letters."""
        conn = self.conn
        gone = await conn.fetch(
            "DELETE FROM kudos WHERE from_person_id = $1 OR to_person_id = $1 RETURNING id",
            person_id,
        )
        kudos_awards = [f"kudos:{row['id']}" for row in gone]
        return {
            "kudos": len(gone),
            "awards": await _count(
                conn,
                "DELETE FROM awards WHERE person_id = $1 OR id = ANY($2::text[])",
                person_id,
                kudos_awards,
            ),
            "supported_cases": await _count(
                conn, "DELETE FROM supported_cases WHERE responder_id = $1", person_id
            ),
            "directory": await DirectoryProjection.forget(conn, person_id),
            "dead_letter_keys": await shred_dead_letters(conn, [person_id]),
        }

    async def erase_subjects(self, subject_ids: Sequence[str]) -> dict[str, int]:
        """Forget these subject ids: their streak awards go; the rows the programme reports
        count (check-in weeks, pulse answers, case facts and feedback) are anonymised, not
        deleted, so no report figure, whenever first computed, moves because of an erasure
        (``domain.anonymise``); their dead letters are shredded."""
        conn, subjects = self.conn, list(subject_ids)
        if not subjects:
            return {}
        removed = {
            "streak_awards": await _count(
                conn, "DELETE FROM awards WHERE subject_id = ANY($1::text[])", subjects
            )
        }
        rows = await conn.fetch(
            "SELECT case_id FROM case_facts WHERE subject_id = ANY($1::text[]) UNION"
            " SELECT case_id FROM case_feedback WHERE subject_id = ANY($1::text[])",
            subjects,
        )
        cases = [row["case_id"] for row in rows]
        # Fresh stand-ins for each table (one per subject, one per case): its counts of
        # distinct people stay exact, and nothing links one table's rows to another's.
        for kind, sql in _ANONYMISE_PEOPLE.items():
            people = stand_ins(subjects)
            removed[f"{kind}_anonymised"] = await _count(
                conn, sql, list(people), list(people.values())
            )
        for kind, sql in _ANONYMISE_CASES.items():
            people, ids = stand_ins(subjects), stand_ins(cases)
            removed[f"{kind}_anonymised"] = await _count(
                conn, sql, list(people), list(people.values()), list(ids), list(ids.values())
            )
        for kind, sql in _RESPONDERS_CASES.items():
            ids = stand_ins(cases)
            removed[f"{kind}_anonymised"] = await _count(conn, sql, list(ids), list(ids.values()))
        removed["subject_dead_letter_keys"] = await shred_dead_letters(conn, subjects)
        return removed

    async def erasure_done(
        self,
        erasure_id: str,
        stage: ErasureStage,
        removed: Mapping[str, int],
        receipts_topic: str,
        now: datetime,
    ) -> OutboxMessage | None:
        """Record that one half of an erasure is done; the receipt once both halves are."""
        return await note_done(
            self.conn,
            erasure_id,
            stage,
            removed,
            service=SERVICE,
            receipts_topic=receipts_topic,
            now=now,
        )

    # A person's own data -----------------------------------------------------

    async def personal_records(self, person_id: str, subject_id: str | None) -> PersonalRecords:
        """Everything kept by the person's id and by their subject id (None: they have none),
        oldest first."""
        conn = self.conn
        kudos = await conn.fetch(
            "SELECT id, from_person_id, to_person_id, message, occurred_at, received_at"
            " FROM kudos WHERE from_person_id = $1 OR to_person_id = $1"
            " ORDER BY received_at, id",
            person_id,
        )
        weeks = await conn.fetch(
            "SELECT week_start FROM checkin_weeks WHERE subject_id = $1 ORDER BY week_start",
            subject_id,
        )
        awards = await conn.fetch(
            "SELECT id, kind, count, awarded_at FROM awards"
            " WHERE person_id = $1 OR subject_id = $2 ORDER BY awarded_at, id",
            person_id,
            subject_id,
        )
        pulse = await conn.fetch(
            "SELECT survey_id, answered_at, know_how_to_get_support, comfortable_asking,"
            " programme_helps FROM pulse_responses WHERE respondent = $1 ORDER BY answered_at",
            subject_id,
        )
        cases = await conn.fetch(
            "SELECT case_id, severity, opened_at, acknowledged_at, contacted_at, resolved_at,"
            " outcome FROM case_facts WHERE subject_id = $1 ORDER BY opened_at, case_id",
            subject_id,
        )
        feedback = await conn.fetch(
            "SELECT case_id, given_by, score, given_at FROM case_feedback"
            " WHERE subject_id = $1 ORDER BY given_at, case_id",
            subject_id,
        )
        supported = await conn.fetch(
            "SELECT case_id FROM supported_cases WHERE responder_id = $1"
            " ORDER BY resolved_at, case_id",
            person_id,
        )
        return PersonalRecords(
            kudos=[KudosRecord(**dict(row)) for row in kudos],
            checkin_weeks=[row["week_start"] for row in weeks],
            awards=[AwardRecord(**dict(row)) for row in awards],
            pulse=[
                PulseRecord(
                    row["survey_id"],
                    row["answered_at"],
                    {name: row[name] for name in PULSE_QUESTIONS},
                )
                for row in pulse
            ],
            cases=[CaseFactRecord(**dict(row)) for row in cases],
            feedback=[FeedbackRecord(**dict(row)) for row in feedback],
            cases_supported=[row["case_id"] for row in supported],
        )
