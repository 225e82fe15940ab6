"""PostgreSQL unit of work of the escalation service: every statement the service runs.

One class per group of operations of the port (``handlers.ports``), all on the connection of
the unit of work's transaction.
"""

import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

import asyncpg

from kinship_contracts.cases import CaseOutcome, CaseStatus, Severity
from kinship_contracts.directory import DirectoryChange, OutreachPreference, Role
from kinship_contracts.privacy import ErasureStage
from kinship_contracts.signals import SignalKind
from kinship_escalation.domain.cases import (
    ERASED,
    AlertPurpose,
    AlertRecord,
    AuditEntry,
    AuditFilter,
    AuditRecord,
    Case,
    StoredCase,
)
from kinship_escalation.domain.casework import (
    CaseNote,
    CaseWork,
    Consent,
    ContactChannel,
    NoteKind,
    ObservedCheckin,
    PreferenceChange,
    TimelineEntry,
    shown_scores,
)
from kinship_escalation.domain.evidence import ObservedFacts, Threshold
from kinship_escalation.domain.explanations import CaseExplanation, RecordedEvidence
from kinship_escalation.domain.observations import CheckinObservation, SignalObservation
from kinship_escalation.domain.policies import (
    EscalationPolicy,
    OnCallRotation,
    ResponderLoad,
    StaffMember,
)
from kinship_escalation.domain.programme import Fact, FactKind, WeekMeasures
from kinship_escalation.domain.schedules.model import Schedule
from kinship_escalation.domain.sealing import SubjectKey
from kinship_escalation.domain.timers import Timer, TimerKind
from kinship_escalation.handlers.ports import (
    CalendarFeed,
    FeedKind,
    SubjectObservation,
    SubjectSignal,
)
from kinship_runtime import erased_ids
from kinship_runtime.database import Connection, PoolTransaction
from kinship_runtime.dead_letters import shred_dead_letters
from kinship_runtime.directory import DirectoryProjection, team_members, team_of
from kinship_runtime.erasure import note_done
from kinship_runtime.idempotency import first_time
from kinship_runtime.outbox import OutboxMessage, enqueue

log = logging.getLogger(__name__)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


class _Statements:
    """Operations that run on the connection of their unit of work's transaction."""

    def __init__(self, uow: PoolTransaction) -> None:
        self._uow = uow

    @property
    def conn(self) -> Connection:
        """The connection of the transaction in progress."""
        return self._uow.conn


# ---- observations ---------------------------------------------------------------------------

_ADD_OBSERVATIONS = (
    "INSERT INTO observations (id, subject_id, team_id, at, mood, stress, energy,"
    " who5_raw, phq9_total, phq2_total, item9_positive, wants_contact)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],"
    " $5::smallint[], $6::smallint[], $7::smallint[], $8::smallint[], $9::smallint[],"
    " $10::smallint[], $11::boolean[], $12::boolean[])"
    " ON CONFLICT (id) DO NOTHING RETURNING id"
)
_HISTORIES = (
    "SELECT subject_id, id, at, mood, stress, energy, who5_raw, phq9_total, phq2_total,"
    " item9_positive, wants_contact FROM observations"
    # Oldest first by (time, id) as Python orders them (code points: the "C" collation),
    # whatever the database's collation: detection finds each history by bisection.
    ' WHERE subject_id = ANY($1::text[]) AND at >= $2 ORDER BY subject_id, at, id COLLATE "C"'
)
_SERIALISE = (
    "SELECT count(pg_advisory_xact_lock(hashtext('kinship.detection'), hashtext(s)))"
    " FROM (SELECT s FROM unnest($1::text[]) AS s ORDER BY s) AS subjects"
)
_ADD_SIGNALS = (
    "INSERT INTO signal_observations (subject_id, kind, severity, at)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::timestamptz[])"
)
_SIGNAL_HISTORIES = (
    "SELECT subject_id, kind, severity, at FROM signal_observations"
    " WHERE subject_id = ANY($1::text[]) AND at >= $2 ORDER BY subject_id, at, seq"
)


def _observation(row: asyncpg.Record) -> CheckinObservation:
    return CheckinObservation(
        id=row["id"],
        at=row["at"],
        mood=row["mood"],
        stress=row["stress"],
        energy=row["energy"],
        who5_raw=row["who5_raw"],
        phq9_total=row["phq9_total"],
        phq2_total=row["phq2_total"],
        item9_positive=row["item9_positive"],
        wants_contact=row["wants_contact"],
    )


class PostgresObservations(_Statements):
    """The ``observations`` table."""

    async def add(self, observations: Sequence[SubjectObservation]) -> set[str]:
        """Store (subject, team, observation) rows; returns the ids that were new."""
        items = [o for _, _, o in observations]
        rows = await self.conn.fetch(
            _ADD_OBSERVATIONS,
            [o.id for o in items],
            [subject for subject, _, _ in observations],
            [team for _, team, _ in observations],
            [o.at for o in items],
            [o.mood for o in items],
            [o.stress for o in items],
            [o.energy for o in items],
            [o.who5_raw for o in items],
            [o.phq9_total for o in items],
            [o.phq2_total for o in items],
            [o.item9_positive for o in items],
            [o.wants_contact for o in items],
        )
        return {row["id"] for row in rows}

    async def histories(
        self, subject_ids: Sequence[str], since: datetime
    ) -> dict[str, list[CheckinObservation]]:
        """Each subject's observations since ``since``, oldest first by (time, id) in
        Python's order (code points): detection bisects them (``rules.history_in``)."""
        # No limit: detection bounds each history itself (rules.HISTORY_LIMIT), the same for a
        # check-in however it was batched; the (subject, at) index keeps the read narrow.
        rows = await self.conn.fetch(_HISTORIES, list(subject_ids), since)
        found: dict[str, list[CheckinObservation]] = {}
        for row in rows:
            found.setdefault(row["subject_id"], []).append(_observation(row))
        return found

    async def serialise(self, subject_ids: Sequence[str]) -> None:
        """Transaction-level advisory locks, one per subject, taken in one order (no
        deadlock between two batches); the two-key form keeps them apart from others."""
        if subject_ids:
            await self.conn.execute(_SERIALISE, sorted(set(subject_ids)))

    async def add_signals(self, signals: Sequence[SubjectSignal]) -> None:
        """Store load signals about subjects."""
        if signals:
            await self.conn.execute(
                _ADD_SIGNALS,
                [subject for subject, _ in signals],
                [signal.kind.value for _, signal in signals],
                [signal.severity for _, signal in signals],
                [signal.at for _, signal in signals],
            )

    async def signal_histories(
        self, subject_ids: Sequence[str], since: datetime
    ) -> dict[str, list[SignalObservation]]:
        """Each subject's load signals since ``since``, oldest first."""
        rows = await self.conn.fetch(_SIGNAL_HISTORIES, list(subject_ids), since)
        found: dict[str, list[SignalObservation]] = {}
        for row in rows:
            signal = SignalObservation(SignalKind(row["kind"]), row["severity"], row["at"])
            found.setdefault(row["subject_id"], []).append(signal)
        return found


