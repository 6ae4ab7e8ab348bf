"""The environment fingerprint: what a step ran on.

It never imports TensorFlow: versions come from the installed distributions' metadata,
so steps that need no TensorFlow (split, verify) stay fast. Steps that have TensorFlow
loaded add :func:`tensorflow_info` (build flags and what TensorFlow itself reports).
"""

from __future__ import annotations

import functools
import os
import platform
import sys
from importlib import metadata
from typing import Any

__all__ = ["fingerprint", "tensorflow_info", "BIT_VARIABLES", "PACKAGES"]

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
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


@functools.lru_cache(maxsize=1)
def cpu_info() -> dict[str, Any]:
    """CPU vendor, model and instruction-set flags (from ``/proc/cpuinfo`` on Linux)."""
    info: dict[str, Any] = {"machine": platform.machine(), "vendor": None, "model": None, "flags": []}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break  # the first processor is enough: flags are uniform on one machine
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "vendor_id":
                    info["vendor"] = value.strip()
                elif key == "model name":
                    info["model"] = value.strip()
                elif key in ("flags", "Features"):
                    info["flags"] = sorted(set(value.split()))
    except OSError:
        info["model"] = platform.processor() or None
    return info


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
        "cpu": cpu_info(),
        "os": {
            "system": platform.system(),
            "libc": "-".join(platform.libc_ver()) or None,
            "byteorder": sys.byteorder,
        },
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


def differences_from_lock(lock, current: dict[str, Any] | None = None, ignore_variables=()) -> list[str]:
    """What differs between this environment and the one(s) the lock was made in.

    Compared against the lock environment that differs least (a lock holds one environment
    for steps with TensorFlow loaded and one for those without; the ``tensorflow`` section,
    which needs TensorFlow imported, is left out). ``ignore_variables`` are environment
    variables the workflow sets itself for every job (their effect is recorded per step).
    Returns human lines such as ``packages.tensorflow 2.21.0 → 2.20.0``; empty if the lock
    has no environment yet.
    """
    from .compare import deep_diff

    current = current if current is not None else fingerprint()

    def strip(env: dict[str, Any]) -> dict[str, Any]:
        env = {k: v for k, v in env.items() if k != "tensorflow"}
        env["variables"] = {k: v for k, v in env.get("variables", {}).items() if k not in ignore_variables}
        return env

    best: list[str] | None = None
    for env in lock.environments.values():
        lines = [line.split(".", 1)[1] for line in deep_diff(strip(env), strip(current), "environment")]
        if best is None or len(lines) < len(best):
            best = lines
    return best or []
