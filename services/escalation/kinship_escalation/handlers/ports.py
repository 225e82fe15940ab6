"""The ports of the escalation handlers: persistence as one unit of work (a transaction), its
operations grouped by what they keep (observations, cases, alerts, timers, …), and the
check-in service's vault."""

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

from kinship_contracts.directory import DirectoryChange, OutreachPreference
from kinship_contracts.privacy import ErasureStage
from kinship_escalation.domain.cases import (
    AlertRecord,
    AuditEntry,
    AuditFilter,
    AuditRecord,
    StoredCase,
)
from kinship_escalation.domain.casework import (
    CaseNote,
    CaseWork,
    ObservedCheckin,
    PreferenceChange,
    TimelineEntry,
)
from kinship_escalation.domain.explanations import CaseExplanation, RecordedEvidence
from kinship_escalation.domain.observations import CheckinObservation, SignalObservation
from kinship_escalation.domain.policies import (
    EscalationPolicy,
    OnCallRotation,
    ResponderLoad,
    StaffMember,
)
from kinship_escalation.domain.programme import Fact, WeekMeasures
from kinship_escalation.domain.schedules.model import Schedule
from kinship_escalation.domain.sealing import SubjectKey
from kinship_escalation.domain.timers import Timer
from kinship_runtime.outbox import OutboxMessage
from kinship_runtime.unit_of_work import UnitOfWork
from kinship_runtime.vault import SubjectsAsOf

SubjectObservation = tuple[str, str | None, CheckinObservation]
"""(subject id, team id, observation)."""

SubjectSignal = tuple[str, SignalObservation]
"""(subject id, load signal)."""


class Vault(Protocol):
    """The check-in service's vault, the only place that links people to subject ids
    (``kinship_runtime.vault.VaultClient``). An unreachable vault raises an ``OSError``."""

    async def subjects(
        self, person_ids: Sequence[str], *, create: bool = True, purpose: str = "unstated"
    ) -> dict[str, str]:
        """Each person's subject id (one-way; with ``create=False``, only people who have one)."""
        ...

    async def subjects_as_of(
        self,
        person_ids: Sequence[str],
        produced_at: Mapping[str, datetime],
        *,
        purpose: str = "unstated",
    ) -> SubjectsAsOf:
        """Each person's subject id, but for people the vault erased at or after the newest
        record naming them (``produced_at``, by person); says when it erased each."""
        ...

    async def erasure_subjects(self, erasure_id: str) -> list[str] | None:
        """The subject ids of an open erasure (None once it is closed)."""
        ...

    async def conflicts(
        self, subject_id: str, person_ids: Sequence[str], *, purpose: str = "unstated"
    ) -> list[str]:
        """Those of ``person_ids`` who are the subject ``subject_id``."""
        ...


class Observations(Protocol):
    """What detection has seen of each subject."""

    async def add(self, observations: Sequence[SubjectObservation]) -> set[str]:
        """Store observations; returns the ids that were new (the check-ins' idempotency)."""
        ...

    async def histories(
        self, subject_ids: Sequence[str], since: datetime
    ) -> dict[str, list[CheckinObservation]]:
        """Each subject's observations since ``since`` (all of them: the rules bound what
        they use), oldest first by (time, id)."""
        ...

    async def serialise(self, subject_ids: Sequence[str]) -> None:
        """Hold each subject's detection lock until the unit of work ends, so that detection
        about one subject runs one transaction at a time (check-ins, signals and the
        withdrawal watch arrive on different consumers and the timer worker) and each sees
        what the one before it stored."""
        ...

    async def add_signals(self, signals: Sequence[SubjectSignal]) -> None:
        """Store load signals about subjects (each signal event is handled once)."""
        ...

    async def signal_histories(
        self, subject_ids: Sequence[str], since: datetime
    ) -> dict[str, list[SignalObservation]]:
        """Each subject's load signals since ``since``, oldest first."""
        ...


