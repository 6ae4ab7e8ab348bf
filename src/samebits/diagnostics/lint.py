"""``samebits lint``: warn, before any compute, about what will keep the bits from travelling.

Builds each configured experiment's model (as the init step would, with the first seed) and
judges what its training runs, two ways:

- **the graph**: it compiles the model with the experiment's loss, optimizer and metrics and
  runs one ``fit()`` step and one ``predict()`` on a small batch of zeros, in this process,
  with the kernels of the configuration's profile (:mod:`samebits.ml.exact` for ``portable``),
  and lists every op of the executed graphs whose kernel starts from an approximate
  instruction (:mod:`samebits.diagnostics.graphops`): each is a warning naming the op, its
  node and the piece it comes from, the user's own loss and layers included;
- **the measurements** (:mod:`samebits.diagnostics.portable_ops`): a layer, activation, loss,
  optimizer or metric measured not to be portable is a warning.

A piece whose graph was run and holds no approximate op is judged by it, measured or not; a
trainer of the user's (its own loop, which lint does not run) and any piece of an experiment
whose graph could not be run are listed as *unmeasured*: their portability is unknown, so
lint does not call them portable. The determinism profile is a warning when it is not
``portable``. Imports TensorFlow; trains nothing but a throwaway copy for one step.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Any

from ..core.errors import ConfigError
from ..core.seeds import SeedSource
from ..core.usercode import CodeRef
from ..ml import compiling, data, determinism, exact, images, keras_api, models, sources
from ..plan import Plan
from . import graphops, portable_ops

__all__ = ["DOCS", "LintReport", "LintWarning", "Unmeasured", "experiment_pieces", "lint"]

DOCS = "docs/portability.md"


@dataclass(frozen=True)
class LintWarning:
    """One lint warning: the experiment it is about (``None``: the whole config) and why."""

    experiment: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "message": self.message}


@dataclass(frozen=True)
class Unmeasured:
    """The pieces of one experiment whose portability was never measured.

    ``pieces`` are ``{"kind", "name", "where"}``: ``kind`` is layer, activation, loss,
    optimizer, schedule, metric or trainer; ``name`` its Keras class or name (or the user's
    reference); ``where`` the layers that use it (layers and activations), else ``None``. A
    loss that ``train.loss: null`` chose by task also has ``default_for`` (the task).
    """

    experiment: str
    pieces: tuple[dict[str, Any], ...]
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "pieces": list(self.pieces), "message": self.message}


@dataclass(frozen=True)
class LintReport:
    """What :func:`lint` found: warnings (not portable) and unmeasured pieces, per experiment."""

    warnings: list[LintWarning]
    unmeasured: list[Unmeasured]
    #: per experiment, the approximate ops of its executed graph (``{op: [nodes]}``), or the
    #: reason it could not be run (``{"error": message}``)
    graphs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "warnings": [w.as_dict() for w in self.warnings],
            "unmeasured": [u.as_dict() for u in self.unmeasured],
            "graphs": self.graphs,
        }


def lint(plan: Plan) -> LintReport:
    """The portability warnings and the unmeasured pieces of a plan's experiments.

    Data files, custom builders and the user's losses are found relative to the current
    directory, as the workflow finds them (run it from the workflow's directory).
    """
    warnings: list[LintWarning] = []
    unmeasured: list[Unmeasured] = []
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
    if plan.profile in determinism.EXACT_KERNELS:
        exact.install()  # the kernels the steps run
    datasets: dict[str, tuple[tuple[int, ...], int, str]] = {}
    graphs: dict[str, dict[str, Any]] = {}
    for name, exp in plan.experiments.items():
        ds_name = exp["dataset"]
        if ds_name not in datasets:
            datasets[ds_name] = _input_of(ds_name, plan.datasets[ds_name])
        feature_shape, n_classes, task = datasets[ds_name]
        where = f"experiments.{name}.train"
        model = models.build(exp["model"], feature_shape, n_classes, SeedSource(int(plan.seeds[0])), task=task)
        pieces = experiment_pieces(model, exp["train"], task=task, where=where)
        graphs[name] = _run_graph(model, exp["train"], task=task, n_classes=n_classes, where=where)
        ran = "error" not in graphs[name]
        for op, nodes in graphs[name].items() if ran else ():
            warnings.append(LintWarning(name, _approximate(name, op, nodes, pieces)))
        unknown: list[dict[str, Any]] = []
        for piece in pieces:
            verdict, why = portable_ops.status(piece["kind"], piece["name"])
            if verdict == portable_ops.NOT_PORTABLE:
                warnings.append(LintWarning(name, _not_portable(name, piece, why)))
            elif verdict == portable_ops.UNMEASURED and not (ran and piece["kind"] in TRACED_KINDS):
                unknown.append(piece)
        if unknown:
            unmeasured.append(Unmeasured(name, tuple(unknown), _unmeasured(name, unknown, graphs[name].get("error"))))
    return LintReport(warnings, unmeasured, graphs)


#: The kinds of piece one ``fit()`` step and one ``predict()`` run (a trainer's loop is not).
TRACED_KINDS = ("layer", "activation", "loss", "optimizer", "schedule", "metric")
#: Samples in the batch of zeros lint trains the throwaway model on.
_BATCH = 8


def _run_graph(model: Any, train: dict[str, Any], *, task: str, n_classes: int, where: str) -> dict[str, Any]:
    """The approximate ops of one ``fit()`` step and one ``predict()`` of ``model`` compiled as
    the train step compiles it (:func:`graphops.fit_ops`), or ``{"error": why}``."""
    import numpy as np

    labels = np.arange(_BATCH) % max(n_classes, 1)
    units, _ = models.output_units(model)
    compiled = compiling.compile_training(
        train, task=task, units=units, n_classes=n_classes, labels=labels, where=where
    )
    if task == "regression":
        y = np.zeros((_BATCH, units), dtype=np.float32)
    else:
        y = compiling.targets_for(labels, task=task, units=units)
    x = np.zeros((_BATCH, *model.inputs[0].shape[1:]), dtype=model.inputs[0].dtype)
    model.compile(optimizer=compiled.optimizer, loss=compiled.loss, metrics=compiled.metrics, jit_compile=False)
    try:
        return graphops.fit_ops(model, x, y)
    except Exception as exc:  # noqa: BLE001 (the user's code may fail on zeros; lint says so, not crashes)
        return {"error": f"{type(exc).__name__}: {exc}"}


def _approximate(experiment: str, op: str, nodes: list[str], pieces: list[dict[str, Any]]) -> str:
    """The warning for one approximate op in an experiment's executed graph."""
    sources = []
    for node in nodes:
        piece = _piece_of(node, pieces)
        text = describe(piece) if piece else "training"
        if text not in sources:
            sources.append(text)
    shown = ", ".join(repr(n) for n in nodes[:3]) + (f" and {len(nodes) - 3} more" if len(nodes) > 3 else "")
    return (
        f"experiment {experiment!r} runs op {op} (from {'; '.join(sources)}: node{'s' if len(nodes) > 1 else ''} "
        f"{shown}), whose kernel is approximate ({exact.APPROXIMATE_OPS[op]}): its train and evaluate bits "
        f"will differ between Intel and AMD CPUs; write it with operations the portable profile makes exact "
        f"(tf.math.rsqrt, tf.math.reciprocal, 1 / x, a / tf.sqrt(b)) (see {DOCS})"
    )


def _piece_of(node: str, pieces: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The piece a node of the executed graph comes from, by its name scopes."""
    scopes = node.split("/")

    def opened(name: str) -> bool:  # Keras numbers a scope it opens again: 'hidden' runs as 'hidden_1'
        pattern = re.compile(re.escape(name) + r"(_\d+)?", re.IGNORECASE)
        return any(pattern.fullmatch(scope) for scope in scopes)

    if opened("compile_loss"):
        return next((p for p in pieces if p["kind"] == "loss"), None)
    in_layer = [p for p in pieces if p["kind"] in ("layer", "activation") and any(map(opened, p["where"] or ()))]
    for piece in in_layer:  # an activation's op sits in its layer's scope, under its own name
        if piece["kind"] == "activation" and opened(piece["name"]):
            return piece
    for piece in in_layer:
        if piece["kind"] == "layer":
            return piece
    for piece in pieces:  # Keras names an optimizer's scope after its class: 'rm_sprop'
        if piece["kind"] == "optimizer" and piece["name"].lower() in {s.replace("_", "").lower() for s in scopes}:
            return piece
    return None


def _input_of(name: str, spec: dict[str, Any]) -> tuple[tuple[int, ...], int, str]:
    """A data set's feature shape, classes and task: an image folder's from its listing and
    first image (lint decodes no folder, and writes no pixel cache), others' as loaded (a CSV
    or NPZ file read into its table cache, where split finds it)."""
    source = spec["source"]
    if sources.is_image_folder(source):
        shape, classes = images.peek(source, spec.get("image"))
        return shape, len(classes), spec.get("task") or ("binary" if len(classes) == 2 else "multiclass")
    ds = data.load(name, source, label=spec["label"], task=spec.get("task"))
    return ds.feature_shape, ds.n_classes, ds.task


def experiment_pieces(model: Any, train: dict[str, Any], *, task: str, where: str) -> list[dict[str, Any]]:
    """Every piece of an experiment whose arithmetic training runs, each named once.

    ``{"kind", "name", "where"}`` in model order: the layers (a nested model is a container,
    its layers are listed in turn; an ``Activation`` layer is its activation), each layer's
    activations (but those its class was measured with, ``portable_ops.LAYER_ACTIVATIONS``:
    the class's own verdict covers them), then the loss (``train.loss``,
    or the task's default for this model's output), optimizer, schedule, metrics and trainer
    of the experiment's ``train`` section (``where``: its dotted path, for messages).
    """
    import keras

    found: dict[tuple[str, str], dict[str, Any]] = {}

    def add(kind: str, name: str, layer: str | None = None) -> None:
        piece = found.setdefault((kind, name), {"kind": kind, "name": name, "where": [] if layer else None})
        if layer and layer not in piece["where"]:
            piece["where"].append(layer)

    for layer in models.model_layers(model):
        if isinstance(layer, keras.Model):
            continue  # a nested model: its own layers follow
        if not isinstance(layer, keras.layers.Activation):  # its portability is its activation's
            add("layer", type(layer).__name__, layer.name)
        measured_with = portable_ops.LAYER_ACTIVATIONS.get(type(layer).__name__, {})
        for attr in ("activation", "recurrent_activation"):
            function = getattr(layer, attr, None)
            name = getattr(function, "__name__", type(function).__name__)
            if function is not None and measured_with.get(attr) != name:
                add("activation", name, layer.name)
    units, _ = models.output_units(model)
    loss = train.get("loss")
    name = loss_name(compiling.default_loss(task, units) if loss is None else loss, where=f"{where}.loss")
    add("loss", name)
    if loss is None:
        found[("loss", name)]["default_for"] = task
    add("optimizer", keras_api.resolve("optimizer", train.get("optimizer", "adam"), f"{where}.optimizer")[0])
    if train.get("schedule") is not None:
        add("schedule", keras_api.resolve("schedule", train["schedule"], f"{where}.schedule")[0])
    for metric in compiling.metric_names(train.get("metrics"), task):
        add("metric", metric_name(metric))
    if train.get("trainer") is not None:
        add("trainer", str(train["trainer"]))
    return list(found.values())


def loss_name(loss: Any, *, where: str) -> str:
    """The Keras class of a loss spec (``mse`` -> ``MeanSquaredError``), or the user's
    ``file.py:function`` as it is."""
    name = keras_api.spec_name(loss)
    if name is not None and CodeRef.is_reference(name):
        return name
    try:
        return keras_api.resolve("loss", loss, where)[0]
    except ConfigError:
        if not isinstance(loss, str):
            raise
        import keras

        # an alias compile() knows ("mse", "kld"): its function's name is the class's
        return keras_api.resolve("loss", keras.losses.get(loss).__name__, where)[0]


def metric_name(metric: str) -> str:
    """A metric as :mod:`samebits.diagnostics.portable_ops` names it: ``accuracy`` (and
    ``crossentropy``) as they are, since ``compile()`` picks their class by the loss and the
    output; any other by its Keras class (``mae`` -> ``MeanAbsoluteError``)."""
    chosen_by_compile = {
        "accuracy": "accuracy",
        "acc": "accuracy",
        "crossentropy": "crossentropy",
        "ce": "crossentropy",
    }
    if metric in chosen_by_compile:
        return chosen_by_compile[metric]
    import keras

    found = keras.metrics.get(metric)
    return found.__name__ if isinstance(found, type) else type(found).__name__


def describe(piece: dict[str, Any]) -> str:
    """How a message names a piece: ``layer LSTM (layer 'lstm')``, ``activation 'swish'
    (layer 'dense_1')``, ``loss Huber``, ``your loss losses.py:smooth``."""
    kind, name, where = piece["kind"], piece["name"], piece["where"]
    if kind in ("loss", "trainer") and CodeRef.is_reference(name):
        text = f"your {kind} {name}"
    elif kind == "activation":
        text = f"activation {name!r}"
    elif kind == "schedule":
        text = f"learning-rate schedule {name}"
    elif kind == "metric":
        text = f"metric {name!r}" if name in ("accuracy", "crossentropy") else f"metric {name}"
    else:
        text = f"{kind} {name}"
    if piece.get("default_for"):
        text += f" (train.loss is null: the {piece['default_for']} default for this output)"
    if where:
        shown = ", ".join(repr(w) for w in where[:3]) + (f" and {len(where) - 3} more" if len(where) > 3 else "")
        text += f" ({'layer' if len(where) == 1 else 'layers'} {shown})"
    return text


def _not_portable(experiment: str, piece: dict[str, Any], why: str) -> str:
    if piece["kind"] == "layer":
        what = f"{piece['name']} ({'layer' if len(piece['where']) == 1 else 'layers'} "
        what += ", ".join(repr(w) for w in piece["where"]) + ")"
    else:
        what = describe(piece)
    return (
        f"experiment {experiment!r} uses {what}, which is not portable between x86-64 CPUs: {why}; "
        f"its train and evaluate bits will differ on other CPUs (see {DOCS})"
    )


def _unmeasured(experiment: str, pieces: list[dict[str, Any]], graph_error: str | None = None) -> str:
    notes = [f"{describe(p)}: {n}" for p in pieces if (n := portable_ops.unmeasured_note(p["kind"], p["name"]))]
    if graph_error:
        notes.insert(0, f"its training graph could not be run on a batch of zeros ({graph_error})")
    elif any(p["kind"] == "trainer" for p in pieces):
        notes.insert(0, "lint runs fit(), not a trainer's own loop")
    text = (
        f"experiment {experiment!r} uses {', '.join(describe(p) for p in pieces)}, which samebits has not "
        f"measured for portability; they may give other bits on other CPUs"
    )
    if notes:
        text += " (" + "; ".join(notes) + ")"
    return (
        text + f". To know, rerun the workflow on a second machine and compare with `samebits diff`, or add a "
        f"probe case that runs them and run `samebits portability` (see {DOCS})"
    )
