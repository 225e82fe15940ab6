"""Signals from other systems: critical incidents bring group support and follow-ups for
each person exposed (the person named, or every active member of the team named);
overtime, on-call load and absence feed detection (sustained load; absence after a low
trend counts like withdrawal); ``other`` signals are kept by no rule.

A signal names a person by their directory id, or a team (a load signal about a team counts
for each of its active people). Their subject ids come from the vault in one call for the
batch; an unreachable vault fails the batch, to be retried: never dropped. The call says
when each person's newest signal was produced, and the vault, which keeps erased person ids
with each erasure's time, refuses a person erased at or after it and says when it erased
each person asked about: a signal naming them produced at or before it is skipped (counted,
not dead-lettered), and a team's signal is acted on without them. This holds even while
this service's own erasure consumer lags (``handlers.erasure.skip_replayed`` already skips
what it has recorded), so the vault mints an erased person no new subject id for an event
from before their erasure. A signal produced after the erasure, or without a timestamp, is
acted on.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime

from kinship_contracts.signals import SignalKind, SignalSubmitted
from kinship_escalation.domain.observations import SignalObservation
from kinship_escalation.domain.rules import LOAD_KINDS
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import SubjectLoadSignal, handle_load_signals
from kinship_escalation.handlers.group_support import critical_incident
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.metrics import ERASED_SIGNALS_SKIPPED
from kinship_runtime.idempotency import first_seen
from kinship_runtime.vault import SubjectsAsOf, newest

FEEDS_DETECTION = LOAD_KINDS | {SignalKind.ABSENCE}
"""The signals detection keeps about a person."""


async def handle_signals(
    signals: Sequence[SignalSubmitted],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    produced_at: Mapping[str, datetime | None] | None = None,
) -> None:
    """Act on a batch of signals, in order, each once (a repeat, in the batch or later,
    changes nothing). ``produced_at`` (by signal id; from Kafka, None without a timestamp)
    lets the vault refuse people erased after a signal about them was produced."""
    signals = await first_seen(uow, "signals", signals)
    produced = produced_at or {}
    incidents = [s for s in signals if s.kind is SignalKind.CRITICAL_INCIDENT]
    loads = [s for s in signals if s.kind in FEEDS_DETECTION]
    concerned = await _concerned(incidents + loads, uow)
    answer = await _subjects(concerned, produced, ctx)
    skipped = {
        signal.id
        for signal in incidents + loads
        if signal.person_id is not None
        and answer.replayed(signal.person_id, produced.get(signal.id))
    }
    if skipped:
        ERASED_SIGNALS_SKIPPED.add(len(skipped), {"consumer": "signals"})
    subjects = answer.subjects

    def people(signal: SignalSubmitted) -> list[str]:
        """Who ``signal`` is about and has a subject id for it (none: skipped)."""
        if signal.id in skipped:
            return []
        at = produced.get(signal.id)
        named = concerned.get(signal.id, [])
        return [p for p in named if p in subjects and not answer.replayed(p, at)]

    for signal in incidents:
        if signal.id not in skipped:
            await critical_incident(signal, [subjects[p] for p in people(signal)], uow, ctx)
    load_signals: list[SubjectLoadSignal] = []
    for signal in loads:
        observation = SignalObservation(signal.kind, signal.severity, signal.occurred_at)
        for person_id in people(signal):
            team_id = signal.team_id or await uow.directory.team_of(person_id)
            load_signals.append((subjects[person_id], team_id, observation))
    await handle_load_signals(load_signals, uow, ctx)


async def _concerned(
    signals: Sequence[SignalSubmitted], uow: EscalationUnitOfWork
) -> dict[str, list[str]]:
    """Signal id -> the people it is about: the person named, or each member of the team."""
    concerned: dict[str, list[str]] = {}
    for signal in signals:
        if signal.person_id is not None:
            concerned[signal.id] = [signal.person_id]
        elif signal.team_id is not None:  # each member: load, or exposure follow-ups
            concerned[signal.id] = await uow.directory.members(signal.team_id)
    return concerned


async def _subjects(
    concerned: Mapping[str, list[str]],
    produced: Mapping[str, datetime | None],
    ctx: EscalationContext,
) -> SubjectsAsOf:
    """The vault's answer for everyone concerned, each dated by their newest signal."""
    people = sorted({person for named in concerned.values() for person in named})
    if not people:
        return SubjectsAsOf({})
    return await ctx.vault.subjects_as_of(people, newest(produced, concerned), purpose="signals")