class CaseEvidence(Protocol):
    """What each case's rules rested on: kept per rule and observation as it accumulates."""

    async def record(self, case_id: str, entries: Sequence[RecordedEvidence]) -> None:
        """Keep new evidence for a case (an entry for a rule and observation already kept
        is ignored: the first one stays)."""
        ...

    async def explain(self, case_id: str) -> CaseExplanation | None:
        """Why a case is open: its rules version, each rule that fired, its thresholds and
        observations (None when there is no such case)."""
        ...


class Cases(Protocol):
    """Cases, their audit trail and the feedback on them."""

    async def open_case_of(self, subject_id: str) -> StoredCase | None:
        """The subject's open case, locked for this unit of work."""
        ...

    async def get(self, case_id: str) -> StoredCase | None:
        """A case by id, locked for this unit of work."""
        ...

    async def assigned_to(self, responder_id: str | None, open_only: bool) -> list[StoredCase]:
        """Cases assigned to ``responder_id`` (all cases when None), newest first."""
        ...

    async def about(self, subject_ids: Sequence[str]) -> list[StoredCase]:
        """Every case (open or resolved) about any of ``subject_ids``, locked."""
        ...

    async def following_person(self, person_id: str) -> list[StoredCase]:
        """Cases whose policy has a step naming ``person_id`` (in either stored form), locked."""
        ...

    async def save(self, stored: StoredCase) -> None:
        """Insert or update a case (at most one open case per subject)."""
        ...

    async def audit(self, record: AuditRecord) -> None:
        """Append to the audit trail (transitions, reads, grants)."""
        ...

    async def audit_log(self, query: AuditFilter, limit: int) -> list[AuditEntry]:
        """Audit records matching ``query``, newest first (by ``seq``), at most ``limit``."""
        ...

    async def save_feedback(self, case_id: str, given_by: str, score: int, at: datetime) -> bool:
        """Store feedback once per case and giver; False when already given."""
        ...

    async def programme_facts(self, start: datetime, end: datetime) -> list[Fact]:
        """Facts recorded from ``start`` up to ``end`` (``domain.programme``), each at the time
        this service recorded it."""
        ...

    async def released_weeks(self, start: date, end: date) -> dict[date, WeekMeasures]:
        """The closed weeks already served (their Mondays from ``start`` up to ``end``), as
        first served."""
        ...

    async def release_weeks(self, weeks: Sequence[WeekMeasures], at: datetime) -> None:
        """Store closed weeks' figures as served at ``at``; a week already stored is kept."""
        ...


class Alerts(Protocol):
    """Alerts sent for case steps."""

    async def add(self, alert: AlertRecord, sent_at: datetime) -> None:
        """Record an alert sent."""
        ...

    async def get(self, alert_id: str) -> AlertRecord | None:
        """An alert by id, locked for this unit of work."""
        ...

    async def use_link(self, alert_id: str, now: datetime) -> None:
        """Spend an alert's one-time link."""
        ...

    async def mark_failed(self, alert_id: str, now: datetime) -> None:
        """Note that the alert could not be delivered."""
        ...

    async def all_failed(self, case_id: str, step: int, attempt: int) -> bool:
        """Whether every alert of a case's step and attempt failed to be delivered."""
        ...


class Timers(Protocol):
    """Durable timers."""

    async def schedule(self, timer: Timer, *, replace: bool = False) -> None:
        """Create a timer; a timer with the same id is kept, or with ``replace`` moved to
        the new time and payload (and armed again if it had fired)."""
        ...

    async def rearm(self, timers: Sequence[Timer]) -> None:
        """Create each timer, or move the one with its id to its time and payload and arm it
        again (``schedule(..., replace=True)`` for many, in one statement; the last of one
        id wins)."""
        ...

    async def cancel(self, timer_ids: Sequence[str]) -> None:
        """Drop timers that have not fired."""
        ...

    async def claim_due(self, now: datetime, limit: int) -> list[Timer]:
        """Timers due at ``now``, oldest first, marked fired in this unit of work (other
        replicas skip them; a rollback releases them)."""
        ...

    async def retry_at(self, timer_id: str, due_at: datetime) -> None:
        """Arm a claimed timer again for ``due_at``."""
        ...

    async def pending_of(self, case_ids: Sequence[str]) -> dict[str, list[Timer]]:
        """The timers of these cases that have not fired, by case id."""
        ...


