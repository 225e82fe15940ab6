"""Support for teams: critical-incident signals, team clusters, group-session offers."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from kinship_contracts.cases import GroupSessionKind, GroupSessionProposed
from kinship_contracts.notifications import MessageKind, Recipient
from kinship_contracts.signals import SignalSubmitted
from kinship_contracts.topics import GROUP_SESSIONS
from kinship_escalation.domain.rules import (
    CRITICAL_INCIDENT,
    TEAM_CLUSTER,
    defusing_window,
    exposure_follow_ups,
    support_session_window,
    team_cluster,
)
from kinship_escalation.domain.timers import exposure_follow_up, support_session
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import SOURCE, request_notification
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_runtime.outbox import event_message


async def critical_incident(
    signal: SignalSubmitted,
    exposed: Sequence[str],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> None:
    """Critical-incident exposure: a defusing offer to the team at once (urgent, quiet hours
    or not, from ``incident_urgent_severity``), a support-session offer when its window
    opens, and individual follow-up check-ins at about 72 h and 1 month for each person
    exposed (``exposed``: the subject the signal names, or each active member of the team
    it names). A late signal's windows start now, and its follow-ups are never in the past."""
    team_id = signal.team_id
    if team_id is None and signal.person_id is not None:
        team_id = await uow.directory.team_of(signal.person_id)
    now = ctx.clock()
    follow_ups = exposure_follow_ups(signal.occurred_at, now, ctx.rules)
    for subject_id in sorted(set(exposed)):
        for hours, due in follow_ups:
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
        urgent=signal.severity >= ctx.rules.incident_urgent_severity,
    )
    opens = signal.occurred_at + timedelta(hours=ctx.rules.support_session_from_hours)
    await uow.timers.schedule(
        support_session(signal.id, team_id, CRITICAL_INCIDENT, signal.occurred_at, opens)
    )


def checkin_link(ctx: EscalationContext) -> str:
    """The console's check-in page, opened on the short WHO-5 form."""
    return f"{ctx.console_url.rstrip('/')}/checkin?instrument=who5"


async def exposure_follow_up_due(
    subject_id: str, timer_id: str, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """A follow-up check-in after a critical incident: the person is asked how they are,
    with a link to a short WHO-5 check-in (active monitoring, NICE NG116)."""
    await request_notification(
        MessageKind.CHECKIN_REMINDER,
        Recipient(subject_id=subject_id),
        uow,
        ctx,
        request_id=f"reminder:{timer_id}",
        params={"purpose": "exposure_follow_up", "checkin_url": checkin_link(ctx)},
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
    """(window start, window end, offer by) of a session about something at ``since``;
    never starting in the past, never ending before it starts."""
    if kind is GroupSessionKind.DEFUSING:
        start, end = defusing_window(since, now, ctx.rules)
        return start, end, end
    start, end = support_session_window(since, now, ctx.rules)
    return start, end, start


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
    urgent: bool = False,
) -> None:
    """Offer a voluntary group session to the team's coordinators (once per offer id);
    an ``urgent`` offer goes out at once, quiet hours or not."""
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
        window_end=end,
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
            critical=urgent,
            params={
                "team_id": team_id,
                "kind": kind.value,
                "window_start": start.isoformat(),
                "window_end": end.isoformat(),
                "offer_by": offer_by.isoformat(),
                "urgent": "true" if urgent else "false",
            },
        )
