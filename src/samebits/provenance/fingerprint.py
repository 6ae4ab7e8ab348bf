"""The environment fingerprint: what a step ran on.

It never imports TensorFlow: versions come from the installed distributions' metadata,
so steps that need no TensorFlow (split, verify) stay fast. Steps that have TensorFlow
loaded add :func:`tensorflow_info` (build flags and what TensorFlow itself reports).
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Container, Iterable
from importlib import metadata
from typing import Any

from ..core.differences import Difference, deep_diff
from ..core.version import __version__
from .cpu import ISA_ORDER, cpu_info

__all__ = [
    "BIT_VARIABLES",
    "PACKAGES",
    "bit_deciding",
    "differences_from_lock",
    "environment_differences",
    "decoder",
    "fingerprint",
    "tensorflow_info",
]

#: Distributions whose versions decide the bits (first installed name of each group wins).
PACKAGES: dict[str, tuple[str, ...]] = {
    "tensorflow": ("tensorflow-cpu", "tensorflow", "tensorflow-intel", "tf-nightly"),
    "keras": ("keras",),
    "numpy": ("numpy",),
    "scikit-learn": ("scikit-learn",),
    "h5py": ("h5py",),
    "scipy": ("scipy",),
    "matplotlib": ("matplotlib",),
    "ml-dtypes": ("ml-dtypes", "ml_dtypes"),
    "samebits": ("samebits",),
}
# samebits' own version is the one of the code that runs (samebits.core.version), which an
# editable install's metadata may lag behind.

#: Environment variables that change which kernels run, hence the bits.
BIT_VARIABLES = (
    "PYTHONHASHSEED",
    "TF_ENABLE_ONEDNN_OPTS",
    "ONEDNN_MAX_CPU_ISA",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "TF_DETERMINISTIC_OPS",
    "TF_XLA_FLAGS",
    "CUDA_VISIBLE_DEVICES",
    "OPENBLAS_CORETYPE",
)


def _version(names: tuple[str, ...]) -> str | None:
    if names == ("samebits",):
        return __version__
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _capped_at(env: dict[str, Any]) -> str | None:
    """The ISA cap in force for ``env``'s CPU, or ``None`` (no cap, or a CPU below it)."""
    cpu, variables = env.get("cpu"), env.get("variables")  # (a record read from disk may hold anything)
    isa = cpu.get("isa") if isinstance(cpu, dict) else None
    cap = str((variables.get("ONEDNN_MAX_CPU_ISA") if isinstance(variables, dict) else None) or "").upper()
    if isa in ISA_ORDER and cap in ISA_ORDER and ISA_ORDER.index(isa) >= ISA_ORDER.index(cap):
        return cap
    return None


def bit_deciding(env: dict[str, Any]) -> dict[str, Any]:
    """The part of a fingerprint that decides the bits.

    Under an instruction-set cap that the CPU reaches (the ``portable`` profile:
    ``ONEDNN_MAX_CPU_ISA=AVX2`` on an AVX2 CPU), oneDNN runs the same code on every such
    CPU, so the CPU counts only as its architecture and the level in effect; its vendor,
    model, flags and own best level are context, which differs between two machines that
    give the same bits. Without a cap all of them count. Versions, the determinism
    variables, Python and the OS always count.
    """
    out = dict(env)
    cap = _capped_at(env)
    if cap is not None:
        out["cpu"] = {"machine": env["cpu"].get("machine"), "isa_in_effect": cap}
    return out


def environment_differences(
    old: dict[str, Any], new: dict[str, Any], path: tuple[str, ...] = ("environment",)
) -> list[Difference]:
    """What differs between two fingerprints: first what decides the bits, then, when both ran
    under the same ISA cap, the CPU's other differences (``deciding`` false, with a note)."""
    found = deep_diff(bit_deciding(old), bit_deciding(new), path)
    cap = _capped_at(new)
    if cap is not None and _capped_at(old) == cap:
        note = f"not bit-deciding: oneDNN capped at {cap} on both"
        found += deep_diff(old.get("cpu"), new.get("cpu"), (*path, "cpu"), deciding=False, note=note)
    return found


def fingerprint() -> dict[str, Any]:
    """The environment a step runs in, as a canonical-JSON-ready dict.

    Nothing in it changes between two runs on the same machine and installation (no
    host name, no time, no paths), so two clones produce the same records.
    """
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
        },
        "packages": {key: _version(names) for key, names in PACKAGES.items()},
        "variables": {name: os.environ.get(name) for name in BIT_VARIABLES},
        # another libjpeg-turbo can decode other pixels (samebits.ml.images)
        "decoder": decoder(),
        "cpu": cpu_info(),
        "os": {
            "system": platform.system(),
            "libc": "-".join(platform.libc_ver()) or None,
            "byteorder": sys.byteorder,
        },
    }


def decoder() -> dict[str, str | None]:
    """The image decoder's versions (samebits.ml.images): Pillow, and the libjpeg-turbo it
    was built with. Not zlib: inflating a PNG is lossless by its format, and which zlib
    Pillow reports depends on whether TensorFlow (with its own) was loaded first."""
    try:
        import PIL
        from PIL import features
    except ImportError:
        return {"pillow": None}
    return {
        "pillow": PIL.__version__,
        "libjpeg-turbo": features.version("libjpeg_turbo"),
    }


def tensorflow_info() -> dict[str, Any]:
    """What the loaded TensorFlow says of itself. Call only where TensorFlow is imported."""
    import tensorflow as tf

    build = {k: v for k, v in tf.sysconfig.get_build_info().items() if isinstance(v, (bool, str))}
    return {
        "version": tf.__version__,
        "git_version": tf.version.GIT_VERSION,
        "compiler": tf.version.COMPILER_VERSION,
        "build": build,
    }


def differences_from_lock(
    environments: Iterable[dict[str, Any]], current: dict[str, Any] | None = None, ignore_variables: Container[str] = ()
) -> list[Difference]:
    """What differs between this environment and the one(s) a lock was made in (its
    ``environments``).

    Compared against the lock environment that differs least (a lock holds one environment
    for steps with TensorFlow loaded and one for those without; the ``tensorflow`` section,
    which needs TensorFlow imported, is left out). ``ignore_variables`` are environment
    variables the workflow sets itself for every job (their effect is recorded per step);
    they are taken from the lock, so the ISA cap the lock was made under applies to this
    machine too. Paths start below ``environment`` (``packages.tensorflow``); what decides
    the bits comes first. Empty if the lock has no environment yet.
    """
    current = current if current is not None else fingerprint()
    best: list[Difference] | None = None
    for env in environments:
        old = {k: v for k, v in env.items() if k != "tensorflow"}
        new = {k: v for k, v in current.items() if k != "tensorflow"}
        # variables the workflow sets: this machine's jobs get the lock's values
        recorded = old.get("variables", {})
        new["variables"] = {
            k: recorded.get(k) if k in ignore_variables else v for k, v in new.get("variables", {}).items()
        }
        found = environment_differences(old, new, path=())
        if best is None or _rank(found) < _rank(best):
            best = found
    return best or []


def _rank(found: list[Difference]) -> tuple[int, int]:
    return (sum(d.deciding for d in found), len(found))