# ---- case evidence --------------------------------------------------------------------------

_RECORD_EVIDENCE = (
    "INSERT INTO case_evidence (case_id, rule, ref, checkin_id, signal_kind, observed_at,"
    " scores, severity, rules_version, thresholds, recorded_at)"
    " SELECT $1, rule, ref, checkin, kind, at, scores::jsonb, severity, version,"
    " thresholds::jsonb, recorded FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],"
    " $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[])"
    " AS e(rule, ref, checkin, kind, at, scores, severity, version, thresholds, recorded)"
    " ON CONFLICT DO NOTHING"
)


def _thresholds(value: Any) -> tuple[Threshold, ...]:
    return tuple(Threshold(**item) for item in _json(value))


def _recorded(row: asyncpg.Record) -> RecordedEvidence:
    facts = ObservedFacts(
        at=row["observed_at"],
        scores=_json(row["scores"]),
        checkin_id=row["checkin_id"],
        signal_kind=row["signal_kind"],
    )
    return RecordedEvidence(
        rule=row["rule"],
        severity=Severity(row["severity"]),
        rules_version=row["rules_version"],
        thresholds=_thresholds(row["thresholds"]),
        observation=facts,
        recorded_at=row["recorded_at"],
    )


class PostgresCaseEvidence(_Statements):
    """The ``case_evidence`` table (and the case's ``rules_version``)."""

    async def record(self, case_id: str, entries: Sequence[RecordedEvidence]) -> None:
        """Keep new evidence for a case; an entry already kept stays as it was."""
        if not entries:
            return
        await self.conn.execute(
            _RECORD_EVIDENCE,
            case_id,
            [e.rule for e in entries],
            [e.observation.ref for e in entries],
            [e.observation.checkin_id for e in entries],
            [e.observation.signal_kind for e in entries],
            [e.observation.at for e in entries],
            [json.dumps(e.observation.scores) for e in entries],
            [e.severity.value for e in entries],
            [e.rules_version for e in entries],
            [json.dumps([t.__dict__ for t in e.thresholds]) for e in entries],
            [e.recorded_at for e in entries],
        )

    async def explain(self, case_id: str) -> CaseExplanation | None:
        """A case's explanation from its kept evidence."""
        version = await self.conn.fetchrow("SELECT rules_version FROM cases WHERE id = $1", case_id)
        if version is None:
            return None
        rows = await self.conn.fetch(
            "SELECT * FROM case_evidence WHERE case_id = $1 ORDER BY seq", case_id
        )
        return CaseExplanation.of(
            case_id, version["rules_version"], [_recorded(row) for row in rows]
        )


# ---- cases, audit, feedback -----------------------------------------------------------------

_SAVE_CASE = (
    "INSERT INTO cases (id, subject_id, team_id, status, severity, rules,"
    " observation_ids, step, attempt, responder_id, alerted, opened_at, assigned_at,"
    " acknowledged_at, contacted_at, resolved_at, outcome, sequence, policy, rules_version)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,"
    " $17, $18, $19::text::jsonb, $20)"
    " ON CONFLICT (id) DO UPDATE SET subject_id = $2, team_id = $3, status = $4,"
    " severity = $5, rules = $6, observation_ids = $7, step = $8, attempt = $9,"
    " responder_id = $10, alerted = $11, assigned_at = $13, acknowledged_at = $14,"
    " contacted_at = $15, resolved_at = $16, outcome = $17, sequence = $18,"
    " policy = $19::text::jsonb, rules_version = $20"
)

_PROGRAMME_FACTS = (
    "SELECT 'opened' AS kind, subject_id AS subject, opened_at AS at, NULL::float AS seconds,"
    " NULL::text AS label, NULL::int AS score FROM cases WHERE opened_at >= $1 AND opened_at < $2"
    " UNION ALL"
    " SELECT a.action, c.subject_id, a.at, extract(epoch FROM CASE a.action"
    "  WHEN 'acknowledged' THEN a.at ELSE c.contacted_at END - c.opened_at)::float, NULL, NULL"
    " FROM (SELECT DISTINCT ON (case_id, action) case_id, action, at FROM case_audit"
    "  WHERE action IN ('acknowledged', 'contacted') AND case_id IS NOT NULL"
    "  ORDER BY case_id, action, seq) a"
    " JOIN cases c ON c.id = a.case_id WHERE a.at >= $1 AND a.at < $2"
    " UNION ALL"
    " SELECT 'resolved', c.subject_id, a.at, NULL, a.outcome, NULL"
    " FROM case_audit a JOIN cases c ON c.id = a.case_id"
    " WHERE a.action = 'resolved' AND a.outcome IS NOT NULL AND a.at >= $1 AND a.at < $2"
    " UNION ALL"
    " SELECT 'feedback', c.subject_id, f.at, NULL, f.given_by, f.score::int"
    " FROM feedback f JOIN cases c ON c.id = f.case_id WHERE f.at >= $1 AND f.at < $2"
)
"""Programme facts recorded in a window (``domain.programme``): the first acknowledgement
and contact per case are taken before the window filter, so a later one never counts."""


def _case(row: asyncpg.Record) -> StoredCase:
    case = Case(
        id=row["id"],
        subject_id=row["subject_id"],
        team_id=row["team_id"],
        severity=Severity(row["severity"]),
        opened_at=row["opened_at"],
        status=CaseStatus(row["status"]),
        rules=list(row["rules"]),
        observation_ids=list(row["observation_ids"]),
        step=row["step"],
        attempt=row["attempt"],
        responder_id=row["responder_id"],
        assigned_at=row["assigned_at"],
        acknowledged_at=row["acknowledged_at"],
        contacted_at=row["contacted_at"],
        resolved_at=row["resolved_at"],
        outcome=CaseOutcome(row["outcome"]) if row["outcome"] else None,
        sequence=row["sequence"],
        rules_version=row["rules_version"],
    )
    policy = EscalationPolicy.model_validate(_json(row["policy"]))
    return StoredCase(case, policy, list(row["alerted"]))


