"""Escalation service settings (``KINSHIP_*`` environment variables)."""

from datetime import timedelta
from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from kinship_escalation.adapters.slack_responses import (
    InsecurePrefixError,
    PrefixError,
    ResponseUrlPolicy,
)
from kinship_escalation.domain.reminders import CheckinReminders
from kinship_runtime.erased_ids import KEEP_DAYS, PERSON_KEEP_DAYS, ErasedIds, derive_key
from kinship_runtime.settings import (
    DEV_CREDENTIALS,
    InsecureSettingsError,
    KinshipSettings,
    parse_key_table,
    rate_limit,
    refuse_development_note_keys,
)

ERASED_IDS_LABEL = "kinship.escalation.erased-ids.v1"
"""Derives the key of the erased ids' digests from the dead-letter key."""
ERASED_PEOPLE_LABEL = "kinship.escalation.erased-people.v1"
"""Derives the key of the erased person ids' digests from the dead-letter key."""


class EscalationSettings(KinshipSettings):
    """Settings of the escalation service."""

    service_name: str = "escalation"
    http_port: int = 8002
    SECRETS: ClassVar[dict[str, bool]] = {
        **KinshipSettings.SECRETS,
        "checkin_api_key": True,
        "request_signing_key": True,
        "grant_key": True,
        "link_secret": True,
        "case_note_keys": True,
        "slack_signing_secret": False,  # required when Slack is used: _require_slack_secret
    }
    ack_timeout_seconds: int = Field(
        default=300, ge=1, description="Acknowledgement timeout of each default policy step."
    )
    contact_timeout_seconds: int = Field(
        default=3600, ge=1, description="Acknowledged but no first contact: escalate."
    )
    responder_rest_hours: float = Field(
        default=12.0, ge=0, description="Rest after a critical case before the next one."
    )
    public_url: str = Field(
        default="http://127.0.0.1:8002",
        description="Base URL of this service as responders reach it (acknowledgement links).",
    )
    console_url: str = Field(
        default="http://127.0.0.1:8005",
        description="Base URL of the web console as people reach it (follow-up check-in links "
        "open its check-in page on the short WHO-5 form).",
    )
    link_secret: SecretStr | None = Field(
        default=None,
        description="Checks the tokens of acknowledgement links, which the notifications "
        "service mints with the same secret (>= 32 bytes; this purpose only; required outside "
        "KINSHIP_ENV=dev).",
    )
    ack_link_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 14,
        description="How long an alert's acknowledgement link works after the alert.",
    )
    grant_key: SecretStr | None = Field(
        default=None,
        description="Signs reveal grants for the check-in service (the same secret there; "
        ">= 32 bytes; required outside KINSHIP_ENV=dev).",
    )
    request_signing_key: SecretStr | None = Field(
        default=None,
        description="Signs the notification requests this service produces (the "
        "notifications service checks them; >= 32 bytes; required outside KINSHIP_ENV=dev).",
    )
    rules_file: Path | None = Field(
        default=None, description="JSON detection rules; the spec's defaults otherwise."
    )
    resources_file: Path | None = Field(
        default=None,
        description="JSON list of support resources (crisis lines by country, EAP, guides).",
    )
    case_note_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated 'key_id:base64' AES-256 master keys that wrap each "
        "person's data key for case notes and safety plans; old ids stay to unwrap (required "
        "outside KINSHIP_ENV=dev).",
    )
    case_note_key_id: str | None = Field(
        default=None, description="The key id of KINSHIP_CASE_NOTE_KEYS that wraps new data keys."
    )
    signals_rate_limit_per_key: str = Field(
        default="600/minute",
        description="Signals a calling system may submit over POST /v1/signals (limits "
        "notation; 429 above): a signal can page coordinators and send a team's members "
        "follow-ups, so its own limit, far below the check-ins'. Counted per escalation "
        "replica. Bulk feeds belong on wellbeing.signals.submitted.",
    )
    consent_hours: float = Field(
        default=72.0,
        gt=0,
        le=24 * 14,
        description="How long an 'ask_first' person's yes/no links work; unanswered then, the "
        "case closes as no_contact.",
    )
    reopen_days: int = Field(
        default=30, ge=0, le=365, description="How long after resolution a case may be re-opened."
    )
    erased_ids_days: int = Field(
        default=KEEP_DAYS,
        ge=1,
        le=90,
        description="How long after an erasure check-ins about the erased subject ids are "
        "skipped (a keyed hash of each id is kept that long, never the id): at least the "
        "retention of wellbeing.checkins.recorded and .urgent (30 days), from which a backlog "
        "or a replay could bring them back, and the week a Kafka segment may outlive it: 38 "
        "days.",
    )
    erased_people_days: int = Field(
        default=PERSON_KEEP_DAYS,
        ge=1,
        le=90,
        description="How long after an erasure signals about the erased person that were "
        "produced before it (a backlog or a replay of wellbeing.signals.submitted) are "
        "skipped, before the vault is asked for their subject id; a keyed hash of the person "
        "id is kept that long, never the id. At least the retention of the ingestion topics "
        "carrying person ids (7 days) and the week a Kafka segment may outlive it: 15 days.",
    )
    slack_enabled: bool = Field(
        default=False,
        description="Whether the buttons of Slack alerts work: Slack posts their presses to "
        "POST /v1/slack/interactions (503 while false). When true, "
        "KINSHIP_SLACK_SIGNING_SECRET is required outside KINSHIP_ENV=dev.",
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        description="The Slack app's signing secret (Basic Information > App Credentials): "
        "every interaction request's X-Slack-Signature is checked with it; without it the "
        "Slack buttons answer 503.",
    )
    slack_response_url_prefixes: str = Field(
        default="https://hooks.slack.com/",
        description="Comma-separated URL prefixes a press's response_url must start with to be "
        "called (the Slack message updated after a press); any other response_url is never "
        "called. Each is scheme://host[:port]/path/ ending with '/'; https only outside "
        "KINSHIP_ENV=dev.",
    )
    email_reply_domain: str | None = Field(
        default=None,
        description="The mail domain of alert emails' reply addresses (ack+<token>@<domain>, "
        "the same as the notifications service's): POST /v1/email/inbound takes only replies "
        "sent to it. Unset: any ack+<token> address is read (the token is the proof).",
    )
    checkin_reminder_days: int = Field(
        default=7,
        ge=0,
        le=365,
        description="Days without a check-in after a person's last one before they are "
        "reminded that their regular check-in is overdue (a limited message: their quiet "
        "hours and daily limit apply), and between further reminders; 0: no reminders.",
    )
    checkin_reminder_max: int = Field(
        default=2,
        ge=1,
        le=10,
        description="How many overdue-check-in reminders in a row, while the person does not "
        "check in; a check-in starts again from one.",
    )
    timer_poll_seconds: float = Field(default=1.0, gt=0, description="How often due timers run.")
    timer_batch_size: int = Field(default=100, ge=1)

    @field_validator("signals_rate_limit_per_key")
    @classmethod
    def _valid_signals_limit(cls, value: str) -> str:
        rate_limit(value, "KINSHIP_SIGNALS_RATE_LIMIT_PER_KEY")
        return value

    @model_validator(mode="after")
    def _require_slack_secret(self) -> Self:
        if self.env != "dev" and self.slack_enabled and self.slack_signing_secret is None:
            raise InsecureSettingsError(
                "KINSHIP_SLACK_SIGNING_SECRET is required outside KINSHIP_ENV=dev while "
                "KINSHIP_SLACK_ENABLED is true (Slack's buttons are checked with it)"
            )
        return self

    @model_validator(mode="after")
    def _valid_response_url_prefixes(self) -> Self:
        try:
            self.slack_response_urls()
        except InsecurePrefixError as error:
            raise InsecureSettingsError(f"KINSHIP_SLACK_RESPONSE_URL_PREFIXES: {error}") from None
        except PrefixError as error:
            raise ValueError(f"KINSHIP_SLACK_RESPONSE_URL_PREFIXES: {error}") from None
        return self

    @model_validator(mode="after")
    def _refuse_the_development_note_key(self) -> Self:
        if self.env != "dev" and self.case_note_keys is not None:
            # The published key under any id, in any rotation list.
            configured = self.case_note_keys.get_secret_value()
            refuse_development_note_keys(configured, "KINSHIP_CASE_NOTE_KEYS")
        return self

    def checkin_reminders(self) -> CheckinReminders | None:
        """When overdue check-ins are reminded; None when reminders are off."""
        if self.checkin_reminder_days == 0:
            return None
        return CheckinReminders(
            timedelta(days=self.checkin_reminder_days), self.checkin_reminder_max
        )

    def slack_signing_key(self) -> str | None:
        """The Slack app's signing secret, or None when Slack interactions are not set up."""
        if not self.slack_enabled or self.slack_signing_secret is None:
            return None
        return self.slack_signing_secret.get_secret_value() or None

    def slack_response_urls(self) -> ResponseUrlPolicy:
        """The response_urls a press's answer may be posted to (https only outside dev)."""
        prefixes = [p.strip() for p in self.slack_response_url_prefixes.split(",") if p.strip()]
        if not prefixes:
            raise PrefixError("at least one prefix is needed")
        return ResponseUrlPolicy(prefixes, https_only=self.env != "dev")

    def ack_link_secret(self) -> bytes:
        """The acknowledgement links' secret (a development one in the dev profile)."""
        return self._secret(self.link_secret, "KINSHIP_LINK_SECRET")

    def grant_signing_key(self) -> bytes:
        """The reveal-grant key (a development one in the dev profile)."""
        return self._secret(self.grant_key, "KINSHIP_GRANT_KEY")

    def erased_ids(self) -> ErasedIds:
        """How erased subject ids are recognised: keyed by a key derived from the dead-letter
        key, kept ``erased_ids_days``."""
        key = derive_key(self.dead_letter_wrapping_key(), ERASED_IDS_LABEL)
        return ErasedIds(key, timedelta(days=self.erased_ids_days))

    def erased_people(self) -> ErasedIds:
        """How erased person ids are recognised: keyed by a key derived from the dead-letter
        key with a label of its own, kept ``erased_people_days``."""
        key = derive_key(self.dead_letter_wrapping_key(), ERASED_PEOPLE_LABEL)
        return ErasedIds(key, timedelta(days=self.erased_people_days), kind="person")

    def request_signature_key(self) -> bytes:
        """The notification requests' signing key (a development one in the dev profile)."""
        return self._secret(self.request_signing_key, "KINSHIP_REQUEST_SIGNING_KEY")

    def case_note_key_table(self) -> tuple[dict[str, bytes], str]:
        """The case note master keys by id, decoded, and the active id (the development key
        in the dev profile); errors name the bad entry's id, never the key."""
        configured = self.required_secret(
            self.case_note_keys, "KINSHIP_CASE_NOTE_KEYS", "KINSHIP_NOTE_KEYS"
        )
        table = parse_key_table(
            configured.get_secret_value(), "KINSHIP_CASE_NOTE_KEYS", "case note key"
        )
        active = self.case_note_key_id or (next(iter(table)) if len(table) == 1 else None)
        if active not in table:
            raise ValueError(
                "KINSHIP_CASE_NOTE_KEY_ID must name one of KINSHIP_CASE_NOTE_KEYS' key ids"
            )
        return table, active

    def _secret(self, configured: SecretStr | None, variable: str) -> bytes:
        if configured is None or not configured.get_secret_value():
            if self.env != "dev":
                raise InsecureSettingsError(f"{variable} is required")
            configured = SecretStr(DEV_CREDENTIALS[variable])
        return configured.get_secret_value().encode()
