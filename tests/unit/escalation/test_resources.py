"""Support resources for where a person is."""

from kinship_contracts.resources import ResourceKind
from kinship_escalation.domain.resources import DEFAULT_CATALOGUE, country_of_timezone, select


def test_resources_for_a_country_come_first_then_general_ones() -> None:
    table = "# comment\nGB\t+513030-0000731\tEurope/London\nUS\t+404251-0740023\tAmerica/New_York\n"
    assert country_of_timezone("Europe/London", table) == "GB"
    assert country_of_timezone("Mars/Olympus", table) is None
    crisis = select(DEFAULT_CATALOGUE, {ResourceKind.CRISIS}, "GB")
    assert crisis[0].name == "Samaritans"
    assert all(not r.countries or "GB" in r.countries for r in crisis)
    anywhere = select(DEFAULT_CATALOGUE, {ResourceKind.CRISIS}, None)
    assert all(not r.countries for r in anywhere)
    guides = select(DEFAULT_CATALOGUE, {ResourceKind.SELF_CARE}, "US")
    assert {r.kind for r in guides} == {ResourceKind.SELF_CARE}