class PostgresCases(_Statements):
    """The ``cases``, ``case_audit`` and ``feedback`` tables."""

    async def open_case_of(self, subject_id: str) -> StoredCase | None:
        """The subject's open case, locked for this transaction."""
        row = await self.conn.fetchrow(
            "SELECT * FROM cases WHERE subject_id = $1 AND status <> 'resolved' FOR UPDATE",
            subject_id,
        )
        return _case(row) if row else None

    async def get(self, case_id: str) -> StoredCase | None:
        """A case by id, locked for this transaction."""
        row = await self.conn.fetchrow("SELECT * FROM cases WHERE id = $1 FOR UPDATE", case_id)
        return _case(row) if row else None

    async def assigned_to(self, responder_id: str | None, open_only: bool) -> list[StoredCase]:
        """Cases assigned to ``responder_id`` (all cases when None), newest first."""
        rows = await self.conn.fetch(
            "SELECT * FROM cases WHERE ($1::text IS NULL OR responder_id = $1)"
            " AND (NOT $2 OR status <> 'resolved') ORDER BY opened_at DESC LIMIT 500",
            responder_id,
            open_only,
        )
        return [_case(row) for row in rows]

    async def about(self, subject_ids: Sequence[str]) -> list[StoredCase]:
        """Every case about any of ``subject_ids``, locked for this transaction."""
        rows = await self.conn.fetch(
            "SELECT * FROM cases WHERE subject_id = ANY($1::text[]) ORDER BY id FOR UPDATE",
            list(subject_ids),
        )
        return [_case(row) for row in rows]

    async def following_person(self, person_id: str) -> list[StoredCase]:
        """Cases whose policy has a step naming ``person_id``, locked: a people target (or
        the ``person:<id>`` text of copies stored before per-team policies)."""
        rows = await self.conn.fetch(
            "SELECT * FROM cases WHERE policy -> 'steps' @> jsonb_build_array(jsonb_build_object("
            " 'targets', jsonb_build_array(jsonb_build_object("
            " 'kind', 'people', 'people', jsonb_build_array($1::text)))))"
            " OR policy -> 'steps'"
            " @> jsonb_build_array(jsonb_build_object('target', 'person:' || $1::text))"
            " ORDER BY id FOR UPDATE",
            person_id,
        )
        return [_case(row) for row in rows]

    async def save(self, stored: StoredCase) -> None:
        """Insert or update a case (the one-open-case index refuses a second open one)."""
        case = stored.case
        await self.conn.execute(
            _SAVE_CASE,
            case.id,
            case.subject_id,
            case.team_id,
            case.status.value,
            case.severity.value,
            case.rules,
            case.observation_ids,
            case.step,
            case.attempt,
            case.responder_id,
            stored.alerted,
            case.opened_at,
            case.assigned_at,
            case.acknowledged_at,
            case.contacted_at,
            case.resolved_at,
            case.outcome.value if case.outcome else None,
            case.sequence,
            stored.policy.model_dump_json(),
            case.rules_version,
        )

    async def audit(self, record: AuditRecord) -> None:
        """Append to the audit trail (``case_id`` too when it is about one case)."""
        await self.conn.execute(
            "INSERT INTO case_audit"
            " (case_id, case_ids, subject_ids, action, actor, sequence, at, outcome)"
            " VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, now()), $8)",
            record.case_ids[0] if len(record.case_ids) == 1 else None,
            list(record.case_ids),
            list(record.subject_ids),
            record.action,
            record.actor,
            record.sequence,
            record.at,
            record.outcome,
        )

    async def audit_log(self, query: AuditFilter, limit: int) -> list[AuditEntry]:
        """Audit records matching ``query``, newest first (``seq``), at most ``limit``."""
        rows = await self.conn.fetch(
            "SELECT seq, at, action, actor, case_id, cardinality(case_ids) AS cases"
            " FROM case_audit"
            " WHERE ($1::text IS NULL OR case_ids @> ARRAY[$1::text])"
            " AND ($2::text IS NULL OR actor = $2) AND ($3::text IS NULL OR action = $3)"
            " AND ($4::bigint IS NULL OR seq < $4) ORDER BY seq DESC LIMIT $5",
            query.case_id,
            query.actor,
            query.action,
            query.before,
            limit,
        )
        return [
            AuditEntry(r["seq"], r["at"], r["action"], r["actor"], r["case_id"], r["cases"])
            for r in rows
        ]

    async def save_feedback(self, case_id: str, given_by: str, score: int, at: datetime) -> bool:
        """Store feedback once per case and giver; False when already given."""
        value = await self.conn.fetchval(
            "INSERT INTO feedback (case_id, given_by, score, at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING RETURNING case_id",
            case_id,
            given_by,
            score,
            at,
        )
        return value is not None

    async def programme_facts(self, start: datetime, end: datetime) -> list[Fact]:
        """The facts recorded from ``start`` up to ``end``, each at the time this service
        recorded it: cases opened, the first acknowledgement and first contact of each case
        (seconds from its opening), each resolution with its outcome, each feedback."""
        rows = await self.conn.fetch(_PROGRAMME_FACTS, start, end)
        return [
            Fact(
                FactKind(row["kind"]),
                row["subject"],
                row["at"],
                row["seconds"],
                row["label"],
                row["score"],
            )
            for row in rows
        ]

    async def released_weeks(self, start: date, end: date) -> dict[date, WeekMeasures]:
        """The ``programme_weeks`` rows from ``start`` up to ``end`` (migration 0011)."""
        rows = await self.conn.fetch(
            "SELECT week, figures FROM programme_weeks WHERE week >= $1 AND week < $2",
            start,
            end,
        )
        return {row["week"]: WeekMeasures.model_validate(_json(row["figures"])) for row in rows}

    async def release_weeks(self, weeks: Sequence[WeekMeasures], at: datetime) -> None:
        """Insert each week unless it is stored: the first figures served stay."""
        await self.conn.executemany(
            "INSERT INTO programme_weeks (week, figures, released_at)"
            " VALUES ($1, $2::text::jsonb, $3) ON CONFLICT (week) DO NOTHING",
            [(week.week, week.model_dump_json(), at) for week in weeks],
        )


# ---- alerts ---------------------------------------------------------------------------------


class PostgresAlerts(_Statements):
    """The ``alerts`` table."""

    async def add(self, alert: AlertRecord, sent_at: datetime) -> None:
        """Record an alert sent."""
        await self.conn.execute(
            "INSERT INTO alerts (id, case_id, recipient_id, step, attempt, sent_at, purpose)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            alert.id,
            alert.case_id,
            alert.recipient_id,
            alert.step,
            alert.attempt,
            sent_at,
            alert.purpose.value,
        )

    async def get(self, alert_id: str) -> AlertRecord | None:
        """An alert by id, locked for this transaction."""
        row = await self.conn.fetchrow(
            "SELECT id, case_id, recipient_id, step, attempt, link_used_at, purpose FROM alerts"
            " WHERE id = $1 FOR UPDATE",
            alert_id,
        )
        if row is None:
            return None
        return AlertRecord(**{**dict(row), "purpose": AlertPurpose(row["purpose"])})

    async def use_link(self, alert_id: str, now: datetime) -> None:
        """Spend an alert's one-time link."""
        await self.conn.execute("UPDATE alerts SET link_used_at = $2 WHERE id = $1", alert_id, now)

    async def mark_failed(self, alert_id: str, now: datetime) -> None:
        """Note that the alert could not be delivered."""
        await self.conn.execute("UPDATE alerts SET failed_at = $2 WHERE id = $1", alert_id, now)

    async def all_failed(self, case_id: str, step: int, attempt: int) -> bool:
        """Whether every alert of a case's step and attempt failed to be delivered."""
        value = await self.conn.fetchval(
            "SELECT bool_and(failed_at IS NOT NULL) FROM alerts"
            " WHERE case_id = $1 AND step = $2 AND attempt = $3",
            case_id,
            step,
            attempt,
        )
        return bool(value)


