"""What a training step really runs: the graphs TensorFlow executes, and the approximate ops in them.

A name says little about the arithmetic: a user's loss written with ``tf.raw_ops.Rsqrt``, a
layer that calls ``log`` (whose gradient is a reciprocal), an ``a / sqrt(b)`` that Grappler
turns into a multiplication by ``rsqrt``, or a ``1 / x`` that its constant folding turns into
``reciprocal(x)`` are all found only in the graph TensorFlow runs after its optimizers. Those
rewrites happen when a function is instantiated, so :func:`executed_ops` runs the code once with
TensorFlow's run metadata on and reads each function's post-optimization graph (the graph the
kernels run). :func:`fit_ops` does that for one ``fit()`` step and one ``predict()`` of a
compiled Keras model: forward, loss, gradients, optimizer update, metrics and inference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..ml.exact import APPROXIMATE_OPS

__all__ = ["approximate_ops", "executed_ops", "fit_ops"]


#: The element types whose kernels of :data:`APPROXIMATE_OPS` are approximate (``DT_FLOAT``,
#: ``DT_BFLOAT16``, ``DT_HALF``: the last two compute in float); double kernels divide exactly.
_APPROXIMATE_TYPES = frozenset({1, 14, 19})


def executed_ops(run: Callable[[], Any]) -> dict[str, list[str]]:
    """``{op type: [node names]}`` of every op in the graphs that ``run()`` executes, as
    TensorFlow optimized them (nested functions included; eager ops are not listed). An op of
    :data:`APPROXIMATE_OPS` on another element type than float, bfloat16 or half is listed as
    ``<op>:<type>`` (``Erfc:DT_DOUBLE``): its kernel is exact."""
    from tensorflow.core.framework import types_pb2
    from tensorflow.python.eager import context

    ctx = context.context()
    ctx.enable_run_metadata()
    try:
        run()
        metadata = ctx.export_run_metadata()
    finally:
        ctx.disable_run_metadata()
    found: dict[str, set[str]] = {}

    def scan(nodes: Iterable[Any], where: str) -> None:
        for node in nodes:
            op = node.op
            if op in APPROXIMATE_OPS and "T" in node.attr and node.attr["T"].type not in _APPROXIMATE_TYPES:
                op = f"{op}:{types_pb2.DataType.Name(node.attr['T'].type)}"
            found.setdefault(op, set()).add(where + node.name)

    for function in metadata.function_graphs:
        graph = function.post_optimization_graph
        scan(graph.node, "")
        for inner in graph.library.function:
            scan(inner.node_def, f"{inner.signature.name}/")
    return {op: sorted(names) for op, names in sorted(found.items())}


def approximate_ops(ops: dict[str, list[str]]) -> dict[str, list[str]]:
    """The entries of :func:`executed_ops`'s result whose op type is approximate."""
    return {op: names for op, names in ops.items() if op in APPROXIMATE_OPS}


def fit_ops(model: Any, x: Any, y: Any, **fit_options: Any) -> dict[str, list[str]]:
    """The approximate ops of one ``fit()`` step (one batch of ``x``, ``y``) and one
    ``predict()`` of a compiled ``model``. The model is trained by that step: pass a copy."""
    n = len(x)

    def run() -> None:
        model.fit(x, y, batch_size=n, epochs=1, shuffle=False, verbose=0, **fit_options)
        model.predict(x, batch_size=n, verbose=0)

    return approximate_ops(executed_ops(run))
