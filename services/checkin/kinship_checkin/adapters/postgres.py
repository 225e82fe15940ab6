"""PostgreSQL unit of work of the check-in service: check-ins, vault, directory, outbox."""

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import asyncpg

from kinship_checkin.domain.checkins import RecordedCheckin, StoredCheckin
from kinship_checkin.domain.people import (
    AuditEvent,
    Contact,
    DirectoryEntry,
    ErasureStatus,
    PersonMatch,
)
from kinship_checkin.domain.privacy import PersonKey, SealedNote
from kinship_checkin.domain.trends import (
    ReleasedTrend,
    ReleasedWeek,
    ReleasedWindow,
    TrendCell,
    WeekState,
    WeekTotals,
)
from kinship_contracts.directory import DirectoryChange, OutreachPreference
from kinship_contracts.privacy import ErasureReceipt
from kinship_runtime import erased_ids
from kinship_runtime.database import Connection, PoolTransaction, json_text
from kinship_runtime.dead_letters import shred_dead_letters
from kinship_runtime.directory import DirectoryProjection, channels_of
from kinship_runtime.idempotency import first_time
from kinship_runtime.outbox import OutboxMessage, enqueue, header_rows

# One statement per batch: check-ins that are new go in, and only their events join the outbox.
_RECORD = """
WITH incoming AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[],
        $7::smallint[], $8::smallint[], $9::smallint[], $10::text[], $11::text[], $12::text[],
        $13::boolean[], $14::smallint[], $15::smallint[], $16::smallint[], $17::boolean[],
        $18::smallint[], $19::bytea[], $20::text[], $26::boolean[]
    ) AS t(id, subject_id, team_id, occurred_at, recorded_at, source, mood, stress, energy,
           who5, phq9, phq2, wants_contact, who5_raw, who5_percent, phq9_total,
           phq9_item9_positive, phq2_total, note_ciphertext, note_key_id, note_per_person)
), inserted AS (
    INSERT INTO checkins (id, subject_id, team_id, occurred_at, recorded_at, source, mood,
        stress, energy, who5, phq9, phq2, wants_contact, who5_raw, who5_percent, phq9_total,
        phq9_item9_positive, phq2_total, note_ciphertext, note_key_id, note_per_person)
    SELECT id, subject_id, team_id, occurred_at, recorded_at, source, mood, stress, energy,
        who5::smallint[], phq9::smallint[], phq2::smallint[], wants_contact, who5_raw,
        who5_percent, phq9_total, phq9_item9_positive, phq2_total, note_ciphertext, note_key_id,
        coalesce(note_per_person, false)
    FROM incoming
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), queued AS (
    INSERT INTO outbox (event_id, topic, key, value, headers, urgent)
    SELECT m.event_id, m.topic, m.key, m.value, m.headers::jsonb, m.urgent
    FROM unnest($21::text[], $22::text[], $23::bytea[], $24::bytea[], $25::text[],
        $27::boolean[]) WITH ORDINALITY AS m(event_id, topic, key, value, headers, urgent,
        position)
    JOIN inserted ON inserted.id = m.event_id
    ORDER BY m.position
)
SELECT id FROM inserted
"""

_NEW_SUBJECTS = """
INSERT INTO pseudonyms (subject_id, person_id)
SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT DO NOTHING
"""

_TREND_READ = """
INSERT INTO trend_reads (team_id, week_start, first_read_at)
SELECT $1, week::date, now()
FROM generate_series(date_trunc('week', now()) - make_interval(weeks => $2),
                     date_trunc('week', now()) - interval '1 week', interval '1 week') AS week
ON CONFLICT DO NOTHING
"""
"""Note the first reading of each closed week of the window (``_TREND`` freezes it there)."""

