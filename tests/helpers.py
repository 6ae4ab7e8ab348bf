"""What the tests share: a copy of the workflow, the real snakemake and samebits commands, and
readers of what a run wrote. Fixtures are in conftest.py."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from samebits.core import layout

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "tests" / "configs"


#: The smallest valid configuration: one seed, the bundled digits, a one-epoch MLP.
SMALL_CONFIG = {
    "seeds": [0],
    "datasets": {"digits": {"source": "digits"}},
    "experiments": {
        "mlp": {"dataset": "digits", "model": {"type": "mlp", "hidden": [8]}, "train": {"epochs": 1}},
    },
}
#: A configuration file that gives the key ``mlp`` twice (line 6), which YAML would silently
#: take as the second one.
DUPLICATE_KEY_YAML = """
seeds: [0]
datasets: {digits: {source: digits}}
experiments:
  mlp: {dataset: digits, model: {type: mlp}, train: {epochs: 1}}
  mlp: {dataset: digits, model: {type: cnn}, train: {epochs: 1}}
"""
#: With :func:`config_with`: remove the key.
DELETE = object()


def config_with(path: str, value, base: dict | None = None) -> dict:
    """A copy of ``base`` (default :data:`SMALL_CONFIG`) with the dotted ``path`` set to
    ``value`` (or removed, for :data:`DELETE`)."""
    cfg = copy.deepcopy(SMALL_CONFIG if base is None else base)
    *parents, last = path.split(".")
    node = cfg
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return cfg


def make_workdir(dest: Path, config: Path | None = None) -> Path:
    """A fresh copy of the workflow in ``dest`` (no lock, no results), with the config file
    ``config`` as its configuration if given."""
    layout.copy_workflow(REPO, dest)
    if config is not None:
        shutil.copy2(config, dest / layout.CONFIG_FILE)
    return dest


def make_emulation_workdir(dest: Path) -> Path:
    """A workflow copy with tests/configs/emulation.yaml and the test builders it names (the
    MLP's builder writes a witness of the CPU into the copy's logs/)."""
    workdir = make_workdir(dest, CONFIGS / "emulation.yaml")
    shutil.copytree(
        REPO / "tests" / "models", workdir / "tests" / "models", ignore=shutil.ignore_patterns("__pycache__")
    )
    return workdir


def copy_run(src: Path, dest: Path) -> Path:
    """Copy a finished run's whole tree, Snakemake's metadata and mtimes included."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


def clean_env() -> dict[str, str]:
    """This environment without Snakemake's own variables (a test may run inside a workflow)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}


def run_snakemake(workdir: Path, *args: str, timeout: float = 900, python_flags: tuple[str, ...] = ()):
    """Run the real snakemake (this interpreter's) in ``workdir``; returns CompletedProcess."""
    cmd = [sys.executable, *python_flags, "-m", "snakemake", "--cores", "1", *args]
    return subprocess.run(cmd, cwd=workdir, env=clean_env(), capture_output=True, text=True, timeout=timeout)


def samebits(workdir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the samebits command in ``workdir``."""
    cmd = [sys.executable, "-m", "samebits.cli", *args]
    return subprocess.run(cmd, cwd=workdir, env=clean_env(), capture_output=True, text=True, timeout=timeout)


def verification(workdir: Path) -> dict:
    return json.loads((workdir / layout.verify.json).read_text())


def statuses(workdir: Path) -> dict[str, str]:
    return {s["id"]: s["status"] for s in verification(workdir)["steps"]}


def causes(step: dict) -> list[str]:
    """The text of each cause of one step of verification.json."""
    return [c["text"] for c in step["causes"]]


def jobs_run(proc: subprocess.CompletedProcess) -> set[tuple[str, str]]:
    """(rule, wildcards) of every job Snakemake started, read from its log output."""
    jobs, rule = set(), None
    for line in (proc.stdout + proc.stderr).splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line)
        if m:
            rule = m.group(1)
            continue
        m = re.match(r"^\s+wildcards: (.*)$", line)
        if m and rule:
            jobs.add((rule, m.group(1).strip()))
        elif not line.strip():
            rule = None
    return jobs


def job_counts(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """``{rule: jobs}`` of the first job-stats table Snakemake printed (a dry run prints what a
    real run would execute); empty when it had nothing to do."""
    counts: dict[str, int] = {}
    lines = (proc.stdout + proc.stderr).splitlines()
    if "Job stats:" not in lines:
        return counts
    for line in lines[lines.index("Job stats:") + 3 :]:
        m = re.match(r"^(\w+)\s+(\d+)$", line)
        if not m or m.group(1) == "total":
            break
        counts[m.group(1)] = int(m.group(2))
    return counts


def explain(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"


#: docs/bad-input.md: every message a table there shows is checked word for word by a test.
BAD_INPUT_PAGE = REPO / "docs" / "bad-input.md"
#: A message in the page: in `code`, or in ``code`` when it holds a backtick itself.
_SHOWN = re.compile(r"``\s(.+?)\s``|`([^`]+)`")


def messages_on_the_page(section: str) -> set[str]:
    """The messages the tables of one section of docs/bad-input.md show."""
    text = BAD_INPUT_PAGE.read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("| ") and not line.startswith("| input |")]
    return {a or b for row in rows for a, b in _SHOWN.findall(row.split(" | ", 1)[1])}


def page_row(name: str, message: str) -> str:
    """The table row to add for a case the page lacks."""
    code = f"`` {message} ``" if "`" in message else f"`{message}`"
    return f"| {name.replace('-', ' ')} | {code} |"