# ---- timers ---------------------------------------------------------------------------------

_SCHEDULE = (
    "INSERT INTO timers (id, kind, due_at, case_id, subject_id, team_id, payload)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb) ON CONFLICT (id) DO NOTHING"
)
_SCHEDULE_REPLACING = (
    "INSERT INTO timers (id, kind, due_at, case_id, subject_id, team_id, payload)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb) ON CONFLICT (id) DO UPDATE SET"
    " due_at = EXCLUDED.due_at, fired_at = NULL, payload = EXCLUDED.payload"
)
# Many timers created or moved in one statement (the check-in reminders of a batch).
_REARM = (
    "INSERT INTO timers (id, kind, due_at, case_id, subject_id, team_id, payload)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[],"
    " $6::text[], $7::text[]::jsonb[]) ON CONFLICT (id) DO UPDATE SET"
    " due_at = EXCLUDED.due_at, fired_at = NULL, payload = EXCLUDED.payload"
)
# Due timers are locked and marked fired in one statement; other replicas skip the locked ones.
_CLAIM_DUE = (
    "UPDATE timers SET fired_at = $1 WHERE id = ANY(ARRAY("
    " SELECT id FROM timers WHERE fired_at IS NULL AND due_at <= $1"
    " ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED))"
    " RETURNING id, kind, due_at, case_id, subject_id, team_id, payload"
)


def _timer(row: asyncpg.Record) -> Timer | None:
    try:
        kind = TimerKind(row["kind"])
    except ValueError:
        # Written by another version of the service; claimed, so it will not come back.
        log.warning("unknown timer kind %s skipped", row["kind"])
        return None
    return Timer(
        id=row["id"],
        kind=kind,
        due_at=row["due_at"],
        case_id=row["case_id"],
        subject_id=row["subject_id"],
        team_id=row["team_id"],
        payload=_json(row["payload"]),
    )


class PostgresTimers(_Statements):
    """The ``timers`` table."""

    async def schedule(self, timer: Timer, *, replace: bool = False) -> None:
        """Create a timer (``replace``: move one with the same id and arm it again)."""
        await self.conn.execute(
            _SCHEDULE_REPLACING if replace else _SCHEDULE,
            timer.id,
            timer.kind.value,
            timer.due_at,
            timer.case_id,
            timer.subject_id,
            timer.team_id,
            json.dumps(timer.payload),
        )

    async def rearm(self, timers: Sequence[Timer]) -> None:
        """Create or move many timers (one statement; in id order, the last of an id wins)."""
        latest = {timer.id: timer for timer in timers}
        if not latest:
            return
        rows = [latest[timer_id] for timer_id in sorted(latest)]
        await self.conn.execute(
            _REARM,
            [t.id for t in rows],
            [t.kind.value for t in rows],
            [t.due_at for t in rows],
            [t.case_id for t in rows],
            [t.subject_id for t in rows],
            [t.team_id for t in rows],
            [json.dumps(t.payload) for t in rows],
        )

    async def cancel(self, timer_ids: Sequence[str]) -> None:
        """Drop timers that have not fired (one statement for many)."""
        if timer_ids:
            await self.conn.execute(
                "DELETE FROM timers WHERE id = ANY($1::text[]) AND fired_at IS NULL",
                list(timer_ids),
            )

    async def claim_due(self, now: datetime, limit: int) -> list[Timer]:
        """Due timers, locked and marked fired in this transaction, oldest first."""
        rows = await self.conn.fetch(_CLAIM_DUE, now, limit)
        timers = [timer for timer in map(_timer, rows) if timer is not None]
        return sorted(timers, key=lambda timer: (timer.due_at, timer.id))

    async def retry_at(self, timer_id: str, due_at: datetime) -> None:
        """Arm a claimed timer again for ``due_at``."""
        await self.conn.execute(
            "UPDATE timers SET fired_at = NULL, due_at = $2 WHERE id = $1", timer_id, due_at
        )

    async def pending_of(self, case_ids: Sequence[str]) -> dict[str, list[Timer]]:
        """The timers of these cases that have not fired, by case id."""
        rows = await self.conn.fetch(
            "SELECT * FROM timers WHERE case_id = ANY($1::text[]) AND fired_at IS NULL"
            " ORDER BY due_at, id",
            list(case_ids),
        )
        found: dict[str, list[Timer]] = {}
        for row in rows:
            timer = _timer(row)
            if timer is not None and timer.case_id is not None:
                found.setdefault(timer.case_id, []).append(timer)
        return found


# ---- the directory and responders' workload -------------------------------------------------

_STAFF_COLUMNS = (
    "SELECT person_id, team_id, $1 = ANY(roles) AS responder,"
    " $2 = ANY(roles) AS coordinator FROM directory_people"
)
_ROLES = (Role.PEER_RESPONDER.value, Role.COORDINATOR.value)


class PostgresDirectory(_Statements):
    """The directory projection (``directory_people``, kept by the runtime's projection)."""

    def __init__(self, uow: PoolTransaction, projection: DirectoryProjection) -> None:
        super().__init__(uow)
        self._projection = projection

    async def apply(self, changes: Sequence[DirectoryChange]) -> None:
        """Apply directory changes to the projection."""
        await self._projection.apply(self.conn, changes)

    async def staff(self) -> list[StaffMember]:
        """Active peer responders and coordinators, ordered by person_id."""
        rows = await self.conn.fetch(
            _STAFF_COLUMNS + " WHERE active AND roles && ARRAY[$1, $2]::text[] ORDER BY person_id",
            *_ROLES,
        )
        return [StaffMember(**dict(row)) for row in rows]

    async def person(self, person_id: str) -> StaffMember | None:
        """A directory person (any role)."""
        row = await self.conn.fetchrow(
            _STAFF_COLUMNS + " WHERE person_id = $3 AND active", *_ROLES, person_id
        )
        return StaffMember(**dict(row)) if row else None

    async def team_of(self, person_id: str) -> str | None:
        """A person's team, from the directory."""
        return await team_of(self.conn, person_id)

    async def members(self, team_id: str) -> list[str]:
        """The active people of a team, by person_id."""
        return await team_members(self.conn, team_id)


