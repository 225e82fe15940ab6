"""The catalogue of support resources, and which ones a person is sent."""

from kinship_contracts.resources import ResourceKind, SupportResource

DEFAULT_CATALOGUE: tuple[SupportResource, ...] = (
    SupportResource(
        kind=ResourceKind.CRISIS,
        name="Emergency services",
        description="If you are in immediate danger, call your local emergency number now.",
        contact="112 / 911 / 999",
    ),
    SupportResource(
        kind=ResourceKind.CRISIS,
        name="Find a helpline",
        description="Free, confidential crisis lines in your country, any time.",
        contact="https://findahelpline.com",
    ),
    SupportResource(
        kind=ResourceKind.CRISIS,
        name="Samaritans",
        description="Talk to someone, day or night, for free.",
        contact="116 123",
        countries=["GB", "IE"],
    ),
    SupportResource(
        kind=ResourceKind.CRISIS,
        name="988 Suicide & Crisis Lifeline",
        description="Call or text 988, any time.",
        contact="988",
        countries=["US"],
    ),
    SupportResource(
        kind=ResourceKind.CRISIS,
        name="TelefonSeelsorge",
        description="Anonym und kostenlos, rund um die Uhr.",
        contact="0800 111 0 111",
        countries=["DE"],
    ),
    SupportResource(
        kind=ResourceKind.EMPLOYEE_ASSISTANCE,
        name="Employee assistance programme",
        description="Confidential counselling paid for by your employer.",
        contact="Ask HR or see the intranet page 'Employee assistance'",
    ),
    SupportResource(
        kind=ResourceKind.SELF_CARE,
        name="Doing What Matters in Times of Stress (WHO)",
        description="An illustrated guide of practical skills to cope with stress.",
        contact="https://www.who.int/publications/i/item/9789240003927",
    ),
)


def select(
    catalogue: tuple[SupportResource, ...], kinds: set[ResourceKind], country: str | None
) -> list[SupportResource]:
    """Resources of ``kinds`` for a person in ``country``: the country's, then general ones."""
    chosen = [r for r in catalogue if r.kind in kinds]
    local = [r for r in chosen if country is not None and country in r.countries]
    general = [r for r in chosen if not r.countries]
    return local + general


def country_of_timezone(timezone: str, zone_table: str) -> str | None:
    """The country of an IANA time zone, from tzdata's ``zone.tab`` text."""
    for line in zone_table.splitlines():
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) >= 3 and fields[2] == timezone:
            return fields[0]
    return None
