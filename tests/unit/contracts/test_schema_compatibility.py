"""The compatibility check fails on incompatible schema changes and accepts compatible ones."""

import copy
from typing import Any

import pytest

from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.schemas import check, incompatibilities

BASE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "maxLength": 200},
        "mood": {"type": "integer", "minimum": 1, "maximum": 5},
        "kind": {"enum": ["a", "b"]},
    },
    "required": ["id"],
}


def changed(change: Any) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    change(schema)
    return schema


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s["properties"].pop("mood"),
        lambda s: (s["properties"].update(team={"type": "string"}), s["required"].append("team")),
        lambda s: s["properties"]["mood"].update(type="string"),
        lambda s: s["properties"]["kind"].update(enum=["a"]),
        lambda s: s["properties"]["id"].update(maxLength=100),
        lambda s: s["properties"]["mood"].update(minimum=2),
    ],
    ids=[
        "field-removed",
        "new-required",
        "type-changed",
        "enum-value-removed",
        "max-length-tightened",
        "minimum-raised",
    ],
)
def test_incompatible_changes_are_reported(change: Any) -> None:
    assert incompatibilities(BASE, changed(change))


def test_an_added_optional_field_is_compatible() -> None:
    schema = changed(lambda s: s["properties"].update(energy={"type": "integer"}))
    assert incompatibilities(BASE, schema) == []


def test_current_models_match_the_committed_snapshots() -> None:
    assert check() == []


def test_real_model_schema_against_itself_is_compatible() -> None:
    schema = CheckinSubmitted.model_json_schema()
    assert incompatibilities(schema, schema) == []
