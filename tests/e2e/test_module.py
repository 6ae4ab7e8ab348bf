"""samebits used from a paper's own repository: deployed with snakedeploy as a Snakemake module
at a release tag, with the paper's own model, data and config, all of its paths in the paper's
repository; the same experiment gives the same bits from a clone of samebits.

Offline, as CI is: the release is a git repository made from this checkout's files, tagged
``v<version>``, at a path ending ``github.com/samebits/samebits`` (snakedeploy's GitHub route:
``git clone`` and ``git checkout`` of the tag, then ``github("samebits/samebits", tag=...)`` in
the Snakefile it writes). Snakemake reads a ``github()`` module from a bare clone in its source
cache and contacts GitHub only for a tag that clone lacks: the test puts that clone there, so
the Snakefile snakedeploy wrote runs unchanged through Snakemake's own GitHub code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from samebits.core import layout
from samebits.core.version import __version__
from samebits.scaffold import HANDLERS
from tests.helpers import REPO, clean_env, explain, make_workdir

pytestmark = pytest.mark.e2e

OWNER_REPO = "samebits/samebits"
TAG = f"v{__version__}"
BIN = Path(sys.executable).parent

BUILDER = textwrap.dedent(
    """
    import keras


    def net(input_shape, n_classes, seeds, *, units=8):
        glorot = keras.initializers.GlorotUniform
        return keras.Sequential(
            [
                keras.Input(shape=input_shape),
                keras.layers.Dense(units, activation="relu", name="hidden", kernel_initializer=glorot(seeds("hidden"))),
                keras.layers.Dense(1, activation="sigmoid", name="output", kernel_initializer=glorot(seeds("output"))),
            ],
            name="net",
        )
    """
)

CONFIG = textwrap.dedent(
    """
    seeds: [0]
    datasets:
      points: {source: data/points.csv, label: label, test_fraction: 0.25}
    experiments:
      net:
        dataset: points
        model: {type: custom, builder: models/net.py:net, options: {units: 6}}
        train: {epochs: 2, batch_size: 16}
    """
)


def _points() -> str:
    rows = ["a,b,c,label"]
    for i in range(120):
        y = i % 2
        rows.append(f"{(i * 37 % 101) / 50 + y:.4f},{(i * 53 % 97) / 40 - y:.4f},{(i * 11 % 89) / 89:.4f},{'yn'[y]}")
    return "\n".join(rows) + "\n"


def _add_paper(root: Path) -> None:
    """The paper's own model, data and configuration."""
    (root / "models").mkdir(exist_ok=True)
    (root / "models" / "net.py").write_text(BUILDER)
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "points.csv").write_text(_points())
    (root / layout.CONFIG_FILE).write_text(CONFIG)


