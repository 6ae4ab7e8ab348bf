"""What was measured about which Keras pieces give the same bits on other x86-64 CPUs under
the ``portable`` profile: the knowledge ``samebits lint`` checks a configuration against.

Every piece training runs is one of three things here:

- **not portable** (``NOT_PORTABLE_*``: the reason): a probe case that runs it gave other bits
  on another CPU, and every other piece of that case is portable; lint warns;
- **portable** (``PORTABLE_*``: the probe cases that show it, or ``NO_ARITHMETIC_LAYERS``: why
  it needs no measurement): lint says nothing;
- **unmeasured**: anything else (a layer class, activation, loss or optimizer no probe case
  runs, a schedule, the user's own code). Lint judges such a piece by the graph training
  runs (:mod:`samebits.diagnostics.graphops`): none of the ops whose kernels start from an
  approximate instruction means it is judged by that; it is listed as unmeasured only where
  that graph was not run (a trainer's own loop). ``UNMEASURED_NOTES`` says why a piece that
  has a probe case is still unmeasured.

Names are Keras class names (layers, losses, optimizers, metrics other than ``accuracy``)
and activation function names. The cases are :data:`samebits.diagnostics.probes.CASES`;
each names the pieces it runs (``Case.pieces()``), and ``tests/unit/test_emulation_helpers.py``
checks that every piece called portable here is run by a case that names it.
``tests/e2e/test_emulation.py`` re-measures some of the cases (among them ``fit_tanh``,
``fit_rmsprop`` and ``fit_batchnorm``) on every test run and checks them against these tables;
docs/portability.md has the full table.

Measured with ``samebits portability`` on 2026-12-05 (this module's tables), the ``portable``
profile with :mod:`samebits.ml.exact`'s kernels: host AMD EPYC (AVX2, no AVX-512) against
``qemu-x86_64 -cpu Haswell`` and ``-cpu EPYC-Milan`` (Debian qemu-user 1:7.2), TensorFlow
2.21.0, Keras 3.15.1. QEMU computes the approximate instructions exactly, so an emulated match
shows a case runs none of them; the host records in ``docs/portability/hosts/`` hold the same
cases measured natively on real Intel and AMD CPUs.
"""

from __future__ import annotations

__all__ = [
    "KINDS",
    "LAYER_ACTIVATIONS",
    "NOT_PORTABLE",
    "NOT_PORTABLE_ACTIVATIONS",
    "NOT_PORTABLE_LAYERS",
    "NOT_PORTABLE_LOSSES",
    "NOT_PORTABLE_OPTIMIZERS",
    "NO_ARITHMETIC_LAYERS",
    "PORTABLE",
    "PORTABLE_ACTIVATIONS",
    "PORTABLE_LAYERS",
    "PORTABLE_LOSSES",
    "PORTABLE_METRICS",
    "PORTABLE_OPTIMIZERS",
    "UNMEASURED",
    "UNMEASURED_NOTES",
    "status",
    "unmeasured_note",
]

#: The verdicts of :func:`status`.
PORTABLE, NOT_PORTABLE, UNMEASURED = "portable", "not portable", "unmeasured"

#: Keras layer classes whose results were measured NOT to be portable under the profile, and
#: why. None: the normalisation layers, which use ``rsqrt``, run exact compositions under the
#: ``portable`` profile (:mod:`samebits.ml.exact`) and are measured portable below.
NOT_PORTABLE_LAYERS: dict[str, str] = {}

#: Activations measured NOT to be portable: a layer that uses one, as ``activation=...`` or in
#: an ``Activation`` layer, would not be portable either. None (gelu's exact form runs on
#: ``erf`` under the profile).
NOT_PORTABLE_ACTIVATIONS: dict[str, str] = {}

#: Losses (Keras classes) measured NOT to be portable in training, and why. None (the
#: reciprocal in binary cross-entropy's gradient is a true division under the profile).
NOT_PORTABLE_LOSSES: dict[str, str] = {}

#: Optimizers (Keras classes) measured NOT to be portable in training, and why. None
#: (RMSprop's division by a square root is kept from Grappler's rsqrt rewrite).
NOT_PORTABLE_OPTIMIZERS: dict[str, str] = {}

#: Layer classes measured portable in training (fit, predict), by the cases that show it.
PORTABLE_LAYERS: dict[str, str] = {
    "Dense": "fit_mlp, fit_relu and every fit_* case; dense (eager, forward and backward)",
    "Conv2D": "fit_cnn (with relu, fused by oneDNN); conv2d (eager)",
    "MaxPooling2D": "fit_cnn; maxpool2d (eager)",
    "AveragePooling2D": "avgpool2d (eager, forward and backward)",
    "Dropout": "fit_mlp (seeded, rate 0.1); dropout_train (eager)",
    "Embedding": "fit_embedding",
    "LSTM": "fit_lstm (its default activations, tanh and recurrent sigmoid)",
    "GRU": "fit_gru (its default activations, tanh and recurrent sigmoid)",
    "BatchNormalization": (
        "batchnorm_train, batchnorm_infer (eager), fit_batchnorm (a CNN, fit with RMSprop), with the profile's "
        "exact rsqrt; TensorFlow's own differs between Intel and AMD by up to 1024 ULP"
    ),
    "LayerNormalization": "layernorm (eager, forward and backward), with the profile's exact rsqrt",
    "GroupNormalization": "groupnorm (eager, forward and backward), with the profile's exact rsqrt",
}

