"""One source of truth for pins: requirements.txt. Every other file must agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):  # -r, -e
            continue
        m = PIN.match(line)
        assert m, f"not an exact pin: {line!r}"
        out[_norm(m.group(1))] = m.group(2)
    return out


def _conda_pins(path: Path) -> dict[str, str]:
    doc = yaml.safe_load(path.read_text())
    pip = next(d["pip"] for d in doc["dependencies"] if isinstance(d, dict))
    conda = [d for d in doc["dependencies"] if isinstance(d, str)]
    assert all(re.fullmatch(r"[a-z0-9_-]+=\d[\w.]*", d) for d in conda), f"{path}: conda pins not exact: {conda}"
    return _pins(pip)


def test_requirements_pin_every_dependency_exactly():
    runtime = _pins((REPO / "requirements.txt").read_text().splitlines())
    for name, version in {"tensorflow-cpu": "2.21.0", "keras": "3.15.1", "scikit-learn": "1.9.1"}.items():
        assert runtime[name] == version
    dev = _pins((REPO / "requirements-dev.txt").read_text().splitlines())
    assert not set(dev) & set(runtime), "dev tools repeat runtime pins"
    assert {"pytest", "ruff", "snakefmt"} <= set(dev)


def test_conda_environments_agree_with_the_pip_pins():
    runtime = _pins((REPO / "requirements.txt").read_text().splitlines())
    files = [REPO / "environment.yml", *sorted((REPO / "workflow" / "envs").glob("*.yaml"))]
    for path in files:
        assert _conda_pins(path) == runtime, f"{path.relative_to(REPO)} disagrees with requirements.txt"


def test_pyproject_takes_its_dependencies_from_requirements():
    text = (REPO / "pyproject.toml").read_text()
    assert 'dependencies = { file = ["requirements.txt"] }' in text


def test_slurm_extras_are_pinned_apart_from_the_runtime():
    runtime = _pins((REPO / "requirements.txt").read_text().splitlines())
    slurm = _pins((REPO / "requirements-slurm.txt").read_text().splitlines())
    assert slurm["snakemake-executor-plugin-slurm"] == "2.8.0"
    assert not set(slurm) & set(runtime)
