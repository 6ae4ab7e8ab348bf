"""``samebits init``: the paper repository it writes (in-process, no TensorFlow, no Snakemake
run): every file, new files only, a configuration samebits accepts, the Snakefile snakedeploy
would write in snakefmt's format, and the command's messages. tests/e2e/test_module.py runs
what it writes through the module."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from samebits import cli, scaffold
from samebits.core import layout
from samebits.core.errors import SamebitsError
from samebits.core.version import __version__
from samebits.plan import Plan

REPO_NAME = "someone/paper-tools"
TAG = "v9.8.7"
BIN = Path(sys.executable).parent


@pytest.fixture
def paper(tmp_path) -> Path:
    """A paper repository written by init, in a folder init made (its parent too)."""
    dest = tmp_path / "papers" / "mine"
    written = scaffold.init(dest, repo=REPO_NAME, tag=scaffold.default_tag())
    assert written == [dest / name for name in scaffold.FILES]
    return dest


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_init_writes_every_file_and_nothing_else(paper):
    assert sorted(_tree(paper)) == sorted(scaffold.FILES)
    assert all(text.strip() for text in _tree(paper).values())
    assert not [p for p in paper.rglob("*") if ".tmp" in p.name]  # fileio's temporaries are gone


def test_the_configuration_is_one_samebits_accepts(paper, monkeypatch):
    monkeypatch.chdir(paper)  # the builder's path is relative to the workflow's directory
    plan = Plan.load(layout.CONFIG_FILE)
    assert len(plan.seeds) == 3
    [experiment] = plan.experiments.values()
    assert experiment["model"] == {"type": "custom", "builder": scaffold.BUILDER, "options": {"units": 32}}
    assert plan.datasets[experiment["dataset"]]["source"] == "breast_cancer"
    assert 1 <= experiment["train"]["epochs"] <= 10
    # the lock the files name is where the workflow writes it
    assert plan.lock == scaffold.lock() == layout.LOCK_NAME
    # and the link to the configuration's reference is the release's
    config = (paper / layout.CONFIG_FILE).read_text()
    assert f"https://github.com/{REPO_NAME}/blob/{scaffold.default_tag()}/config/README.md" in config


def test_the_model_follows_the_builder_contract(paper):
    source = (paper / scaffold.MODEL_FILE).read_text()
    assert "def model(input_shape, n_classes, seeds, *, units=32):" in source
    for layer in ("flatten", "hidden", "output"):
        assert f'name="{layer}"' in source
    assert 'seeds("hidden/kernel")' in source and 'seeds("output/kernel")' in source
    compile(source, scaffold.MODEL_FILE, "exec")


def test_the_snakefile_is_snakedeploys_for_the_repo_and_tag_with_the_handlers():
    import jinja2
    from snakedeploy import providers  # requirements-dev.txt

    text = scaffold.snakefile(repo=REPO_NAME, tag=TAG)
    assert f'github("{REPO_NAME}", path="workflow/Snakefile", tag="{TAG}")' in text
    assert "module samebits:" in text and "use rule * from samebits" in text
    assert text.endswith(scaffold.HANDLERS)
    assert not [line for line in text.splitlines() if line != line.rstrip()]

    # what `snakedeploy deploy-workflow https://github.com/<repo> <dest> --tag <tag>` writes
    github = providers.Github(f"https://github.com/{REPO_NAME}")
    template = jinja2.Environment(loader=jinja2.PackageLoader("snakedeploy")).get_template("use_module.smk.jinja")
    deployed = template.render(
        name="samebits",
        snakefile=github.get_source_file_declaration("workflow/Snakefile", TAG, None),
        repo=github.source_url,
        config=layout.CONFIG_FILE,
    )
    # print() ends it with a newline; snakefmt's format: no space after "snakefile:", one
    # blank line after the import
    snakefmt_format = (
        (deployed + "\n").replace("snakefile: \n", "snakefile:\n").replace("min_version\n\n\n", "min_version\n\n")
    )
    assert text == snakefmt_format + scaffold.HANDLERS


def test_the_snakefile_passes_snakefmt(paper):
    proc = subprocess.run(
        [str(BIN / "snakefmt"), "--check", scaffold.SNAKEFILE], cwd=paper, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_gitignore_leaves_out_what_a_run_writes_but_not_the_lock(paper):
    subprocess.run(["git", "init", "-q"], cwd=paper, check=True)
    ignored = [
        layout.summarize.markdown,
        layout.verify.log,
        layout.train.benchmark.format(experiment="baseline", seed=0),
        layout.RECORD_INDEX,
        ".snakemake/log/run.snakemake.log",
        "models/__pycache__/model.cpython-311.pyc",
    ]
    kept = [scaffold.lock(), *scaffold.FILES, "data/points.csv"]
    for path, wanted in [*((p, 0) for p in ignored), *((p, 1) for p in kept)]:
        proc = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=paper)
        assert proc.returncode == wanted, f"{path}: git check-ignore exit {proc.returncode}"
    assert f"Not ignored: {scaffold.lock()}" in (paper / ".gitignore").read_text()


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path):
    dest = tmp_path / "mine"
    (dest / "config").mkdir(parents=True)
    (dest / layout.CONFIG_FILE).write_text("mine\n")
    (dest / "README.md").write_text("my paper\n")
    before = _tree(dest)
    with pytest.raises(SamebitsError) as exc:
        scaffold.init(dest, repo=REPO_NAME, tag=TAG)
    message = str(exc.value)
    assert f"{dest / layout.CONFIG_FILE}, {dest / 'README.md'} already exist" in message
    assert "wrote nothing" in message
    assert _tree(dest) == before
    assert sorted(p.name for p in dest.iterdir()) == ["README.md", "config"]


def test_init_refuses_a_file_where_a_folder_must_be(tmp_path):
    (tmp_path / "workflow").write_text("not a folder\n")
    with pytest.raises(SamebitsError, match=f"{tmp_path / 'workflow'} already exists; .* wrote nothing"):
        scaffold.init(tmp_path, repo=REPO_NAME, tag=TAG)
    assert [p.name for p in tmp_path.iterdir()] == ["workflow"]
    with pytest.raises(SamebitsError, match="is a file; samebits init writes a new repository into a folder"):
        scaffold.init(tmp_path / "workflow", repo=REPO_NAME, tag=TAG)


@pytest.mark.parametrize(
    "url, repo",
    [
        ("https://github.com/owner/samebits", "owner/samebits"),
        ("https://github.com/owner/samebits.git", "owner/samebits"),
        ("git+https://github.com/owner/same-bits.git@v0.1.0", "owner/same-bits"),
        ("ssh://git@github.com/owner/samebits.git", "owner/samebits"),
        ("git@github.com:owner/samebits.git", "owner/samebits"),
        ("https://github.com/owner/samebits/archive/refs/tags/v0.1.0.tar.gz", "owner/samebits"),
        ("file:///work/samebits", None),
        ("https://gitlab.com/owner/samebits", None),
        ("https://github.com/owner", None),
    ],
)
def test_github_repo_reads_owner_and_name_from_a_url(url, repo):
    assert scaffold.github_repo(url) == repo


def test_the_installed_repo_comes_from_pep_610s_direct_url(monkeypatch):
    class Distribution:
        def __init__(self, record):
            self.record = record

        def read_text(self, name):
            assert name == "direct_url.json"
            return self.record

    git = {"url": "https://github.com/owner/samebits.git", "vcs_info": {"vcs": "git", "requested_revision": "v0.1.0"}}
    for record, repo in [
        (json.dumps(git), "owner/samebits"),
        (json.dumps({"url": "file:///work/main", "dir_info": {"editable": True}}), None),
        (None, None),  # installed from an index: no direct_url.json
        ("{oops", None),
    ]:
        monkeypatch.setattr("importlib.metadata.distribution", lambda name, record=record: Distribution(record))
        assert scaffold.installed_repo() == repo


@pytest.mark.parametrize("repo", ["samebits", "a/b/c", "-owner/name", "owner/name.git", "owner/na me", ""])
def test_a_bad_repo_is_named_with_the_accepted_form(repo):
    with pytest.raises(SamebitsError, match="is not a GitHub repository's OWNER/NAME; give it as OWNER/NAME"):
        scaffold.check_repo(repo)


def test_the_command_writes_the_repository_and_says_what_next(tmp_path, capsys):
    dest = tmp_path / "mine"
    assert cli.main(["init", str(dest), "--repo", REPO_NAME]) == 0
    out = capsys.readouterr().out
    assert f"wrote 7 files in {dest}, a paper repository using samebits' workflow from " in out
    assert f"https://github.com/{REPO_NAME} at v{__version__}:" in out
    assert all(f"  {dest / name}\n" in out for name in scaffold.FILES)
    assert f"next, in {dest}:" in out and "snakemake --cores 1" in out and f"with {scaffold.lock()}" in out
    assert "install the library" not in out  # the default tag is the installed library's
    assert f'tag="v{__version__}"' in (dest / scaffold.SNAKEFILE).read_text()


def test_the_command_takes_the_repo_the_library_was_installed_from(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(scaffold, "installed_repo", lambda: "owner/samebits")
    assert cli.main(["init", str(tmp_path), "--tag", TAG]) == 0
    assert (
        f'github("owner/samebits", path="workflow/Snakefile", tag="{TAG}")'
        in (tmp_path / scaffold.SNAKEFILE).read_text()
    )
    out = capsys.readouterr().out
    assert f"1. install the library of {TAG} (this one is samebits {__version__}" in out
    assert f"pip install 'samebits @ git+https://github.com/owner/samebits@{TAG}'" in out


def test_the_command_writes_into_the_current_folder(tmp_path, capsys, monkeypatch):
    (tmp_path / "paper.tex").write_text("my paper\n")  # a folder may hold other files
    monkeypatch.chdir(tmp_path)
    assert cli.main(["init", ".", "--repo", REPO_NAME]) == 0
    out = capsys.readouterr().out
    assert "wrote 7 files in this folder," in out and "next, in this folder:" in out
    assert f"  {scaffold.SNAKEFILE}\n" in out
    assert sorted(_tree(tmp_path)) == sorted([*scaffold.FILES, "paper.tex"])


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "samebits: error: init needs --repo OWNER/NAME, the GitHub repository of samebits' workflow"),
        (
            ["--repo", "https://github.com/owner/samebits"],
            "samebits: error: --repo 'https://github.com/owner/samebits' is not a GitHub repository's OWNER/NAME; "
            "give it as OWNER/NAME, e.g. samebits/samebits (for this URL: owner/samebits)",
        ),
        (["--repo", REPO_NAME, "--tag", 'v1" x'], "samebits: error: --tag 'v1\" x' is not a release tag; give it as v"),
    ],
)
def test_the_command_names_a_missing_or_bad_option(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.setattr(scaffold, "installed_repo", lambda: None)  # an editable or index install
    assert cli.main(["init", str(tmp_path / "mine"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "mine").exists()


def test_the_command_refuses_to_overwrite(paper, capsys):
    before = _tree(paper)
    assert cli.main(["init", str(paper), "--repo", REPO_NAME]) == 2
    err = capsys.readouterr().err
    assert f"samebits: error: {paper / scaffold.SNAKEFILE}, " in err and "wrote nothing" in err
    assert _tree(paper) == before


def test_importing_the_scaffold_is_cheap():
    heavy = ("yaml", "numpy", "tensorflow", "keras", "snakemake")
    code = f"import sys, samebits.scaffold; print(sorted(set({heavy!r}) & set(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_requirements_pin_the_release_the_snakefile_uses(paper):
    pins = [line for line in (paper / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    tag = scaffold.default_tag()
    assert pins == [f"samebits @ git+https://github.com/{REPO_NAME}@{tag}"]
    assert f'github("{REPO_NAME}", path="workflow/Snakefile", tag="{tag}")' in (paper / scaffold.SNAKEFILE).read_text()
    assert "pip install -r requirements.txt" in (paper / "README.md").read_text()
