"""Support for teams: critical-incident signals, team clusters, group-session offers."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from kinship_contracts.cases import GroupSessionKind, GroupSessionProposed
from kinship_contracts.notifications import MessageKind, Recipient
from kinship_contracts.signals import SignalKind, SignalSubmitted
from kinship_contracts.topics import GROUP_SESSIONS
from kinship_escalation.domain.rules import CRITICAL_INCIDENT, TEAM_CLUSTER, team_cluster
from kinship_escalation.domain.timers import exposure_follow_up, support_session
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import SOURCE, request_notification
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_runtime.outbox import event_message


async def handle_signals(
    signals: Sequence[SignalSubmitted], uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """Critical-incident exposure: group offers for the team, follow-ups for the person.

    A signal names a person by their directory id; their follow-ups are kept under their
    subject id, which only the vault gives (one call for the batch). An unreachable vault
    fails the batch, to be retried: never dropped.
    """
    incidents = [s for s in signals if s.kind is SignalKind.CRITICAL_INCIDENT]
    people = sorted({s.person_id for s in incidents if s.person_id})
    subjects = await ctx.vault.subjects(people) if people else {}
    for signal in incidents:
        subject_id = subjects.get(signal.person_id) if signal.person_id else None
        await _critical_incident(signal, subject_id, uow, ctx)


async def _critical_incident(
    signal: SignalSubmitted,
    subject_id: str | None,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> None:
    team_id = signal.team_id
    if team_id is None and signal.person_id is not None:
        team_id = await uow.directory.team_of(signal.person_id)
    now = ctx.clock()
    if subject_id is not None:
        for hours in ctx.rules.follow_up_after_hours:
            due = signal.occurred_at + timedelta(hours=hours)
            await uow.timers.schedule(exposure_follow_up(signal.id, hours, subject_id, due))
    if team_id is None:
        return
    await propose_group_session(
        team_id,
        GroupSessionKind.DEFUSING,
        CRITICAL_INCIDENT,
        signal.occurred_at,
        uow,
        ctx,
        now=now,
        offer_id=f"defusing:{signal.id}",
    )
    opens = signal.occurred_at + timedelta(hours=ctx.rules.support_session_from_hours)
    await uow.timers.schedule(
        support_session(signal.id, team_id, CRITICAL_INCIDENT, signal.occurred_at, opens)
    )


async def note_team_distress(
    team_id: str,
    subject_id: str,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> None:
    """A team member is in distress: a cluster in the window brings one support-session
    offer per team and window."""
    await uow.support.mark_distress(team_id, subject_id, now)
    window = timedelta(hours=ctx.rules.cluster_window_hours)
    if not team_cluster(await uow.support.team_distress(team_id, now - window), now, ctx.rules):
        return
    last = await uow.support.last_group_offer(team_id, TEAM_CLUSTER)
    if last is not None and last > now - window:
        return
    await propose_group_session(
        team_id, GroupSessionKind.SUPPORT_SESSION, TEAM_CLUSTER, now, uow, ctx, now=now
    )


def _window(
    kind: GroupSessionKind, since: datetime, now: datetime, ctx: EscalationContext
) -> tuple[datetime, datetime, datetime]:
    """(window start, window end, offer by) of a session about something at ``since``."""
    rules = ctx.rules
    if kind is GroupSessionKind.DEFUSING:
        end = since + timedelta(hours=rules.defusing_within_hours)
        return now, end, end
    start = since + timedelta(hours=rules.support_session_from_hours)
    return start, since + timedelta(hours=rules.support_session_to_hours), start


async def propose_group_session(
    team_id: str,
    kind: GroupSessionKind,
    reason: str,
    since: datetime,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    *,
    now: datetime,
    offer_id: str | None = None,
) -> None:
    """Offer a voluntary group session to the team's coordinators (once per offer id)."""
    start, end, offer_by = _window(kind, since, now, ctx)
    offer_id = offer_id or f"{kind.value}:{reason}:{team_id}:{since.isoformat()}"
    if not await uow.support.record_group_offer(offer_id, team_id, reason, kind.value, now):
        return
    proposal = GroupSessionProposed(
        id=offer_id,
        team_id=team_id,
        kind=kind,
        reason=reason,
        offer_by=offer_by,
        window_start=start,
        window_end=max(start, end),
        occurred_at=now,
    )
    await uow.publish(
        [
            event_message(
                ctx.cases_topic,
                team_id,
                proposal,
                event_id=proposal.id,
                event_type=GROUP_SESSIONS.event_type,
                source=SOURCE,
                time=now,
            )
        ]
    )
    staff = await uow.directory.staff()
    coordinators = [m for m in staff if m.coordinator and m.team_id == team_id] or [
        m for m in staff if m.coordinator
    ]
    for coordinator in coordinators:
        await request_notification(
            MessageKind.GROUP_SESSION_OFFER,
            Recipient(person_id=coordinator.person_id),
            uow,
            ctx,
            request_id=f"group:{offer_id}:{coordinator.person_id}",
            params={
                "team_id": team_id,
                "kind": kind.value,
                "window_start": start.isoformat(),
                "window_end": end.isoformat(),
            },
        )