_TREND = """
SELECT date_trunc('week', c.occurred_at)::date AS week_start,
       array_agg(DISTINCT c.subject_id) AS people,
       count(*) AS checkins,
       coalesce(sum(c.mood), 0) AS mood_sum, count(c.mood) AS mood_count,
       coalesce(sum(c.stress), 0) AS stress_sum, count(c.stress) AS stress_count,
       coalesce(sum(c.energy), 0) AS energy_sum, count(c.energy) AS energy_count,
       coalesce(sum(c.who5_percent), 0) AS who5_percent_sum, count(c.who5_percent) AS who5_count
FROM checkins c
JOIN trend_reads r
  ON r.team_id = c.team_id AND r.week_start = date_trunc('week', c.occurred_at)::date
WHERE c.team_id = $1
    AND c.occurred_at >= date_trunc('week', now()) - make_interval(weeks => $2)
    AND c.occurred_at < date_trunc('week', now())  -- closed weeks only: the open one could
                                                   -- be read before and after one more
    AND c.recorded_at <= r.first_read_at  -- and as first read: a check-in dated back into
                                          -- a week already seen would be the difference
GROUP BY 1
"""


_TREND_MONDAYS = """
SELECT week::date AS week_start
FROM generate_series(date_trunc('week', now()) - make_interval(weeks => $1),
                     date_trunc('week', now()) - interval '1 week', interval '1 week') AS week
ORDER BY 1
"""
"""The Mondays of the last ``$1`` closed weeks (the same window as ``_TREND``)."""

_RELEASE_WEEK = """
INSERT INTO trend_weeks (team_id, week_start, state, totals, released_at)
VALUES ($1, $2, $3, $4::text::jsonb, now())  -- text: the pool's codec would encode it again
ON CONFLICT DO NOTHING
"""

_RELEASE_WINDOW = """
INSERT INTO trend_windows (team_id, first_week, last_week, available, people, released_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT DO NOTHING
"""


def _json(value: Any) -> dict[str, int]:
    # jsonb comes back decoded on the service's pools and as text on a bare connection.
    found: dict[str, int] = json.loads(value) if isinstance(value, str) else dict(value)
    return found


def _array_text(items: list[int] | None) -> str | None:
    # smallint[] columns travel as text so one unnest can carry arrays of arrays.
    return None if items is None else "{" + ",".join(map(str, items)) + "}"


