"""The project is open source (issue 11, "Why" 14): an Apache-2.0 LICENSE at the root, and
every package's metadata says so."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_root_has_the_apache_2_licence() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text


def test_every_package_declares_apache_2() -> None:
    manifests = [ROOT / "pyproject.toml", *sorted(ROOT.glob("*/pyproject.toml"))]
    manifests += sorted(ROOT.glob("services/*/pyproject.toml"))
    assert len(manifests) >= 8  # the workspace, contracts, runtime, devstack, five services
    for manifest in manifests:
        project = tomllib.loads(manifest.read_text())["project"]
        assert project.get("license") == "Apache-2.0", manifest.relative_to(ROOT)
