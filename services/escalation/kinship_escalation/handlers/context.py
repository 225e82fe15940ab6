"""What the escalation use cases need besides the unit of work."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kinship_contracts.resources import SupportResource
from kinship_contracts.subjects import Pseudonymiser
from kinship_escalation.domain.links import AckLinks
from kinship_escalation.domain.policies import EscalationPolicy
from kinship_escalation.domain.resources import DEFAULT_CATALOGUE
from kinship_escalation.domain.rules import DetectionRules


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class EscalationContext:
    """Configuration and collaborators of the use cases: rules, the default policy, links,
    pseudonyms, topics, the clock and the id factory (both replaceable in tests)."""

    rules: DetectionRules
    default_policy: EscalationPolicy
    links: AckLinks
    pseudonyms: Pseudonymiser
    cases_topic: str
    requests_topic: str
    responder_rest: timedelta
    resources: tuple[SupportResource, ...] = DEFAULT_CATALOGUE
    zone_table: str = ""
    clock: Callable[[], datetime] = field(default=_now)
    new_id: Callable[[], str] = field(default=_new_id)
