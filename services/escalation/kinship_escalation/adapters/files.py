"""Files the escalation service reads at start: the resource catalogue."""

from pathlib import Path

from pydantic import TypeAdapter

from kinship_contracts.resources import SupportResource
from kinship_escalation.domain.resources import DEFAULT_CATALOGUE

_CATALOGUE = TypeAdapter(list[SupportResource])


def load_catalogue(path: Path | None) -> tuple[SupportResource, ...]:
    """The organisation's catalogue from a JSON list, or the built-in one."""
    if path is None:
        return DEFAULT_CATALOGUE
    return tuple(_CATALOGUE.validate_json(path.read_text()))
