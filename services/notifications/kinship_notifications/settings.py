"""Notifications service settings (``KINSHIP_*`` environment variables)."""

from datetime import timedelta
from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from kinship_contracts.topics import DAY_MS, NOTIFICATION_REQUESTS
from kinship_notifications.domain.addresses import Allowlist
from kinship_runtime.erased_ids import SEGMENT_DAYS, ErasedIds, derive_key
from kinship_runtime.settings import DEV_CREDENTIALS, InsecureSettingsError, KinshipSettings

DEV_ALLOWED_HOSTS = ("127.0.0.1", "::1")
"""What the dev profile (the local stack, the tests) admits besides public addresses."""

ERASED_IDS_LABEL = "kinship.notifications.erased-ids.v1"
"""Derives the key of the erased subject ids' digests from the dead-letter key."""

ERASED_PEOPLE_LABEL = "kinship.notifications.erased-people.v1"
"""Derives the key of the erased person ids' digests from the dead-letter key."""

ERASED_IDS_KEEP_DAYS = NOTIFICATION_REQUESTS.retention_ms // DAY_MS + SEGMENT_DAYS
"""As long as ``notifications.requests`` can still serve a request (7 days' retention and
the week a log segment may outlive it): 15 days."""


class NotificationSettings(KinshipSettings):
    """Settings of the notifications service."""

    service_name: str = "notifications"
    http_port: int = 8003
    SECRETS: ClassVar[dict[str, bool]] = {
        **KinshipSettings.SECRETS,
        "checkin_api_key": True,
        "request_signing_key": True,
        "link_secret": True,
        "webhook_secret": True,
        "smtp_password": False,
    }
    webhook_secret: SecretStr = Field(
        description="Derives each webhook endpoint's signing secret (HMAC of the endpoint's "
        "URL): `python -m kinship_notifications endpoint-secret <url>` prints the one to give "
        "that receiver (X-Kinship-Signature)."
    )
    webhook_signing: Literal["per_endpoint", "shared"] = Field(
        default="per_endpoint",
        description="How webhook bodies are signed (X-Kinship-Signature): per_endpoint, with "
        "each endpoint's own secret derived from KINSHIP_WEBHOOK_SECRET (one receiver cannot "
        "sign for another); shared, with KINSHIP_WEBHOOK_SECRET itself, for receivers that "
        "only know the one secret (every receiver then holds it).",
    )
    link_secret: SecretStr | None = Field(
        default=None,
        description="Mints the tokens of acknowledgement and consent links when messages are "
        "sent; the escalation service checks them with the same secret (>= 32 bytes; "
        "required outside KINSHIP_ENV=dev, where a development secret is used).",
    )
    console_url: str = Field(
        default="http://127.0.0.1:8005",
        pattern=r"^https?://[^\s]+$",
        description="The web console people open: check-in reminders link to its check-in "
        "page (<url>/checkin) and feedback requests to it, when a request carries no link.",
    )
    accept_unsigned_requests: bool = Field(
        default=False,
        description="Migration only: accept notification requests WITHOUT a "
        "kinship-request-signature (a wrong signature is never accepted); off once every "
        "producer signs.",
    )
    webhook_allowed_hosts: str = Field(
        default="",
        description="Host names, addresses and CIDRs (comma-separated) that webhook and Slack "
        "calls may reach although they are not public (an internal alerting gateway); cloud "
        "metadata addresses are never admitted. The dev profile adds 127.0.0.1 and ::1.",
    )
    email_reply_domain: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$",
        description="Mail domain whose replies reach the escalation service's "
        "POST /v1/email/inbound: alert emails get Reply-To ack+<token>@<domain>, and a reply "
        "'ack' or 'hand on' answers the alert. Unset: no reply address (the link still works).",
    )
    slack_buttons: bool = Field(
        default=False,
        description="Slack alerts carry the buttons 'Acknowledge' and 'I can't take this — "
        "hand on' (answered by the escalation service's POST /v1/slack/interactions: turn on "
        "only with its KINSHIP_SLACK_ENABLED=true) and, instead of the acknowledgement link, "
        "a pointer to the console's case list. Off: the link in the text, no buttons.",
    )
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "Kinship <kinship@localhost>"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    delivery_timeout_seconds: float = Field(default=5.0, gt=0, description="Per attempt.")
    delivery_max_attempts: int = Field(default=5, ge=1, description="Then a failed receipt.")
    retry_base_seconds: float = Field(default=0.5, gt=0, description="First backoff step.")
    retry_max_seconds: float = Field(default=300.0, gt=0)
    delivery_concurrency: int = Field(default=64, ge=1, description="Deliveries in flight.")
    delivery_lease_seconds: float = Field(
        default=60.0, gt=0, description="A claimed delivery is retried after this if unfinished."
    )
    delivery_poll_seconds: float = Field(default=0.5, gt=0)
    breaker_threshold: int = Field(
        default=5, ge=1, description="Failures in a row per endpoint before failing fast."
    )
    breaker_cool_down_seconds: float = Field(default=30.0, gt=0)
    ingest_max_records: int = Field(default=500, ge=1)
    erased_ids_days: int = Field(
        default=ERASED_IDS_KEEP_DAYS,
        ge=1,
        le=90,
        description="How long after an erasure requests addressed to the erased subject ids "
        "are skipped, not stored as deliveries (a backlog or a replay of "
        "notifications.requests consumed late). A keyed hash of each id is kept that long, "
        "never the id: at least the topic's retention (7 days) plus a week.",
    )
    erased_people_days: int = Field(
        default=ERASED_IDS_KEEP_DAYS,
        ge=1,
        le=90,
        description="How long after an erasure requests addressed to the erased person id "
        "and produced before it are queued without the person (they fail at once; a backlog "
        "or a replay of notifications.requests consumed late). A keyed hash of the id is "
        "kept that long with the erasure's time, never the id: at least the topic's retention "
        "(7 days) plus a week.",
    )

    def ack_link_secret(self) -> bytes:
        """The secret of acknowledgement-link tokens (a development one in the dev profile)."""
        configured = self.link_secret
        if configured is None:
            if self.env != "dev":
                raise InsecureSettingsError("KINSHIP_LINK_SECRET is required")
            configured = SecretStr(DEV_CREDENTIALS["KINSHIP_LINK_SECRET"])
        return configured.get_secret_value().encode()

    def erased_ids(self) -> ErasedIds:
        """How erased subject ids are recognised: keyed by a key derived from the dead-letter
        key, kept ``erased_ids_days``."""
        key = derive_key(self.dead_letter_wrapping_key(), ERASED_IDS_LABEL)
        return ErasedIds(key, timedelta(days=self.erased_ids_days))

    def erased_people(self) -> ErasedIds:
        """How erased person ids are recognised: keyed by another key derived from the
        dead-letter key, kept ``erased_people_days``."""
        key = derive_key(self.dead_letter_wrapping_key(), ERASED_PEOPLE_LABEL)
        return ErasedIds(key, timedelta(days=self.erased_people_days), kind="person")

    def webhook_allowlist(self) -> Allowlist:
        """The non-public destinations webhook and Slack calls may reach."""
        extra = DEV_ALLOWED_HOSTS if self.env == "dev" else ()
        return Allowlist.parse(self.webhook_allowed_hosts, extra=extra)

    @property
    def https_only(self) -> bool:
        """Web channels need https, except in the dev profile."""
        return self.env != "dev"
