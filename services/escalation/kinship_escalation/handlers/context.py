"""What the escalation use cases need besides the unit of work."""

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kinship_contracts.resources import SupportResource
from kinship_escalation.domain.links import AckLinks
from kinship_escalation.domain.policies import EscalationPolicy
from kinship_escalation.domain.reminders import CheckinReminders
from kinship_escalation.domain.resources import DEFAULT_CATALOGUE
from kinship_escalation.domain.rules import DetectionRules
from kinship_escalation.domain.sealing import CaseNoteCipher
from kinship_escalation.handlers.ports import Vault
from kinship_runtime.erased_ids import KEEP_DAYS, PERSON_KEEP_DAYS, ErasedIds


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


def _erased_ids() -> ErasedIds:
    """A record of erased ids under a random key (tests; the service derives its key)."""
    return ErasedIds(secrets.token_bytes(32), timedelta(days=KEEP_DAYS))


def _erased_people() -> ErasedIds:
    """A record of erased person ids under a random key (tests; the service derives its key)."""
    return ErasedIds(secrets.token_bytes(32), timedelta(days=PERSON_KEEP_DAYS), kind="person")


@dataclass(frozen=True)
class EscalationContext:
    """Configuration and collaborators of the use cases: rules, the default policy, links,
    the check-in service's vault, topics, keys, the clock and the id factory (both
    replaceable in tests)."""

    rules: DetectionRules
    default_policy: EscalationPolicy
    links: AckLinks
    vault: Vault
    cases_topic: str
    requests_topic: str
    receipts_topic: str
    request_key: bytes
    """Signs the notification requests this service produces."""
    grant_key: bytes
    """Signs reveal grants for the check-in service."""
    responder_rest: timedelta
    resources: tuple[SupportResource, ...] = DEFAULT_CATALOGUE
    console_url: str = "http://127.0.0.1:8005"
    """The web console as people reach it (links to check in)."""
    clock: Callable[[], datetime] = field(default=_now)
    new_id: Callable[[], str] = field(default=_new_id)
    case_notes: CaseNoteCipher | None = None
    """Seals case notes and safety plans (``KINSHIP_CASE_NOTE_KEYS``); None: notes refused."""
    consent_lifetime: timedelta = timedelta(hours=72)
    """How long a consent question's links work; unanswered then, the case closes."""
    reopen_within: timedelta = timedelta(days=30)
    """How long after resolution a case may be re-opened."""
    checkin_reminders: CheckinReminders | None = field(default_factory=CheckinReminders)
    """When people whose check-in is overdue are reminded (``KINSHIP_CHECKIN_REMINDER_DAYS``,
    ``_MAX``); None: never."""
    erased_ids: ErasedIds = field(default_factory=_erased_ids)
    """How erased subject ids are recognised (keyed digests) and how long they are kept
    (``KINSHIP_ERASED_IDS_DAYS``): check-ins about them are skipped."""
    erased_people: ErasedIds = field(default_factory=_erased_people)
    """How erased person ids are recognised (keyed digests, kind "person") and how long they
    are kept (``KINSHIP_ERASED_PEOPLE_DAYS``): signals about them produced before their
    erasure are skipped."""
