"""Answering an alert where it arrived: a Slack button press or an email reply acknowledges
the case, or hands it on ("I can't take this").

Every route is the alert's one-time link under another form: the same token or one minted
with the same secret, the same first use (``alerts.link_used_at``: a link, a press or a
reply, whichever comes first), and the same acknowledgement (``cases.acknowledge``), audited
as the alert's recipient. A second answer changes nothing and says so. Handing on spends the
alert too and moves the case to the next step of its policy at once, as a failed delivery
does (``alerts.alert_step``; ``page_unanswered`` after the last step).

Who may answer: the alert's recipient. A Slack button bound to the recipient's Slack user
(when the directory knows it) refuses any other user; a reply token is bound to the address
the alert was sent to, so a reply from another sender does not check. Refusals are audited
on the case (``alert_answer_refused``) and change nothing else.
"""

from dataclasses import dataclass
from enum import StrEnum

from kinship_contracts.cases import CaseStatus
from kinship_escalation.domain.alert_responses import AlertResponse, EmailReply, SlackPress
from kinship_escalation.domain.cases import (
    AlertPurpose,
    AuditRecord,
    CaseNotFoundError,
    LinkExpiredError,
    NotAllowedError,
)
from kinship_escalation.domain.links import LinkCheck
from kinship_escalation.handlers.alerts import alert_step, page_unanswered
from kinship_escalation.handlers.cases import acknowledge, load_case
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import person_actor
from kinship_escalation.handlers.ports import EscalationUnitOfWork


class AnswerRoute(StrEnum):
    """Where the answer came from (audited)."""

    SLACK = "slack"
    EMAIL = "email"


class Outcome(StrEnum):
    """What an answer did."""

    ACKNOWLEDGED = "acknowledged"
    ALREADY_ACKNOWLEDGED = "already_acknowledged"
    """The recipient holds the case already (a second press, or a reminder's alert)."""
    HANDED_ON = "handed_on"
    """Declined: the next step is being alerted."""
    DECLINE_NOTED = "decline_noted"
    """Declined, but the case had moved on, or others alerted with them may take it."""
    ALREADY_ANSWERED = "already_answered"
    """The alert's one-time token was spent before (by someone holding it): nothing done."""
    NOT_OPEN = "not_open"
    """Someone else took the case, or it was closed: nothing done."""
    HOLDING = "holding"
    """"Hand on" from the responder who holds the case: that is a hand-over, in the console."""
    REFUSED = "refused"
    """Not the alert's recipient: nothing done, audited."""
    INVALID = "invalid"
    """The button's token or the reply address is not valid: nothing done."""
    EXPIRED = "expired"
    """The alert has expired: nothing done (the case list still works)."""
    UNKNOWN = "unknown"
    """No such alert: nothing done."""


@dataclass(frozen=True)
class Answer:
    """What an answer did, and a sentence for the responder (no names, no case details)."""

    outcome: Outcome
    message: str


