"""The notifications service's domain metrics (on the runtime's meter; labels are outcomes
and channel kinds only, never a recipient or an address)."""

from opentelemetry import trace

from kinship_runtime.telemetry import METER, span_attributes

DELIVERIES = METER.create_counter(
    "kinship.deliveries",
    unit="{delivery}",
    description="Delivery attempts by outcome (delivered, retry, failed, suppressed) and channel.",
)

ERASED_REQUESTS = METER.create_counter(
    "kinship.notifications.erased_requests",
    unit="{request}",
    description="Requests about an erased person consumed after the erasure (a backlog or a "
    "replay of notifications.requests), by action: skipped (addressed to an erased subject "
    "id), unaddressed (to a person erased after the request was produced: queued without "
    "the recipient, so it fails at once).",
)


def count_delivery(outcome: str, channel: str | None) -> None:
    """Count an attempt's outcome and note it on the current (delivery) span."""
    DELIVERIES.add(1, {"outcome": outcome, "channel": channel or "none"})
    trace.get_current_span().set_attributes(
        span_attributes({"outcome": outcome, "channel": channel})
    )
