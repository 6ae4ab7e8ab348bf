"""``samebits init``: a new paper repository that uses samebits' workflow as a Snakemake module.

A paper keeps its own configuration, model, data and lock in its own repository and takes the
workflow from samebits' repository at a release tag, as ``snakedeploy deploy-workflow <url>
<dest> --tag <tag>`` sets it up. This module writes that set-up for users without snakedeploy:
the Snakefile snakedeploy writes (the same declaration, in snakefmt's format) with the
module's handlers (:data:`HANDLERS`) appended, and a small
working example to start from: a configuration of three seeds on a bundled data set, a model
builder, a ``.gitignore`` that keeps what a run makes out of git but not the lock, the
workflow profile and a README saying how to run and reproduce.

It writes only new files: when any of them is already there it writes nothing and names
them. Importing it loads only ``core`` (no TensorFlow, no YAML); the schema is read for the
lock's default path only when files are written.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .core import fileio, layout
from .core.errors import SamebitsError
from .core.version import __version__

__all__ = [
    "BUILDER",
    "FILES",
    "HANDLERS",
    "MODEL_FILE",
    "MODULE",
    "SNAKEFILE",
    "check_repo",
    "check_tag",
    "default_tag",
    "github_repo",
    "init",
    "installed_repo",
    "lock",
    "next_steps",
    "snakefile",
]

#: The module's name in the paper's Snakefile (snakedeploy names it after the repository);
#: :data:`HANDLERS` call it by this name.
MODULE = "samebits"
#: Where the workflow is in samebits' repository, and where the paper's Snakefile goes (where
#: snakedeploy writes it).
SNAKEFILE = layout.SNAKEFILES[1]
#: The paper's model builder, its example configuration's ``builder`` (file:function).
MODEL_FILE = "models/model.py"
BUILDER = f"{MODEL_FILE}:model"
#: The accepted ``--repo``: a GitHub OWNER/NAME, as GitHub allows them: an owner of at most 39
#: letters, digits and inner hyphens; a name of letters, digits, ``.``, ``_`` and ``-``.
_REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?/[A-Za-z0-9._-]{1,100}")
#: The accepted ``--tag``: a git tag name that is safe between the Snakefile's quotes.
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")

#: What the using workflow must add to the module declaration: Snakemake runs a module's
#: ``onstart`` and ``onsuccess`` only when the using workflow calls them. samebits' onstart
#: warns about environment drift before any job; its onsuccess prints the verification
#: verdict and exits 1 when verification failed. Appended to what snakedeploy writes (which
#: ends with a newline).
HANDLERS = f"""

onstart:
    {MODULE}.onstart()


onsuccess:
    {MODULE}.onsuccess()
"""

# snakedeploy's use_module.smk.jinja as its deploy-workflow writes it for a github() module
# (ending with a newline), in snakefmt's format: one blank line after the import, and no
# space after "snakefile:".
_DECLARATION = """from snakemake.utils import min_version

min_version("6.10.0")


configfile: "{config}"


# declare https://github.com/{repo} as a module
module {module}:
    snakefile:
        github("{repo}", path="{path}", tag="{tag}")
    config:
        config


# use all rules from https://github.com/{repo}
use rule * from {module}
"""

_CONFIG = """\
# The experiments of this paper. samebits checks every key before any job runs and fills in
# the defaults; what each key means, its default and what it accepts:
# https://github.com/{repo}/blob/{tag}/config/README.md

# Master seeds: every experiment runs once per seed (each use of randomness gets a sub-seed
# derived from the master seed by name, recorded).
seeds: [0, 1, 2]

datasets:
  breast_cancer:
    # scikit-learn's bundled breast-cancer set: 569 samples, 30 features, two classes
    # (no download). Your own data: a .csv file (source: data/mine.csv, label: <column>),
    # a .npz file, or an image folder with one subfolder per class (source: data/images/).
    source: breast_cancer
    test_fraction: 0.2

