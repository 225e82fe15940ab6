"""Signals submitted over HTTP (``POST /v1/signals``): queued through the outbox onto
``wellbeing.signals.submitted``, where the service's own consumer acts on them exactly as on
a signal another system published to Kafka (``handlers.signals``, one effect per event id).

Nothing is done here but the queueing: the effect (the vault's subject ids, group support,
follow-ups, detection) has one code path and one idempotency key, the event id. The route
remembers the ids it queued (``INTAKE``) so that the same id sent again is not queued twice
and the caller is told it was a duplicate; a signal that came over Kafka first and over HTTP
after is queued again, and the consumer skips it.
"""

from datetime import datetime

from kinship_contracts.signals import SignalSubmitted
from kinship_contracts.topics import SIGNALS_SUBMITTED
from kinship_escalation.handlers.messages import SOURCE
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_runtime.idempotency import first_seen
from kinship_runtime.outbox import OutboxMessage, event_message

INTAKE = "signals-http"
"""The ids queued over HTTP (``processed_events``); not the consumer's ``signals``, which
would make the consumer skip the signal this queues."""


def signal_message(signal: SignalSubmitted, topic: str, now: datetime) -> OutboxMessage:
    """``signal`` as a record of ``wellbeing.signals.submitted``: keyed by its person or team
    (the topic's key), its id as the CloudEvents id (the consumer requires them equal)."""
    key = signal.person_id if signal.person_id is not None else signal.team_id
    assert key is not None  # the contract requires exactly one of the two
    return event_message(
        topic,
        key,
        signal,
        event_id=signal.id,
        event_type=SIGNALS_SUBMITTED.event_type,
        source=SOURCE,
        time=now,
    )


async def submit_signal(
    signal: SignalSubmitted, uow: EscalationUnitOfWork, topic: str, now: datetime
) -> bool:
    """Queue ``signal`` for the consumer, once per id; whether it was queued now (False: the
    same id came over HTTP before, and nothing was queued)."""
    if not await first_seen(uow, INTAKE, [signal]):
        return False
    await uow.publish([signal_message(signal, topic, now)])
    return True
