"""The schema compatibility check (kinship_contracts.schemas) on real and hand-made schemas."""

import copy
import json
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict

from kinship_contracts.checkins import CheckinRecorded, CheckinSubmitted
from kinship_contracts.directory import DirectoryPerson
from kinship_contracts.schemas import (
    JsonSchema,
    check,
    export,
    incompatibilities,
    main,
    schema_of,
    snapshot_path,
)
from kinship_contracts.topics import CHECKINS_SUBMITTED, EVENT_TYPES


def edited(schema: JsonSchema, **path_updates: Any) -> JsonSchema:
    """A deep copy of ``schema``; keys like ``properties__mood`` reach nested nodes."""
    result = copy.deepcopy(schema)
    for path, update in path_updates.items():
        node = result
        for part in path.split("__"):
            node = node[part]
        node.update(update)
    return result


SUBMITTED = CheckinSubmitted.model_json_schema(mode="validation")
RECORDED = CheckinRecorded.model_json_schema(mode="validation")
DIRECTORY = DirectoryPerson.model_json_schema(mode="validation")


def test_an_unchanged_schema_is_compatible_with_itself() -> None:
    for spec in EVENT_TYPES:
        schema = schema_of(spec)
        assert incompatibilities(schema, copy.deepcopy(schema)) == [], spec.event_type


def test_removing_a_published_field_is_reported_with_its_path() -> None:
    new = copy.deepcopy(SUBMITTED)
    del new["properties"]["note"]
    assert incompatibilities(SUBMITTED, new) == ["$.note: field removed"]


def test_adding_a_required_field_is_reported() -> None:
    new = copy.deepcopy(SUBMITTED)
    new["properties"]["team_id"] = {"type": "string"}
    new["required"].append("team_id")
    assert incompatibilities(SUBMITTED, new) == ["$.team_id: field became required"]


def test_making_an_optional_field_required_is_reported() -> None:
    new = copy.deepcopy(SUBMITTED)
    new["required"].append("mood")
    assert "$.mood: field became required" in incompatibilities(SUBMITTED, new)


def test_adding_an_optional_field_is_compatible() -> None:
    new = copy.deepcopy(SUBMITTED)
    new["properties"]["location"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert incompatibilities(SUBMITTED, new) == []


def test_changing_a_fields_type_is_reported() -> None:
    new = copy.deepcopy(SUBMITTED)
    new["properties"]["mood"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    (problem,) = incompatibilities(SUBMITTED, new)
    assert problem.startswith("$.mood: type")


def test_making_a_nullable_field_non_nullable_is_reported() -> None:
    new = copy.deepcopy(SUBMITTED)
    new["properties"]["mood"] = {"type": "integer", "minimum": 1, "maximum": 5}
    assert incompatibilities(SUBMITTED, new) != []


def test_tightening_the_note_max_length_is_reported() -> None:
    new = copy.deepcopy(SUBMITTED)
    new["properties"]["note"]["anyOf"][0]["maxLength"] = 1000
    assert incompatibilities(SUBMITTED, new) == ["$.note: maxLength tightened from 2000 to 1000"]


def test_widening_the_note_max_length_is_compatible() -> None:
    new = copy.deepcopy(SUBMITTED)
    new["properties"]["note"]["anyOf"][0]["maxLength"] = 4000
    assert incompatibilities(SUBMITTED, new) == []


def test_raising_a_minimum_is_reported_and_lowering_it_is_not() -> None:
    raised = copy.deepcopy(SUBMITTED)
    raised["properties"]["mood"]["anyOf"][0]["minimum"] = 2
    lowered = copy.deepcopy(SUBMITTED)
    lowered["properties"]["mood"]["anyOf"][0]["minimum"] = 0
    assert incompatibilities(SUBMITTED, raised) == ["$.mood: minimum tightened from 1 to 2"]
    assert incompatibilities(SUBMITTED, lowered) == []


def test_lowering_a_maximum_is_reported() -> None:
    new = copy.deepcopy(SUBMITTED)
    new["properties"]["mood"]["anyOf"][0]["maximum"] = 4
    assert incompatibilities(SUBMITTED, new) == ["$.mood: maximum tightened from 5 to 4"]


def test_array_item_bounds_and_item_count_are_compared() -> None:
    new = copy.deepcopy(SUBMITTED)
    who5 = new["properties"]["who5"]["anyOf"][0]
    who5["items"]["maximum"] = 4
    who5["maxItems"] = 4
    problems = incompatibilities(SUBMITTED, new)
    assert "$.who5[]: maximum tightened from 5 to 4" in problems
    assert "$.who5: maxItems tightened from 5 to 4" in problems


def test_adding_a_pattern_to_a_free_string_is_reported() -> None:
    new = copy.deepcopy(SUBMITTED)
    new["properties"]["source"]["pattern"] = "^[a-z-]+$"
    assert incompatibilities(SUBMITTED, new) != []


def test_removing_an_enum_value_behind_a_ref_is_reported() -> None:
    band = RECORDED["$defs"]["Phq9Band"]
    new = edited(RECORDED, **{"$defs__Phq9Band": {"enum": band["enum"][:-1]}})
    problems = incompatibilities(RECORDED, new)
    assert problems == ["$.scores.phq9_band: enum values removed: ['severe']"]


def test_adding_an_enum_value_is_compatible() -> None:
    band = RECORDED["$defs"]["Phq9Band"]
    new = edited(RECORDED, **{"$defs__Phq9Band": {"enum": [*band["enum"], "extreme"]}})
    assert incompatibilities(RECORDED, new) == []


def test_removing_a_field_of_a_nested_object_is_reported() -> None:
    new = copy.deepcopy(DIRECTORY)
    del new["$defs"]["Channels"]["properties"]["slack_webhook"]
    assert incompatibilities(DIRECTORY, new) == ["$.channels.slack_webhook: field removed"]


def test_removing_a_roles_enum_value_inside_an_array_is_reported() -> None:
    new = edited(DIRECTORY, **{"$defs__Role": {"enum": ["peer_responder"]}})
    assert incompatibilities(DIRECTORY, new) == [
        "$.roles[]: enum values removed: ['coordinator', 'team_manager']"
    ]


PLAIN: JsonSchema = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "maxLength": 200},
        "mood": {"type": "integer", "minimum": 1, "maximum": 5},
        "kind": {"enum": ["a", "b"]},
    },
    "required": ["id"],
}
"""A hand-made schema whose fields are plain nodes (pydantic wraps optional ones in anyOf)."""


