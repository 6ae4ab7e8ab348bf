"""Model weights and architectures as files: what init writes and train and evaluate read.

Weights are stored by their place in the model: the names of the layers leading to them and
the variable's own name (``dense_1/kernel``; in a nested model ``encoder/dense_1/kernel``).
Explicit layer names make these stable across processes. Keras' own variable paths are not:
a ``Sequential`` model built in one process prefixes them with its name, the same model read
back from its JSON does not. A layer shared by several parts of a model is stored once, under
the first place it is found. The architecture is Keras' JSON, read back in safe mode.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..core.usercode import CodeRef

__all__ = ["load_architecture", "named_variables", "read_npz", "set_weights", "weights_of"]


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, by name (no pickle)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def named_variables(model: Any) -> dict[str, Any]:
    """Every weight of ``model`` by its place in it (see the module's text), in Keras' order
    within each layer, layers in the model's order."""
    found: dict[str, Any] = {}
    seen: set[int] = set()

    def walk(layer: Any, prefix: str) -> None:
        inner = layer._flatten_layers(include_self=False, recursive=False)
        theirs = {id(v) for sub in inner for v in sub.weights}
        for v in layer.weights:
            if id(v) in theirs or id(v) in seen:
                continue
            name = prefix + v.name
            if name in found:
                raise ValueError(f"two weights share the name {name!r}; name every layer explicitly")
            seen.add(id(v))
            found[name] = v
        for sub in inner:
            walk(sub, f"{prefix}{sub.name}/")

    walk(model, "")
    return found


def weights_of(model: Any) -> dict[str, np.ndarray]:
    """Model weights by their place in the model, e.g. ``dense_1/kernel``."""
    return {name: np.asarray(v.numpy()) for name, v in named_variables(model).items()}


def set_weights(model: Any, arrays: dict[str, np.ndarray], where: str) -> None:
    """Assign ``arrays`` to the model's weights by name; every weight, and only those."""
    variables = named_variables(model)
    if set(variables) != set(arrays):
        missing, extra = sorted(set(variables) - set(arrays)), sorted(set(arrays) - set(variables))
        raise ValueError(
            f"{where}: weights do not match the model's: missing {', '.join(missing) or 'none'}; "
            f"not in the model {', '.join(extra) or 'none'}"
        )
    for name, v in variables.items():
        v.assign(arrays[name])


def load_architecture(model_json: str | Path, builder: str | None) -> Any:
    """The uncompiled model of a ``model.json``; a custom ``builder`` is imported first, so
    the custom layers it registers can be deserialised."""
    import keras

    if builder is not None:
        CodeRef.parse(builder).load()
    text = Path(model_json).read_text(encoding="utf-8")
    # Safe mode: only registered layer classes, never the Python code of a Lambda layer.
    return keras.saving.deserialize_keras_object(json.loads(text), safe_mode=True)
