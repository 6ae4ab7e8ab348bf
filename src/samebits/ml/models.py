"""Model builders: every layer explicitly named, every initializer and dropout explicitly seeded.

Layer names make the weight names (``dense_1/kernel``) stable, so canonical weight files
compare across processes; Keras' automatic names (``dense_3``) depend on how many layers a
process built before. Seeds are derived by name from the experiment's master seed
(:class:`samebits.core.seeds.SeedSource`), so nothing depends on Keras' global seed state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..core.errors import ConfigError
from ..core.seeds import SeedSource
from ..core.usercode import CodeRef

__all__ = [
    "BUILDERS",
    "build_cnn",
    "build_mlp",
    "MODEL_TYPES",
    "OUTPUTS",
    "build",
    "check_output",
    "output_units",
    "model_layers",
]


def _dense_stack(
    keras: Any, x: Any, units: list[int], activation: str, dropout: float, seeds: SeedSource, start: int = 1
) -> Any:
    for i, n in enumerate(units, start=start):
        x = keras.layers.Dense(
            n,
            activation=activation,
            name=f"dense_{i}",
            kernel_initializer=keras.initializers.GlorotUniform(seed=seeds(f"dense_{i}/kernel")),
            bias_initializer="zeros",
        )(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, seed=seeds(f"dropout_{i}"), name=f"dropout_{i}")(x)
    return x


def _augment(keras: Any, x: Any, spec: dict[str, Any] | None, seeds: SeedSource) -> Any:
    """Insert explicitly seeded augmentation layers; they act only while training."""
    if not spec:
        return x
    if len(x.shape) != 4:
        raise ConfigError(f"model.augment needs image data (height, width, channels), got shape {tuple(x.shape[1:])}")
    if spec.get("flip"):
        x = keras.layers.RandomFlip(spec["flip"], seed=seeds("augment/flip"), name="augment_flip")(x)
    if spec.get("rotation"):
        x = keras.layers.RandomRotation(spec["rotation"], seed=seeds("augment/rotation"), name="augment_rotation")(x)
    if spec.get("translation"):
        t = spec["translation"]
        x = keras.layers.RandomTranslation(t, t, seed=seeds("augment/translation"), name="augment_translation")(x)
    if spec.get("zoom"):
        x = keras.layers.RandomZoom(spec["zoom"], seed=seeds("augment/zoom"), name="augment_zoom")(x)
    return x


#: The output layer of the built-in models, by task: ``(units, activation)`` for ``n``
#: classes (or target columns, for a regression). A binary task gets two softmax units, not
#: one sigmoid unit: trained with binary cross-entropy, one sigmoid unit was measured to give
#: other bits on other x86-64 CPUs (docs/portability.md), two softmax units were not.
OUTPUTS = {
    "multiclass": lambda n: (n, "softmax"),
    "binary": lambda n: (2, "softmax"),
    "regression": lambda n: (n, "linear"),
}


def _output(keras: Any, x: Any, n_classes: int, seeds: SeedSource, task: str) -> Any:
    units, activation = OUTPUTS[task](n_classes)
    return keras.layers.Dense(
        units,
        activation=activation,
        name="output",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seeds("output/kernel")),
        bias_initializer="zeros",
    )(x)


def build_mlp(
    input_shape: Sequence[int],
    n_classes: int,
    seeds: SeedSource,
    *,
    hidden: Iterable[int],
    activation: str,
    dropout: float,
    augment: dict[str, Any] | None,
    task: str,
) -> Any:
    """A multilayer perceptron: flatten, ``hidden`` dense layers, the task's output layer
    (:data:`OUTPUTS`)."""
    import keras

    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = keras.layers.Flatten(name="flatten")(_augment(keras, inputs, augment, seeds))
    x = _dense_stack(keras, x, list(hidden), activation, dropout, seeds)
    return keras.Model(inputs, _output(keras, x, n_classes, seeds, task), name="mlp")


def build_cnn(
    input_shape: Sequence[int],
    n_classes: int,
    seeds: SeedSource,
    *,
    filters: Iterable[int],
    kernel_size: int,
    dense: Iterable[int],
    activation: str,
    dropout: float,
    augment: dict[str, Any] | None,
    task: str,
) -> Any:
    """A small convolutional network for images of shape ``(h, w, channels)``, with the
    task's output layer (:data:`OUTPUTS`)."""
    import keras

    if len(input_shape) != 3:
        raise ConfigError(
            f"model type 'cnn' needs image data of shape (height, width, channels), "
            f"got feature shape {tuple(input_shape)}"
        )
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = _augment(keras, inputs, augment, seeds)
    for i, f in enumerate(filters, start=1):
        x = keras.layers.Conv2D(
            f,
            kernel_size,
            padding="same",
            activation=activation,
            name=f"conv_{i}",
            kernel_initializer=keras.initializers.GlorotUniform(seed=seeds(f"conv_{i}/kernel")),
            bias_initializer="zeros",
        )(x)
        if x.shape[1] >= 2 and x.shape[2] >= 2:
            x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = _dense_stack(keras, x, list(dense), activation, dropout, seeds)
    return keras.Model(inputs, _output(keras, x, n_classes, seeds, task), name="cnn")


