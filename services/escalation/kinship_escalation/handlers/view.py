"""The responder's case view: a case that explains itself.

What fired (each rule, what a responder is told about it, its cited thresholds and the
check-ins it rests on), the rules version, the check-ins' dates and scores (never item
answers, never notes), whether a peer may reach out (consent) and whether the triggering
check-in's note may be shown, how the case is being worked, and its timeline (events and
audit records: what, who among staff or this service, when — never whom it concerns).
For the case's responder and coordinators; every read is audited.
"""

from dataclasses import dataclass

from kinship_escalation.domain.cases import StoredCase
from kinship_escalation.domain.casework import CaseWork, NoteKind, ObservedCheckin, TimelineEntry
from kinship_escalation.domain.rules import REASONS
from kinship_escalation.handlers.cases import read_case
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.outreach import work_of
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.handlers.reveal import shared_note_of


@dataclass(frozen=True)
class CitedThreshold:
    """A threshold a rule applied: its setting, the condition with its number, its source."""

    setting: str
    condition: str
    source: str


@dataclass(frozen=True)
class ExplainedRule:
    """A rule that fired for the case."""

    rule: str
    reason: str
    thresholds: tuple[CitedThreshold, ...]
    checkin_ids: tuple[str, ...]
    """The check-ins this rule rests on (all the case's when not recorded per rule)."""


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


async def explain(stored: StoredCase, uow: EscalationUnitOfWork) -> Explanation:
    """Why the case is open, from what the case itself keeps: its rules by name and the
    check-ins it rests on (their dates and scores).

    The adapter point for the detection side's explanation (``uow.evidence.explain``: the
    rules version, and per rule its cited thresholds and observations): until that is in,
    the version is not known and thresholds are not cited here.
    """
    case = stored.case
    checkins = tuple(await uow.casework.checkins(case.observation_ids))
    ids = tuple(checkin.id for checkin in checkins)
    rules = tuple(ExplainedRule(rule, REASONS.get(rule, rule), (), ids) for rule in case.rules)
    return Explanation(None, rules, checkins)


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
    )
