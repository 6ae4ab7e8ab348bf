"""samebits: train TensorFlow/Keras models so that a rerun gives the same bits, and prove it.

The package is in layers, each importing only those below it (tests/unit/test_structure.py
checks it):

- ``core``: errors, seeds, canonical checksums, the one file writer, structured differences,
  the path layout of a run, step logging, references to the user's code;
- ``provenance``: the environment fingerprint, a step's identity, step records, the lock,
  comparison, verify;
- ``ml``: the determinism recipe, data, models, weights, metrics, training, the chain's steps;
- ``paper``: the summary table and the figures;
- ``config``: the configuration's schema, checks, grids and cache;
- ``plan``: the checked configuration and what each rule reads (the workflow, the command,
  audit, lint and the benchmark read it; it computes only);
- ``lifecycle``: what a run of the workflow does at its start and end (the workflow only);
- ``diagnostics``: diff, audit, portability, lint, CPU emulation;
- ``scaffold``: a new paper repository that uses the workflow as a module (``samebits init``;
  imports only ``core`` and ``config``);
- ``cli``: the ``samebits`` command.

The names below are the public API; each is imported on first use, so ``import samebits``
costs nothing (the workflow's start and every step import parts of it).
"""

from __future__ import annotations

import importlib
from typing import Any

from .core.version import __version__

_API = {
    "Plan": "samebits.plan",
    "SamebitsError": "samebits.core.errors",
    "apply_determinism": ("samebits.ml.determinism", "apply"),
    "diff_trees": "samebits.diagnostics.treediff",
    "verify": "samebits.provenance.verify",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'samebits' has no attribute {name!r}")
    where = _API[name]
    module, attr = where if isinstance(where, tuple) else (where, name)
    return getattr(importlib.import_module(module), attr)
