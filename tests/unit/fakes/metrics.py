"""A stand-in for an OpenTelemetry counter: what was added, with which labels."""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Counted:
    """Stands in for a counter (``add(amount, attributes)``): every add, in order."""

    adds: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def add(self, amount: int, attributes: dict[str, Any] | None = None) -> None:
        self.adds.append((amount, dict(attributes or {})))