class PostgresWorkload(_Statements):
    """Open cases per responder (from ``cases``), and the ``responder_rest`` and
    ``responder_away`` tables."""

    async def loads(self, now: datetime) -> dict[str, ResponderLoad]:
        """Open cases per responder, rest owed and away until; people away who are not peer
        responders (coordinators) are listed too, so that schedules skip them."""
        rows = await self.conn.fetch(
            "SELECT d.person_id,"
            " (SELECT count(*) FROM cases c WHERE c.responder_id = d.person_id"
            "  AND c.status <> 'resolved') AS open_cases,"
            " r.resting_until, a.away_until FROM directory_people d"
            " LEFT JOIN responder_rest r USING (person_id)"
            " LEFT JOIN responder_away a USING (person_id)"
            " WHERE d.active AND ($1 = ANY(d.roles) OR a.away_until > $2)",
            Role.PEER_RESPONDER.value,
            now,
        )
        return {
            row["person_id"]: ResponderLoad(
                row["open_cases"], row["resting_until"], row["away_until"]
            )
            for row in rows
        }

    async def rest(self, person_id: str, until: datetime) -> None:
        """Give a responder rest until ``until``."""
        await self.conn.execute(
            "INSERT INTO responder_rest (person_id, resting_until) VALUES ($1, $2)"
            " ON CONFLICT (person_id) DO UPDATE SET resting_until = GREATEST("
            " responder_rest.resting_until, $2)",
            person_id,
            until,
        )

    async def away_until(self, person_id: str) -> datetime | None:
        """When the person said they are away until (None: they did not, or said they are
        back); a time already past is returned as it is."""
        value: datetime | None = await self.conn.fetchval(
            "SELECT away_until FROM responder_away WHERE person_id = $1", person_id
        )
        return value

    async def set_away(self, person_id: str, until: datetime) -> None:
        """Record that the person is away until ``until`` (replacing what they said before)."""
        await self.conn.execute(
            "INSERT INTO responder_away (person_id, away_until) VALUES ($1, $2)"
            " ON CONFLICT (person_id) DO UPDATE SET away_until = EXCLUDED.away_until",
            person_id,
            until,
        )

    async def end_away(self, person_id: str) -> bool:
        """The person is back; whether they had said they were away."""
        return (
            await _count(self.conn, "DELETE FROM responder_away WHERE person_id = $1", person_id)
            > 0
        )


# ---- support beyond cases -------------------------------------------------------------------


class PostgresSupport(_Statements):
    """The ``distress_marks``, ``group_offers`` and ``self_care_sent`` tables."""

    async def mark_distress(self, team_id: str, subject_id: str, at: datetime) -> None:
        """Remember that a team member was in distress (for team clusters)."""
        await self.conn.execute(
            "INSERT INTO distress_marks (team_id, subject_id, at) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            team_id,
            subject_id,
            at,
        )

    async def team_distress(self, team_id: str, since: datetime) -> list[tuple[str, datetime]]:
        """A team's distress marks since ``since``."""
        rows = await self.conn.fetch(
            "SELECT subject_id, at FROM distress_marks WHERE team_id = $1 AND at >= $2",
            team_id,
            since,
        )
        return [(row["subject_id"], row["at"]) for row in rows]

    async def record_group_offer(
        self, offer_id: str, team_id: str, reason: str, kind: str, now: datetime
    ) -> bool:
        """Record a group-session offer; False when this offer was already made."""
        row = await self.conn.fetchval(
            "INSERT INTO group_offers (id, team_id, reason, kind, proposed_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id",
            offer_id,
            team_id,
            reason,
            kind,
            now,
        )
        return row is not None

    async def last_group_offer(self, team_id: str, reason: str) -> datetime | None:
        """When a team last got an offer for ``reason``."""
        value = await self.conn.fetchval(
            "SELECT max(proposed_at) FROM group_offers WHERE team_id = $1 AND reason = $2",
            team_id,
            reason,
        )
        return value if isinstance(value, datetime) else None

    async def self_care_due(self, subject_id: str, now: datetime, every_days: int) -> bool:
        """Claim the subject's self-care message unless one went out recently."""
        value = await self.conn.fetchval(
            "INSERT INTO self_care_sent (subject_id, sent_at) VALUES ($1, $2)"
            " ON CONFLICT (subject_id) DO UPDATE SET sent_at = $2"
            " WHERE self_care_sent.sent_at <= $2 - make_interval(days => $3)"
            " RETURNING subject_id",
            subject_id,
            now,
            every_days,
        )
        return value is not None


# ---- on-call configuration ------------------------------------------------------------------


class PostgresOnCall(_Statements):
    """The ``rotations``, ``policies`` and ``schedules`` tables."""

    async def rotation(self, name: str) -> OnCallRotation | None:
        """A stored rotation."""
        body = await self.conn.fetchval("SELECT body FROM rotations WHERE name = $1", name)
        return OnCallRotation.model_validate(_json(body)) if body is not None else None

    async def rotations(self) -> list[OnCallRotation]:
        """Every rotation."""
        rows = await self.conn.fetch("SELECT body FROM rotations ORDER BY name")
        return [OnCallRotation.model_validate(_json(row["body"])) for row in rows]

    async def save_rotation(self, rotation: OnCallRotation) -> None:
        """Create or replace a rotation."""
        await self.conn.execute(
            "INSERT INTO rotations (name, body) VALUES ($1, $2::text::jsonb)"
            " ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, updated_at = now()",
            rotation.name,
            rotation.model_dump_json(),
        )

    async def delete_rotation(self, name: str) -> None:
        """Remove a rotation."""
        await self.conn.execute("DELETE FROM rotations WHERE name = $1", name)

    async def policies(self) -> list[EscalationPolicy]:
        """Every stored policy."""
        rows = await self.conn.fetch("SELECT body FROM policies ORDER BY name")
        return [EscalationPolicy.model_validate(_json(row["body"])) for row in rows]

    async def policy(self, name: str = "default") -> EscalationPolicy | None:
        """A stored escalation policy."""
        body = await self.conn.fetchval("SELECT body FROM policies WHERE name = $1", name)
        return EscalationPolicy.model_validate(_json(body)) if body is not None else None

    async def save_policy(self, policy: EscalationPolicy) -> None:
        """Create or replace an escalation policy."""
        await self.conn.execute(
            "INSERT INTO policies (name, body) VALUES ($1, $2::text::jsonb)"
            " ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, updated_at = now()",
            policy.name,
            policy.model_dump_json(),
        )

    async def delete_policy(self, name: str) -> bool:
        """Remove an escalation policy; whether there was one."""
        done = await self.conn.execute("DELETE FROM policies WHERE name = $1", name)
        return bool(done != "DELETE 0")

    async def schedule(self, name: str) -> Schedule | None:
        """A stored on-call schedule."""
        body = await self.conn.fetchval("SELECT body FROM schedules WHERE name = $1", name)
        return Schedule.model_validate(_json(body)) if body is not None else None

    async def schedules(self) -> list[Schedule]:
        """Every on-call schedule, by name."""
        rows = await self.conn.fetch("SELECT body FROM schedules ORDER BY name")
        return [Schedule.model_validate(_json(row["body"])) for row in rows]

    async def save_schedule(self, schedule: Schedule) -> None:
        """Create or replace an on-call schedule."""
        await self.conn.execute(
            "INSERT INTO schedules (name, body) VALUES ($1, $2::text::jsonb)"
            " ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, updated_at = now()",
            schedule.name,
            schedule.model_dump_json(),
        )

    async def delete_schedule(self, name: str) -> bool:
        """Remove an on-call schedule; whether there was one."""
        status = await self.conn.execute("DELETE FROM schedules WHERE name = $1", name)
        return bool(status == "DELETE 1")