def _git(cwd: Path, *args: str) -> str:
    ident = ["-c", "user.name=samebits tests", "-c", "user.email=tests@samebits.invalid"]
    proc = subprocess.run(["git", *ident, *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def _release(dest: Path) -> Path:
    """A git repository of this checkout's files (tracked and new, not ignored), tagged TAG."""
    listed = _git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, listed):
        src = REPO / name
        if not src.is_symlink() and not src.is_file():
            continue  # deleted in the working tree
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=False)
    _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "release")
    _git(dest, "tag", TAG)
    return dest


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def _run(cwd: Path, env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """(paper repository, release repository, Snakemake's cache of it, environment) after
    ``snakedeploy deploy-workflow`` and the paper's own files."""
    root = tmp_path_factory.mktemp("module")
    release = _release(root / "remote" / "github.com" / OWNER_REPO)
    env = {**clean_env(), "XDG_CACHE_HOME": str(root / "cache")}
    cache = root / "cache" / "snakemake" / "snakemake" / "source-cache" / "snakemake-git-cache" / "github.com"
    cache.joinpath(OWNER_REPO).parent.mkdir(parents=True)
    _git(root, "clone", "-q", "--bare", str(release), str(cache / OWNER_REPO))

    paper = root / "paper"
    paper.mkdir()
    _git(paper, "init", "-q")
    cmd = [str(BIN / "snakedeploy"), "deploy-workflow", release.as_uri(), str(paper), "--tag", TAG]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, explain(proc)
    snakefile = paper / "workflow" / "Snakefile"
    assert f'github("{OWNER_REPO}", path="workflow/Snakefile", tag="{TAG}")' in snakefile.read_text()
    snakefile.write_text(snakefile.read_text() + HANDLERS)
    _add_paper(paper)
    return paper, release, cache / OWNER_REPO, env


def _outputs(lock: dict) -> dict[str, dict]:
    return {step: entry["outputs"] for step, entry in lock["steps"].items()}


def test_a_deployed_module_reproduces_in_the_paper_repository_and_matches_a_clone(deployed, tmp_path):
    paper, release, cache, env = deployed
    untouched = {release: _snapshot(release), cache: _snapshot(cache)}

    first = _run(paper, env)
    assert first.returncode == 0, explain(first)
    assert "samebits verify: 6 steps: 6 new" in first.stdout, explain(first)
    lock = (paper / "samebits.lock").read_bytes()

    again = _run(paper, env, "--forceall")
    assert again.returncode == 0, explain(again)
    assert "samebits verify: 6/6 steps identical: every step reproduced bit for bit" in again.stdout, explain(again)
    assert "lock samebits.lock: unchanged" in again.stdout
    assert (paper / "samebits.lock").read_bytes() == lock

    # the report's captions come from the module, the report goes into the paper's repository
    report = _run(paper, env, "--report", "report.html")
    assert report.returncode == 0, explain(report)
    html = (paper / "report.html").read_text()
    assert "samebits trained every experiment" in html  # workflow/report/workflow.rst
    assert "every step against the lock" in html  # workflow/report/verification.rst

    # every path of the run is the paper's; the module's copies are as they were
    for path in ("results/summary.md", "logs/verify.log", "benchmarks", ".snakemake/samebits/ondisk-index.json"):
        assert (paper / path).exists(), path
    assert layout.record("train", experiment="net", seed=0) in {
        str(p.relative_to(paper)) for p in (paper / "results").rglob("*.json")
    }
    assert {release: _snapshot(release), cache: _snapshot(cache)} == untouched
    assert _git(release, "status", "--porcelain", "--ignored") == ""

    # the record says which library ran, and hashes the module's script as a clone's file
    record = json.loads((paper / layout.record("train", experiment="net", seed=0)).read_text())
    assert record["environment"]["packages"]["samebits"] == __version__
    script = (REPO / "workflow" / "scripts" / "train.py").read_bytes()
    assert record["code"]["script"] == "sha256:" + hashlib.sha256(script).hexdigest()

    # the same experiment from a clone of samebits: the same outputs, bit for bit
    clone = make_workdir(tmp_path / "clone")
    _add_paper(clone)
    proc = _run(clone, clean_env())
    assert proc.returncode == 0, explain(proc)
    from_clone = (clone / "samebits.lock").read_bytes()
    assert _outputs(json.loads(from_clone)) == _outputs(json.loads(lock))
    assert len(_outputs(json.loads(lock))) == 6
    # and the whole lock: the same environment, the same code (library, scripts, builder)
    assert from_clone == lock


def test_lint_and_snakefmt_are_clean_in_module_use(deployed):
    paper, release, _, env = deployed
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint"], cwd=paper, env=env, capture_output=True, text=True, timeout=300
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Congratulations, your workflow is in a good condition" in out, out
    # the module's Snakefiles as the tag has them, and the paper's own
    proc = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "workflow"], cwd=release, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_module_refuses_a_library_of_another_release(deployed, tmp_path):
    """The module at tag v9.9.9 with this library installed: stopped before any job, named."""
    paper, release, cache, env = deployed
    other = tmp_path / "release"
    _git(tmp_path, "clone", "-q", str(release), str(other))
    version_file = other / "src" / "samebits" / "core" / "version.py"
    version_file.write_text(version_file.read_text().replace(f'__version__ = "{__version__}"', '__version__ = "9.9.9"'))
    _git(other, "commit", "-q", "-am", "9.9.9")
    _git(other, "tag", "v9.9.9")
    _git(other, "push", "-q", str(cache), "v9.9.9")

    copy = tmp_path / "paper"
    shutil.copytree(paper, copy, ignore=shutil.ignore_patterns(".snakemake", "results", "logs", "benchmarks"))
    snakefile = copy / "workflow" / "Snakefile"
    snakefile.write_text(snakefile.read_text().replace(f'tag="{TAG}"', 'tag="v9.9.9"'))
    proc = _run(copy, env, "--dry-run")
    assert proc.returncode != 0, explain(proc)
    wanted = f"this workflow is samebits 9.9.9 but the installed samebits library is {__version__}"
    assert wanted in proc.stdout + proc.stderr, explain(proc)
    assert not (copy / "results").exists()
    assert os.listdir(copy / "workflow") == ["Snakefile"]


