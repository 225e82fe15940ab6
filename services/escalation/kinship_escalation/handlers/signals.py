"""Signals from other systems: critical incidents bring group support and follow-ups for
each person exposed (the person named, or every active member of the team named);
overtime, on-call load and absence feed detection (sustained load; absence after a low
trend counts like withdrawal); ``other`` signals are kept by no rule.

A signal names a person by their directory id, or a team (a load signal about a team counts
for each of its active people). Their subject ids come from the vault in one call for the
batch; an unreachable vault fails the batch, to be retried: never dropped.
"""

from collections.abc import Sequence

from kinship_contracts.signals import SignalKind, SignalSubmitted
from kinship_escalation.domain.observations import SignalObservation
from kinship_escalation.domain.rules import LOAD_KINDS
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import SubjectLoadSignal, handle_load_signals
from kinship_escalation.handlers.group_support import critical_incident
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_runtime.idempotency import first_seen

FEEDS_DETECTION = LOAD_KINDS | {SignalKind.ABSENCE}
"""The signals detection keeps about a person."""


async def handle_signals(
    signals: Sequence[SignalSubmitted], uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """Act on a batch of signals, in order, each once (a repeat, in the batch or later,
    changes nothing)."""
    signals = await first_seen(uow, "signals", signals)
    incidents = [s for s in signals if s.kind is SignalKind.CRITICAL_INCIDENT]
    loads = [s for s in signals if s.kind in FEEDS_DETECTION]
    concerned: dict[str, list[str]] = {}  # signal id -> the people it is about
    for signal in incidents + loads:
        if signal.person_id is not None:
            concerned[signal.id] = [signal.person_id]
        elif signal.team_id is not None:  # each member: load, or exposure follow-ups
            concerned[signal.id] = await uow.directory.members(signal.team_id)
    people = sorted({person for named in concerned.values() for person in named})
    subjects = await ctx.vault.subjects(people, purpose="signals") if people else {}
    for signal in incidents:
        exposed = [subjects[p] for p in concerned.get(signal.id, []) if p in subjects]
        await critical_incident(signal, exposed, uow, ctx)
    load_signals: list[SubjectLoadSignal] = []
    for signal in loads:
        observation = SignalObservation(signal.kind, signal.severity, signal.occurred_at)
        for person_id in concerned.get(signal.id, []):
            subject_id = subjects.get(person_id)
            if subject_id is None:
                continue
            team_id = signal.team_id or await uow.directory.team_of(person_id)
            load_signals.append((subject_id, team_id, observation))
    await handle_load_signals(load_signals, uow, ctx)
