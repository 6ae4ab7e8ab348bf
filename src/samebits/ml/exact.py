"""Exact kernels for the ``portable`` profile: no approximate instruction in training or inference.

TensorFlow's CPU wheel compiles Eigen with fast math, so four of its float kernels start from an
approximate instruction (``vrcpps``, ``vrsqrtps``) and refine it with one Newton step: Rsqrt,
Reciprocal (also named Inv), and Erfc (for |x| > 1). Those instructions' results are defined
only within an error bound, and Intel and AMD CPUs give other bits for them (QEMU computes them
exactly). They reach training through:

- every normalisation layer (BatchNormalization, LayerNormalization, GroupNormalization and
  ``tf.nn.batch_normalization``: ``rsqrt`` of the variance);
- the gradients of ``log`` and ``log1p`` (``grad * reciprocal(x)``): cross-entropy on
  probabilities, and binary cross-entropy on a sigmoid output, which Keras computes as
  ``sigmoid_cross_entropy_with_logits`` (``log1p(exp(-|x|))``);
- gelu's exact form, ``0.5 * x * erfc(-x / sqrt(2))``;
- two rewrites of Grappler, TensorFlow's graph optimizer, inside a graph (``fit()``,
  ``tf.function``): its arithmetic optimizer turns ``a / sqrt(b)`` into ``a * rsqrt(b)`` when
  the square root has no other consumer (RMSprop's update is such a division), and its
  constant folding turns ``1 / x`` into ``reciprocal(x)``.

:func:`install` replaces TensorFlow's Python entry points of those ops, in every module that
holds them, by compositions of correctly rounded IEEE operations (division, square root), which
give the same bits on every x86-64 CPU:

========================  =====================================================================
``rsqrt(x)``              ``1 / sqrt(x)``, divided as below so Grappler cannot turn it back
``reciprocal(x)``         ``1 / x``, divided as below
``erfc(x)``, float32      computed in float64 and rounded to float32 (Eigen's double ``erfc``
                          uses no approximate instruction)
``gelu(x)`` (exact form)  ``0.5 * x * (1 + erf(x / sqrt(2)))`` (float ``erf`` divides exactly);
                          the tanh approximation is TensorFlow's own
``a / b`` in a graph,     ``div_no_nan(a, b)``, which Grappler does not rewrite and which is
where ``b = sqrt(...)``   ``a / b`` bit for bit wherever ``b != 0``; where ``b == 0`` the IEEE
or ``a`` is all ones      quotient ``a * inf`` is selected (its gradient there is 0)
========================  =====================================================================

Ops outside this table keep TensorFlow's kernels. The ``native`` profile installs nothing. The
replacement is for the process: the step processes and the portability probe call
:func:`install` from :func:`samebits.ml.determinism.apply`, before any model code, so every
step and every probe case runs the same kernels. ``samebits lint`` traces an experiment's train
step and lists the approximate ops (:data:`APPROXIMATE_OPS`) that remain in the optimized
graph, the user's own code included. Written against TensorFlow 2.21.0 and Keras 3.15.1 (the
pinned versions); ``tests/unit/test_exact.py`` checks every replacement against them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["APPROXIMATE_OPS", "REPLACED", "install", "installed"]

#: TensorFlow op types whose float CPU kernel starts from an approximate instruction, and why.
APPROXIMATE_OPS: dict[str, str] = {
    "Rsqrt": "Eigen's prsqrt: vrsqrtps plus one Newton step",
    "Reciprocal": "Eigen's preciprocal: vrcpps plus one Newton step",
    "Inv": "Reciprocal's other name (Eigen's preciprocal: vrcpps plus one Newton step)",
    "Erfc": "Eigen's float erfc uses preciprocal (vrcpps) for |x| > 1",
}

#: What :func:`install` replaces (the names its read-back reports), in the order of the table above.
REPLACED = ("rsqrt", "reciprocal", "erfc", "gelu", "division")

_FLOATS = ("float16", "bfloat16", "float32", "float64")
#: Modules searched for the entry points (TensorFlow's own and its public API, Keras).
_PREFIXES = ("tensorflow", "keras")


def _is_float(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    return getattr(dtype, "name", None) in _FLOATS


def _dense_float(tf: Any, x: Any) -> Any:
    """``x`` as a dense float tensor, or ``None`` (an integer, complex, ragged or sparse value
    keeps TensorFlow's own op and its dispatch)."""
    if isinstance(x, (tf.RaggedTensor, tf.SparseTensor)):
        return None
    try:
        x = tf.convert_to_tensor(x)
    except (TypeError, ValueError):
        return None
    return x if _is_float(x) else None


def _exact_quotient(tf: Any, a: Any, b: Any) -> Any:
    """``a / b``, correctly rounded, in a form Grappler leaves alone (``DivNoNan``, which is
    ``a / b`` bit for bit where ``b != 0``; where ``b == 0`` the IEEE quotient ``a * inf``)."""
    from tensorflow.python.ops import gen_math_ops

    a = tf.convert_to_tensor(a, dtype=b.dtype)
    inf = tf.constant(float("inf"), dtype=b.dtype)
    at_zero = tf.stop_gradient(a * inf)  # the sign of a -0 denominator aside
    return tf.where(tf.equal(b, 0), at_zero, gen_math_ops.div_no_nan(a, b))


def _is_ones(tf: Any, x: Any) -> bool:
    """Whether ``x`` is a graph constant whose every element is 1."""
    op = getattr(x, "op", None)
    if op is None or getattr(op, "type", None) != "Const":
        return False
    value = tf.get_static_value(x)
    return value is not None and bool((value == 1).all())


def _replacements(tf: Any, originals: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """The exact entry points, each falling back to the original outside float dtypes."""
    from tensorflow.python.ops import gen_math_ops

    real_div = originals["real_div"]

    def rsqrt(x: Any, name: Any = None) -> Any:
        t = _dense_float(tf, x)
        if t is None:
            return originals["rsqrt"](x, name=name)
        with tf.name_scope(name or "ExactRsqrt"):
            return _exact_quotient(tf, 1.0, gen_math_ops.sqrt(t))

    def reciprocal(x: Any, name: Any = None) -> Any:
        t = _dense_float(tf, x)
        if t is None:
            return originals["reciprocal"](x, name=name)
        with tf.name_scope(name or "ExactReciprocal"):
            return _exact_quotient(tf, 1.0, t)

    def erfc(x: Any, name: Any = None) -> Any:
        t = _dense_float(tf, x)
        if t is None or t.dtype == tf.float64:
            return originals["erfc"](x, name=name)
        with tf.name_scope(name or "ExactErfc"):
            return tf.cast(originals["erfc"](tf.cast(t, tf.float64)), t.dtype)

    def gelu(features: Any, approximate: bool = False, name: Any = None) -> Any:
        x = None if approximate else _dense_float(tf, features)
        if x is None:
            return originals["gelu"](features, approximate=approximate, name=name)
        with tf.name_scope(name or "ExactGelu"):
            half = tf.cast(0.5, x.dtype)
            return half * x * (tf.cast(1.0, x.dtype) + tf.math.erf(x * tf.cast(0.7071067811865476, x.dtype)))

    def division(x: Any, y: Any, name: Any = None) -> Any:
        # Only a graph is rewritten by Grappler; eagerly, RealDiv is already exact.
        if not tf.executing_eagerly() and _is_float(y):
            by_root = getattr(getattr(y, "op", None), "type", None) == "Sqrt"
            if by_root or _is_ones(tf, x):
                with tf.name_scope(name or "ExactDivision"):
                    return _exact_quotient(tf, x, y)
        return real_div(x, y, name=name)

    return {
        "rsqrt": rsqrt,
        "reciprocal": reciprocal,
        "inv": reciprocal,
        "erfc": erfc,
        "gelu": gelu,
        "real_div": division,
    }


def _originals() -> dict[str, list[Callable[..., Any]]]:
    """Every function object that is one of the replaced entry points (TensorFlow's raw op and
    its dispatching wrappers), by the name of its replacement."""
    from tensorflow.python.ops import gen_math_ops, math_ops, nn_ops

    found: dict[str, list[Callable[..., Any]]] = {
        "rsqrt": [gen_math_ops.rsqrt],
        "reciprocal": [gen_math_ops.reciprocal, math_ops.reciprocal],
        "inv": [gen_math_ops.inv, math_ops.inv],
        "erfc": [gen_math_ops.erfc, math_ops.erfc],
        "gelu": [nn_ops.gelu],
        "real_div": [gen_math_ops.real_div, math_ops.realdiv],
    }
    return {name: list({id(f): f for f in fns}.values()) for name, fns in found.items()}


_INSTALLED: dict[str, Callable[..., Any]] = {}


def install() -> list[str]:
    """Replace the approximate entry points in every loaded TensorFlow and Keras module.

    Idempotent. Returns :func:`installed`: what is in place, read back.
    """
    import tensorflow as tf

    if not _INSTALLED:
        originals = _originals()
        replacements = _replacements(tf, {name: fns[0] for name, fns in originals.items()})
        by_id = {id(f): replacements[name] for name, fns in originals.items() for f in fns}
        for module_name, module in list(sys.modules.items()):
            if module is None or not module_name.startswith(_PREFIXES):
                continue
            for attr, value in list(vars(module).items()):
                if id(value) in by_id and callable(value):
                    setattr(module, attr, by_id[id(value)])
        _INSTALLED.update(replacements)
    return installed()


def installed() -> list[str]:
    """Which replacements are in place (of :data:`REPLACED`), read from TensorFlow's modules."""
    from tensorflow.python.ops import gen_math_ops, math_ops, nn_ops

    def ours(fn: Any, name: str) -> bool:
        return name in _INSTALLED and fn is _INSTALLED[name]

    checks = {
        "rsqrt": ours(gen_math_ops.rsqrt, "rsqrt"),
        "reciprocal": ours(gen_math_ops.reciprocal, "reciprocal") and ours(math_ops.reciprocal, "reciprocal"),
        "erfc": ours(gen_math_ops.erfc, "erfc") and ours(math_ops.erfc, "erfc"),
        "gelu": ours(nn_ops.gelu, "gelu"),
        "division": ours(gen_math_ops.real_div, "real_div"),
    }
    return [name for name in REPLACED if checks[name]]