class PostgresCheckinUnitOfWork(PoolTransaction):
    """One transaction of the check-in service (implements ``handlers.ports.CheckinUnitOfWork``)."""

    def __init__(self, pool: asyncpg.Pool, directory: DirectoryProjection) -> None:
        super().__init__(pool)
        self._directory = directory

    async def first_time(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """Mark events processed by ``consumer``; the ids never seen before."""
        return await first_time(self.conn, consumer, event_ids)

    async def subjects_for(self, person_ids: Sequence[str], create: bool = True) -> dict[str, str]:
        """The vault's subject id of each person; new people get a random one (when asked)."""
        wanted = list(person_ids)
        if not wanted:
            return {}
        if create:
            # Random, never derived: nothing but this table links a subject id to a person.
            await self.conn.execute(_NEW_SUBJECTS, [secrets.token_hex(16) for _ in wanted], wanted)
        rows = await self.conn.fetch(
            "SELECT person_id, subject_id FROM pseudonyms WHERE person_id = ANY($1::text[])",
            wanted,
        )
        return {row["person_id"]: row["subject_id"] for row in rows}

    async def person_of(self, subject_id: str) -> str | None:
        """The vault's person for a subject id (None once erased)."""
        value = await self.conn.fetchval(
            "SELECT person_id FROM pseudonyms WHERE subject_id = $1", subject_id
        )
        return str(value) if value is not None else None

    async def person_keys(self, subject_ids: Sequence[str]) -> dict[str, PersonKey]:
        """The data keys of these people, as far as they have one."""
        rows = await self.conn.fetch(
            "SELECT subject_id, master_key_id, wrapped_key FROM person_keys"
            " WHERE subject_id = ANY($1::text[])",
            list(subject_ids),
        )
        return {
            row["subject_id"]: PersonKey(row["master_key_id"], bytes(row["wrapped_key"]))
            for row in rows
        }

    async def add_person_keys(self, keys: Mapping[str, PersonKey]) -> None:
        """Store new data keys; one stored meanwhile by another transaction wins."""
        await self.conn.executemany(
            "INSERT INTO person_keys (subject_id, master_key_id, wrapped_key)"
            " VALUES ($1, $2, $3) ON CONFLICT (subject_id) DO NOTHING",
            [(subject, key.master_key_id, key.wrapped) for subject, key in keys.items()],
        )

    async def note_of(self, checkin_id: str, subject_id: str) -> SealedNote | None:
        """The sealed note of one of this subject's check-ins, if it has one."""
        row = await self.conn.fetchrow(
            "SELECT note_ciphertext, note_key_id, note_per_person FROM checkins"
            " WHERE id = $1 AND subject_id = $2 AND note_ciphertext IS NOT NULL",
            checkin_id,
            subject_id,
        )
        if row is None:
            return None
        return SealedNote(row["note_key_id"], bytes(row["note_ciphertext"]), row["note_per_person"])

    async def contact_of(self, person_id: str) -> Contact | None:
        """The person's name, channels and time zone, from the directory."""
        row = await self.conn.fetchrow(
            "SELECT display_name, channels, timezone FROM directory_people"
            " WHERE person_id = $1 AND active",
            person_id,
        )
        if row is None or row["display_name"] is None:
            return None
        return Contact(row["display_name"], channels_of(row["channels"]), row["timezone"])

    async def audit(
        self,
        action: str,
        actor: str,
        subject_id: str | None = None,
        case_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append to the audit trail."""
        # Text cast to jsonb: the pool's json codec would encode the text again.
        await self.conn.execute(
            "INSERT INTO audit (action, actor, subject_id, case_id, detail)"
            " VALUES ($1, $2, $3, $4, $5::text::jsonb)",
            action,
            actor,
            subject_id,
            case_id,
            json.dumps(dict(detail or {})),
        )

    async def erase(self, person_id: str, subject_ids: Sequence[str]) -> dict[str, int]:
        """Remove or crypto-shred everything about the person; counts by kind."""
        conn, subjects = self.conn, list(subject_ids)
        removed = {
            "checkins": await _count(
                conn, "DELETE FROM checkins WHERE subject_id = ANY($1::text[])", subjects
            ),
            "data_keys": await _count(
                conn, "DELETE FROM person_keys WHERE subject_id = ANY($1::text[])", subjects
            ),
            "pseudonyms": await _count(
                conn, "DELETE FROM pseudonyms WHERE person_id = $1", person_id
            ),
            "directory": await DirectoryProjection.forget(conn, person_id),
            "audit_records": await _count(
                conn, "DELETE FROM audit WHERE subject_id = ANY($1::text[])", subjects
            ),
            "outreach": await _count(
                conn, "DELETE FROM outreach WHERE subject_id = ANY($1::text[])", subjects
            ),
            "dead_letter_keys": await shred_dead_letters(conn, [person_id, *subjects]),
        }
        # What the person did (as a responder) stays in the trail, no longer under their name.
        await conn.execute(
            "UPDATE audit SET actor = 'person:erased' WHERE actor = $1", f"person:{person_id}"
        )
        return removed

    async def record_erasure(self, erasure_id: str, requested_at: datetime, by: str) -> None:
        """Remember an erasure request (never whom it is about)."""
        await self.conn.execute(
            "INSERT INTO erasures (erasure_id, requested_at, requested_by) VALUES ($1, $2, $3)"
            " ON CONFLICT (erasure_id) DO NOTHING",
            erasure_id,
            requested_at,
            by,
        )

    async def remember_erased(
        self, digests: Sequence[bytes], erased_at: datetime, until: datetime
    ) -> None:
        """Keep the digests of erased person ids, with the erasure's time, until ``until``."""
        await erased_ids.remember_erased(self.conn, digests, until, erased_at=erased_at)

    async def erased_since(self, digests: Sequence[bytes], now: datetime) -> dict[bytes, datetime]:
        """Those of ``digests`` erased and not expired at ``now``, with the erasure's time."""
        return await erased_ids.erased_since(self.conn, digests, now)

    async def forget_erased(self, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` digests expired at ``now``; how many."""
        return await erased_ids.forget_erased(self.conn, now, limit)

    async def mark_erased(self, erasure_id: str, at: datetime, subjects: int) -> None:
        """This service finished the erasure."""
        await self.conn.execute(
            "UPDATE erasures SET erased_at = $2, subjects = $3 WHERE erasure_id = $1",
            erasure_id,
            at,
            subjects,
        )

    async def hold_erasure_subjects(
        self, erasure_id: str, subject_ids: Sequence[str], expires_at: datetime
    ) -> None:
        """Keep an open erasure's subject ids for the other services (once per erasure)."""
        await self.conn.execute(
            "INSERT INTO erasure_subjects (erasure_id, subject_ids, expires_at)"
            " VALUES ($1, $2::text[], $3) ON CONFLICT (erasure_id) DO NOTHING",
            erasure_id,
            list(subject_ids),
            expires_at,
        )

    async def erasure_subjects(self, erasure_id: str, now: datetime) -> list[str] | None:
        """An open erasure's subject ids; None once released, expired, or never held."""
        row = await self.conn.fetchrow(
            "SELECT subject_ids FROM erasure_subjects WHERE erasure_id = $1 AND expires_at > $2",
            erasure_id,
            now,
        )
        return None if row is None else [str(subject) for subject in row["subject_ids"]]

    async def release_erasure_subjects(self, erasure_id: str | None, now: datetime) -> int:
        """Forget the subject ids of ``erasure_id`` and of every erasure past its deadline."""
        return await _count(
            self.conn,
            "DELETE FROM erasure_subjects WHERE erasure_id = $1 OR expires_at <= $2",
            erasure_id,
            now,
        )

    async def add_receipt(self, receipt: ErasureReceipt) -> None:
        """A service's erasure receipt (once per erasure and service)."""
        await self.conn.execute(
            "INSERT INTO erasure_receipts (erasure_id, service, completed_at, removed)"
            " VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING",
            receipt.erasure_id,
            receipt.service,
            receipt.completed_at,
            json.dumps(receipt.removed),
        )

    async def erasure_status(
        self, erasure_id: str, services: Sequence[str]
    ) -> ErasureStatus | None:
        """An erasure's progress across ``services``."""
        rows = await self.conn.fetch(_STATUS + " HAVING e.erasure_id = $1", erasure_id)
        found = _statuses(rows, services)
        return found[0] if found else None

    async def erasures(self, services: Sequence[str], limit: int) -> list[ErasureStatus]:
        """The latest erasures, newest first."""
        rows = await self.conn.fetch(_STATUS + " ORDER BY e.requested_at DESC LIMIT $1", limit)
        return _statuses(rows, services)

    async def outreach_of(self, subject_id: str) -> tuple[OutreachPreference, str] | None:
        """A subject's outreach preference and who chose it."""
        row = await self.conn.fetchrow(
            "SELECT preference, chosen_by FROM outreach WHERE subject_id = $1", subject_id
        )
        return (OutreachPreference(row["preference"]), row["chosen_by"]) if row else None

    async def set_outreach(
        self, subject_id: str, preference: OutreachPreference, chosen_by: str, now: datetime
    ) -> bool:
        """Store a preference; a directory default never replaces the person's own choice."""
        changed = await self.conn.fetchval(
            "INSERT INTO outreach (subject_id, preference, chosen_by, updated_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (subject_id) DO UPDATE"
            " SET preference = excluded.preference, chosen_by = excluded.chosen_by,"
            " updated_at = excluded.updated_at"
            " WHERE (outreach.chosen_by = 'directory' OR excluded.chosen_by = 'person')"
            " AND (outreach.preference, outreach.chosen_by)"
            " IS DISTINCT FROM (excluded.preference, excluded.chosen_by)"
            " RETURNING subject_id",
            subject_id,
            preference.value,
            chosen_by,
            now,
        )
        return changed is not None

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue messages in this transaction's outbox."""
        await enqueue(self.conn, messages)

    async def teams_of(self, person_ids: Sequence[str]) -> dict[str, str]:
        """Team ids of the given people, as far as the directory knows them."""
        rows = await self.conn.fetch(
            "SELECT person_id, team_id FROM directory_people WHERE person_id = ANY($1::text[])",
            list(person_ids),
        )
        return {row["person_id"]: row["team_id"] for row in rows}

    async def record(
        self, checkins: Sequence[RecordedCheckin], messages: Sequence[OutboxMessage]
    ) -> set[str]:
        """Store new check-ins with their vault entries and outbox messages."""
        if not checkins:
            return set()
        events = [item.event for item in checkins]
        rows = await self.conn.fetch(
            _RECORD,
            [e.id for e in events],
            [e.subject_id for e in events],
            [e.team_id for e in events],
            [e.occurred_at for e in events],
            [e.recorded_at for e in events],
            [e.source for e in events],
            [e.mood for e in events],
            [e.stress for e in events],
            [e.energy for e in events],
            [_array_text(e.who5) for e in events],
            [_array_text(e.phq9) for e in events],
            [_array_text(e.phq2) for e in events],
            [e.wants_contact for e in events],
            [e.scores.who5_raw for e in events],
            [e.scores.who5_percent for e in events],
            [e.scores.phq9_total for e in events],
            [e.scores.phq9_item9_positive for e in events],
            [e.scores.phq2_total for e in events],
            [item.sealed_note.blob if item.sealed_note else None for item in checkins],
            [item.sealed_note.key_id if item.sealed_note else None for item in checkins],
            [m.event_id for m in messages],
            [m.topic for m in messages],
            [m.key for m in messages],
            [m.value for m in messages],
            [json_text(header_rows(m.headers)) for m in messages],
            [item.sealed_note.per_person if item.sealed_note else None for item in checkins],
            [m.urgent for m in messages],
        )
        return {row["id"] for row in rows}

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        """Apply directory changes to the service's projection."""
        await self._directory.apply(self.conn, changes)

    async def trend_cells(self, team_id: str, weeks: int) -> list[TrendCell]:
        """Weekly raw figures of a team's check-ins over the last ``weeks`` closed weeks, each
        as it stood when it was first read (that first reading is noted here)."""
        await self.conn.execute(_TREND_READ, team_id, weeks)
        rows = await self.conn.fetch(_TREND, team_id, weeks)
        return [
            TrendCell(
                week_start=row["week_start"],
                people=frozenset(row["people"]),
                checkins=row["checkins"],
                mood_sum=row["mood_sum"],
                mood_count=row["mood_count"],
                stress_sum=row["stress_sum"],
                stress_count=row["stress_count"],
                energy_sum=row["energy_sum"],
                energy_count=row["energy_count"],
                who5_percent_sum=row["who5_percent_sum"],
                who5_count=row["who5_count"],
            )
            for row in rows
        ]

    async def released_trend(self, team_id: str, weeks: int) -> ReleasedTrend:
        """The window's Mondays and its ``trend_weeks`` and ``trend_windows`` rows (migration
        0006). ``now()`` is the transaction's start, so the window is the same all through."""
        mondays = [row["week_start"] for row in await self.conn.fetch(_TREND_MONDAYS, weeks)]
        rows = await self.conn.fetch(
            "SELECT week_start, state, totals FROM trend_weeks"
            " WHERE team_id = $1 AND week_start = ANY($2::date[])",
            team_id,
            mondays,
        )
        window = await self.conn.fetchrow(
            "SELECT available, people FROM trend_windows"
            " WHERE team_id = $1 AND first_week = $2 AND last_week = $3",
            team_id,
            mondays[0],
            mondays[-1],
        )
        return ReleasedTrend(
            mondays=mondays,
            weeks={
                row["week_start"]: ReleasedWeek(
                    row["week_start"],
                    WeekState(row["state"]),
                    None if row["totals"] is None else WeekTotals(**_json(row["totals"])),
                )
                for row in rows
            },
            window=None
            if window is None
            else ReleasedWindow(mondays[0], mondays[-1], window["available"], window["people"]),
        )

    async def release_trend(
        self, team_id: str, weeks: Sequence[ReleasedWeek], window: ReleasedWindow | None
    ) -> None:
        """Insert each week and the window unless stored: the first release stays."""
        if weeks:
            await self.conn.executemany(
                _RELEASE_WEEK,
                [
                    (
                        team_id,
                        week.week_start,
                        week.state.value,
                        None if week.totals is None else json_text(asdict(week.totals)),
                    )
                    for week in weeks
                ],
            )
        if window is not None:
            await self.conn.execute(
                _RELEASE_WINDOW,
                team_id,
                window.first_week,
                window.last_week,
                window.available,
                window.people,
            )

    async def directory_entry(self, person_id: str) -> DirectoryEntry | None:
        """What the directory copy holds about a person."""
        row = await self.conn.fetchrow(
            "SELECT display_name, team_id, timezone, roles, manages, channels, active"
            " FROM directory_people WHERE person_id = $1",
            person_id,
        )
        if row is None:
            return None
        return DirectoryEntry(
            person_id=person_id,
            display_name=row["display_name"],
            team_id=row["team_id"] or None,
            timezone=row["timezone"],
            roles=tuple(row["roles"] or ()),
            manages=tuple(row["manages"] or ()),
            channels=channels_of(row["channels"]),
            active=bool(row["active"]),
        )

    async def search_people(self, text: str, limit: int) -> list[PersonMatch]:
        """Active people by a part of their name or the start of their id."""
        literal = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self.conn.fetch(
            "SELECT person_id, display_name FROM directory_people"
            " WHERE active AND display_name IS NOT NULL"
            " AND (display_name ILIKE $1 OR person_id ILIKE $2)"
            " ORDER BY lower(display_name), person_id LIMIT $3",
            f"%{literal}%",
            f"{literal}%",
            limit,
        )
        return [PersonMatch(row["person_id"], row["display_name"]) for row in rows]

    async def checkins_of(self, subject_id: str) -> list[StoredCheckin]:
        """Every check-in of a subject, oldest first."""
        rows = await self.conn.fetch(
            "SELECT * FROM checkins WHERE subject_id = $1 ORDER BY occurred_at, id", subject_id
        )
        return [
            StoredCheckin(
                id=row["id"],
                occurred_at=row["occurred_at"],
                recorded_at=row["recorded_at"],
                source=row["source"],
                team_id=row["team_id"],
                mood=row["mood"],
                stress=row["stress"],
                energy=row["energy"],
                who5=_int_list(row["who5"]),
                phq9=_int_list(row["phq9"]),
                phq2=_int_list(row["phq2"]),
                wants_contact=row["wants_contact"],
                who5_raw=row["who5_raw"],
                who5_percent=row["who5_percent"],
                phq9_total=row["phq9_total"],
                phq9_item9_positive=row["phq9_item9_positive"],
                phq2_total=row["phq2_total"],
                sealed_note=(
                    SealedNote(
                        row["note_key_id"], bytes(row["note_ciphertext"]), row["note_per_person"]
                    )
                    if row["note_ciphertext"] is not None
                    else None
                ),
            )
            for row in rows
        ]

    async def audit_about(self, subject_id: str) -> list[AuditEvent]:
        """The audit records that concern a subject, oldest first."""
        rows = await self.conn.fetch(
            "SELECT at, action, actor, case_id FROM audit WHERE subject_id = $1 ORDER BY seq",
            subject_id,
        )
        return [AuditEvent(row["at"], row["action"], row["actor"], row["case_id"]) for row in rows]


_STATUS = (
    "SELECT e.erasure_id, e.requested_at, e.requested_by,"
    " coalesce(jsonb_object_agg(r.service, r.completed_at)"
    "  FILTER (WHERE r.service IS NOT NULL), '{}') AS done"
    " FROM erasures e LEFT JOIN erasure_receipts r USING (erasure_id)"
    " GROUP BY e.erasure_id, e.requested_at, e.requested_by"
)


def _statuses(rows: Sequence[asyncpg.Record], services: Sequence[str]) -> list[ErasureStatus]:
    statuses = []
    for row in rows:
        done = row["done"] if isinstance(row["done"], dict) else json.loads(row["done"])
        statuses.append(
            ErasureStatus(
                erasure_id=row["erasure_id"],
                requested_at=row["requested_at"],
                requested_by=row["requested_by"],
                services={
                    name: datetime.fromisoformat(done[name]) if name in done else None
                    for name in services
                },
            )
        )
    return statuses


async def _count(conn: Connection, sql: str, *args: Any) -> int:
    status = await conn.execute(sql, *args)  # "DELETE <n>"
    return int(status.rsplit(" ", 1)[-1])


def _int_list(value: Sequence[int] | None) -> list[int] | None:
    return None if value is None else [int(item) for item in value]
