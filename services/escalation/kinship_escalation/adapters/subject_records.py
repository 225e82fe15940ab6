"""PostgreSQL reads of what is kept about subject ids (``handlers.subject_records``): cases
with their audit trail and feedback, and observations. Its own short read-only transaction,
no locks: a person reading their copy never waits on, or holds up, a case being worked."""

from collections.abc import Sequence

import asyncpg

from kinship_escalation.domain.observations import CheckinObservation
from kinship_escalation.handlers.subject_records import CaseEntry, SubjectCase

_CASES = (
    "SELECT id, status, severity, rules, opened_at, acknowledged_at, contacted_at,"
    " resolved_at, outcome FROM cases WHERE subject_id = ANY($1::text[])"
    " ORDER BY opened_at, id"
)
_HISTORY = (
    "SELECT c.id AS case_id, a.at, a.action, a.actor FROM unnest($1::text[]) AS c(id)"
    " JOIN case_audit a ON a.case_id = c.id OR a.case_ids @> ARRAY[c.id]"
    " ORDER BY a.seq"
)
_FEEDBACK = "SELECT case_id, given_by, score FROM feedback WHERE case_id = ANY($1::text[])"
_OBSERVATIONS = (
    "SELECT id, at, mood, stress, energy, who5_raw, phq9_total, phq2_total, item9_positive,"
    " wants_contact FROM observations WHERE subject_id = ANY($1::text[]) ORDER BY at, id"
)


class PostgresSubjectRecords:
    """Implements ``handlers.subject_records.SubjectRecords``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def cases_about(self, subject_ids: Sequence[str]) -> list[SubjectCase]:
        """Every case about the subjects, with its audit trail and feedback."""
        async with self._pool.acquire() as conn, conn.transaction(readonly=True):
            rows = await conn.fetch(_CASES, list(subject_ids))
            ids = [row["id"] for row in rows]
            history = await conn.fetch(_HISTORY, ids)
            feedback = await conn.fetch(_FEEDBACK, ids)
        entries: dict[str, list[CaseEntry]] = {case_id: [] for case_id in ids}
        for row in history:
            entries[row["case_id"]].append(CaseEntry(row["at"], row["action"], row["actor"]))
        scores: dict[str, dict[str, int]] = {case_id: {} for case_id in ids}
        for row in feedback:
            scores[row["case_id"]][row["given_by"]] = int(row["score"])
        return [
            SubjectCase(
                case_id=row["id"],
                status=row["status"],
                severity=row["severity"],
                rules=list(row["rules"]),
                opened_at=row["opened_at"],
                acknowledged_at=row["acknowledged_at"],
                contacted_at=row["contacted_at"],
                resolved_at=row["resolved_at"],
                outcome=row["outcome"],
                history=entries[row["id"]],
                feedback=scores[row["id"]],
            )
            for row in rows
        ]

    async def observations_of(self, subject_ids: Sequence[str]) -> list[CheckinObservation]:
        """Every observation kept about the subjects, oldest first."""
        rows = await self._pool.fetch(_OBSERVATIONS, list(subject_ids))
        return [CheckinObservation(**dict(row)) for row in rows]
