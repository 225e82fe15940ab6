"""Support resources for a person (the catalogue is in contracts).

This service does not know where a person is: it knows them only by their pseudonymous
subject id, and keeps no directory facts by subject id. Messages to a person carry the
general (country-less) resources of the kinds they need; see docs/decisions.md.
"""

from kinship_contracts.resources import DEFAULT_CATALOGUE, ResourceKind, SupportResource, select

__all__ = ["DEFAULT_CATALOGUE", "SELF_CARE_KINDS", "general_resources", "select"]

SELF_CARE_KINDS = frozenset({ResourceKind.SELF_CARE, ResourceKind.EMPLOYEE_ASSISTANCE})
"""What a self-care message carries: guides for looking after oneself, and the employee
assistance programme (no crisis lines: a low reading is not a crisis)."""


def general_resources(
    catalogue: tuple[SupportResource, ...], kinds: set[ResourceKind] | frozenset[ResourceKind]
) -> list[SupportResource]:
    """The resources of ``kinds`` that are for everyone, wherever they are."""
    return select(catalogue, set(kinds), None)
