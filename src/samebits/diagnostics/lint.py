"""``samebits lint``: warn, before any compute, about what will keep the bits from travelling.

Builds each configured experiment's model (as the init step would, with the first seed) and
warns when it uses a Keras layer or activation measured not to be portable between x86-64
CPUs (:mod:`samebits.diagnostics.portable_ops`), and when the determinism profile is not
``portable``. Imports TensorFlow (to build the models); runs nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..core.seeds import SeedSource
from ..ml import data, determinism, models
from ..plan import Plan
from .portable_ops import NOT_PORTABLE_ACTIVATIONS, NOT_PORTABLE_LAYERS

__all__ = ["DOCS", "LintWarning", "lint"]

DOCS = "docs/portability.md"


@dataclass(frozen=True)
class LintWarning:
    """One lint warning: the experiment it is about (``None``: the whole config) and why."""

    experiment: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "message": self.message}


def lint(plan: Plan) -> list[LintWarning]:
    """The portability warnings of a plan's experiments.

    Data files and custom builders are found relative to the current directory, as the
    workflow finds them (run it from the workflow's directory).
    """
    warnings: list[LintWarning] = []
    portable_profile = determinism.PORTABLE
    if plan.profile != portable_profile:
        warnings.append(
            LintWarning(
                None,
                f"determinism.profile is {plan.profile!r}: the bits are this CPU's and will not travel to other "
                f"x86-64 CPUs; use {portable_profile!r} (see {DOCS})",
            )
        )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # quiet TensorFlow's INFO lines
    shapes: dict[str, tuple[tuple[int, ...], int]] = {}
    for name, exp in plan.experiments.items():
        ds_name = exp["dataset"]
        if ds_name not in shapes:
            spec = plan.datasets[ds_name]
            ds = data.load(ds_name, spec["source"], label=spec["label"])
            shapes[ds_name] = (ds.feature_shape, ds.n_classes)
        shape, n_classes = shapes[ds_name]
        model = models.build(exp["model"], shape, n_classes, SeedSource(int(plan.seeds[0])))
        for layer in models.model_layers(model):
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
