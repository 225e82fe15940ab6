"""Vendors the JSON schemas kubeconform validates the Helm chart against (no network then).

Inputs come from package registries through their own clients, pinned below:

- Kubernetes built-in kinds: ``api/openapi-spec/swagger.json`` of the Go module
  ``k8s.io/kubernetes`` (``go mod download``, checked against the Go checksum database);
- Strimzi ``KafkaTopic`` and ``KafkaUser``: the CRDs inside the Maven Central artifact
  ``io.strimzi:api:<version>:jar:tests`` (``mvn --strict-checksums dependency:copy``);
- KEDA ``ScaledObject`` and ``TriggerAuthentication``: ``config/crd/bases`` of the Go module
  ``github.com/kedacore/keda/v2``.

Each kind becomes one file in kubeconform's layout (``kubernetes/v<version>/<kind>-<group>-
<version>.json`` and ``crds/<group>/<kind>_<version>.json``) holding the kind's schema plus
only the definitions it references. ``sources.json`` records every input's package, version
and sha256 and every output's sha256; the README's table is written from it. ``--verify``
(offline; ``scripts/check-helm.sh`` runs it) checks the vendored files and the README's
table against ``sources.json``.

Run: ``uv run --with pyyaml==6.0.3 python deploy/schemas/vendor.py`` (needs Go, Maven and the
registries; PyYAML reads the CRDs).
"""

import argparse
import copy
import hashlib
import importlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SOURCES = HERE / "sources.json"
README = HERE / "README.md"

KUBERNETES_VERSION = "1.35.4"
KEDA_VERSION = "v2.21.0"
STRIMZI_VERSION = "0.51.0"

# (apiVersion, kind) of every built-in kind the chart renders.
KUBERNETES_KINDS = (
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("apps/v1", "Deployment"),
    ("batch/v1", "Job"),
    ("policy/v1", "PodDisruptionBudget"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("networking.k8s.io/v1", "Ingress"),
)
# Strimzi 0.51 serves kafka.strimzi.io v1beta2 (the chart's default) and v1 (Strimzi 1.x
# serves only v1): both are vendored from the same CRD.
STRIMZI_CRDS: dict[str, tuple[str, ...]] = {
    "crds/v1beta2/043-Crd-kafkatopic.yaml": ("v1beta2", "v1"),
    "crds/v1beta2/044-Crd-kafkauser.yaml": ("v1beta2", "v1"),
}
KEDA_CRDS: dict[str, tuple[str, ...]] = {
    "config/crd/bases/keda.sh_scaledobjects.yaml": ("v1alpha1",),
    "config/crd/bases/keda.sh_triggerauthentications.yaml": ("v1alpha1",),
}

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
INT_OR_STRING = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
QUANTITY = {"anyOf": [{"type": "string"}, {"type": "number"}]}
REPLACED_DEFINITIONS = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": INT_OR_STRING,
    "io.k8s.apimachinery.pkg.api.resource.Quantity": QUANTITY,
}
# Annotations that are not JSON Schema: dropped after they have been interpreted.
DROPPED_KEYS = {"description", "example", "externalDocs"}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _run(command: list[str], cwd: Path | None = None) -> str:
    print("    $ " + " ".join(command))
    result = subprocess.run(  # noqa: S603 - fixed commands, no shell
        command, cwd=cwd, check=False, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"vendor: {' '.join(command)} failed ({result.returncode})")
    return result.stdout


def _yaml(text: str) -> Any:
    try:
        yaml = importlib.import_module("yaml")
    except ModuleNotFoundError:
        raise SystemExit(
            "vendor.py reads CRDs with PyYAML: run it as "
            "'uv run --with pyyaml==6.0.3 python deploy/schemas/vendor.py'"
        ) from None
    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    return yaml.load(text, Loader=loader)


# --- inputs ------------------------------------------------------------------------------


