"""PostgreSQL unit of work of the check-in service: check-ins, vault, directory, outbox."""

import json
from collections.abc import Sequence

import asyncpg

from kinship_checkin.domain.checkins import RecordedCheckin
from kinship_checkin.domain.trends import TrendCell
from kinship_contracts.directory import DirectoryChange
from kinship_runtime.database import PoolTransaction
from kinship_runtime.directory import DirectoryProjection
from kinship_runtime.outbox import OutboxMessage, header_rows

# One statement per batch: check-ins that are new go in, and only their events join the outbox.
_RECORD = """
WITH incoming AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[],
        $7::smallint[], $8::smallint[], $9::smallint[], $10::text[], $11::text[], $12::text[],
        $13::boolean[], $14::smallint[], $15::smallint[], $16::smallint[], $17::boolean[],
        $18::smallint[], $19::bytea[], $20::text[]
    ) AS t(id, subject_id, team_id, occurred_at, recorded_at, source, mood, stress, energy,
           who5, phq9, phq2, wants_contact, who5_raw, who5_percent, phq9_total,
           phq9_item9_positive, phq2_total, note_ciphertext, note_key_id)
), inserted AS (
    INSERT INTO checkins (id, subject_id, team_id, occurred_at, recorded_at, source, mood,
        stress, energy, who5, phq9, phq2, wants_contact, who5_raw, who5_percent, phq9_total,
        phq9_item9_positive, phq2_total, note_ciphertext, note_key_id)
    SELECT id, subject_id, team_id, occurred_at, recorded_at, source, mood, stress, energy,
        who5::smallint[], phq9::smallint[], phq2::smallint[], wants_contact, who5_raw,
        who5_percent, phq9_total, phq9_item9_positive, phq2_total, note_ciphertext, note_key_id
    FROM incoming
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), queued AS (
    INSERT INTO outbox (event_id, topic, key, value, headers)
    SELECT m.event_id, m.topic, m.key, m.value, m.headers::jsonb
    FROM unnest($21::text[], $22::text[], $23::bytea[], $24::bytea[], $25::text[])
        WITH ORDINALITY AS m(event_id, topic, key, value, headers, position)
    JOIN inserted ON inserted.id = m.event_id
    ORDER BY m.position
)
SELECT id FROM inserted
"""

_VAULT = """
INSERT INTO pseudonyms (subject_id, person_id)
SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT (subject_id) DO NOTHING
"""

_TREND = """
SELECT date_trunc('week', occurred_at)::date AS week_start,
       array_agg(DISTINCT subject_id) AS people,
       count(*) AS checkins,
       coalesce(sum(mood), 0) AS mood_sum, count(mood) AS mood_count,
       coalesce(sum(stress), 0) AS stress_sum, count(stress) AS stress_count,
       coalesce(sum(energy), 0) AS energy_sum, count(energy) AS energy_count,
       coalesce(sum(who5_percent), 0) AS who5_percent_sum, count(who5_percent) AS who5_count
FROM checkins
WHERE team_id = $1 AND occurred_at >= date_trunc('week', now()) - make_interval(weeks => $2)
GROUP BY 1
"""


def _array_text(items: list[int] | None) -> str | None:
    # smallint[] columns travel as text so one unnest can carry arrays of arrays.
    return None if items is None else "{" + ",".join(map(str, items)) + "}"


class PostgresCheckinUnitOfWork(PoolTransaction):
    """One transaction of the check-in service (implements ``handlers.ports.CheckinUnitOfWork``)."""

    def __init__(self, pool: asyncpg.Pool, directory: DirectoryProjection) -> None:
        super().__init__(pool)
        self._directory = directory

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
        vault = {item.event.subject_id: item.person_id for item in checkins}
        conn = self.conn
        await conn.execute(_VAULT, list(vault), list(vault.values()))
        rows = await conn.fetch(
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
            [json.dumps(header_rows(m.headers)) for m in messages],
        )
        return {row["id"] for row in rows}

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        """Apply directory changes to the service's projection."""
        await self._directory.apply(self.conn, changes)

    async def trend_cells(self, team_id: str, weeks: int) -> list[TrendCell]:
        """Weekly raw figures of a team's check-ins over the last ``weeks`` weeks."""
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