@pytest.mark.parametrize(
    "change",
    [
        {"properties__mood": {"type": "string"}},
        {"properties__kind": {"enum": ["a"]}},
        {"properties__id": {"maxLength": 100}},
        {"properties__mood": {"minimum": 2}},
    ],
    ids=["type-changed", "enum-value-removed", "max-length-tightened", "minimum-raised"],
)
def test_incompatible_changes_to_plain_fields_are_reported(change: dict[str, Any]) -> None:
    assert incompatibilities(PLAIN, edited(PLAIN, **change)) != []


class _TwoKinds(BaseModel):
    kind: Literal["a", "b"]
    free: str


class _OneKind(BaseModel):
    kind: Literal["a"]
    free: str


class _OtherKind(BaseModel):
    kind: Literal["b"]
    free: str


class _EnumFree(BaseModel):
    kind: Literal["a", "b"]
    free: Literal["x", "y"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["a", "b"]
    free: str


@pytest.mark.parametrize(
    ("old", "new"),
    [(_TwoKinds, _OneKind), (_OneKind, _OtherKind), (_TwoKinds, _EnumFree), (_TwoKinds, _Closed)],
    ids=[
        "literal-narrowed-to-one-value",
        "const-value-changed",
        "free-string-narrowed-to-an-enum",
        "additional-properties-forbidden",
    ],
)
def test_incompatible_changes_to_models_are_reported(
    old: type[BaseModel], new: type[BaseModel]
) -> None:
    assert incompatibilities(old.model_json_schema(), new.model_json_schema()) != []


def test_every_event_type_has_a_committed_snapshot() -> None:
    missing = [spec.event_type for spec in EVENT_TYPES if not snapshot_path(spec).exists()]
    assert missing == []


def test_the_committed_snapshots_pass_the_check() -> None:
    assert check() == []


def test_check_reports_a_missing_snapshot(tmp_path: Path) -> None:
    export(tmp_path)
    snapshot_path(CHECKINS_SUBMITTED, tmp_path).unlink()
    problems = check(tmp_path)
    assert len(problems) == 1
    assert problems[0].startswith("wellbeing.checkins.submitted: no published snapshot")


def test_check_reports_an_incompatible_change_against_a_snapshot(tmp_path: Path) -> None:
    export(tmp_path)
    path = snapshot_path(CHECKINS_SUBMITTED, tmp_path)
    published = json.loads(path.read_text())
    published["properties"]["mood"]["anyOf"][0]["maximum"] = 7  # the published contract was wider
    path.write_text(json.dumps(published))
    (problem,) = check(tmp_path)
    assert "kinship.checkin.submitted.v1" in problem and "maximum tightened from 7 to 5" in problem


def test_the_command_line_check_exits_0_on_compatible_snapshots_and_1_otherwise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--dir", str(tmp_path)]) == 0
    assert main(["check", "--dir", str(tmp_path)]) == 0
    snapshot_path(CHECKINS_SUBMITTED, tmp_path).unlink()
    assert main(["check", "--dir", str(tmp_path)]) == 1
    assert "no published snapshot" in capsys.readouterr().err


def test_exported_schemas_carry_topic_key_and_event_type() -> None:
    schema = schema_of(CHECKINS_SUBMITTED)
    assert schema["$id"] == "urn:kinship:kinship.checkin.submitted.v1"
    assert schema["x-kinship-topic"] == "wellbeing.checkins.submitted"
    assert schema["x-kinship-key"] == "person_id"
    assert schema["additionalProperties"] is False