def go_module(module: str, version: str) -> tuple[Path, str]:
    """Download a Go module through the module proxy; its directory and go.sum hash."""
    info = json.loads(_run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd=HERE))
    if info.get("Error"):
        raise SystemExit(f"vendor: {module}@{version}: {info['Error']}")
    return Path(info["Dir"]), str(info["Sum"])


def maven_artifact(coordinates: str, workdir: Path) -> Path:
    """Download a Maven Central artifact (checksums enforced); the file's path."""
    out = workdir / "maven"
    _run(
        [
            "mvn",
            "--batch-mode",
            "--quiet",
            "--strict-checksums",
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
            f"-Dartifact={coordinates}",
            f"-DoutputDirectory={out}",
        ],
        cwd=workdir,
    )
    files = list(out.iterdir())
    if len(files) != 1:
        raise SystemExit(f"vendor: expected one file for {coordinates}, got {files}")
    return files[0]


# --- conversion --------------------------------------------------------------------------


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    # kubeconform -strict: an object with declared properties accepts no others, unless the
    # schema says unknown fields are kept or already decides additionalProperties.
    if (
        "properties" in schema
        and schema.get("type", "object") == "object"
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        schema["additionalProperties"] = False
    return schema


def convert(node: Any) -> Any:
    """An OpenAPI (v2 definition or CRD v3) schema as a strict JSON Schema."""
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("x-kubernetes-int-or-string"):
        rest = {k: v for k, v in node.items() if k not in ("type", "x-kubernetes-int-or-string")}
        return {**convert(rest), **INT_OR_STRING}
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROPPED_KEYS:
            continue
        if key in ("properties", "patternProperties", "definitions"):
            result[key] = {name: convert(sub) for name, sub in value.items()}
        elif key.startswith("x-kubernetes-") and key != "x-kubernetes-preserve-unknown-fields":
            continue  # list types, CEL validations, embedded resources: not JSON Schema
        elif key == "nullable":
            continue  # handled below
        else:
            result[key] = convert(value)
    if node.get("nullable") and isinstance(result.get("type"), str):
        result["type"] = [result["type"], "null"]
    _strict(result)
    result.pop("x-kubernetes-preserve-unknown-fields", None)
    return result


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            yield ref.removeprefix("#/definitions/")
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def closure(definitions: dict[str, Any], roots: Iterable[str]) -> dict[str, Any]:
    """The definitions ``roots`` reference, transitively, converted."""
    wanted: dict[str, Any] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        if name in REPLACED_DEFINITIONS:
            wanted[name] = REPLACED_DEFINITIONS[name]
            continue
        converted = convert(definitions[name])
        wanted[name] = converted
        todo.extend(_refs(converted))
    return dict(sorted(wanted.items()))


def _identify(schema: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    properties = schema.setdefault("properties", {})
    # Status is the controllers' to write: a manifest that sets it is a mistake.
    properties.pop("status", None)
    properties["apiVersion"] = {"type": "string", "enum": [api_version]}
    properties["kind"] = {"type": "string", "enum": [kind]}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind"})
    return schema


def kind_suffix(api_version: str) -> str:
    """kubeconform's ``{{ .KindSuffix }}``: ``-apps-v1``, ``-networking-v1``, ``-v1``."""
    parts = api_version.split("/")
    suffix = "-" + parts[0].split(".")[0].lower()
    if len(parts) > 1:
        suffix += "-" + parts[1].lower()
    return suffix


def kubernetes_schemas(swagger: dict[str, Any]) -> dict[str, Any]:
    """One standalone file per built-in kind the chart renders."""
    definitions: dict[str, Any] = swagger["definitions"]
    by_gvk = {}
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            group = gvk["group"]
            api_version = f"{group}/{gvk['version']}" if group else gvk["version"]
            by_gvk[(api_version, gvk["kind"])] = name
    files = {}
    for api_version, kind in KUBERNETES_KINDS:
        name = by_gvk[(api_version, kind)]
        root = _identify(convert(definitions[name]), api_version, kind)
        root["definitions"] = closure(definitions, _refs(root))
        path = f"kubernetes/v{KUBERNETES_VERSION}/{kind.lower()}{kind_suffix(api_version)}.json"
        files[path] = root
    return files


def crd_schemas(
    crd: dict[str, Any], versions: Iterable[str], definitions: dict[str, Any]
) -> dict[str, Any]:
    """One file per served version of a CRD; ``metadata`` is checked as ObjectMeta."""
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"]
    served = {v["name"]: v for v in crd["spec"]["versions"] if v.get("served")}
    files = {}
    for version in versions:
        if version not in served:
            raise SystemExit(f"vendor: {kind} {group}/{version} is not served by this CRD")
        schema = copy.deepcopy(served[version]["schema"]["openAPIV3Schema"])
        schema.setdefault("properties", {})["metadata"] = {"$ref": f"#/definitions/{OBJECT_META}"}
        root = _identify(convert(schema), f"{group}/{version}", kind)
        root["definitions"] = closure(definitions, _refs(root))
        files[f"crds/{group}/{kind.lower()}_{version}.json"] = root
    return files


# --- the run -----------------------------------------------------------------------------


def _render(schema: Any) -> bytes:
    return (json.dumps(schema, indent=1, sort_keys=True) + "\n").encode()


TABLE_START = "<!-- inputs: written by vendor.py from sources.json -->"
TABLE_END = "<!-- /inputs -->"


def inputs_table(sources: dict[str, Any]) -> str:
    """The README's table of inputs (source, version, sha256), from sources.json."""
    lines = [
        TABLE_START,
        "| schema | registry | package (version, registry checksum) | file | sha256 of the file |",
        "|---|---|---|---|---|",
    ]
    for item in sources["inputs"]:
        lines.append(
            f"| {item['what']} | {item['registry']} | `{item['package']}` | `{item['file']}` "
            f"| `{item['sha256']}` |"
        )
    lines.append("")
    lines.append("| vendored file | sha256 |")
    lines.append("|---|---|")
    for name, digest in sources["outputs"].items():
        lines.append(f"| `{name}` | `{digest}` |")
    lines.append(TABLE_END)
    return "\n".join(lines)


def readme_with_table(readme: str, sources: dict[str, Any]) -> str:
    """README.md with its inputs table replaced."""
    start, end = readme.index(TABLE_START), readme.index(TABLE_END) + len(TABLE_END)
    return readme[:start] + inputs_table(sources) + readme[end:]


def vendor() -> int:
    """Download the inputs, convert them, write the schemas, sources.json and README.md."""
    inputs: list[dict[str, str]] = []
    files: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="kinship-schemas-") as tmp:
        print(f"==> Kubernetes {KUBERNETES_VERSION}: go module k8s.io/kubernetes")
        k8s_dir, k8s_sum = go_module("k8s.io/kubernetes", f"v{KUBERNETES_VERSION}")
        swagger_bytes = (k8s_dir / "api/openapi-spec/swagger.json").read_bytes()
        swagger = json.loads(swagger_bytes)
        inputs.append(
            {
                "what": f"Kubernetes {KUBERNETES_VERSION} built-in kinds",
                "registry": "Go module proxy",
                "package": f"k8s.io/kubernetes@v{KUBERNETES_VERSION} ({k8s_sum})",
                "file": "api/openapi-spec/swagger.json",
                "sha256": _sha256(swagger_bytes),
            }
        )
        files.update(kubernetes_schemas(swagger))
        definitions = swagger["definitions"]

        print(f"==> Strimzi {STRIMZI_VERSION}: Maven Central io.strimzi:api (tests jar)")
        coordinates = f"io.strimzi:api:{STRIMZI_VERSION}:jar:tests"
        jar = maven_artifact(coordinates, Path(tmp))
        jar_sha = _sha256(jar.read_bytes())
        with zipfile.ZipFile(jar) as archive:
            for member, versions in STRIMZI_CRDS.items():
                data = archive.read(member)
                inputs.append(
                    {
                        "what": f"Strimzi {_yaml(data.decode())['spec']['names']['kind']}",
                        "registry": "Maven Central",
                        "package": f"{coordinates} (jar sha256 {jar_sha})",
                        "file": member,
                        "sha256": _sha256(data),
                    }
                )
                files.update(crd_schemas(_yaml(data.decode()), versions, definitions))

        print(f"==> KEDA {KEDA_VERSION}: go module github.com/kedacore/keda/v2")
        keda_dir, keda_sum = go_module("github.com/kedacore/keda/v2", KEDA_VERSION)
        for member, versions in KEDA_CRDS.items():
            data = (keda_dir / member).read_bytes()
            crd = _yaml(data.decode())
            inputs.append(
                {
                    "what": f"KEDA {crd['spec']['names']['kind']}",
                    "registry": "Go module proxy",
                    "package": f"github.com/kedacore/keda/v2@{KEDA_VERSION} ({keda_sum})",
                    "file": member,
                    "sha256": _sha256(data),
                }
            )
            files.update(crd_schemas(crd, versions, definitions))

    for stale in [*HERE.glob("kubernetes/*/*.json"), *HERE.glob("crds/*/*.json")]:
        if str(stale.relative_to(HERE)) not in files:
            stale.unlink()
            print(f"removed {stale.relative_to(ROOT)}")
    outputs = {}
    for relative, schema in sorted(files.items()):
        data = _render(schema)
        path = HERE / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        outputs[relative] = _sha256(data)
        print(f"wrote {path.relative_to(ROOT)} ({len(data) // 1024} KiB)")
    sources = {
        "kubernetesVersion": KUBERNETES_VERSION,
        "strimziVersion": STRIMZI_VERSION,
        "kedaVersion": KEDA_VERSION,
        "inputs": inputs,
        "outputs": outputs,
    }
    SOURCES.write_text(json.dumps(sources, indent=2) + "\n")
    print(f"wrote {SOURCES.relative_to(ROOT)}")
    README.write_text(readme_with_table(README.read_text(), sources))
    print(f"updated the inputs table of {README.relative_to(ROOT)}")
    return 0


def verify() -> int:
    """Offline: every vendored file matches sources.json, and nothing else is there."""
    sources = json.loads(SOURCES.read_text())
    expected: dict[str, str] = sources["outputs"]
    present = {
        str(p.relative_to(HERE))
        for p in [*HERE.glob("kubernetes/*/*.json"), *HERE.glob("crds/*/*.json")]
    }
    problems = [f"unexpected file {name}" for name in sorted(present - set(expected))]
    for name, digest in sorted(expected.items()):
        path = HERE / name
        if not path.exists():
            problems.append(f"missing {name}")
        elif _sha256(path.read_bytes()) != digest:
            problems.append(f"{name} was edited (sha256 differs from sources.json)")
    readme = README.read_text()
    if TABLE_START not in readme or readme_with_table(readme, sources) != readme:
        problems.append("README.md: its inputs table differs from sources.json")
    for problem in problems:
        print(f"FAIL: deploy/schemas/{problem}", file=sys.stderr)
    if problems:
        print(
            "the vendored schemas do not match deploy/schemas/sources.json: regenerate them "
            "with 'uv run --with pyyaml==6.0.3 python deploy/schemas/vendor.py'",
            file=sys.stderr,
        )
        return 1
    print(
        f"deploy/schemas: {len(expected)} schema files match sources.json "
        f"(Kubernetes {sources['kubernetesVersion']}, Strimzi {sources['strimziVersion']}, "
        f"KEDA {sources['kedaVersion']})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Vendor the schemas, or with ``--verify`` check the vendored ones offline."""
    parser = argparse.ArgumentParser(prog="deploy/schemas/vendor.py", description=__doc__)
    parser.add_argument("--verify", action="store_true", help="offline check of the files")
    args = parser.parse_args(argv)
    os.chdir(HERE)
    return verify() if args.verify else vendor()


if __name__ == "__main__":
    sys.exit(main())