class PostgresCalendarFeeds(_Statements):
    """The ``calendar_feeds`` table (token hashes only)."""

    async def replace(self, feed: CalendarFeed) -> None:
        """Keep ``feed`` in place of its owner's feed of the same kind and subject (one
        statement: two requests at once leave one of the two tokens, never an error)."""
        await self.conn.execute(
            "INSERT INTO calendar_feeds (token_hash, kind, subject, owner, created_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, subject, owner) DO UPDATE SET"
            " token_hash = EXCLUDED.token_hash, created_at = EXCLUDED.created_at",
            feed.token_hash,
            feed.kind,
            feed.subject,
            feed.owner,
            feed.created_at,
        )

    async def by_hash(self, token_hash: str) -> CalendarFeed | None:
        """The feed whose token hashes to ``token_hash``."""
        row = await self.conn.fetchrow(
            "SELECT token_hash, kind, subject, owner, created_at FROM calendar_feeds"
            " WHERE token_hash = $1",
            token_hash,
        )
        return CalendarFeed(**dict(row)) if row else None

    async def revoke(self, kind: FeedKind, subject: str, owner: str) -> bool:
        """Drop the owner's feed of that kind and subject."""
        removed = await _count(
            self.conn,
            "DELETE FROM calendar_feeds WHERE kind = $1 AND subject = $2 AND owner = $3",
            kind,
            subject,
            owner,
        )
        return removed > 0

    async def of_owner(self, owner: str) -> list[CalendarFeed]:
        """The feeds a person asked for."""
        rows = await self.conn.fetch(
            "SELECT token_hash, kind, subject, owner, created_at FROM calendar_feeds"
            " WHERE owner = $1 ORDER BY kind, subject",
            owner,
        )
        return [CalendarFeed(**dict(row)) for row in rows]


class PostgresOnCallRecords(_Statements):
    """Reads of ``alerts``, ``cases`` and ``directory_people`` for the on-call API."""

    async def pages(self, start: datetime, end: datetime) -> dict[str, list[datetime]]:
        """When each person was alerted (alerts that failed not counted)."""
        rows = await self.conn.fetch(
            "SELECT recipient_id, sent_at FROM alerts WHERE sent_at >= $1 AND sent_at < $2"
            " AND failed_at IS NULL ORDER BY sent_at",
            start,
            end,
        )
        return _by_person(rows, "recipient_id", "sent_at")

    async def cases_taken(self, start: datetime, end: datetime) -> dict[str, list[datetime]]:
        """When each responder acknowledged the cases they hold."""
        rows = await self.conn.fetch(
            "SELECT responder_id, acknowledged_at FROM cases WHERE responder_id IS NOT NULL"
            " AND acknowledged_at >= $1 AND acknowledged_at < $2 ORDER BY acknowledged_at",
            start,
            end,
        )
        return _by_person(rows, "responder_id", "acknowledged_at")

    async def time_zones(self, person_ids: Sequence[str]) -> dict[str, str]:
        """The directory's time zone of each person it knows."""
        rows = await self.conn.fetch(
            "SELECT person_id, timezone FROM directory_people WHERE person_id = ANY($1::text[])",
            list(person_ids),
        )
        return {row["person_id"]: row["timezone"] for row in rows}

    async def serialise_schedule(self, name: str) -> None:
        """A transaction-level advisory lock on the schedule's name."""
        await self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('kinship.schedule'), hashtext($1))", name
        )


def _by_person(rows: Sequence[asyncpg.Record], person: str, at: str) -> dict[str, list[datetime]]:
    found: dict[str, list[datetime]] = {}
    for row in rows:
        found.setdefault(row[person], []).append(row[at])
    return found


# ---- outreach preferences and working cases ------------------------------------------------


class PostgresPreferences(_Statements):
    """The ``outreach_preferences`` table (by subject id)."""

    async def apply(self, changes: Sequence[PreferenceChange]) -> None:
        """Keep each subject's latest preference (an older one never replaces a newer)."""
        latest = {change.subject_id: change for change in changes}
        kept = [c for c in latest.values() if c.preference is not None]
        gone = [c.subject_id for c in latest.values() if c.preference is None]
        if kept:
            await self.conn.executemany(
                "INSERT INTO outreach_preferences (subject_id, preference, updated_at)"
                " VALUES ($1, $2, $3) ON CONFLICT (subject_id) DO UPDATE SET"
                " preference = EXCLUDED.preference, updated_at = EXCLUDED.updated_at"
                " WHERE outreach_preferences.updated_at IS NULL OR EXCLUDED.updated_at IS NULL"
                " OR outreach_preferences.updated_at <= EXCLUDED.updated_at",
                [(c.subject_id, str(c.preference), c.updated_at) for c in kept],
            )
        if gone:
            await self.forget(gone)

    async def of(self, subject_id: str) -> OutreachPreference | None:
        """The subject's preference, if stated."""
        value = await self.conn.fetchval(
            "SELECT preference FROM outreach_preferences WHERE subject_id = $1", subject_id
        )
        return OutreachPreference(value) if value is not None else None

    async def forget(self, subject_ids: Sequence[str]) -> int:
        """Forget the subjects' preferences."""
        return await _count(
            self.conn,
            "DELETE FROM outreach_preferences WHERE subject_id = ANY($1::text[])",
            list(subject_ids),
        )


_CASE_WORK_COLUMNS = (
    "case_id, consent, consent_id, consent_expires_at, consent_answered_at, contact_channel,"
    " follow_up_at, resolutions, reopened"
)
_SAVE_CASE_WORK = (
    f"INSERT INTO case_work ({_CASE_WORK_COLUMNS})"  # noqa: S608 - constant column names
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (case_id) DO UPDATE SET"
    " consent = $2, consent_id = $3, consent_expires_at = $4, consent_answered_at = $5,"
    " contact_channel = $6, follow_up_at = $7, resolutions = $8, reopened = $9"
)


