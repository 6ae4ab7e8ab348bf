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

__all__ = ["fingerprint", "tensorflow_info", "bit_deciding", "environment_differences", "BIT_VARIABLES", "PACKAGES"]

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
    # The instruction-set level by CPUID (NumPy's runtime detection), which is also what
    # oneDNN goes by; /proc/cpuinfo shows the host's CPU even under an emulator.
    from .emulation import isa_level

    info["isa"] = isa_level() if info["machine"] in ("x86_64", "AMD64") else "baseline"
    return info


#: oneDNN's x86-64 levels from lowest to highest (``ONEDNN_MAX_CPU_ISA`` values).
ISA_ORDER = ("SSE41", "AVX", "AVX2", "AVX512_CORE", "AVX512_CORE_VNNI", "AVX512_CORE_BF16")


def isa_in_effect(cpu_isa: str | None, cap: str | None) -> str | None:
    """The level oneDNN runs at: the CPU's own, or the cap when the CPU reaches it."""
    if cpu_isa not in ISA_ORDER or not cap or cap.upper() == "ALL" or cap.upper() not in ISA_ORDER:
        return cpu_isa
    return ISA_ORDER[min(ISA_ORDER.index(cpu_isa), ISA_ORDER.index(cap.upper()))]


def _capped_at(env: dict[str, Any]) -> str | None:
    """The ISA cap in force for ``env``'s CPU, or ``None`` (no cap, or a CPU below it)."""
    isa = (env.get("cpu") or {}).get("isa")
    cap = str((env.get("variables") or {}).get("ONEDNN_MAX_CPU_ISA") or "").upper()
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


def environment_differences(old: dict[str, Any], new: dict[str, Any], path: str = "environment") -> list[str]:
    """Lines naming what differs between two fingerprints: first what decides the bits, then,
    when both ran under the same ISA cap, the CPU's other differences, marked as context."""
    from .compare import deep_diff

    lines = deep_diff(bit_deciding(old), bit_deciding(new), path)
    cap = _capped_at(new)
    if cap is not None and _capped_at(old) == cap:
        note = f" (not bit-deciding: oneDNN capped at {cap} on both)"
        lines += [line + note for line in deep_diff(old.get("cpu"), new.get("cpu"), f"{path}.cpu")]
    return lines


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
    variables the workflow sets itself for every job (their effect is recorded per step);
    they are taken from the lock, so the ISA cap the lock was made under applies to this
    machine too. Returns human lines such as ``packages.tensorflow 2.21.0 → 2.20.0``, what
    decides the bits first, then context lines (see :func:`is_context`); empty if the lock
    has no environment yet.
    """
    current = current if current is not None else fingerprint()
    best: list[str] | None = None
    for env in lock.environments.values():
        old = {k: v for k, v in env.items() if k != "tensorflow"}
        new = {k: v for k, v in current.items() if k != "tensorflow"}
        # variables the workflow sets: this machine's jobs get the lock's values
        recorded = old.get("variables", {})
        new["variables"] = {
            k: recorded.get(k) if k in ignore_variables else v for k, v in new.get("variables", {}).items()
        }
        lines = [line.split(".", 1)[1] for line in environment_differences(old, new)]
        if best is None or _rank(lines) < _rank(best):
            best = lines
    return best or []


def is_context(line: str) -> bool:
    """Whether a difference line is context (CPU details under a shared ISA cap)."""
    return line.endswith(" on both)") and "(not bit-deciding:" in line


def _rank(lines: list[str]) -> tuple[int, int]:
    return (sum(not is_context(line) for line in lines), len(lines))
