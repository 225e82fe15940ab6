"""Support resources for a person this service knows only by subject id."""

from kinship_contracts.resources import ResourceKind
from kinship_escalation.domain.resources import DEFAULT_CATALOGUE, general_resources


def test_a_person_gets_the_general_resources_of_the_kinds_they_need() -> None:
    kinds = {ResourceKind.CRISIS, ResourceKind.EMPLOYEE_ASSISTANCE}
    chosen = general_resources(DEFAULT_CATALOGUE, kinds)
    assert chosen
    assert all(not r.countries and r.kind in kinds for r in chosen)
    by_country = [r for r in DEFAULT_CATALOGUE if r.countries and r.kind in kinds]
    assert by_country and not [r for r in by_country if r in chosen]  # Samaritans, 988, …
    assert {r.kind for r in general_resources(DEFAULT_CATALOGUE, {ResourceKind.SELF_CARE})} == {
        ResourceKind.SELF_CARE
    }