#: The built-in model types; their keys and defaults are in the config schema.
BUILDERS: dict[str, Callable[..., Any]] = {"mlp": build_mlp, "cnn": build_cnn}
#: Every ``model.type`` the config accepts.
MODEL_TYPES = (*BUILDERS, "custom")


def build(spec: dict[str, Any], input_shape: Sequence[int], n_classes: int, seeds: SeedSource, *, task: str) -> Any:
    """Build the model a config ``model:`` entry describes (uncompiled), for ``task`` with
    ``n_classes`` classes (or target columns, for a regression).

    ``type: custom`` calls ``builder(input_shape, n_classes, seeds, **options)``; it must
    return an uncompiled Keras model and should name its layers and seed its initializers
    with ``seeds("some/name")``. Whether its output suits the task is :func:`check_output`'s
    to say (the init step asks, naming the experiment).
    """
    spec = dict(spec)
    kind = spec.pop("type", None)
    if kind == "custom":
        ref = spec.pop("builder", None)
        func = CodeRef.parse(str(ref)).load()
        model = func(tuple(input_shape), n_classes, seeds, **spec.pop("options", {}))
        import keras

        if not isinstance(model, keras.Model):
            raise ConfigError(f"model.builder {ref!r} returned {type(model).__name__}, not a Keras model")
        return model
    if kind not in BUILDERS:
        raise ConfigError(f"model.type {kind!r} is unknown; accepted: {', '.join(MODEL_TYPES)}")
    try:
        return BUILDERS[kind](input_shape, n_classes, seeds, task=task, **spec)
    except TypeError as exc:
        raise ConfigError(f"model.type {kind!r}: {exc}") from None


def output_units(model: Any) -> tuple[int, str | None]:
    """``(units, activation name)`` of a single-output model's output (activation ``None``
    when the output layer has none of its own)."""
    shape = model.outputs[0].shape if getattr(model, "outputs", None) else model.output_shape
    last = model.layers[-1] if getattr(model, "layers", None) else None
    activation = getattr(getattr(last, "activation", None), "__name__", None)
    return int(shape[-1]), activation


def check_output(model: Any, *, task: str, n_classes: int, where: str) -> None:
    """:class:`ConfigError` naming both unless the model's output suits the task: ``n``
    units for ``n`` classes (binary: one sigmoid unit or two units), ``n`` units for ``n``
    regression targets, not a softmax or sigmoid."""
    if getattr(model, "outputs", None) is not None and len(model.outputs) != 1:
        raise ConfigError(f"{where}: the model has {len(model.outputs)} outputs; samebits trains one")
    units, activation = output_units(model)
    shown = f"{units} unit(s)" + (f" with activation {activation!r}" if activation else "")
    if task == "binary":
        ok = units in (1, 2) and not (units == 1 and activation == "softmax")
        need = "one sigmoid unit or two softmax units"
    elif task == "multiclass":
        ok = units == n_classes
        need = f"{n_classes} units, one per class (softmax, or logits with from_logits)"
    else:
        ok = units == n_classes and activation not in ("softmax",)
        need = f"{n_classes} unit(s), one per target, without softmax (a linear output)"
    if not ok:
        raise ConfigError(f"{where}: the model's output has {shown}, but the data set's task is {task} ({need})")


def model_layers(model: Any) -> list[Any]:
    """Every layer of a Keras model, nested models' layers included, in order."""
    found: list[Any] = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(model_layers(layer))
    return found
