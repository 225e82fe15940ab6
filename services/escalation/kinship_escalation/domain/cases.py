"""The case aggregate: one open case per subject, a strict lifecycle, an event per transition."""

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from kinship_contracts.cases import CaseEvent, CaseEventKind, CaseOutcome, CaseStatus, Severity
from kinship_escalation.domain.policies import EscalationPolicy
from kinship_escalation.domain.rules import Evidence, strongest

ERASED = "erased"
"""What stands where an erased person's id was (an alert's recipient, an audit record's
subjects); a case's subject becomes ``erased:<random>`` (``erased_subject``)."""

_STAND_IN_BYTES = 16


def erased_subject() -> str:
    """A fresh stand-in for an erased person as the subject of their cases: random, stored
    nowhere else, one per subject id per erasure, so the programme's measures still count them
    as one distinct person, apart from every other erased person (decision 76)."""
    return f"{ERASED}:{secrets.token_hex(_STAND_IN_BYTES)}"


def is_erased(subject_id: str) -> bool:
    """Whether a case's subject is an erased person's stand-in (or ``erased``, as cases
    anonymised before stand-ins were kept)."""
    return subject_id == ERASED or subject_id.startswith(f"{ERASED}:")


class CaseNotFoundError(LookupError):
    """No case (or alert) with this id."""


class NotAllowedError(PermissionError):
    """The caller may not do this to the case."""


class LinkExpiredError(PermissionError):
    """An acknowledgement link that was valid once and has expired."""


class CaseTransitionError(Exception):
    """A transition the case's state does not allow; ``status`` tells where the case is."""

    def __init__(self, case_id: str, action: str, status: CaseStatus, hint: str) -> None:
        super().__init__(f"case {case_id} is {status.value}: cannot {action}; {hint}")
        self.case_id = case_id
        self.status = status