async def answer_slack_press(
    press: SlackPress, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> Answer:
    """A Slack button press (its request's signature already checked): the token must be
    the alert's, and the pressing user the recipient when the button is bound to one."""
    value = press.value
    check = ctx.links.check(value.alert_id, value.token, ctx.clock())
    if check is LinkCheck.FORGED:
        _require_valid(check)
    binding = value.user_binding
    if binding is not None and not ctx.links.slack_user_matches(
        value.alert_id, press.slack_user_id, binding
    ):  # before expiry: someone else's press of an expired alert is theirs to see, not the
        # channel's (an "expired" answer replaces the message for everyone)
        return await _refuse(value.alert_id, AnswerRoute.SLACK, uow, ctx)
    _require_valid(check)
    return await _answer(value.alert_id, press.response, AnswerRoute.SLACK, uow, ctx)


async def answer_email_reply(
    reply: EmailReply, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> Answer:
    """A reply to an alert email: its token must be the alert's, minted for its sender."""
    alert_id, check = ctx.links.check_reply(reply.token, reply.sender, ctx.clock())
    if alert_id is None:
        raise NotAllowedError("this reply address is not valid")
    if check is LinkCheck.FORGED:  # a wrong sender, or a made-up token
        return await _refuse(alert_id, AnswerRoute.EMAIL, uow, ctx)
    _require_valid(check)
    return await _answer(alert_id, reply.response, AnswerRoute.EMAIL, uow, ctx)


def _require_valid(check: LinkCheck) -> None:
    match check:
        case LinkCheck.FORGED:
            raise NotAllowedError("this alert's token is not valid")
        case LinkCheck.EXPIRED:
            raise LinkExpiredError("this alert has expired; open the case from your case list")


async def _refuse(
    alert_id: str, route: AnswerRoute, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> Answer:
    """Refuse an answer by someone else than the recipient; audited on the case (the
    caller is named by route only: who pressed or wrote is not known to Kinship)."""
    alert = await uow.alerts.get(alert_id)
    if alert is None:
        raise NotAllowedError("this alert's token is not valid")
    stored = await load_case(alert.case_id, uow)
    record = AuditRecord.of(stored.case, "alert_answer_refused", f"system:{route.value}")
    await uow.cases.audit(record)
    return Answer(Outcome.REFUSED, "This alert was sent to someone else: only they can answer it.")


async def _answer(
    alert_id: str,
    response: AlertResponse,
    route: AnswerRoute,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> Answer:
    found = await uow.alerts.get(alert_id)
    if found is None:
        raise CaseNotFoundError("no such alert")
    stored = await load_case(found.case_id, uow)  # locked: answers to one case queue here
    alert = await uow.alerts.get(alert_id)  # as it is now that the case is locked
    assert alert is not None
    case, now, recipient = stored.case, ctx.clock(), alert.recipient_id
    actor = person_actor(recipient)
    holds = (
        case.status in (CaseStatus.ACKNOWLEDGED, CaseStatus.CONTACTED)
        and case.responder_id == recipient
    )
    if alert.link_used_at is not None:
        if holds:
            return Answer(Outcome.ALREADY_ACKNOWLEDGED, "Already acknowledged: the case is yours.")
        return Answer(Outcome.ALREADY_ANSWERED, "This alert was already answered.")
    if response is AlertResponse.ACKNOWLEDGE:
        if holds:  # a reminder's or a rise to critical's alert: they hold it
            await uow.alerts.use_link(alert_id, now)
            return Answer(Outcome.ALREADY_ACKNOWLEDGED, "Already acknowledged: the case is yours.")
        if not case.awaiting_acknowledgement:
            return Answer(Outcome.NOT_OPEN, "Someone else has taken this case, or it is closed.")
        await uow.alerts.use_link(alert_id, now)
        await acknowledge(case.id, recipient, uow, ctx)
        await uow.cases.audit(AuditRecord.of(case, f"answered_by_{route.value}", actor, at=now))
        return Answer(
            Outcome.ACKNOWLEDGED, "You have taken this case. Open your case list to continue."
        )
    if holds:
        return Answer(
            Outcome.HOLDING, "You hold this case: hand it over from your case list instead."
        )
    await uow.alerts.use_link(alert_id, now)
    await uow.cases.audit(AuditRecord.of(case, f"declined_by_{route.value}", actor, at=now))
    current = (
        case.awaiting_acknowledgement
        and alert.purpose is AlertPurpose.PAGE
        and (case.step, case.attempt) == (alert.step, alert.attempt)
        and case.responder_id == recipient
    )
    if not current:
        return Answer(
            Outcome.DECLINE_NOTED,
            "Noted. The case has moved on, or others alerted with you can still take it.",
        )
    next_step = stored.policy.after_failed_delivery(alert.step)
    if next_step is None:
        await page_unanswered(stored, 1, uow, ctx, now)
    else:
        await alert_step(stored, uow, ctx, step=next_step, attempt=1, now=now)
    return Answer(Outcome.HANDED_ON, "Handed on: the next responder is being alerted now.")