def _case_work(row: asyncpg.Record) -> CaseWork:
    channel = row["contact_channel"]
    return CaseWork(
        case_id=row["case_id"],
        consent=Consent(row["consent"]),
        consent_id=row["consent_id"],
        consent_expires_at=row["consent_expires_at"],
        consent_answered_at=row["consent_answered_at"],
        contact_channel=ContactChannel(channel) if channel else None,
        follow_up_at=row["follow_up_at"],
        resolutions=row["resolutions"],
        reopened=row["reopened"],
    )


def _observed(row: asyncpg.Record) -> ObservedCheckin:
    scores = shown_scores(_observation(row))  # a PHQ-2 only when asked on its own
    return ObservedCheckin(row["id"], row["at"], scores, row["note_shared"])


class PostgresCaseFiles(_Statements):
    """The ``case_work``, ``case_notes`` and ``subject_keys`` tables; observations' shared
    notes; the audit trail as a case's timeline."""

    async def get(self, case_id: str) -> CaseWork | None:
        """A case's working state, locked for this transaction."""
        row = await self.conn.fetchrow(
            f"SELECT {_CASE_WORK_COLUMNS} FROM case_work"  # noqa: S608 - constant columns
            " WHERE case_id = $1 FOR UPDATE",
            case_id,
        )
        return _case_work(row) if row else None

    async def by_consent(self, consent_id: str) -> CaseWork | None:
        """The working state of the case that asked ``consent_id``, locked."""
        row = await self.conn.fetchrow(
            f"SELECT {_CASE_WORK_COLUMNS} FROM case_work"  # noqa: S608 - constant columns
            " WHERE consent_id = $1 FOR UPDATE",
            consent_id,
        )
        return _case_work(row) if row else None

    async def save(self, work: CaseWork) -> None:
        """Insert or update a case's working state."""
        await self.conn.execute(
            _SAVE_CASE_WORK,
            work.case_id,
            work.consent.value,
            work.consent_id,
            work.consent_expires_at,
            work.consent_answered_at,
            work.contact_channel.value if work.contact_channel else None,
            work.follow_up_at,
            work.resolutions,
            work.reopened,
        )

    async def add_note(self, note: CaseNote) -> None:
        """Keep a sealed note."""
        await self.conn.execute(
            "INSERT INTO case_notes (id, case_id, kind, author, written_at, sealed)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            note.id,
            note.case_id,
            note.kind.value,
            note.author,
            note.written_at,
            note.sealed,
        )

    async def notes(self, case_id: str) -> list[CaseNote]:
        """A case's notes, oldest first."""
        rows = await self.conn.fetch(
            "SELECT id, case_id, kind, author, written_at, sealed FROM case_notes"
            " WHERE case_id = $1 ORDER BY written_at, id",
            case_id,
        )
        return [
            CaseNote(
                r["id"],
                r["case_id"],
                NoteKind(r["kind"]),
                r["author"],
                r["written_at"],
                bytes(r["sealed"]),
            )
            for r in rows
        ]

    async def subject_key(self, subject_id: str) -> SubjectKey | None:
        """A subject's wrapped data key."""
        row = await self.conn.fetchrow(
            "SELECT master_key_id, wrapped_key FROM subject_keys WHERE subject_id = $1",
            subject_id,
        )
        return SubjectKey(row["master_key_id"], bytes(row["wrapped_key"])) if row else None

    async def add_subject_key(self, subject_id: str, key: SubjectKey) -> SubjectKey:
        """Keep a new data key unless another replica kept one first; the one kept."""
        await self.conn.execute(
            "INSERT INTO subject_keys (subject_id, master_key_id, wrapped_key)"
            " VALUES ($1, $2, $3) ON CONFLICT (subject_id) DO NOTHING",
            subject_id,
            key.master_key_id,
            key.wrapped,
        )
        kept = await self.subject_key(subject_id)
        assert kept is not None  # inserted, or there already
        return kept

    async def share_notes(self, checkin_ids: Sequence[str]) -> None:
        """Mark the observed check-ins whose notes the person shared."""
        await self.conn.execute(
            "UPDATE observations SET note_shared = true WHERE id = ANY($1::text[])",
            list(checkin_ids),
        )

    async def checkins(self, checkin_ids: Sequence[str]) -> list[ObservedCheckin]:
        """The observed check-ins among ``checkin_ids``, oldest first."""
        rows = await self.conn.fetch(
            "SELECT id, at, mood, stress, energy, who5_raw, phq9_total, phq2_total,"
            " item9_positive, wants_contact, note_shared FROM observations"
            " WHERE id = ANY($1::text[]) ORDER BY at, id",
            list(checkin_ids),
        )
        return [_observed(row) for row in rows]

    async def timeline(self, case_id: str) -> list[TimelineEntry]:
        """The audit records about the case, oldest first."""
        rows = await self.conn.fetch(
            "SELECT at, action, actor, sequence FROM case_audit"
            " WHERE case_ids @> ARRAY[$1::text] ORDER BY seq",
            case_id,
        )
        return [TimelineEntry(r["at"], r["action"], r["actor"], r["sequence"]) for r in rows]

    async def forget_subjects(
        self, subject_ids: Sequence[str], case_ids: Sequence[str]
    ) -> dict[str, int]:
        """Shred the subjects' data keys, delete their cases' notes, forget their questions."""
        conn, subjects, cases = self.conn, list(subject_ids), list(case_ids)
        return {
            "subject_keys": await _count(
                conn, "DELETE FROM subject_keys WHERE subject_id = ANY($1::text[])", subjects
            ),
            "case_notes": await _count(
                conn, "DELETE FROM case_notes WHERE case_id = ANY($1::text[])", cases
            ),
            "consent_questions": await _count(
                conn,
                "UPDATE case_work SET consent_id = NULL WHERE case_id = ANY($1::text[])"
                " AND consent_id IS NOT NULL",
                cases,
            ),
        }

    async def forget_person(self, person_id: str) -> dict[str, int]:
        """Notes the person wrote name them no more."""
        return {
            "note_authors": await _count(
                self.conn,
                "UPDATE case_notes SET author = 'person:erased' WHERE author = 'person:' || $1",
                person_id,
            )
        }


# ---- erasure --------------------------------------------------------------------------------


async def _count(conn: Connection, sql: str, *args: Any) -> int:
    """Rows a DELETE or UPDATE touched."""
    status = await conn.execute(sql, *args)
    return int(status.rsplit(" ", 1)[-1])


