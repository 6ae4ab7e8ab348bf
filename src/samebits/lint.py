"""``samebits lint``: warn, before any compute, about what will keep the bits from travelling.

Builds each configured experiment's model (as the init step would, with the experiment's
first seed) and warns when it uses a Keras layer measured not to be portable between x86-64
CPUs (:data:`samebits.portability.NOT_PORTABLE_LAYERS`), and when the determinism profile
is not ``portable``. Imports TensorFlow (to build the models); runs nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import data, grids, models
from .config import check_config
from .errors import ConfigError
from .seeds import SeedSource

__all__ = ["LintWarning", "lint_config", "model_layers"]

DOCS = "docs/portability.md"


@dataclass(frozen=True)
class LintWarning:
    """One lint warning: the experiment it is about (``None``: the whole config) and why."""

    experiment: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "message": self.message}


def model_layers(model) -> list:
    """Every layer of a Keras model, nested models' layers included, in order."""
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(model_layers(layer))
    return found


def lint_config(path: str | Path) -> list[LintWarning]:
    """The portability warnings of the workflow config at ``path``.

    Data files and custom builders are found relative to the current directory, as the
    workflow finds them (run it from the workflow's directory).
    """
    from .portability import NOT_PORTABLE_ACTIVATIONS, NOT_PORTABLE_LAYERS

    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            config = yaml.safe_load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the config must be a mapping (seeds, datasets, experiments)")
    check_config(config, [path])
    warnings: list[LintWarning] = []
    profile = (config.get("determinism") or {}).get("profile", "portable")
    if profile != "portable":
        warnings.append(
            LintWarning(
                None,
                f"determinism.profile is {profile!r}: the bits are this CPU's and will not travel to other "
                f"x86-64 CPUs; use 'portable' (see {DOCS})",
            )
        )
    seeds = config.get("seeds") or [0]
    datasets = config.get("datasets") or {}
    experiments = grids.expand(config.get("experiments") or {}, config.get("grids") or {})
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # quiet TensorFlow's INFO lines
    shapes: dict[str, tuple[tuple[int, ...], int]] = {}
    for name, exp in experiments.items():
        ds_name = exp["dataset"]
        if ds_name not in shapes:
            spec = datasets[ds_name]
            ds = data.load(ds_name, spec["source"], label=spec.get("label", "label"))
            shapes[ds_name] = (ds.feature_shape, ds.n_classes)
        shape, n_classes = shapes[ds_name]
        model = models.build(exp["model"], shape, n_classes, SeedSource(int(seeds[0])))
        for layer in model_layers(model):
            kind = type(layer).__name__
            activation = getattr(getattr(layer, "activation", None), "__name__", None)
            if kind in NOT_PORTABLE_LAYERS:
                what, why = kind, NOT_PORTABLE_LAYERS[kind]
            elif activation in NOT_PORTABLE_ACTIVATIONS:
                what, why = f"activation {activation!r}", NOT_PORTABLE_ACTIVATIONS[activation]
            else:
                continue
            warnings.append(
                LintWarning(
                    name,
                    f"experiment {name!r} uses {what} (layer {layer.name!r}), which is not portable between "
                    f"x86-64 CPUs: {why}; its train and evaluate bits will differ on other CPUs (see {DOCS})",
                )
            )
    return warnings