class Directory(Protocol):
    """The service's view of the organisation directory."""

    async def apply(self, changes: Sequence[DirectoryChange]) -> None:
        """Apply directory changes (the last per person wins; ``None`` removes)."""
        ...

    async def staff(self) -> list[StaffMember]:
        """Active peer responders and coordinators, ordered by person_id."""
        ...

    async def person(self, person_id: str) -> StaffMember | None:
        """An active directory person (any role)."""
        ...

    async def team_of(self, person_id: str) -> str | None:
        """A person's team, as the directory knows it."""
        ...

    async def members(self, team_id: str) -> list[str]:
        """The active people of a team (any role), by person_id."""
        ...


class Workload(Protocol):
    """How busy responders are."""

    async def loads(self, now: datetime) -> dict[str, ResponderLoad]:
        """Open cases, rest owed and away until, per active responder (and anyone else
        away at ``now``)."""
        ...

    async def rest(self, person_id: str, until: datetime) -> None:
        """Give a responder rest until ``until`` (rest already owed is never shortened)."""
        ...

    async def away_until(self, person_id: str) -> datetime | None:
        """When the person said they are away until (None: not said, or back)."""
        ...

    async def set_away(self, person_id: str, until: datetime) -> None:
        """Record that the person is away until ``until`` (replacing what they said)."""
        ...

    async def end_away(self, person_id: str) -> bool:
        """The person is back now; whether they had said they were away."""
        ...


class Support(Protocol):
    """Support offered beyond cases: team distress, group sessions, self-care messages."""

    async def mark_distress(self, team_id: str, subject_id: str, at: datetime) -> None:
        """Remember that a team member was in distress (for team clusters)."""
        ...

    async def team_distress(self, team_id: str, since: datetime) -> list[tuple[str, datetime]]:
        """A team's distress marks since ``since``: (subject id, when)."""
        ...

    async def record_group_offer(
        self, offer_id: str, team_id: str, reason: str, kind: str, now: datetime
    ) -> bool:
        """Record a group-session offer; False when this offer was already made."""
        ...

    async def last_group_offer(self, team_id: str, reason: str) -> datetime | None:
        """When a team last got an offer for ``reason``."""
        ...

    async def self_care_due(self, subject_id: str, now: datetime, every_days: int) -> bool:
        """Claim the subject's self-care message unless one went out in ``every_days``."""
        ...


class Preferences(Protocol):
    """People's outreach preferences, by subject id (``privacy.outreach.preferences``, kept
    by the check-in service; this service only applies them)."""

    async def apply(self, changes: Sequence[PreferenceChange]) -> None:
        """Keep each subject's latest preference (a newer one wins; None forgets)."""
        ...

    async def of(self, subject_id: str) -> OutreachPreference | None:
        """The subject's preference, None when never stated (the default applies)."""
        ...

    async def forget(self, subject_ids: Sequence[str]) -> int:
        """Forget the subjects' preferences (erasure); how many there were."""
        ...


