"""Which ops and Keras layers give the same bits on other x86-64 CPUs.

``samebits portability`` runs a probe (a list of *cases*: ops and layers on fixed, seeded
inputs, forward and backward) in a fresh process with the determinism profile's environment,
natively and under each emulated CPU (:mod:`samebits.emulation`), and compares the canonical
checksum of every case's arrays. A case is *portable* when every CPU gives the native bits.

The probe process is ``python -m samebits.portability --probe``: it applies the recipe
(:func:`samebits.determinism.apply`), runs each case with its own seed (so a case gives the
same bits whichever other cases run), writes the arrays to an ``.npz`` and prints the
checksums as JSON. TensorFlow is imported only there.

What was found is kept in :data:`NOT_PORTABLE_LAYERS`, which ``samebits lint`` uses.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import determinism, emulation
from .errors import SamebitsError
from .hashing import hash_arrays
from .seeds import derive

__all__ = ["CASES", "NOT_PORTABLE_LAYERS", "NOT_PORTABLE_ACTIVATIONS", "run", "format_table", "probe"]

log = logging.getLogger(__name__)

#: Keras layer classes whose results were measured NOT to be portable between x86-64 CPUs
#: under the ``portable`` profile, and why. Measured with ``samebits portability`` on
#: 2026-11-26: host AMD EPYC with AVX-512 (AVX512_CORE_BF16) against ``qemu-x86_64 -cpu
#: Haswell`` and ``-cpu EPYC-Milan`` (Debian qemu-user 1:7.2), TensorFlow 2.21.0, Keras 3.15.1;
#: the full table is in docs/portability.md. Each normalises with ``rsqrt`` (an approximate
#: instruction plus a Newton step, whose bits differ between CPU vendors; QEMU computes it
#: exactly), in the forward pass and again in the gradient.
NOT_PORTABLE_LAYERS: dict[str, str] = {
    "BatchNormalization": "normalises with rsqrt (training and inference: up to 1024 ULP in the output)",
    "LayerNormalization": "normalises with rsqrt (up to 384 ULP in output and gradients)",
    "GroupNormalization": "normalises with rsqrt (up to 1280 ULP in output and gradients)",
}

#: Activations measured NOT to be portable (same measurement): a layer that uses one, as
#: ``activation=...`` or in an ``Activation`` layer, is not portable either.
NOT_PORTABLE_ACTIVATIONS: dict[str, str] = {
    "gelu": "its erf form differs by up to 5 ULP in output and gradient",
}

MASTER_SEED = 20261126


@dataclass(frozen=True)
class Case:
    """One probe case: ``func(ctx)`` returns the arrays whose bits are compared."""

    func: Callable[[_Ctx], dict[str, Any]]
    what: str
    layers: tuple[str, ...] = ()


class _Ctx:
    """What a case gets: TensorFlow, Keras, and seeded inputs that are exact on every CPU."""

    def __init__(self, name: str):
        import keras
        import tensorflow as tf

        self.tf, self.keras = tf, keras
        self.seed = derive(MASTER_SEED, name)
        # PCG64 and the uniform transform are integer and exact IEEE arithmetic, so the
        # inputs are the same bits everywhere (a normal draw would go through libm).
        self.rng = np.random.default_rng(self.seed)
        keras.utils.set_random_seed(self.seed)

    def uniform(self, shape, low: float = -1.0, high: float = 1.0):
        return self.tf.constant(self.rng.uniform(low, high, size=shape).astype(np.float32))

    def set_weights(self, layer) -> None:
        """Give every weight of a built layer seeded values (scales and variances positive)."""
        for w in layer.weights:
            positive = any(k in w.path for k in ("gamma", "variance"))
            low, high = (0.5, 1.5) if positive else (-0.5, 0.5)
            w.assign(self.rng.uniform(low, high, size=tuple(w.shape)).astype(np.float32))

    def forward_backward(self, fn, *inputs, weights=()) -> dict[str, Any]:
        """Output of ``fn(*inputs)`` and the gradients of a seeded weighted sum of it."""
        tf = self.tf
        with tf.GradientTape(persistent=True) as tape:
            for x in inputs:
                tape.watch(x)
            y = fn(*inputs)
            probe = self.uniform(tuple(y.shape))
            loss = tf.reduce_sum(y * probe)
        out = {"output": y}
        grads = tape.gradient(loss, [*inputs, *weights])
        for i, g in enumerate(grads[: len(inputs)]):
            out[f"grad/input{i}"] = g
        for w, g in zip(weights, grads[len(inputs) :], strict=True):
            out[f"grad/{w.path}"] = g
        return out

    def layer(self, layer, x, **call_kwargs) -> dict[str, Any]:
        """A built layer with seeded weights: output, gradients, and its weights afterwards."""
        layer.build(tuple(x.shape))
        self.set_weights(layer)
        out = self.forward_backward(lambda t: layer(t, **call_kwargs), x, weights=layer.trainable_weights)
        for w in layer.non_trainable_weights:  # e.g. BatchNormalization's moving statistics
            out[f"after/{w.path}"] = w
        return out


def _dense(c: _Ctx):
    return c.layer(c.keras.layers.Dense(64, name="dense"), c.uniform((32, 100)))


def _conv2d(c: _Ctx):
    return c.layer(c.keras.layers.Conv2D(8, 3, padding="same", name="conv"), c.uniform((4, 16, 16, 3)))


def _maxpool(c: _Ctx):
    return c.layer(c.keras.layers.MaxPooling2D(2, name="pool"), c.uniform((4, 16, 16, 8)))


def _avgpool(c: _Ctx):
    return c.layer(c.keras.layers.AveragePooling2D(2, name="pool"), c.uniform((4, 16, 16, 8)))


def _bn_train(c: _Ctx):
    x = c.uniform((64, 32), -2.0, 3.0)
    return c.layer(c.keras.layers.BatchNormalization(name="bn"), x, training=True)


def _bn_infer(c: _Ctx):
    x = c.uniform((64, 32), -2.0, 3.0)
    return c.layer(c.keras.layers.BatchNormalization(name="bn"), x, training=False)


def _layernorm(c: _Ctx):
    return c.layer(c.keras.layers.LayerNormalization(name="ln"), c.uniform((64, 32), -2.0, 3.0))


def _dropout(c: _Ctx):
    return c.layer(c.keras.layers.Dropout(0.3, seed=c.seed, name="dropout"), c.uniform((64, 256)), training=True)


def _activation(name: str, low: float = -6.0, high: float = 6.0):
    def case(c: _Ctx):
        fn = c.keras.activations.get(name)
        return c.forward_backward(fn, c.uniform((8192,), low, high))

    return case


def _softmax(c: _Ctx):
    return c.forward_backward(c.tf.nn.softmax, c.uniform((64, 1000), -8.0, 8.0))


def _crossentropy(from_keras_softmax: bool):
    def case(c: _Ctx):
        labels = c.tf.constant(c.rng.integers(0, 10, size=64))
        loss = c.keras.losses.SparseCategoricalCrossentropy()
        # Keras' softmax activation tags its output with the logits, so the loss takes the
        # fused softmax-cross-entropy op (what a Keras model with a softmax output does);
        # plain probabilities go through log, whose gradient is a reciprocal.
        softmax = c.keras.activations.softmax if from_keras_softmax else c.tf.nn.softmax
        logits = c.uniform((64, 10), -4.0, 4.0)
        return c.forward_backward(lambda p: c.tf.reshape(loss(labels, softmax(p)), (1,)), logits)

    return case


def _groupnorm(c: _Ctx):
    return c.layer(c.keras.layers.GroupNormalization(4, name="gn"), c.uniform((16, 8, 8, 16), -2.0, 3.0))


def _unary(op: str, low: float, high: float):
    def case(c: _Ctx):
        return c.forward_backward(getattr(c.tf.math, op), c.uniform((8192,), low, high))

    return case


def _matmul_large_k(c: _Ctx):
    return c.forward_backward(c.tf.linalg.matmul, c.uniform((8, 65536)), c.uniform((65536, 8)))


def _reduce_sum_large(c: _Ctx):
    return c.forward_backward(lambda x: c.tf.reshape(c.tf.reduce_sum(x), (1,)), c.uniform((1 << 20,)))


def _initializers(c: _Ctx):
    init = c.keras.initializers
    return {
        "glorot_uniform": init.GlorotUniform(seed=c.seed)((64, 64)),
        "he_normal": init.HeNormal(seed=c.seed)((64, 64)),
        "orthogonal": init.Orthogonal(seed=c.seed)((64, 64)),
    }


def _optimizer(name: str):
    def case(c: _Ctx):
        keras, tf = c.keras, c.tf
        inputs = keras.Input((20,))
        hidden = keras.layers.Dense(32, activation="relu", name="hidden")
        output = keras.layers.Dense(10, activation="softmax", name="output")
        model = keras.Model(inputs, output(hidden(inputs)))
        for layer in (hidden, output):
            c.set_weights(layer)
        opt = {"sgd": keras.optimizers.SGD(0.1, momentum=0.9), "adam": keras.optimizers.Adam(0.01)}.get(name)
        opt = opt or keras.optimizers.RMSprop(0.01)
        loss_fn = keras.losses.SparseCategoricalCrossentropy()
        x, y = c.uniform((64, 20)), tf.constant(c.rng.integers(0, 10, size=64))
        out = {}
        for step in range(3):  # three steps, so momentum and moment estimates take part
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_weights)
            opt.apply_gradients(zip(grads, model.trainable_weights, strict=True))
            out[f"loss/{step}"] = tf.reshape(loss, (1,))
        out.update({f"after/{w.path}": w for w in model.weights})
        return out

    return case


#: The cases, in table order: name -> Case.
CASES: dict[str, Case] = {
    "dense": Case(_dense, "Dense(64) on (32, 100): output and gradients", ("Dense",)),
    "conv2d": Case(_conv2d, "Conv2D(8, 3) on (4, 16, 16, 3)", ("Conv2D",)),
    "maxpool2d": Case(_maxpool, "MaxPooling2D(2) on (4, 16, 16, 8)", ("MaxPooling2D",)),
    "avgpool2d": Case(_avgpool, "AveragePooling2D(2) on (4, 16, 16, 8)", ("AveragePooling2D",)),
    "batchnorm_train": Case(_bn_train, "BatchNormalization, training (batch statistics)", ("BatchNormalization",)),
    "batchnorm_infer": Case(_bn_infer, "BatchNormalization, inference (moving statistics)", ("BatchNormalization",)),
    "layernorm": Case(_layernorm, "LayerNormalization on (64, 32)", ("LayerNormalization",)),
    "groupnorm": Case(_groupnorm, "GroupNormalization(4) on (16, 8, 8, 16)", ("GroupNormalization",)),
    "dropout_train": Case(_dropout, "Dropout(0.3, seed), training", ("Dropout",)),
    "relu": Case(_activation("relu"), "relu on 8192 values in [-6, 6]: output and gradient"),
    "gelu": Case(_activation("gelu"), "gelu (erf form)"),
    "sigmoid": Case(_activation("sigmoid"), "sigmoid"),
    "tanh": Case(_activation("tanh"), "tanh"),
    "softmax": Case(_softmax, "softmax over 1000 classes, batch 64"),
    "crossentropy_logits": Case(_crossentropy(True), "Keras softmax + sparse categorical cross-entropy (fused)"),
    "crossentropy_probs": Case(_crossentropy(False), "tf.nn.softmax probabilities + cross-entropy (through log)"),
    "exp": Case(_unary("exp", -10.0, 10.0), "tf.math.exp"),
    "log": Case(_unary("log", 0.001, 100.0), "tf.math.log"),
    "sqrt": Case(_unary("sqrt", 0.001, 100.0), "tf.math.sqrt"),
    "reciprocal": Case(_unary("reciprocal", 0.001, 100.0), "tf.math.reciprocal"),
    "rsqrt": Case(_unary("rsqrt", 0.001, 100.0), "tf.math.rsqrt"),
    "matmul_large_k": Case(_matmul_large_k, "matmul (8, 65536) x (65536, 8)"),
    "reduce_sum_large": Case(_reduce_sum_large, "reduce_sum of 2^20 values"),
    "initializers": Case(_initializers, "GlorotUniform, HeNormal, Orthogonal (seeded)"),
    "sgd_step": Case(_optimizer("sgd"), "3 SGD (momentum) steps of a Dense-Dense model"),
    "adam_step": Case(_optimizer("adam"), "3 Adam steps of a Dense-Dense model"),
    "rmsprop_step": Case(_optimizer("rmsprop"), "3 RMSprop steps of a Dense-Dense model"),
}


def check_cases(names: Iterable[str] | None) -> list[str]:
    """The case names to run (all when ``names`` is empty); unknown names raise."""
    names = list(names or CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SamebitsError(f"unknown portability case(s) {', '.join(unknown)}; accepted: {', '.join(CASES)}")
    return names


# --- the probe process -------------------------------------------------------------


def probe(cases: list[str], out_npz: str | Path, *, profile: str = "portable") -> dict[str, Any]:
    """Run ``cases`` in this process (started with the profile's environment).

    Writes every case's arrays to ``out_npz`` (keys ``<case>/<array>``) and returns
    ``{"isa": ..., "executable": ..., "cases": {case: sha256}}``.
    """
    determinism.apply(MASTER_SEED, profile=profile)
    hashes, arrays = {}, {}
    for i, name in enumerate(cases, 1):
        t0 = time.monotonic()
        got = {k: np.asarray(v) for k, v in CASES[name].func(_Ctx(name)).items()}
        hashes[name] = hash_arrays(got)[0]
        arrays.update({f"{name}/{k}": v for k, v in got.items()})
        print(f"[{i}/{len(cases)}] {name} {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)
    np.savez(out_npz, **arrays)
    return {"isa": emulation.isa_level(), "executable": sys.executable, "cases": hashes}


def _probe_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m samebits.portability")
    p.add_argument("--probe", action="store_true", required=True)
    p.add_argument("--cases", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--profile", default="portable")
    args = p.parse_args(argv)
    result = probe(args.cases.split(","), args.out, profile=args.profile)
    print(json.dumps(result, sort_keys=True))
    return 0


# --- running the probes and comparing -------------------------------------------------


def _run_probe(python: str, label: str, cases: list[str], out: Path, profile: str, progress) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    env.update(determinism.process_env(profile))
    cmd = [python, "-m", "samebits.portability", "--probe", "--cases", ",".join(cases), "--out", str(out)]
    cmd += ["--profile", profile]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tail: list[str] = []

    def relay():
        for line in proc.stderr:
            tail.append(line)
            del tail[:-40]
            if progress and line.startswith("["):
                progress(f"{label}: {line.rstrip()}")

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    stdout = proc.stdout.read()
    proc.wait()
    reader.join()
    if proc.returncode != 0:
        raise SamebitsError(f"the probe on {label} failed (exit {proc.returncode}):\n{''.join(tail)[-3000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["seconds"] = round(time.monotonic() - t0, 1)
    if progress:
        progress(f"{label}: done in {result['seconds']:.0f}s ({result['isa']})")
    return result


def _compare(native: Path, other: Path, case: str) -> dict[str, Any]:
    from .treediff import _diff_array  # the same ULP arithmetic as `samebits diff`

    worst: dict[str, Any] = {"n_arrays_differ": 0, "max_ulp": 0, "max_abs": 0.0}
    with np.load(native) as za, np.load(other) as zb:
        for key in sorted(k for k in za.files if k.startswith(case + "/")):
            entry = _diff_array(key, za[key], zb[key])
            if entry is None:
                continue
            worst["n_arrays_differ"] += 1
            worst["max_ulp"] = max(worst["max_ulp"], entry["max_ulp"] or 0)
            if isinstance(entry["max_abs"], float):
                worst["max_abs"] = max(worst["max_abs"], entry["max_abs"])
    return worst


def host_cpu() -> str:
    """This machine's CPU model name (``/proc/cpuinfo``), or the platform's processor string."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run(
    cpus: Iterable[str] = emulation.DEFAULT_CPUS,
    cases: Iterable[str] | None = None,
    *,
    profile: str = "portable",
    jobs: int | None = None,
    workdir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the probe natively and under each emulated CPU and compare, case by case.

    Returns a JSON-ready dict: ``host``, ``profile``, ``cpus`` (label -> isa, seconds) and
    ``cases`` (one entry per case: native checksum, per CPU ``match`` and the largest
    difference, ``portable``). Emulated probes run ``jobs`` at a time (default: one per core).
    """
    from concurrent.futures import ThreadPoolExecutor

    cases = check_cases(cases)
    cpus = [emulation.check_cpu_name(c) for c in cpus]
    if profile not in determinism.PROFILES:
        raise SamebitsError(f"unknown profile {profile!r}; accepted: {', '.join(determinism.PROFILES)}")
    qemu = emulation.ensure_qemu() if cpus else None
    with tempfile.TemporaryDirectory(prefix="samebits-portability-", dir=workdir) as tmp:
        tmp = Path(tmp)
        pythons = {"native": sys.executable}
        for cpu in cpus:
            pythons[cpu] = str(emulation.emulated_python(cpu, tmp / f"python-{cpu}", qemu=qemu))

        def one(label: str) -> dict[str, Any]:
            if progress:
                progress(f"{label}: running {len(cases)} case(s)")
            return _run_probe(pythons[label], label, cases, tmp / f"{label}.npz", profile, progress)

        native = one("native")
        with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
            emulated = dict(zip(cpus, pool.map(one, cpus), strict=True))
        rows = []
        for case in cases:
            row: dict[str, Any] = {"case": case, "what": CASES[case].what, "native": native["cases"][case], "cpus": {}}
            for cpu, res in emulated.items():
                match = res["cases"][case] == native["cases"][case]
                entry: dict[str, Any] = {"match": match, "sha256": res["cases"][case]}
                if not match:
                    entry.update(_compare(tmp / "native.npz", tmp / f"{cpu}.npz", case))
                row["cpus"][cpu] = entry
            row["portable"] = all(e["match"] for e in row["cpus"].values())
            rows.append(row)
    return {
        "profile": profile,
        "host": {"cpu": host_cpu(), "isa": native["isa"]},
        "cpus": {k: {"isa": r["isa"], "seconds": r["seconds"]} for k, r in {"native": native, **emulated}.items()},
        "cases": rows,
        "not_portable": [r["case"] for r in rows if not r["portable"]],
    }


def format_table(result: dict[str, Any]) -> str:
    """The human table of :func:`run`'s result."""
    cpus = [c for c in result["cpus"] if c != "native"]
    head = ", ".join(f"{c} ({result['cpus'][c]['isa']})" for c in cpus) or "none"
    lines = [
        f"samebits portability: profile {result['profile']}; host {result['host']['cpu']} "
        f"({result['host']['isa']}); emulated: {head}",
        "",
    ]
    width = max([len("case"), *(len(r["case"]) for r in result["cases"])])
    cols = [max(len(c), 18) for c in cpus]
    header = f"{'case':<{width}}  {'native':<12}  " + "  ".join(f"{c:<{w}}" for c, w in zip(cpus, cols, strict=True))
    lines.append(header + "  verdict")
    for r in result["cases"]:
        cells = []
        for c, w in zip(cpus, cols, strict=True):
            e = r["cpus"][c]
            cells.append(f"{'match' if e['match'] else 'differs (' + str(e['max_ulp']) + ' ULP)':<{w}}")
        short = r["native"].removeprefix("sha256:")[:12]
        verdict = "portable" if r["portable"] else "NOT portable"
        lines.append(f"{r['case']:<{width}}  {short:<12}  " + "  ".join(cells) + f"  {verdict}")
    n_bad = len(result["not_portable"])
    lines += ["", f"{len(result['cases']) - n_bad}/{len(result['cases'])} cases portable"]
    if n_bad:
        lines.append("NOT portable: " + ", ".join(result["not_portable"]) + " (see docs/portability.md)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(_probe_main(sys.argv[1:]))
