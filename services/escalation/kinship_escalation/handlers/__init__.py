"""Escalation use cases: plain async functions over the ``EscalationUnitOfWork`` port.

Each runs inside a unit of work its caller (a Kafka subscriber, an HTTP route, the timer
worker) has entered: everything it does commits together, or not at all. Events in,
decisions by the pure domain, effects out through the outbox: case transitions on
``escalation.cases``, messages on ``notifications.requests``, durable timers for what must
happen later. Consumers and timers may run on several replicas: row locks, unique indexes
and the processed-events table make every effect happen once.
"""