def test_samebits_init_makes_a_paper_repository_that_runs_as_the_deployed_one(deployed, tmp_path):
    """``samebits init`` in place of snakedeploy: its example lints clean through the module, and
    with the paper's own model, data and configuration the lock is the deployed paper's, byte for byte."""
    paper, _, _, env = deployed
    if not (paper / "samebits.lock").is_file():  # the first test makes it; this one may run alone
        proc = _run(paper, env)
        assert proc.returncode == 0, explain(proc)
    lock = (paper / "samebits.lock").read_bytes()

    mine = tmp_path / "mine"
    cmd = [sys.executable, "-m", "samebits.cli", "init", str(mine), "--repo", OWNER_REPO]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, explain(proc)
    assert f"using samebits' workflow from https://github.com/{OWNER_REPO} at {TAG}" in proc.stdout
    _git(mine, "init", "-q")

    # the example as written: the module's start checks its configuration and builder
    lint = [sys.executable, "-m", "snakemake", "--lint"]
    proc = subprocess.run(lint, cwd=mine, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, explain(proc)
    assert "Congratulations, your workflow is in a good condition" in proc.stdout + proc.stderr, explain(proc)

    _add_paper(mine)
    proc = _run(mine, env)
    assert proc.returncode == 0, explain(proc)
    assert "samebits verify: 6 steps: 6 new" in proc.stdout, explain(proc)
    assert (mine / "samebits.lock").read_bytes() == lock
    # what the run wrote is ignored, the lock is not
    ignored = _git(mine, "status", "--porcelain", "--ignored", "--untracked-files=all")
    assert "?? samebits.lock" in ignored.splitlines()
    assert not [line for line in ignored.splitlines() if line.startswith("??") and line[3:].startswith("results/")]


def test_a_snakefile_without_the_handlers_is_told_so(deployed, tmp_path):
    """The module's handlers run only when the paper's Snakefile calls them; without them the
    verdict is not printed and a failed verification would not fail the run: the run says so."""
    paper, _, _, env = deployed
    if not (paper / "samebits.lock").exists():
        assert _run(paper, env).returncode == 0
    copy = shutil.copytree(paper, tmp_path / "paper", symlinks=True)
    snakefile = copy / "workflow" / "Snakefile"
    snakefile.write_text(snakefile.read_text().replace(HANDLERS, "\n"))
    assert "onsuccess" not in snakefile.read_text()
    proc = _run(copy, env, "--forcerun", "verify")
    assert proc.returncode == 0, explain(proc)
    assert "samebits verify:" not in proc.stdout
    assert (
        "samebits: verification passed (results/verification.txt), but the run's Snakefile does not call "
        "samebits' handlers"
    ) in proc.stderr, explain(proc)
    # with them, the verdict is printed and nothing else is said
    proc = _run(paper, env, "--forcerun", "verify")
    assert proc.returncode == 0, explain(proc)
    assert "samebits verify: 6/6 steps identical" in proc.stdout and "does not call" not in proc.stderr
