"""The check-in service's own measures (OpenTelemetry instruments; labels carry no one's
identity)."""

from kinship_runtime.telemetry import METER

ERASED_SKIPPED = METER.create_counter(
    "kinship.checkin.erased_skipped",
    unit="{checkin}",
    description="Submitted check-ins produced before their person's erasure (a backlog "
    "or a replay of the topic), skipped instead of recorded again, by consumer.",
)
