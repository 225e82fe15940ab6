"""The escalation service's own measures (OpenTelemetry instruments; labels carry no one's
identity, only the case's severity)."""

from kinship_runtime.telemetry import METER

CASES_OPENED = METER.create_counter(
    "kinship.cases.opened", unit="{case}", description="Crisis-support cases opened, by severity."
)
TIME_TO_ACKNOWLEDGE = METER.create_histogram(
    "kinship.cases.time_to_acknowledge",
    unit="s",
    description="From a case opening to a responder acknowledging it.",
)
SCREENS_SKIPPED = METER.create_counter(
    "kinship.alerts.screens_skipped",
    unit="{screen}",
    description="Alert steps sent without asking the vault who the case is about (it did not "
    "answer): each is in the case's audit trail.",
)
