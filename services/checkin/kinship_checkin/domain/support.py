"""Crisis resources given to a person at once when a check-in shows immediate risk."""

import json
from dataclasses import dataclass
from pathlib import Path

from kinship_contracts.resources import DEFAULT_CATALOGUE, ResourceKind, SupportResource, select

__all__ = ["PEER_OUTREACH", "CrisisResources", "SupportResource", "load_crisis_resources"]

PEER_OUTREACH = SupportResource(
    kind=ResourceKind.CRISIS,
    name="Peer responder",
    description="A trained colleague from the peer support team will reach out to you soon.",
    contact="No action needed: we are on it.",
)


@dataclass(frozen=True)
class CrisisResources:
    """What the HTTP answer to an immediate-risk check-in carries."""

    resources: tuple[SupportResource, ...]


def load_crisis_resources(path: Path | None) -> CrisisResources:
    """Crisis lines and the employee assistance programme from the organisation's catalogue
    (a JSON list of resources, the same format escalation reads) or the built-in one; the
    ones for every country, then a word that a peer responder is on the way."""
    catalogue = DEFAULT_CATALOGUE
    if path is not None:
        catalogue = tuple(
            SupportResource.model_validate(item) for item in json.loads(path.read_text())
        )
    chosen = select(catalogue, {ResourceKind.CRISIS, ResourceKind.EMPLOYEE_ASSISTANCE}, None)
    return CrisisResources((*chosen, PEER_OUTREACH))
