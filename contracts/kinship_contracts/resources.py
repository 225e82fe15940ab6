"""Support resources sent to people: crisis lines, the employee assistance programme, guides."""

from enum import StrEnum
from pathlib import Path

from pydantic import Field, TypeAdapter

from kinship_contracts.base import PlatformModel


class ResourceKind(StrEnum):
    """What a resource is for."""

    CRISIS = "crisis"
    EMPLOYEE_ASSISTANCE = "employee_assistance"
    SELF_CARE = "self_care"


class SupportResource(PlatformModel):
    """A place to get help: shown to a person, never tied to their answers."""

    kind: ResourceKind
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(max_length=1000)
    contact: str = Field(min_length=1, max_length=500, description="Phone number or URL.")
    countries: list[str] = Field(
        default_factory=list,
        description="ISO 3166 country codes where it applies; empty means everywhere.",
    )


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


_CATALOGUE = TypeAdapter(list[SupportResource])


def load_catalogue(path: Path | None) -> tuple[SupportResource, ...]:
    """An organisation's catalogue (a JSON list of resources: the format the check-in and
    escalation services both read at start), or the built-in one when there is no file."""
    if path is None:
        return DEFAULT_CATALOGUE
    return tuple(_CATALOGUE.validate_json(path.read_bytes()))