_UNSENT_ABOUT = (
    "DELETE FROM outbox WHERE key = ANY($1::bytea[]) OR (value IS NOT NULL"
    " AND convert_from(value, 'UTF8')::jsonb ->> 'case_id' = ANY($2::text[]))"
)
"""Messages not sent yet: to the people named (record keys), or about the cases named."""


class PostgresErasure(_Statements):
    """What an erasure removes beyond the handlers' changes, and its progress."""

    async def forget_person(self, person_id: str) -> dict[str, int]:
        """Remove what is kept by ``person_id`` as staff and their id wherever they acted."""
        conn = self.conn
        return {
            "directory": await DirectoryProjection.forget(conn, person_id),
            "rest": await _count(
                conn, "DELETE FROM responder_rest WHERE person_id = $1", person_id
            ),
            "away": await _count(
                conn, "DELETE FROM responder_away WHERE person_id = $1", person_id
            ),
            # Records from before actors were named by kind ("resp-a") are covered too.
            "audit_actors": await _count(
                conn,
                "UPDATE case_audit SET actor = 'person:erased'"
                " WHERE actor = 'person:' || $1::text OR actor = $1",
                person_id,
            ),
            "alert_recipients": await _count(
                conn,
                "UPDATE alerts SET recipient_id = $2 WHERE recipient_id = $1",
                person_id,
                ERASED,
            ),
            "case_responders": await _count(
                conn, "UPDATE cases SET responder_id = NULL WHERE responder_id = $1", person_id
            ),
            "case_alerted": await _count(
                conn,
                "UPDATE cases SET alerted = array_remove(alerted, $1) WHERE $1 = ANY(alerted)",
                person_id,
            ),
            "unsent_messages": await _count(conn, _UNSENT_ABOUT, [person_id.encode()], []),
            "dead_letter_keys": await shred_dead_letters(conn, [person_id]),
            "calendar_feeds": await _count(
                conn,
                "DELETE FROM calendar_feeds WHERE owner = $1 OR (kind = 'person' AND subject = $1)",
                person_id,
            ),
        }

    async def forget_subjects(
        self, subject_ids: Sequence[str], case_ids: Sequence[str]
    ) -> dict[str, int]:
        """Remove what is kept by the subject ids and about their cases (their feedback
        stays: the cases are anonymised, and the programme's measures count it)."""
        conn, subjects, cases = self.conn, list(subject_ids), list(case_ids)
        return {
            "observations": await _count(
                conn, "DELETE FROM observations WHERE subject_id = ANY($1::text[])", subjects
            ),
            "signal_observations": await _count(
                conn,
                "DELETE FROM signal_observations WHERE subject_id = ANY($1::text[])",
                subjects,
            ),
            "case_evidence": await _count(
                conn, "DELETE FROM case_evidence WHERE case_id = ANY($1::text[])", cases
            ),
            "distress_marks": await _count(
                conn, "DELETE FROM distress_marks WHERE subject_id = ANY($1::text[])", subjects
            ),
            "self_care_marks": await _count(
                conn, "DELETE FROM self_care_sent WHERE subject_id = ANY($1::text[])", subjects
            ),
            "timers": await _count(
                conn,
                "DELETE FROM timers WHERE subject_id = ANY($1::text[])"
                " OR case_id = ANY($2::text[])",
                subjects,
                cases,
            ),
            "audit_subjects": await _count(
                conn,
                "UPDATE case_audit SET subject_ids = ARRAY(SELECT CASE WHEN s = ANY($1::text[])"
                " THEN $2 ELSE s END FROM unnest(subject_ids) AS s)"
                " WHERE subject_ids && $1::text[]",
                subjects,
                ERASED,
            ),
            "unsent_messages_about_them": await _count(
                conn, _UNSENT_ABOUT, [key.encode() for key in subjects + cases], cases
            ),
            "subject_dead_letter_keys": await shred_dead_letters(conn, subjects),
        }

    async def remember_erased(self, digests: Sequence[bytes], until: datetime) -> None:
        """Keep the digests of erased subject ids until ``until`` (the later time wins)."""
        await erased_ids.remember_erased(self.conn, digests, until)

    async def erased_among(self, digests: Sequence[bytes], now: datetime) -> set[bytes]:
        """Those of ``digests`` kept as erased and not expired at ``now``."""
        return await erased_ids.erased_among(self.conn, digests, now)

    async def remember_erased_people(
        self, digests: Sequence[bytes], erased_at: datetime, until: datetime
    ) -> None:
        """Keep the digests of erased person ids, with the erasure's time, until ``until``."""
        await erased_ids.remember_erased(self.conn, digests, until, erased_at=erased_at)

    async def erased_since(self, digests: Sequence[bytes], now: datetime) -> dict[bytes, datetime]:
        """Those of ``digests`` erased and not expired at ``now``, with the erasure's time."""
        return await erased_ids.erased_since(self.conn, digests, now)

    async def forget_erased(self, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` digests expired at ``now``."""
        return await erased_ids.forget_erased(self.conn, now, limit)

    async def erasure_done(
        self,
        erasure_id: str,
        stage: ErasureStage,
        removed: dict[str, int],
        *,
        receipts_topic: str,
        now: datetime,
    ) -> OutboxMessage | None:
        """Record a half of an erasure; the receipt once both are done."""
        return await note_done(
            self.conn,
            erasure_id,
            stage,
            removed,
            service="escalation",
            receipts_topic=receipts_topic,
            now=now,
        )


# ---- the unit of work -----------------------------------------------------------------------


class PostgresEscalationUnitOfWork(PoolTransaction):
    """One transaction of the escalation service (implements
    ``handlers.ports.EscalationUnitOfWork``)."""

    def __init__(self, pool: asyncpg.Pool, directory: DirectoryProjection) -> None:
        super().__init__(pool)
        self.observations = PostgresObservations(self)
        self.cases = PostgresCases(self)
        self.alerts = PostgresAlerts(self)
        self.timers = PostgresTimers(self)
        self.directory = PostgresDirectory(self, directory)
        self.workload = PostgresWorkload(self)
        self.support = PostgresSupport(self)
        self.preferences = PostgresPreferences(self)
        self.casework = PostgresCaseFiles(self)
        self.on_call = PostgresOnCall(self)
        self.erasure = PostgresErasure(self)
        self.evidence = PostgresCaseEvidence(self)
        self.feeds = PostgresCalendarFeeds(self)
        self.on_call_records = PostgresOnCallRecords(self)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction (a savepoint): an exception inside undoes only its work."""
        async with self.conn.transaction():
            yield

    async def first_time(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """Mark events processed by ``consumer``; returns the ids never seen before."""
        return await first_time(self.conn, consumer, event_ids)

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue messages in the outbox of this transaction."""
        await enqueue(self.conn, messages)