experiments:
  baseline:
    dataset: breast_cancer
    model:
      type: custom
      builder: {builder} # file:function; editing the file reruns what it changes
      options: # keyword arguments of the builder
        units: 32
    train:
      epochs: 5
      batch_size: 32
      optimizer: adam
      learning_rate: 0.001

# Left at their defaults here:
#   determinism: profile: portable (the same bits on other x86-64 CPUs), threads: 1,
#     op_determinism: true; they decide the bits, so every record carries them;
#   verify: rtol, atol: when a step whose outputs differ (another CPU, another TensorFlow)
#     is judged equivalent;
#   lock: {lock} (commit it with the paper).
"""

_MODEL = '''"""This paper's model.

samebits' init step calls ``model(input_shape, n_classes, seeds, **options)``, with
the builder's options from {config}, and trains the uncompiled Keras
model it returns.

For the same bits on every rerun: name every layer (the weights are stored by layer
name), and seed every initializer and dropout with ``seeds("a/name")``, a sub-seed of
the run's master seed derived from the name (and recorded). This file's hash is in the
records: editing it reruns the init, train and evaluate steps, and verify reports them
``changed``.
"""

import keras


def model(input_shape, n_classes, seeds, *, units=32):
    """Flatten, Dense(units, relu), then one softmax unit per class: two for a binary
    task (two softmax units were measured to give the same bits on other x86-64 CPUs,
    one sigmoid unit was not; ``samebits lint`` tells what travels)."""
    glorot = keras.initializers.GlorotUniform
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(
                units,
                activation="relu",
                name="hidden",
                kernel_initializer=glorot(seed=seeds("hidden/kernel")),
            ),
            keras.layers.Dense(
                n_classes,
                activation="softmax",
                name="output",
                kernel_initializer=glorot(seed=seeds("output/kernel")),
            ),
        ],
        name="model",
    )
'''

_GITIGNORE = """\
# What a run writes, and makes again from the configuration, the code and the data.
{folders}
__pycache__/
# The environment README.md's commands make.
/.venv/
# Not ignored: {lock}, the checksums of every step's outputs. It is committed with the paper
# (a reader's rerun is checked against it), and results/ above does not cover it: it is at
# the top of the repository.
"""

_REQUIREMENTS = """\
# The samebits release this paper's workflow/Snakefile uses, with every dependency pinned
# exactly (the release's own requirements.txt): pip install -r requirements.txt
samebits @ git+https://github.com/{repo}@{tag}
"""

_PROFILE = """\
# Snakemake's workflow profile, used automatically when snakemake runs in this folder
# (profiles/default). `--cores` stays on the command line: `snakemake --cores 1`.
# show-failed-logs: a failed step's log is printed, not only its path.
show-failed-logs: true
"""

_README = """\
# The experiments of this paper

They run with [samebits](https://github.com/{repo}) {tag}, a Snakemake workflow (used here as
a module, `{snakefile}`) that trains Keras models so that a rerun gives the same bits, and
proves it.

## Run

```bash
python3.11 -m venv .venv
.venv/bin/pip install -r requirements.txt
.venv/bin/snakemake --cores 1
```

The first run writes `{lock}`, the checksums of every step's outputs: commit it with the
paper. `results/` holds the models, metrics, figures and the summary table.

## Reproduce

Clone this repository, install as above and run `snakemake --cores 1`. samebits checks every
step against `{lock}` and ends with `samebits verify: N/N steps identical: every step
reproduced bit for bit`, or names the steps that differ and why.

## What is where

