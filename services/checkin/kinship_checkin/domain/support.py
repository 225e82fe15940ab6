"""Crisis resources given to a person at once when a check-in shows immediate risk."""

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SupportResource:
    """A place to get help now."""

    name: str
    description: str
    contact: str


DEFAULT_CRISIS_RESOURCES: tuple[SupportResource, ...] = (
    SupportResource(
        name="Emergency services",
        description="If you are in immediate danger, call your local emergency number now.",
        contact="112 / 911 / 999 (your local emergency number)",
    ),
    SupportResource(
        name="Crisis line",
        description="Free, confidential support from trained listeners, any time.",
        contact="Find your country's crisis line at https://findahelpline.com",
    ),
    SupportResource(
        name="Peer responder",
        description="A trained colleague from the peer support team will reach out to you soon.",
        contact="No action needed: we are on it.",
    ),
)


def load_crisis_resources(path: Path | None) -> tuple[SupportResource, ...]:
    """The organisation's crisis resources from a JSON list, or the built-in defaults."""
    if path is None:
        return DEFAULT_CRISIS_RESOURCES
    entries = json.loads(path.read_text())
    return tuple(SupportResource(**entry) for entry in entries)
