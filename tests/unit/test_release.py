"""What a release and the Snakemake workflow catalog read: the version written once, the
CHANGELOG's section for it, the license and the citation file that agree with the package,
the catalog's file, the module's Snakefile and a schema that describes every key (the
catalog's parameter table is made from it)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from samebits import __version__
from samebits.core import layout, version
from samebits.core.errors import ConfigError
from samebits.provenance import fingerprint
from tests.helpers import REPO


def test_the_version_is_written_once_and_is_what_everything_shows():
    assert __version__ == version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "samebits.core.version.__version__"}
    # the one literal: no other file of the package spells the version
    spelled = [
        str(p.relative_to(REPO))
        for p in (REPO / "src" / "samebits").rglob("*.py")
        if f'"{__version__}"' in p.read_text() and p.name != "version.py"
    ]
    assert spelled == []
    shown = subprocess.run([sys.executable, "-m", "samebits.cli", "--version"], capture_output=True, text=True)
    assert shown.stdout.strip() == f"samebits {__version__}"
    assert fingerprint.fingerprint()["packages"]["samebits"] == __version__


def test_the_changelog_has_a_section_for_this_version_first():
    headings = re.findall(r"^## (\S+)", (REPO / "CHANGELOG.md").read_text(), flags=re.M)
    assert headings and headings[0] == __version__


def test_the_license_file_is_the_license_pyproject_declares():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    # no license-files: setuptools' default (LICEN[CS]E*, ...) ships LICENSE in the wheel
    assert "license-files" not in project
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the samebits authors\n")
    assert "Permission is hereby granted, free of charge" in text


def test_the_citation_file_is_cff_and_names_this_version_and_license():
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert {"cff-version", "message", "title", "authors"} <= set(citation)
    assert citation["cff-version"] == "1.2.0"
    assert citation["title"] == "samebits" and citation["type"] == "software"
    assert citation["version"] == __version__  # set with the version at a release
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert citation["license"] == project["license"]
    assert citation["authors"] == [{"name": "The samebits authors"}]
    assert isinstance(citation["abstract"], str) and citation["abstract"].strip()
    assert isinstance(citation["message"], str) and citation["message"].strip()


def test_check_library_names_both_versions_and_the_way_out(tmp_path):
    same = tmp_path / "same.py"
    same.write_text(f'"""doc"""\n__version__ = "{__version__}"\n')
    assert version.check_library(same) == __version__
    other = tmp_path / "version.py"
    other.write_text('__all__ = ["__version__"]\n__version__ = "9.9.9"\n')
    with pytest.raises(ConfigError) as err:
        version.check_library(other)
    message = str(err.value)
    assert message.startswith(f"this workflow is samebits 9.9.9 but the installed samebits library is {__version__}")
    assert "@v9.9.9" in message and "Use it in your paper's repository" in message
    broken = tmp_path / "broken.py"
    broken.write_text("version = 1\n")
    with pytest.raises(ConfigError, match=r"broken.py: no __version__ = '...' found"):
        version.check_library(broken)


def test_the_workflow_is_a_module_and_the_clone_uses_it_as_one():
    module = (REPO / "workflow" / "Snakefile").read_text()
    assert "rule all:" in module and "default_target: True" in module
    assert re.search(r"^onsuccess:\n    HOOKS.onsuccess\(\)", module, flags=re.M)
    clone = (REPO / "Snakefile").read_text()
    assert re.search(r'module samebits:\n    snakefile:\n        "workflow/Snakefile"', clone)
    assert "use rule * from samebits" in clone
    assert "samebits.onstart()" in clone and "samebits.onsuccess()" in clone
    # the version file the workflow checks is part of every copy of the workflow
    assert (REPO / layout.VERSION_FILE).resolve() == Path(version.__file__).resolve()
    common = (REPO / "workflow" / "rules" / "common.smk").read_text()
    assert 'check_library(workflow.source_path(f"../../{layout.VERSION_FILE}"))' in common


def test_the_catalog_file_says_how_it_is_used():
    catalog = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())
    usage = catalog["usage"]
    assert usage["report"] is True
    assert set(usage["mandatory-flags"]) == {"desc", "flags"}
    stack = usage["software-stack-deployment"]
    assert set(stack) == {"conda", "apptainer", "apptainer+conda"} and all(isinstance(v, bool) for v in stack.values())
    assert (REPO / "config" / "README.md").is_file()
    assert (REPO / "workflow" / "schemas" / "config.schema.yaml").is_file()


def _undescribed(node, path=""):
    """Every key of the schema (at any depth, $defs included) without a description."""
    if not isinstance(node, dict):
        return
    for name, sub in (node.get("properties") or {}).items():
        where = f"{path}.{name}".lstrip(".")
        if isinstance(sub, dict) and "description" not in sub and "$ref" not in sub:
            yield where
        yield from _undescribed(sub, where)
    for name, sub in (node.get("$defs") or {}).items():
        if "description" not in sub:
            yield f"$defs.{name}"
        yield from _undescribed(sub, f"$defs.{name}")
    for key in ("items", "additionalProperties", "then", "else"):
        yield from _undescribed(node.get(key), f"{path}[{key}]")
    for key in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(node.get(key) or []):
            yield from _undescribed(sub, f"{path}[{key}{i}]")


def test_every_key_of_the_schema_is_described_for_the_parameter_table():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert list(_undescribed(schema)) == []
    assert _undescribed.__doc__ and list(_undescribed({"properties": {"x": {"type": "string"}}})) == ["x"]


def test_the_package_reads_the_workflows_schema():
    from samebits.config import schema

    assert schema.SCHEMA_PATH.resolve() == (REPO / "workflow" / "schemas" / "config.schema.yaml").resolve()
