"""The responder's case view: a case that explains itself.

What fired (each rule, what a responder is told about it, its cited thresholds and the
check-ins it rests on), the rules version, the check-ins' dates and scores (never item
answers, never notes), whether a peer may reach out (consent) and whether the triggering
check-in's note may be shown, how the case is being worked, and its timeline (events and
audit records: what, who among staff or this service, when — never whom it concerns).
For the case's responder and coordinators; every read is audited.
"""

from dataclasses import dataclass, field
from datetime import datetime

from kinship_contracts.cases import Severity
from kinship_escalation.domain.cases import StoredCase
from kinship_escalation.domain.casework import CaseWork, NoteKind, ObservedCheckin, TimelineEntry
from kinship_escalation.domain.evidence import ObservedFacts, Threshold
from kinship_escalation.domain.explanations import FiredRule
from kinship_escalation.domain.rules import REASONS
from kinship_escalation.domain.timers import CaseDeadlines
from kinship_escalation.handlers.cases import deadlines_of, read_case
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.outreach import work_of
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.handlers.reveal import shared_note_of


@dataclass(frozen=True)
class ExplainedRule:
    """A rule that fired for the case."""

    rule: str
    reason: str
    severity: Severity | None
    """The highest severity it asked for (None: not recorded for this case)."""
    thresholds: tuple[Threshold, ...]
    """Its cited thresholds: setting, condition with the configured number, source."""
    checkin_ids: tuple[str, ...]
    """The check-ins this rule rests on (all the case's when not recorded per rule)."""
    observations: tuple[ObservedFacts, ...]
    """Everything it rests on, oldest first: check-ins by id and load signals by kind, with
    their dates and the scores that mattered."""
    first_fired_at: datetime | None
    last_fired_at: datetime | None


@dataclass(frozen=True)
class Explanation:
    """Why the case is open."""

    rules_version: str | None
    """The detection rules version that judged it (None: not recorded for this case)."""
    rules: tuple[ExplainedRule, ...]
    checkins: tuple[ObservedCheckin, ...]
    """The check-ins the case rests on, oldest first: dates and scores."""


@dataclass(frozen=True)
class CaseDetail:
    """Everything the case view shows."""

    stored: StoredCase
    work: CaseWork
    explanation: Explanation
    note_may_be_shown: bool
    safety_plan_recorded: bool
    notes: int
    timeline: list[TimelineEntry]
    deadlines: CaseDeadlines = field(default_factory=CaseDeadlines)
    """When the current wait ends (acknowledge by, first contact by), from its timers."""


async def explain(stored: StoredCase, uow: EscalationUnitOfWork) -> Explanation:
    """Why the case is open: the evidence detection kept (``uow.evidence.explain``: the rules
    version, and per rule its severity, cited thresholds and observations), and the check-ins
    the case rests on with their dates and scores. A case opened before evidence was kept
    (an upgrade) is explained by its rules' names and all its check-ins."""
    case = stored.case
    checkins = tuple(await uow.casework.checkins(case.observation_ids))
    kept = await uow.evidence.explain(case.id)
    fired = kept.rules if kept is not None else ()
    rules = tuple(_explained(rule) for rule in fired)
    recorded = {rule.rule for rule in fired}
    ids = tuple(checkin.id for checkin in checkins)
    rules += tuple(
        ExplainedRule(rule, REASONS.get(rule, rule), None, (), ids, (), None, None)
        for rule in case.rules
        if rule not in recorded
    )
    version = kept.rules_version if kept is not None else None
    return Explanation(version or case.rules_version, rules, checkins)


def _explained(fired: FiredRule) -> ExplainedRule:
    return ExplainedRule(
        rule=fired.rule,
        reason=fired.reason,
        severity=fired.severity,
        thresholds=fired.thresholds,
        checkin_ids=tuple(o.checkin_id for o in fired.observations if o.checkin_id is not None),
        observations=fired.observations,
        first_fired_at=fired.first_fired_at,
        last_fired_at=fired.last_fired_at,
    )


async def view_case(
    case_id: str,
    reader: str,
    coordinator: bool,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> CaseDetail:
    """The case view, for its responder or a coordinator (the read is audited)."""
    stored = await read_case(case_id, reader, coordinator, uow, ctx.clock())
    work = await work_of(stored, uow)
    shared = await shared_note_of(stored.case, uow) is not None
    notes = await uow.casework.notes(case_id)
    return CaseDetail(
        stored=stored,
        work=work,
        explanation=await explain(stored, uow),
        note_may_be_shown=shared and work.consent.allows_outreach,
        safety_plan_recorded=any(note.kind is NoteKind.SAFETY_PLAN for note in notes),
        notes=sum(note.kind is not NoteKind.SAFETY_PLAN for note in notes),
        timeline=await uow.casework.timeline(case_id),
        deadlines=(await deadlines_of([stored], uow))[0],
    )
