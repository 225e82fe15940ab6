"""Notifications use cases: plain async functions over the ports in ``handlers.ports``.

Each runs inside a unit of work its caller (an HTTP route, a Kafka subscriber, the delivery
worker) has entered, except ``deliver``: it must not hold a transaction while a channel is
called, so it enters its unit of work itself, once before the call and once after.
"""
