"""Support resources sent to people: crisis lines, the employee assistance programme, guides."""

from enum import StrEnum

from pydantic import Field

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
