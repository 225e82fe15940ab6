"""``POST /v1/signals``: other systems submit signals over HTTP, as they may on Kafka.

Calling systems only, with ``signals:submit`` (an incident tool, a rota or HR system): a
signal is about others (a person exposed, a team on call), so a person's token is refused
(403) whatever their roles. The body is ``wellbeing.signals.submitted``'s (the contract's
``SignalSubmitted``); 422 names the fields that are wrong and never quotes them. A valid
signal is queued through the outbox onto that topic (``handlers.signal_intake``) and the
service's consumer acts on it as on any other: one code path, one idempotency key. The 202
therefore means "kept, and will be acted on", not "acted on": a signal is never lost once
answered, and the vault being away delays it rather than refusing it.

Counted against a limit of its own per key (``KINSHIP_SIGNALS_RATE_LIMIT_PER_KEY``, far below
the check-ins'): a signal can page coordinators and send a whole team follow-ups (review 9).
Nothing about the signal is logged.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from dishka import FromDishka
from dishka.integrations.fastapi import DishkaRoute
from fastapi import APIRouter, Depends, status
from pydantic import BaseModel

from kinship_contracts.signals import SignalSubmitted
from kinship_contracts.topics import SIGNALS_SUBMITTED
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.handlers.signal_intake import submit_signal
from kinship_escalation.settings import EscalationSettings
from kinship_runtime.access import Actor, RateLimits, allow
from kinship_runtime.identity import Scope
from kinship_runtime.outbox import OutboxRelay

SubmitSignals = Annotated[Actor, Depends(allow(scopes=[Scope.SIGNALS_SUBMIT]))]
"""Calling systems with ``signals:submit``; never a person (signals are about others)."""


@dataclass(frozen=True)
class SignalLimits:
    """Signals per calling key in a window (``KINSHIP_SIGNALS_RATE_LIMIT_PER_KEY``, counted
    in each replica's memory)."""

    limits: RateLimits


class SignalAccepted(BaseModel):
    """The signal is kept and will be acted on (``duplicate``: this id was sent before, and
    nothing more is done)."""

    id: str
    status: Literal["accepted", "duplicate"]


signal_routes = APIRouter(route_class=DishkaRoute, tags=["signals"])


@signal_routes.post(
    "/v1/signals",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SignalAccepted,
    summary="Submit a signal (critical incident, overtime, on-call load, absence)",
    responses={
        401: {"description": "No or unknown API key"},
        403: {"description": "A person's token, or a key without signals:submit"},
        422: {"description": "Invalid (the fields named, never quoted)"},
        429: {"description": "Over the key's signals rate limit"},
    },
)
async def submit(
    signal: SignalSubmitted,
    _actor: SubmitSignals,
    uow: FromDishka[EscalationUnitOfWork],
    settings: FromDishka[EscalationSettings],
    relay: FromDishka[OutboxRelay],
    limits: FromDishka[SignalLimits],
) -> SignalAccepted:
    """A signal, as on ``wellbeing.signals.submitted``: acted on once per id (the same id
    again answers 202 ``duplicate`` and changes nothing)."""
    await limits.limits.hit(_actor, bucket="signals")
    async with uow:
        queued = await submit_signal(
            signal, uow, settings.topic(SIGNALS_SUBMITTED), datetime.now(UTC)
        )
    relay.wake()
    return SignalAccepted(id=signal.id, status="accepted" if queued else "duplicate")