class CaseFiles(Protocol):
    """Working a case: consent, contact, planned follow-ups, private notes sealed under each
    subject's data key, and what a case's view shows (its check-ins, its timeline)."""

    async def get(self, case_id: str) -> CaseWork | None:
        """A case's working state, locked for this unit of work (None before it had one)."""
        ...

    async def by_consent(self, consent_id: str) -> CaseWork | None:
        """The case asked the consent question ``consent_id``, locked."""
        ...

    async def save(self, work: CaseWork) -> None:
        """Insert or update a case's working state (its case is saved already)."""
        ...

    async def add_note(self, note: CaseNote) -> None:
        """Keep a sealed note."""
        ...

    async def notes(self, case_id: str) -> list[CaseNote]:
        """A case's notes, oldest first."""
        ...

    async def subject_key(self, subject_id: str) -> SubjectKey | None:
        """A subject's wrapped data key, if any."""
        ...

    async def add_subject_key(self, subject_id: str, key: SubjectKey) -> SubjectKey:
        """Keep a new data key for the subject; the one kept (another replica's may win)."""
        ...

    async def share_notes(self, checkin_ids: Sequence[str]) -> None:
        """Remember that the person shared the notes of these (observed) check-ins."""
        ...

    async def checkins(self, checkin_ids: Sequence[str]) -> list[ObservedCheckin]:
        """The observed check-ins among ``checkin_ids``, oldest first."""
        ...

    async def timeline(self, case_id: str) -> list[TimelineEntry]:
        """A case's audit records, oldest first (reads of lists naming it included)."""
        ...

    async def forget_subjects(
        self, subject_ids: Sequence[str], case_ids: Sequence[str]
    ) -> dict[str, int]:
        """Erasure: shred the subjects' data keys, delete the cases' notes and forget their
        consent questions; counts by kind."""
        ...

    async def forget_person(self, person_id: str) -> dict[str, int]:
        """Erasure: notes the person wrote as a responder name them no more; counts."""
        ...


class OnCall(Protocol):
    """Rotations and escalation policies, as coordinators configure them."""

    async def rotation(self, name: str) -> OnCallRotation | None:
        """A stored rotation."""
        ...

    async def rotations(self) -> list[OnCallRotation]:
        """Every rotation, by name."""
        ...

    async def save_rotation(self, rotation: OnCallRotation) -> None:
        """Create or replace a rotation."""
        ...

    async def delete_rotation(self, name: str) -> None:
        """Remove a rotation."""
        ...

    async def policies(self) -> list[EscalationPolicy]:
        """Every stored escalation policy, by name."""
        ...

    async def policy(self, name: str = "default") -> EscalationPolicy | None:
        """A stored escalation policy."""
        ...

    async def save_policy(self, policy: EscalationPolicy) -> None:
        """Create or replace an escalation policy."""
        ...

    async def delete_policy(self, name: str) -> bool:
        """Remove an escalation policy; whether there was one."""
        ...

    async def schedule(self, name: str) -> Schedule | None:
        """A stored on-call schedule."""
        ...

    async def schedules(self) -> list[Schedule]:
        """Every on-call schedule, by name."""
        ...

    async def save_schedule(self, schedule: Schedule) -> None:
        """Create or replace an on-call schedule."""
        ...

    async def delete_schedule(self, name: str) -> bool:
        """Remove an on-call schedule; whether there was one."""
        ...


FeedKind = Literal["schedule", "person"]
"""A calendar feed of one schedule, or of one person's shifts in every schedule."""


@dataclass(frozen=True)
class CalendarFeed:
    """A secret calendar URL: only the SHA-256 of its token is kept, never the token."""

    token_hash: str
    kind: FeedKind
    subject: str
    """The schedule's name, or the person's id."""
    owner: str
    """The person who asked for it (each person has their own URL, rotated on its own)."""
    created_at: datetime


class CalendarFeeds(Protocol):
    """The secret URLs of calendar feeds, by the hash of their token."""

    async def replace(self, feed: CalendarFeed) -> None:
        """Keep ``feed`` in place of its owner's feed of the same kind and subject (whose URL
        then stops working)."""
        ...

    async def by_hash(self, token_hash: str) -> CalendarFeed | None:
        """The feed whose token hashes to ``token_hash``."""
        ...

    async def revoke(self, kind: FeedKind, subject: str, owner: str) -> bool:
        """Drop the owner's feed of that kind and subject; whether there was one."""
        ...

    async def of_owner(self, owner: str) -> list[CalendarFeed]:
        """The feeds a person asked for, by kind and subject."""
        ...