@dataclass
class Case:
    """A crisis-support case about one subject. Methods return the events they cause."""

    id: str
    subject_id: str
    team_id: str | None
    severity: Severity
    opened_at: datetime
    status: CaseStatus = CaseStatus.OPENED
    rules: list[str] = field(default_factory=list)
    observation_ids: list[str] = field(default_factory=list)
    step: int = 0
    attempt: int = 0
    responder_id: str | None = None
    assigned_at: datetime | None = None
    acknowledged_at: datetime | None = None
    contacted_at: datetime | None = None
    resolved_at: datetime | None = None
    outcome: CaseOutcome | None = None
    sequence: int = 0
    rules_version: str | None = None
    """The detection rules version that judged the latest evidence (None: an older case)."""

    @classmethod
    def open(
        cls,
        case_id: str,
        subject_id: str,
        team_id: str | None,
        evidence: list[Evidence],
        now: datetime,
        rules_version: str | None = None,
    ) -> tuple["Case", list[CaseEvent]]:
        """A new case from the evidence that fired (judged by ``rules_version``)."""
        case = cls(case_id, subject_id, team_id, strongest(evidence), now)
        case.rules_version = rules_version
        case._attach(evidence)
        fired = _rule_names(evidence)
        return case, [case._event(CaseEventKind.OPENED, now, evidence_rules=fired)]

    @property
    def is_open(self) -> bool:
        """Whether the case is not resolved yet."""
        return self.status is not CaseStatus.RESOLVED

    @property
    def awaiting_acknowledgement(self) -> bool:
        """Alerted and nobody has acknowledged yet."""
        return self.status in (CaseStatus.OPENED, CaseStatus.ASSIGNED)

    def add_evidence(
        self, evidence: list[Evidence], now: datetime, rules_version: str | None = None
    ) -> list[CaseEvent]:
        """Attach new evidence (judged by ``rules_version``); severity only rises. No event
        when nothing is new."""
        before = (self.severity, len(self.rules), len(self.observation_ids))
        self._attach(evidence)
        if (self.severity, len(self.rules), len(self.observation_ids)) == before:
            return []
        self.rules_version = rules_version or self.rules_version
        fired = _rule_names(evidence)
        return [self._event(CaseEventKind.EVIDENCE_ADDED, now, evidence_rules=fired)]

    def _attach(self, evidence: list[Evidence]) -> None:
        for item in evidence:
            if item.severity.rank > self.severity.rank:
                self.severity = item.severity
            if item.rule not in self.rules:
                self.rules.append(item.rule)
            for observation in item.observation_ids:
                if observation not in self.observation_ids:
                    self.observation_ids.append(observation)

    def assign(
        self, responder_id: str | None, step: int, attempt: int, now: datetime
    ) -> list[CaseEvent]:
        """Alert step ``step`` (assigning a responder, or None for a group of coordinators)."""
        self._require_awaiting("assign", "it was already acknowledged")
        escalated = self.step > 0 and step > self.step
        self.step, self.attempt = step, attempt
        self.responder_id = responder_id
        self.assigned_at = now
        self.status = CaseStatus.ASSIGNED
        kind = CaseEventKind.ESCALATED if escalated else CaseEventKind.ASSIGNED
        return [self._event(kind, now)]

    def acknowledge(self, by: str, now: datetime) -> list[CaseEvent]:
        """The alerted responder (or coordinator) takes the case."""
        self._require_awaiting("acknowledge", "it is already acknowledged")
        self.responder_id = by
        self.acknowledged_at = now
        self.status = CaseStatus.ACKNOWLEDGED
        return [self._event(CaseEventKind.ACKNOWLEDGED, now)]

    def contact(self, by: str, now: datetime, at: datetime | None = None) -> list[CaseEvent]:
        """The responder reached the person (first contact, at ``at``, by default now). A
        case handed on after first contact keeps the time of its first contact."""
        self.require_responder(by, "record contact")
        if self.status is not CaseStatus.ACKNOWLEDGED:
            raise CaseTransitionError(self.id, "record contact", self.status, "acknowledge first")
        self.contacted_at = self.contacted_at or at or now
        self.status = CaseStatus.CONTACTED
        return [self._event(CaseEventKind.CONTACTED, now)]

    def contact_overdue(self) -> None:
        """Acknowledged, but nobody reached the person in time: it awaits a new acknowledgement.

        The escalation to the next step that follows publishes the transition.
        """
        if self.status is not CaseStatus.ACKNOWLEDGED:
            raise CaseTransitionError(self.id, "escalate", self.status, "it is not waiting")
        self.status = CaseStatus.ASSIGNED
        self.acknowledged_at = None

    def hand_over(self, by: str, to: str | None, now: datetime) -> list[CaseEvent]:
        """The responder passes the case to another (``to``), or back to the rotation (None:
        whoever its policy alerts next); it awaits the new one's acknowledgement."""
        self.require_responder(by, "hand over")
        if self.status not in (CaseStatus.ACKNOWLEDGED, CaseStatus.CONTACTED):
            raise CaseTransitionError(self.id, "hand over", self.status, "acknowledge first")
        self.responder_id = to
        self.assigned_at = now
        self.acknowledged_at = None
        self.status = CaseStatus.ASSIGNED
        return [self._event(CaseEventKind.HANDED_OVER, now)]

    def resolve(self, by: str, outcome: CaseOutcome, now: datetime) -> list[CaseEvent]:
        """Close the case with its outcome."""
        self.require_responder(by, "resolve")
        if self.status not in (CaseStatus.ACKNOWLEDGED, CaseStatus.CONTACTED):
            raise CaseTransitionError(self.id, "resolve", self.status, "acknowledge first")
        self.resolved_at = now
        self.outcome = outcome
        self.status = CaseStatus.RESOLVED
        return [self._event(CaseEventKind.RESOLVED, now)]

    def responder_gone(self, now: datetime) -> list[CaseEvent]:
        """The responder left the programme (erased): the case awaits someone new.

        An acknowledged case goes back to waiting for an acknowledgement (a hand-over to
        nobody yet); a case only alerted to them just loses its responder.
        """
        if not self.is_open:
            raise CaseTransitionError(self.id, "release", self.status, "it is resolved")
        self.responder_id = None
        if self.status not in (CaseStatus.ACKNOWLEDGED, CaseStatus.CONTACTED):
            return []
        self.acknowledged_at = None
        self.assigned_at = now
        self.status = CaseStatus.ASSIGNED
        return [self._event(CaseEventKind.HANDED_OVER, now)]

    def forget_subject(self, now: datetime, stand_in: str) -> None:
        """The person the case is about was erased: an open case is closed (with no event:
        nobody is alerted or told), and nothing is left that leads back to them (team, the
        check-ins it rested on; the subject becomes ``stand_in``, from ``erased_subject``,
        the same for all their cases). Timings, rules, steps, outcome and feedback stay,
        unlinked, for the programme's measures."""
        if self.is_open:
            self.status = CaseStatus.RESOLVED
            self.resolved_at = now
        self.subject_id = stand_in
        self.team_id = None
        self.observation_ids = []

    def feedback(self, score: int, given_by: str, now: datetime) -> list[CaseEvent]:
        """Feedback after resolution, from the person or the responder (a 1-5 score)."""
        if self.status is not CaseStatus.RESOLVED:
            raise CaseTransitionError(self.id, "take feedback", self.status, "resolve first")
        if is_erased(self.subject_id):  # its facts are anonymised in every service: a new
            # one would carry this case's id to recognition next to the stand-in (review 4)
            raise CaseTransitionError(
                self.id, "take feedback", self.status, "its person was erased"
            )
        return [self._event(CaseEventKind.FEEDBACK_RECEIVED, now, score, given_by)]

    def follow_up_due(self, now: datetime) -> list[CaseEvent]:
        """The scheduled follow-up after resolution has come."""
        return [self._event(CaseEventKind.FOLLOW_UP_DUE, now)]

    def record(self, kind: CaseEventKind, now: datetime) -> list[CaseEvent]:
        """An event about the case that does not move it along its lifecycle (a consent
        question or answer, a reveal, a note, a planned follow-up, an unanswered page)."""
        return [self._event(kind, now)]

    def close_for_person(self, outcome: CaseOutcome, now: datetime) -> list[CaseEvent]:
        """The person declined outreach, or never answered whether a peer may reach out: the
        case closes with ``outcome`` whoever holds it (nobody may reach out)."""
        if not self.is_open:
            raise CaseTransitionError(self.id, "close", self.status, "it is resolved already")
        self.resolved_at = now
        self.outcome = outcome
        self.status = CaseStatus.RESOLVED
        return [self._event(CaseEventKind.RESOLVED, now)]

    def reopen(self, by: str, now: datetime) -> list[CaseEvent]:
        """A resolved case is opened again by ``by``, who holds it (acknowledged) from now."""
        if self.is_open:
            raise CaseTransitionError(self.id, "re-open", self.status, "it is open")
        if is_erased(self.subject_id):
            raise CaseTransitionError(self.id, "re-open", self.status, "its person was erased")
        self.status = CaseStatus.ACKNOWLEDGED
        self.responder_id = by
        self.acknowledged_at = now
        self.resolved_at = None
        self.outcome = None
        return [self._event(CaseEventKind.REOPENED, now)]

    def _require_awaiting(self, action: str, hint: str) -> None:
        if not self.awaiting_acknowledgement:
            raise CaseTransitionError(self.id, action, self.status, hint)

    def require_responder(self, by: str, action: str) -> None:
        """Only the assigned responder may ``action``: checked before anything about the
        case's state is said, so that nobody else learns it from the refusal."""
        if by != self.responder_id:
            raise NotAllowedError(f"only the case's assigned responder can {action}")

    def _event(
        self,
        kind: CaseEventKind,
        now: datetime,
        score: int | None = None,
        given_by: str | None = None,
        evidence_rules: list[str] | None = None,
    ) -> CaseEvent:
        self.sequence += 1
        return CaseEvent(
            id=f"{self.id}:{self.sequence}",
            case_id=self.id,
            sequence=self.sequence,
            kind=kind,
            occurred_at=now,
            subject_id=self.subject_id,
            team_id=self.team_id,
            status=self.status,
            severity=self.severity,
            rules=list(self.rules),
            step=self.step or None,
            responder_id=self.responder_id,
            outcome=self.outcome,
            feedback_score=score,
            feedback_from=given_by,
            rules_version=self.rules_version,
            evidence_rules=evidence_rules,
        )


