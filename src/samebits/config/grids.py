"""Experiment grids: a small cartesian product of settings, expanded to named experiments.

    grids:
      lr:
        base: [mlp, cnn]                      # experiments to start from
        vary:
          train.learning_rate: [0.001, 0.01]  # dotted paths into an experiment

expands to ``lr_mlp_learning_rate-0p001``, ``lr_mlp_learning_rate-0p01``,
``lr_cnn_learning_rate-0p001`` and ``lr_cnn_learning_rate-0p01``, each a full experiment that
runs once per seed like any other. Names are built from the values, so adding a value
never renames the others.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from typing import Any

from ..core.errors import ConfigError

__all__ = ["MAX_EXPERIMENTS", "expand", "name_part"]

_VARIABLE = ("dataset", "model.", "train.")

#: The most experiments all grids together may make: a sweep of that size is days of jobs; a
#: few long lists multiplied by mistake would make millions, and planning them would hang.
MAX_EXPERIMENTS = 10_000


def name_part(value: Any) -> str:
    """A value as a path-safe name part: ``0.001`` → ``0p001``, ``[32, 64]`` → ``32-64``."""
    if isinstance(value, list):
        return "-".join(name_part(v) for v in value)
    text = str(value).lower().replace(".", "p").replace("-", "m")
    return re.sub(r"[^a-z0-9]+", "", text) or "x"


def _set(doc: dict[str, Any], path: str, value: Any, where: str) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        if not isinstance(doc.get(key), dict):
            raise ConfigError(f"{where}: cannot set {path!r}: {key!r} is not a section of the experiment")
        doc = doc[key]
    doc[keys[-1]] = copy.deepcopy(value)


def expand(experiments: dict[str, Any], grids: dict[str, Any], origins: dict[str, str] | None = None) -> dict[str, Any]:
    """The experiments with every grid expanded (a new dict; the inputs are not changed);
    ``origins``, if given, gets the grid of each experiment a grid made."""
    out = dict(experiments)
    for grid, spec in grids.items():
        bases = spec["base"] if isinstance(spec["base"], list) else [spec["base"]]
        vary = spec.get("vary", {})
        for path in vary:
            if not (path == "dataset" or path.startswith(_VARIABLE[1:])):
                raise ConfigError(
                    f"grids.{grid}.vary: {path!r} is not variable; use 'dataset', 'model.<key>' or 'train.<key>'"
                )
        made = len(bases) * math.prod(len(v) if isinstance(v, list) else 1 for v in vary.values())
        if len(out) + made > MAX_EXPERIMENTS:
            raise ConfigError(
                f"grids.{grid}.vary: makes {made:,} experiments ({len(bases)} base(s) × "
                f"{' × '.join(str(len(v)) for v in vary.values() if isinstance(v, list))} values); "
                f"all grids together may make at most {MAX_EXPERIMENTS:,}"
            )
        for base in bases:
            if base not in experiments:
                known = ", ".join(sorted(experiments))
                raise ConfigError(f"grids.{grid}.base: {base!r} is not an experiment; experiments are {known}")
            for values in itertools.product(*vary.values()):
                parts = (
                    [grid]
                    + ([base] if len(bases) > 1 else [])
                    + [f"{path.rsplit('.', 1)[-1]}-{name_part(v)}" for path, v in zip(vary, values, strict=True)]
                )
                name = "_".join(parts)
                if name in out:
                    raise ConfigError(f"grids.{grid}: expands to {name!r}, which already names an experiment")
                exp = copy.deepcopy(experiments[base])
                for path, value in zip(vary, values, strict=True):
                    _set(exp, path, value, f"grids.{grid}")
                out[name] = exp
                if origins is not None:
                    origins[name] = grid
    return out