class OnCallRecords(Protocol):
    """What the on-call API reads beyond its configuration (pages, cases taken, people's
    zones), and the lock that serialises edits of one schedule."""

    async def pages(self, start: datetime, end: datetime) -> dict[str, list[datetime]]:
        """When each person was alerted (not counting alerts that failed) in the period."""
        ...

    async def cases_taken(self, start: datetime, end: datetime) -> dict[str, list[datetime]]:
        """When each responder acknowledged the cases they hold, in the period."""
        ...

    async def time_zones(self, person_ids: Sequence[str]) -> dict[str, str]:
        """The directory's time zone of each of ``person_ids`` it knows."""
        ...

    async def serialise_schedule(self, name: str) -> None:
        """Hold the schedule's edit lock until the unit of work ends (two coordinators adding
        overrides at once both keep theirs)."""
        ...


class Erasure(Protocol):
    """Forgetting people: what an erasure removes beyond what the handlers change through
    the other groups, and its progress."""

    async def forget_person(self, person_id: str) -> dict[str, int]:
        """Remove what is kept by the person's id as staff (directory row, rest, away, dead
        letters, messages not sent yet) and their id wherever they acted (audit actors,
        alert recipients, cases' responders and alerted lists); counts by kind."""
        ...

    async def forget_subjects(
        self, subject_ids: Sequence[str], case_ids: Sequence[str]
    ) -> dict[str, int]:
        """Remove what is kept by the subject ids (observations, distress and self-care
        marks, timers, dead letters, messages not sent yet) and about their cases (timers,
        the subjects in audit records; their feedback stays, counted by the programme's
        measures under the anonymised case); counts by kind."""
        ...

    async def remember_erased(self, digests: Sequence[bytes], until: datetime) -> None:
        """Keep the digests of erased subject ids (``kinship_runtime.erased_ids``) until
        ``until`` (a digest kept already keeps the later of its two times)."""
        ...

    async def erased_among(self, digests: Sequence[bytes], now: datetime) -> set[bytes]:
        """Those of ``digests`` kept as erased and not expired at ``now``."""
        ...

    async def remember_erased_people(
        self, digests: Sequence[bytes], erased_at: datetime, until: datetime
    ) -> None:
        """Keep the digests of erased person ids (``ErasedIds(kind="person")``) with the
        erasure's time until ``until`` (a digest kept already keeps the later of each time);
        first in the erasure's transaction (takes the lock that batches checking wait for)."""
        ...

    async def erased_since(self, digests: Sequence[bytes], now: datetime) -> dict[bytes, datetime]:
        """Those of ``digests`` (of person ids) erased and not expired at ``now``, with when
        each person was (last) erased; first in a batch's transaction (waits for an erasure
        in progress)."""
        ...

    async def forget_erased(self, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` digests (of either kind) expired at ``now``; how many went."""
        ...

    async def erasure_done(
        self,
        erasure_id: str,
        stage: ErasureStage,
        removed: dict[str, int],
        *,
        receipts_topic: str,
        now: datetime,
    ) -> OutboxMessage | None:
        """Record that a half of an erasure is done; the receipt once both halves are."""
        ...


class EscalationUnitOfWork(UnitOfWork, Protocol):
    """One transaction of the escalation service: entered with ``async with``, committed on
    a clean exit and rolled back on an exception."""

    @property
    def observations(self) -> Observations: ...

    @property
    def cases(self) -> Cases: ...

    @property
    def alerts(self) -> Alerts: ...

    @property
    def timers(self) -> Timers: ...

    @property
    def directory(self) -> Directory: ...

    @property
    def workload(self) -> Workload: ...

    @property
    def support(self) -> Support: ...

    @property
    def preferences(self) -> Preferences: ...

    @property
    def casework(self) -> CaseFiles: ...

    @property
    def on_call(self) -> OnCall: ...

    @property
    def erasure(self) -> Erasure: ...

    @property
    def evidence(self) -> CaseEvidence: ...

    @property
    def feeds(self) -> CalendarFeeds: ...

    @property
    def on_call_records(self) -> OnCallRecords: ...

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A nested transaction: an exception inside undoes only what was done inside."""
        ...

    async def first_time(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """Mark events processed by ``consumer``; returns the ids never seen before."""
        ...

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue messages in the outbox of this transaction."""
        ...