| path | what |
|---|---|
| `{config}` | the experiments: seeds, data sets, models, training |
| `{model}` | the model (a builder samebits calls) |
| `data/` | the data sets named in `{config}` |
| `{lock}` | the checksums every rerun is checked against (committed) |
| `{snakefile}` | uses samebits' workflow at {tag} as a Snakemake module |
| `requirements.txt` | the samebits library of {tag}, with its pinned environment |
| `results/`, `logs/`, `benchmarks/` | what a run writes (not committed) |
"""


def lock() -> str:
    """The lock's path when the configuration names none (``samebits.lock`` in the default
    ``output_dir``): at the top of the paper's repository, committed with the paper."""
    return layout.DEFAULT.lock


def _run_folders() -> list[str]:
    """The top folders of everything a run writes (``results``, ``logs``, ``benchmarks``,
    ``.snakemake``), from :mod:`samebits.core.layout`, in first-named order."""
    paths = [p for files in layout.FILES.values() for p in (*files.outputs.values(), files.log, files.benchmark) if p]
    caches = [layout.IMAGE_CACHE, layout.TABLE_CACHE, layout.CACHE_DIR]
    return list(dict.fromkeys(p.split("/")[0] for p in [*paths, *caches]))


def default_tag() -> str:
    """The release tag of the installed library, ``v<version>``: the workflow at any other
    tag refuses to run with this library."""
    return f"v{__version__}"


def check_repo(repo: str, *, where: str = "repo") -> str:
    """``repo`` if it is a GitHub ``OWNER/NAME``, else :class:`SamebitsError` naming ``where``."""
    if _REPO.fullmatch(repo) and not repo.endswith(".git") and repo.split("/")[1] not in (".", ".."):
        return repo
    found = github_repo(repo)
    hint = f" (for this URL: {found})" if found else ""
    raise SamebitsError(
        f"{where} {repo!r} is not a GitHub repository's OWNER/NAME; give it as OWNER/NAME, e.g. samebits/samebits{hint}"
    )


def check_tag(tag: str, *, where: str = "tag") -> str:
    """``tag`` if it is a plain git tag name (``v1.2.3``), else :class:`SamebitsError` naming ``where``."""
    if _TAG.fullmatch(tag) and not tag.endswith((".", ".lock")) and ".." not in tag:
        return tag
    raise SamebitsError(
        f"{where} {tag!r} is not a release tag; give it as v<version>, e.g. {default_tag()} "
        "(letters, digits, '.', '_', '+', '-')"
    )


def github_repo(url: str) -> str | None:
    """``OWNER/NAME`` of a GitHub URL (``https://github.com/owner/name(.git)``, ``ssh://
    git@github.com/owner/name.git``, ``git@github.com:owner/name.git``, with ``git+`` or a
    path after the name), else ``None``."""
    m = re.fullmatch(
        r"(?:git\+)?(?:(?:https?|ssh|git)://(?:[^@/]+@)?github\.com(?::\d+)?/|git@github\.com:)"
        r"(?P<repo>[^/@#?]+/[^/@#?]+?)(?:\.git)?(?:[/@#?].*)?",
        url.strip(),
    )
    if m is None or _REPO.fullmatch(m["repo"]) is None:
        return None
    return m["repo"]


def installed_repo() -> str | None:
    """The GitHub ``OWNER/NAME`` the installed samebits came from, from its installation's
    record (PEP 610 ``direct_url.json``: ``pip install 'samebits @ git+https://github.com/
    owner/samebits@v0.1.0'`` records the URL); ``None`` for a local or an index install."""
    import json
    from importlib import metadata

    try:
        text = metadata.distribution("samebits").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    try:
        url = json.loads(text).get("url")
    except (ValueError, AttributeError):
        return None
    return github_repo(url) if isinstance(url, str) else None


def snakefile(*, repo: str, tag: str) -> str:
    """The paper's Snakefile: the module declaration snakedeploy writes for ``--tag tag`` from
    ``https://github.com/repo``, and :data:`HANDLERS`."""
    declaration = _DECLARATION.format(
        config=layout.CONFIG_FILE, repo=check_repo(repo), tag=check_tag(tag), path=SNAKEFILE, module=MODULE
    )
    return declaration + HANDLERS


