"""JSON Schema export and the compatibility check against published snapshots.

Run ``python -m kinship_contracts.schemas export`` to write the current schemas and
``python -m kinship_contracts.schemas check`` to compare them with the committed snapshots.
A published schema may grow (new optional fields, wider bounds, more enum values); it may
not drop a field, add a required one, change a type, or narrow what it accepts.
"""

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kinship_contracts.topics import EVENT_TYPES, TopicSpec

SNAPSHOT_DIR = Path(__file__).resolve().parent.parent / "schemas"
JsonSchema = dict[str, Any]

_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")


def schema_of(spec: TopicSpec) -> JsonSchema:
    """The JSON Schema of an event type's payload, with its ``$id``, topic and key."""
    schema = spec.payload.model_json_schema(mode="validation")
    schema["$id"] = f"urn:kinship:{spec.event_type}"
    schema["x-kinship-topic"] = spec.name
    schema["x-kinship-key"] = spec.key
    return schema


def snapshot_path(spec: TopicSpec, directory: Path = SNAPSHOT_DIR) -> Path:
    """Where an event type's published schema snapshot lives (a topic may carry several)."""
    return directory / f"{spec.event_type}.json"


def export(directory: Path = SNAPSHOT_DIR) -> list[Path]:
    """Write every event type's schema; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in EVENT_TYPES:
        path = snapshot_path(spec, directory)
        path.write_text(json.dumps(schema_of(spec), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def _resolve(node: JsonSchema, root: JsonSchema) -> JsonSchema:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: JsonSchema = root["$defs"][ref.removeprefix("#/$defs/")]
        return resolved
    return node


def _alternatives(node: JsonSchema, root: JsonSchema) -> list[JsonSchema]:
    node = _resolve(node, root)
    options = node.get("anyOf") or node.get("oneOf")
    if options:
        return [_resolve(option, root) for option in options]
    return [node]


def _types(node: JsonSchema, root: JsonSchema) -> set[str]:
    found: set[str] = set()
    for option in _alternatives(node, root):
        kind = option.get("type")
        if isinstance(kind, list):
            found.update(kind)
        elif isinstance(kind, str):
            found.add(kind)
        elif "enum" in option or "const" in option:
            found.add("enum")
        elif "properties" in option:
            found.add("object")
    return found


def _compare(
    path: str, old: JsonSchema, old_root: JsonSchema, new: JsonSchema, new_root: JsonSchema
) -> Iterator[str]:
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    if not old_types <= new_types:
        yield f"{path}: type {sorted(old_types)} became {sorted(new_types)}"
        return
    for old_option in _alternatives(old, old_root):
        kind = old_option.get("type", "enum" if "enum" in old_option else None)
        matches = [
            option
            for option in _alternatives(new, new_root)
            if option.get("type", "enum" if "enum" in option else None) == kind
        ]
        if not matches:
            continue
        new_option = matches[0]
        yield from _compare_constraints(path, old_option, new_option)
        if kind == "object":
            yield from _compare_objects(path, old_option, old_root, new_option, new_root)
        if kind == "array" and "items" in old_option and "items" in new_option:
            yield from _compare(
                f"{path}[]", old_option["items"], old_root, new_option["items"], new_root
            )


def _allowed(node: JsonSchema) -> set[str] | None:
    """The values a schema allows by ``enum`` or ``const``; None when any value goes."""
    if "enum" in node:
        return {str(value) for value in node["enum"]}
    if "const" in node:
        return {str(node["const"])}
    return None


def _compare_constraints(path: str, old: JsonSchema, new: JsonSchema) -> Iterator[str]:
    old_values, new_values = _allowed(old), _allowed(new)
    if new_values is not None and old_values is None:
        yield f"{path}: narrowed from any value to {sorted(new_values)}"
    elif new_values is not None and old_values is not None:
        removed = old_values - new_values
        if removed:
            yield f"{path}: enum values removed: {sorted(removed)}"
    for bound in _LOWER_BOUNDS:
        if bound in new and (bound not in old or new[bound] > old[bound]):
            yield f"{path}: {bound} tightened from {old.get(bound)} to {new[bound]}"
    for bound in _UPPER_BOUNDS:
        if bound in new and (bound not in old or new[bound] < old[bound]):
            yield f"{path}: {bound} tightened from {old.get(bound)} to {new[bound]}"
    if "pattern" in new and new.get("pattern") != old.get("pattern"):
        yield f"{path}: pattern changed from {old.get('pattern')!r} to {new['pattern']!r}"
    if "format" in new and new.get("format") != old.get("format"):
        yield f"{path}: format changed from {old.get('format')!r} to {new['format']!r}"


def _compare_objects(
    path: str, old: JsonSchema, old_root: JsonSchema, new: JsonSchema, new_root: JsonSchema
) -> Iterator[str]:
    old_props: JsonSchema = old.get("properties", {})
    new_props: JsonSchema = new.get("properties", {})
    for name in sorted(set(old_props) - set(new_props)):
        yield f"{path}.{name}: field removed"
    if old.get("additionalProperties", True) is not False and (
        new.get("additionalProperties", True) is False
    ):
        yield f"{path}: closed to additional properties (extra fields are now refused)"
    newly_required = set(new.get("required", ())) - set(old.get("required", ()))
    for name in sorted(newly_required):
        yield f"{path}.{name}: field became required"
    for name in sorted(set(old_props) & set(new_props)):
        yield from _compare(f"{path}.{name}", old_props[name], old_root, new_props[name], new_root)


def incompatibilities(old: JsonSchema, new: JsonSchema) -> list[str]:
    """Every way ``new`` breaks producers or consumers written against ``old``."""
    return list(_compare("$", old, old, new, new))


def check(directory: Path = SNAPSHOT_DIR) -> list[str]:
    """Problems found comparing current schemas with the committed snapshots."""
    problems = []
    for spec in EVENT_TYPES:
        path = snapshot_path(spec, directory)
        if not path.exists():
            problems.append(
                f"{spec.name}: no published snapshot at {path}; run "
                "'python -m kinship_contracts.schemas export' and commit it"
            )
            continue
        published = json.loads(path.read_text())
        for problem in incompatibilities(published, schema_of(spec)):
            problems.append(
                f"{spec.name} ({spec.event_type}): {problem}; publish a new event type "
                "version instead of changing this one"
            )
    return problems


def catalogue() -> str:
    """The event catalogue as Markdown, generated from the topic registry and the models."""
    lines = [
        "# Event catalogue",
        "",
        "Generated by `python -m kinship_contracts.schemas catalogue` from `contracts/`;"
        " do not edit by hand. JSON Schemas: `contracts/schemas/`.",
        "",
        "| topic | event type | key | partitions | retention | record timestamps | dead letters |",
        "|---|---|---|---|---|---|---|",
    ]
    for spec in EVENT_TYPES:
        retention = "compacted" if spec.compacted else f"{spec.retention_ms // 86_400_000} days"
        stamped = "broker (`LogAppendTime`)" if spec.log_append_time else "producer"
        lines.append(
            f"| `{spec.name}` | `{spec.event_type}` | `{spec.key}` | {spec.partitions} "
            f"| {retention} | {stamped} | `{spec.dead_letter}` |"
        )
    for spec in EVENT_TYPES:
        schema = schema_of(spec)
        lines += ["", f"## `{spec.name}` — `{spec.event_type}`", "", spec.description, ""]
        lines += [(spec.payload.__doc__ or "").strip(), "", "| field | required | description |"]
        lines.append("|---|---|---|")
        required = set(schema.get("required", ()))
        for name, field in schema.get("properties", {}).items():
            text = str(field.get("description", "")).replace("|", "\\|")
            lines.append(f"| `{name}` | {'yes' if name in required else 'no'} | {text} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line: ``export``, ``check`` or ``catalogue``."""
    parser = argparse.ArgumentParser(prog="python -m kinship_contracts.schemas")
    parser.add_argument("command", choices=["export", "check", "catalogue"])
    parser.add_argument("--dir", type=Path, default=SNAPSHOT_DIR)
    args = parser.parse_args(argv)
    if args.command == "catalogue":
        print(catalogue(), end="")
        return 0
    if args.command == "export":
        for path in export(args.dir):
            print(f"wrote {path}")
        return 0
    problems = check(args.dir)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