def _rule_names(evidence: list[Evidence]) -> list[str]:
    """The rules of ``evidence``, each once, in order."""
    return list(dict.fromkeys(item.rule for item in evidence))


@dataclass
class StoredCase:
    """A case with the escalation policy it was opened with, and who was alerted in this
    escalation round (a responder step never alerts them again)."""

    case: Case
    policy: EscalationPolicy
    alerted: list[str] = field(default_factory=list)

    def alert(self, people: list[str]) -> None:
        """Remember that ``people`` were alerted (each once, in order)."""
        self.alerted = [*self.alerted, *(p for p in people if p not in self.alerted)]

    def may_acknowledge(self, person_id: str) -> bool:
        """Whether ``person_id`` was alerted for this case or is its responder."""
        return person_id in self.alerted or person_id == self.case.responder_id


@dataclass(frozen=True)
class AuditRecord:
    """One entry of the case audit trail.

    ``actor`` is the real caller (``person:<id>`` for a responder or coordinator,
    ``system:<name>``) or a part of this service (``detection``, ``escalation``, ``timer``,
    ``erasure``), or ``subject`` when the person the case is about acted (never named by id
    here: that would link them to their pseudonym). Whom the action concerns is kept apart:
    the cases' subject ids. A list read is one record naming every case it returned.
    """

    action: str
    actor: str
    case_ids: tuple[str, ...]
    subject_ids: tuple[str, ...]
    sequence: int | None = None
    at: datetime | None = field(default=None, compare=False)
    """When (the database's time when None)."""
    outcome: str | None = field(default=None, compare=False)
    """A resolution's outcome (the programme's measures count each resolution in its week,
    even when the case is reopened later)."""

    @classmethod
    def of(
        cls,
        case: Case,
        action: str,
        actor: str,
        sequence: int | None = None,
        at: datetime | None = None,
    ) -> "AuditRecord":
        """An entry about one case (a resolution: with its outcome)."""
        outcome = case.outcome.value if action == "resolved" and case.outcome else None
        return cls(action, actor, (case.id,), (case.subject_id,), sequence, at, outcome)

    @classmethod
    def listing(cls, cases: list[Case], actor: str) -> "AuditRecord":
        """One entry for a read of several cases."""
        return cls(
            "list",
            actor,
            tuple(c.id for c in cases),
            tuple(dict.fromkeys(c.subject_id for c in cases)),
        )


