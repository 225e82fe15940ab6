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
UNANSWERED = METER.create_counter(
    "kinship.cases.unanswered",
    unit="{page}",
    description="Coordinators paged about a case nobody acknowledged after every step of its "
    "policy (kind: first, again), by severity.",
)
ERASED_SKIPPED = METER.create_counter(
    "kinship.escalation.erased_skipped",
    unit="{checkin}",
    description="Check-ins about a subject id erased before they were consumed (a backlog or "
    "a replay), skipped instead of observed.",
)
ERASED_SIGNALS_SKIPPED = METER.create_counter(
    "kinship.escalation.erased_signals_skipped",
    unit="{signal}",
    description="Signals about a person, produced before that person's erasure (a backlog or a "
    "replay of wellbeing.signals.submitted), skipped: before the vault lookup by escalation's "
    "own record, or after it when the vault refused them (its erasure came first), by consumer.",
)
