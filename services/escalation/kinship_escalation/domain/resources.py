"""Where a person is, for choosing their support resources (the catalogue is in contracts)."""

from kinship_contracts.resources import DEFAULT_CATALOGUE, select

__all__ = ["DEFAULT_CATALOGUE", "country_of_timezone", "select"]


def country_of_timezone(timezone: str, zone_table: str) -> str | None:
    """The country of an IANA time zone, from tzdata's ``zone.tab`` text."""
    for line in zone_table.splitlines():
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) >= 3 and fields[2] == timezone:
            return fields[0]
    return None