@dataclass(frozen=True)
class AuditFilter:
    """What a coordinator asks of the audit trail: records about one case, by one actor,
    of one action (each None: any), older than the ``before`` cursor (a record's ``seq``)."""

    case_id: str | None = None
    actor: str | None = None
    action: str | None = None
    before: int | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One audit record as the audit log shows it: when, what, who, about which case (one
    case's id; a list read names none, only how many cases it returned). Never whom it
    concerns, never what was written."""

    seq: int
    at: datetime | None
    action: str
    actor: str
    case_id: str | None
    cases: int
    """How many cases the record is about (0 for configuration changes and audit reads)."""


class AlertPurpose(StrEnum):
    """Why an alert was sent to someone about a case."""

    PAGE = "page"
    """A step of the case's escalation policy."""
    UNANSWERED = "unanswered"
    """Every step was spent unacknowledged: coordinators are paged, and reminded."""
    CRITICAL = "critical"
    """The case rose to critical while its responder held it."""
    UPDATE = "update"
    """The case's severity rose (below critical) while its responder held it."""
    FOLLOW_UP = "follow_up"
    """The responder's planned follow-up came."""


@dataclass(frozen=True)
class AlertRecord:
    """An alert sent for a case's step and attempt, with its one-time link's use."""

    id: str
    case_id: str
    recipient_id: str
    step: int
    attempt: int
    link_used_at: datetime | None = None
    purpose: AlertPurpose = AlertPurpose.PAGE
    """Why it was sent; only pages move a case on when they all fail."""
