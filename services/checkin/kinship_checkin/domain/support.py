"""Crisis resources given to a person at once when a check-in shows immediate risk."""

from dataclasses import dataclass

from kinship_contracts.resources import ResourceKind, SupportResource, select

__all__ = ["PEER_OUTREACH", "CrisisResources", "SupportResource", "crisis_resources"]

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


def crisis_resources(catalogue: tuple[SupportResource, ...]) -> CrisisResources:
    """Crisis lines and the employee assistance programme from the organisation's catalogue:
    the ones for every country, then a word that a peer responder is on the way."""
    chosen = select(catalogue, {ResourceKind.CRISIS, ResourceKind.EMPLOYEE_ASSISTANCE}, None)
    return CrisisResources((*chosen, PEER_OUTREACH))