#: The activations a layer class was measured with (its defaults): its verdict covers them,
#: so lint checks a layer's activation only where it is another one.
LAYER_ACTIVATIONS: dict[str, dict[str, str]] = {
    "LSTM": {"activation": "tanh", "recurrent_activation": "sigmoid"},
    "GRU": {"activation": "tanh", "recurrent_activation": "sigmoid"},
}

#: Layer classes that do no floating-point arithmetic of their own (they move or pass values
#: unchanged), so they give the same bits on every CPU without a measurement; why.
NO_ARITHMETIC_LAYERS: dict[str, str] = {
    "InputLayer": "passes its input on",
    "Flatten": "reshapes (values unchanged)",
    "Reshape": "reshapes (values unchanged)",
    "Permute": "reorders axes (values unchanged)",
}

#: Activations measured portable as Keras runs them in training (fused into a Dense layer's
#: kernel by oneDNN), by the cases that show it; ``linear`` is the identity.
PORTABLE_ACTIVATIONS: dict[str, str] = {
    "relu": "fit_relu, fit_mlp, fit_cnn",
    "softmax": "the output of every classification fit_* case (with sparse categorical cross-entropy)",
    "sigmoid": "fit_sigmoid",
    "elu": "fit_elu",
    "gelu": "gelu (eager), fit_gelu; its exact form as 0.5·x·(1 + erf(x/√2)) under the profile",
    "linear": "the identity (no arithmetic); fit_mse, fit_huber, fit_mae (output)",
}

#: Losses (Keras classes) measured portable in training, by the cases that show it.
PORTABLE_LOSSES: dict[str, str] = {
    "SparseCategoricalCrossentropy": "every classification fit_* case (on a Keras softmax output: the fused op)",
    "MeanSquaredError": "fit_mse",
    "Huber": "fit_huber",
    "MeanAbsoluteError": "fit_mae",
    "BinaryCrossentropy": (
        "fit_binary_crossentropy (Adam), fit_recipe_binary (RMSprop): one sigmoid unit, the classic recipe's binary "
        "model; its gradient's reciprocal is a true division under the profile"
    ),
}

#: Optimizers (Keras classes) measured portable over four training steps, by the cases that show it.
PORTABLE_OPTIMIZERS: dict[str, str] = {
    "Adam": "every fit_* case but the optimizer cases; adam_step",
    "SGD": "fit_sgd (momentum 0.9); sgd_step",
    "AdamW": "fit_adamw (weight decay 0.004)",
    "RMSprop": "fit_rmsprop, fit_batchnorm, fit_recipe_binary; rmsprop_step (eager)",
}

#: Metrics measured portable in the history ``fit()`` records: ``accuracy`` (``compile()``
#: picks sparse categorical or binary accuracy by the loss) and Keras classes.
PORTABLE_METRICS: dict[str, str] = {
    "accuracy": (
        "every classification fit_* case (sparse categorical accuracy); binary accuracy in "
        "fit_binary_crossentropy and fit_recipe_binary"
    ),
    "MeanAbsoluteError": "fit_mse, fit_huber, fit_mae",
}

#: Pieces a probe case runs that are still unmeasured, and why.
UNMEASURED_NOTES: dict[tuple[str, str], str] = {
    ("activation", "tanh"): (
        "its training case fit_tanh (a Dense layer with tanh, which oneDNN fuses into one kernel) crashes the "
        "emulator (SIGSEGV in qemu-x86_64 7.2, as Haswell and as EPYC-Milan), so it could not be measured; "
        "tanh alone (case tanh) and inside LSTM and GRU (fit_lstm, fit_gru) is portable"
    ),
}

#: The kinds of piece, with their tables: ``kind -> (not portable, portable...)``.
KINDS: dict[str, tuple[dict[str, str], tuple[dict[str, str], ...]]] = {
    "layer": (NOT_PORTABLE_LAYERS, (PORTABLE_LAYERS, NO_ARITHMETIC_LAYERS)),
    "activation": (NOT_PORTABLE_ACTIVATIONS, (PORTABLE_ACTIVATIONS,)),
    "loss": (NOT_PORTABLE_LOSSES, (PORTABLE_LOSSES,)),
    "optimizer": (NOT_PORTABLE_OPTIMIZERS, (PORTABLE_OPTIMIZERS,)),
    "metric": ({}, (PORTABLE_METRICS,)),
    "schedule": ({}, ()),
    "trainer": ({}, ()),
}


def status(kind: str, name: str) -> tuple[str, str]:
    """``(verdict, why)`` of one piece: :data:`NOT_PORTABLE` with the reason,
    :data:`PORTABLE` with its evidence, or :data:`UNMEASURED` (why: a note or ``""``).

    ``kind`` is one of :data:`KINDS` (layer, activation, loss, optimizer, metric, schedule,
    trainer); ``name`` as this module names it (Keras class, activation name).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind of piece {kind!r}; accepted: {', '.join(KINDS)}")
    bad, good = KINDS[kind]
    if name in bad:
        return NOT_PORTABLE, bad[name]
    for table in good:
        if name in table:
            return PORTABLE, table[name]
    return UNMEASURED, unmeasured_note(kind, name) or ""


def unmeasured_note(kind: str, name: str) -> str | None:
    """Why a piece is unmeasured although a probe case runs it (``None``: no case does)."""
    return UNMEASURED_NOTES.get((kind, name))
