"""Model weights and architectures as files: what init writes and train and evaluate read.

Weights are stored by their variable paths (``dense_1/kernel``), which explicit layer names
make stable across processes; the architecture is Keras' JSON, read back in safe mode.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["load_architecture", "read_npz", "set_weights", "weights_of"]


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, by name (no pickle)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def weights_of(model) -> dict[str, np.ndarray]:
    """Model weights by their (explicitly named) paths, e.g. ``dense_1/kernel``."""
    out = {}
    for v in model.weights:
        if v.path in out:
            raise ValueError(f"two weights share the name {v.path!r}; name every layer explicitly")
        out[v.path] = np.asarray(v.numpy())
    return out


def set_weights(model, arrays: dict[str, np.ndarray], where: str) -> None:
    """Assign ``arrays`` to the model's weights by path; every weight, and only those."""
    names = {v.path for v in model.weights}
    if names != set(arrays):
        raise ValueError(
            f"{where}: weights {sorted(set(arrays) ^ names)} do not match the model's ({', '.join(sorted(names))})"
        )
    for v in model.weights:
        v.assign(arrays[v.path])


def load_architecture(model_json: str | Path, builder: str | None):
    """The uncompiled model of a ``model.json``; a custom ``builder`` is imported first, so
    the custom layers it registers can be deserialised."""
    import keras

    if builder is not None:
        from .models import load_builder

        load_builder(builder)
    text = Path(model_json).read_text(encoding="utf-8")
    # Safe mode: only registered layer classes, never the Python code of a Lambda layer.
    return keras.saving.deserialize_keras_object(json.loads(text), safe_mode=True)
