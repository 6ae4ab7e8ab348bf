"""A step's identity: everything that decides its outputs, computed once per step.

A step is decided by its inputs (each file by its content checksum, and inputs that are not
files, such as a bundled data set's checksum), its parameters, the code that runs (samebits,
the step's script, the user's builder, trainer or loss), the determinism settings it applied
and the environment it runs in. A step computes its :class:`StepIdentity` once, when its
inputs are known: the same value keys a training's checkpoints
(:meth:`StepIdentity.checkpoint_parts`) and fills the step's record
(:func:`samebits.provenance.records.make`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.hashing import hash_output
from ..core.usercode import CodeRef
from .fingerprint import bit_deciding, fingerprint

__all__ = ["SNAKEMAKE_PREAMBLE_END", "StepIdentity", "code_hash", "identify", "script_source", "step_id"]


def step_id(step: str, experiment: str, seed: int | None) -> str:
    """The id of one step of one chain, e.g. ``train/mlp/seed=0``; steps over all seeds
    (summaries, figures) have no seed: ``figures/mlp``.

    >>> step_id("train", "mlp", 0), step_id("figures", "mlp", None)
    ('train/mlp/seed=0', 'figures/mlp')
    """
    return f"{step}/{experiment}" if seed is None else f"{step}/{experiment}/seed={seed}"


@dataclasses.dataclass(frozen=True)
class StepIdentity:
    """What decides one step's outputs. Every section is plain JSON, as the record holds it.

    ``inputs`` maps an input's name to ``{"path", "sha256"}`` for a file (or folder), or to
    any value for an input that is not a file; ``input_files`` are the paths of the file
    inputs, whose sizes and times the record's volatile ``run`` section keeps.
    """

    step: str
    experiment: str
    seed: int | None
    inputs: dict[str, Any]
    input_files: tuple[str, ...]
    params: dict[str, Any]
    code: dict[str, str]
    determinism: dict[str, Any]
    environment: dict[str, Any]

    @property
    def id(self) -> str:
        return step_id(self.step, self.experiment, self.seed)

    def checkpoint_parts(self) -> dict[str, Any]:
        """The parts of the identity a checkpoint must have been made with to be resumed:
        all of them, with the environment's bit-deciding part only
        (:func:`samebits.provenance.fingerprint.bit_deciding`)."""
        return {
            "inputs": self.inputs,
            "params": self.params,
            "code": self.code,
            "determinism": self.determinism,
            "environment": bit_deciding(self.environment),
        }


def identify(
    *,
    step: str,
    experiment: str,
    seed: int | None,
    input_files: Mapping[str, str | Path] | None = None,
    inputs: Mapping[str, Any] | None = None,
    params: Mapping[str, Any],
    determinism: Mapping[str, Any],
    script: str | Path | None = None,
    user_code: Mapping[str, CodeRef | None] | None = None,
    tensorflow: Mapping[str, Any] | None = None,
) -> StepIdentity:
    """The identity of one step: each of ``input_files`` (name -> path) hashed by content,
    once; ``inputs`` that are not files as they are; the hashes of samebits, ``script`` and
    the user's code (``{"builder": ref, "trainer": ref, "loss": ref}``, ``None`` where there
    is none); the environment's fingerprint, with ``tensorflow`` (what TensorFlow reports)
    for a step that loaded it."""
    files = {name: str(path) for name, path in (input_files or {}).items()}
    found: dict[str, Any] = {
        name: {"path": path, "sha256": hash_output(path)["sha256"]} for name, path in files.items()
    }
    found.update(inputs or {})
    environment = fingerprint()
    if tensorflow is not None:
        environment["tensorflow"] = dict(tensorflow)
    return StepIdentity(
        step=step,
        experiment=experiment,
        seed=seed,
        inputs=found,
        input_files=tuple(files.values()),
        params=json.loads(json.dumps(dict(params))),  # plain JSON types only
        code=code_hash(script, **(user_code or {})),
        determinism=dict(determinism),
        environment=environment,
    )


@functools.lru_cache(maxsize=1)
def _package_hash() -> str:
    root = Path(__file__).resolve().parents[1]  # the samebits package, every layer
    h = hashlib.sha256()
    for path in sorted([*root.rglob("*.py"), *root.rglob("*.yaml")]):
        rel = path.relative_to(root).as_posix()
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + h.hexdigest()


def code_hash(script: str | Path | None = None, **user_code: CodeRef | None) -> dict[str, str]:
    """Hashes of the code that ran: the samebits package, the step's script, and the source
    file of each piece of the user's code named (a model ``builder``, a ``trainer``, a
    ``loss``) that has one."""
    code = {"samebits": _package_hash()}
    if script is not None:
        code["script"] = "sha256:" + hashlib.sha256(script_source(Path(script).read_bytes())).hexdigest()
    for name, ref in sorted(user_code.items()):
        digest = None if ref is None else ref.sha256()
        if digest is not None:
            code[name] = digest
    return code


#: Snakemake runs a rule's script as a copy (``__real_file__``): its preamble up to this line,
#: then the script's own source, whether the workflow runs from a clone or as a module fetched
#: from a repository (where the script has no local path: ``__file__`` is a URL).
SNAKEMAKE_PREAMBLE_END = b"######## snakemake preamble end #########\n"


def script_source(data: bytes) -> bytes:
    """The source of a step's script from the copy Snakemake ran (``data``), ending in one
    newline, so that a record's ``code.script`` is the same wherever the script came from: the
    copy of a script that Snakemake read from a git repository (a module) has lost the file's
    last newline.

    >>> script_source(b"######## snakemake preamble end #########\\nprint(1)")
    b'print(1)\\n'
    >>> script_source(b"print(1)\\n")
    b'print(1)\\n'
    """
    _, marker, source = data.partition(SNAKEMAKE_PREAMBLE_END)
    return (source if marker else data).rstrip(b"\n") + b"\n"
