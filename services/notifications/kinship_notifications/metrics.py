"""The notifications service's domain metrics (on the runtime's meter; labels are outcomes
and channel kinds only, never a recipient or an address)."""

from opentelemetry import trace

from kinship_runtime.telemetry import METER, span_attributes

DELIVERIES = METER.create_counter(
    "kinship.deliveries",
    unit="{delivery}",
    description="Delivery attempts by outcome (delivered, retry, failed, suppressed) and channel.",
)


def count_delivery(outcome: str, channel: str | None) -> None:
    """Count an attempt's outcome and note it on the current (delivery) span."""
    DELIVERIES.add(1, {"outcome": outcome, "channel": channel or "none"})
    trace.get_current_span().set_attributes(
        span_attributes({"outcome": outcome, "channel": channel})
    )