#: The files :func:`init` writes, relative to the paper's repository, in that order.
FILES = (
    SNAKEFILE,
    layout.CONFIG_FILE,
    MODEL_FILE,
    "requirements.txt",
    ".gitignore",
    "profiles/default/config.yaml",
    "README.md",
)


def _texts(*, repo: str, tag: str) -> dict[str, str]:
    """Every file :func:`init` writes (:data:`FILES`), by its path in the paper's repository."""
    names = {
        "repo": repo,
        "tag": tag,
        "lock": lock(),
        "config": layout.CONFIG_FILE,
        "snakefile": SNAKEFILE,
        "model": MODEL_FILE,
        "builder": BUILDER,
    }
    folders = "\n".join(f"/{name}/" for name in _run_folders())
    texts = [
        snakefile(repo=repo, tag=tag),
        _CONFIG.format(**names),
        _MODEL.replace("{config}", layout.CONFIG_FILE),
        _REQUIREMENTS.format(**names),
        _GITIGNORE.format(folders=folders, lock=lock()),
        _PROFILE,
        _README.format(**names),
    ]
    return dict(zip(FILES, texts, strict=True))


def _in_the_way(dest: Path, rel: str) -> Path | None:
    """What keeps ``dest/rel`` from being written as a new file: the file itself (a link
    too, even a broken one) or a file where one of its folders must be; else ``None``."""
    path = dest
    for part in Path(rel).parts[:-1]:
        path = path / part
        if os.path.lexists(path) and not path.is_dir():
            return path
    path = dest / rel
    return path if os.path.lexists(path) else None


def init(dest: str | Path, *, repo: str, tag: str) -> list[Path]:
    """Write a new paper repository in ``dest`` (created if missing) that uses samebits'
    workflow from ``https://github.com/<repo>`` at ``tag`` as a module; returns the files
    written (:data:`FILES`, under ``dest``).

    Every file must be new: if any is already there (or a file stands where a folder must
    be), nothing is written and :class:`SamebitsError` names each.
    """
    dest = Path(dest)
    texts = _texts(repo=check_repo(repo), tag=check_tag(tag))
    if os.path.lexists(dest) and not dest.is_dir():
        raise SamebitsError(f"{dest} is a file; samebits init writes a new repository into a folder")
    taken = list(dict.fromkeys(str(p) for p in (_in_the_way(dest, rel) for rel in texts) if p is not None))
    if taken:
        verb = "already exists" if len(taken) == 1 else "already exist"
        raise SamebitsError(
            f"{', '.join(taken)} {verb}; samebits init writes only new files, so it wrote nothing "
            "(move them away, or init another folder)"
        )
    written = []
    for rel, text in texts.items():
        fileio.write_text(dest / rel, text)
        written.append(dest / rel)
    return written


def next_steps(*, repo: str, tag: str) -> list[str]:
    """What to do after :func:`init`, in the new repository, one line each (numbered), for the
    command to print."""
    steps = [
        f"edit {layout.CONFIG_FILE} (seeds, data sets, experiments; every key: https://github.com/{repo}/blob/{tag}/"
        f"config/README.md) and {MODEL_FILE} (the model)",
        f"put your data in data/ (a .csv or .npz file, or an image folder) and name it in {layout.CONFIG_FILE}",
        "snakemake --cores 1",
        f"commit it all with {lock()} (.gitignore leaves out what a run makes again): a reader who runs the same "
        "gets 'N/N steps identical'",
    ]
    if tag != default_tag():
        steps.insert(
            0,
            f"install the library of {tag} (this one is samebits {__version__}, and the workflow at {tag} refuses "
            f"it): pip install 'samebits @ git+https://github.com/{repo}@{tag}'",
        )
    return [f"{i}. {step}" for i, step in enumerate(steps, 1)]
