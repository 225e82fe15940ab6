"""Validation errors that are safe to return, log or put in a dead-letter header.

A pydantic error names the location of a failing value; for an unknown field or a mapping key
that location *is* text the sender chose (a person's id, a note pasted as a key), so it is
replaced by ``"<unknown>"`` unless it is a field name the contract declares. Submitted
values and pydantic's context are never included.
"""

from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

UNKNOWN = "<unknown>"


@cache
def declared_names(model: type[BaseModel]) -> frozenset[str]:
    """Every property name declared anywhere in ``model``'s JSON schema."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict):
                names.update(properties)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(model.model_json_schema())
    names.update(model.model_fields)
    return frozenset(names)


def safe_location(
    loc: tuple[int | str, ...], known: frozenset[str], prefix: tuple[str, ...] = ()
) -> list[int | str]:
    """``loc`` with every name the contract does not declare replaced by ``<unknown>``."""
    safe: list[int | str] = list(prefix)
    for part in loc:
        if isinstance(part, int) or part in known or part in prefix:
            safe.append(part)
        else:
            safe.append(UNKNOWN)
    return safe


def safe_field_errors(
    error: ValidationError, model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Field errors by location and message type, with no value or sender-chosen name."""
    known = declared_names(model)
    return [
        {
            "loc": safe_location(tuple(detail["loc"]), known, prefix),
            "msg": detail["msg"],
            "type": detail["type"],
        }
        for detail in error.errors(include_url=False, include_input=False, include_context=False)
    ]
