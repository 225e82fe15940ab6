"""The recognition service's own measures (OpenTelemetry instruments; labels carry no one's
identity, only which consumer)."""

from kinship_runtime.telemetry import METER

ERASED_SKIPPED = METER.create_counter(
    "kinship.recognition.erased_skipped",
    unit="{event}",
    description="Events about a subject id erased before they were consumed, or naming a "
    "person erased after they were produced (a backlog or a replay), skipped instead of "
    "stored, by consumer (checkins, cases, kudos, pulse; for cases, also a responder's "
    "appreciation passed over).",
)
