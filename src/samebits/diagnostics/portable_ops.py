"""What was measured about which Keras pieces give the same bits on other x86-64 CPUs under
the ``portable`` profile: the knowledge ``samebits lint`` checks a configuration against.

Every piece training runs is one of three things here:

- **not portable** (``NOT_PORTABLE_*``: the reason): a probe case that runs it gave other bits
  on another CPU, and every other piece of that case is portable; lint warns;
- **portable** (``PORTABLE_*``: the probe cases that show it, or ``NO_ARITHMETIC_LAYERS``: why
  it needs no measurement): lint says nothing;
- **unmeasured**: anything else (a layer class, activation, loss or optimizer no probe case
  runs, a schedule, the user's own code); lint lists it as unmeasured, never as portable.
  ``UNMEASURED_NOTES`` says why a piece that has a probe case is still unmeasured.

Names are Keras class names (layers, losses, optimizers, metrics other than ``accuracy``)
and activation function names. The cases are :data:`samebits.diagnostics.probes.CASES`;
each names the pieces it runs (``Case.pieces()``), and ``tests/unit/test_emulation_helpers.py``
checks that every piece called portable here is run by a case that names it.
``tests/e2e/test_emulation.py`` re-measures eight of the cases (among them ``fit_tanh`` and
``fit_rmsprop``) on every test run and checks them against these tables; docs/portability.md
has the full table.

Measured with ``samebits portability`` on 2026-12-02 (this module's tables): host AMD EPYC (AVX2,
no AVX-512) against ``qemu-x86_64 -cpu Haswell`` and ``-cpu EPYC-Milan`` (Debian qemu-user
1:7.2), TensorFlow 2.21.0, Keras 3.15.1; the normalisation layers and gelu also earlier on an
AVX-512 host (AVX512_CORE_BF16), with the same verdicts.
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

#: Keras layer classes whose results were measured NOT to be portable, and why. Each
#: normalises with ``rsqrt`` (an approximate instruction plus a Newton step, whose bits differ
#: between CPU vendors; QEMU computes it exactly), in the forward pass and again in the gradient.
NOT_PORTABLE_LAYERS: dict[str, str] = {
    "BatchNormalization": "normalises with rsqrt (training and inference: up to 1024 ULP in the output)",
    "LayerNormalization": "normalises with rsqrt (up to 384 ULP in output and gradients)",
    "GroupNormalization": "normalises with rsqrt (up to 1280 ULP in output and gradients)",
}

#: Activations measured NOT to be portable: a layer that uses one, as ``activation=...`` or in
#: an ``Activation`` layer, is not portable either.
NOT_PORTABLE_ACTIVATIONS: dict[str, str] = {
    "gelu": "its erf form differs (up to 5 ULP in output and gradient, 14 ULP in the weights after four steps)",
}

#: Losses (Keras classes) measured NOT to be portable in training, and why.
NOT_PORTABLE_LOSSES: dict[str, str] = {
    "BinaryCrossentropy": (
        "on a sigmoid output Keras takes sigmoid_cross_entropy_with_logits, whose gradient differs (up to 32 ULP "
        "in the weights after four steps; the loss values do not); two softmax units with "
        "sparse_categorical_crossentropy are portable"
    ),
}

#: Optimizers (Keras classes) measured NOT to be portable in training, and why.
NOT_PORTABLE_OPTIMIZERS: dict[str, str] = {
    "RMSprop": (
        "its update divides by sqrt(velocity + epsilon), which TensorFlow's graph optimizer rewrites inside fit() "
        "into a multiplication by rsqrt (up to 80 ULP in the weights after four steps; the same three steps run "
        "eagerly, case rmsprop_step, are portable)"
    ),
}

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
    "linear": "the identity (no arithmetic); fit_mse, fit_huber, fit_mae (output)",
}

#: Losses (Keras classes) measured portable in training, by the cases that show it.
PORTABLE_LOSSES: dict[str, str] = {
    "SparseCategoricalCrossentropy": "every classification fit_* case (on a Keras softmax output: the fused op)",
    "MeanSquaredError": "fit_mse",
    "Huber": "fit_huber",
    "MeanAbsoluteError": "fit_mae",
}

#: Optimizers (Keras classes) measured portable over four training steps, by the cases that show it.
PORTABLE_OPTIMIZERS: dict[str, str] = {
    "Adam": "every fit_* case but the optimizer cases; adam_step",
    "SGD": "fit_sgd (momentum 0.9); sgd_step",
    "AdamW": "fit_adamw (weight decay 0.004)",
}

#: Metrics measured portable in the history ``fit()`` records: ``accuracy`` (``compile()``
#: picks sparse categorical or binary accuracy by the loss) and Keras classes.
PORTABLE_METRICS: dict[str, str] = {
    "accuracy": (
        "every classification fit_* case (sparse categorical accuracy); binary accuracy in "
        "fit_binary_crossentropy, whose history is the same on every CPU (its weights are not)"
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
