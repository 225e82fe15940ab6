"""Check-in use cases: plain async functions over the ``CheckinUnitOfWork`` port.

Each runs inside a unit of work its caller (an HTTP route or a Kafka subscriber) has entered:
everything it does commits together, or not at all.
"""
