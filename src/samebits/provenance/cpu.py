"""The CPU a step runs on: vendor, model, flags, and its instruction-set level by CPUID.

The level is what oneDNN goes by when it picks kernels, so it is part of every fingerprint.
It comes from NumPy's CPUID-based detection: ``/proc/cpuinfo`` shows the host's CPU even
under an emulator, CPUID shows the CPU the code really runs on.
"""

from __future__ import annotations

import functools
import platform
from typing import Any

__all__ = ["ISA_ORDER", "ISA_LEVELS", "cpu_info", "cpu_features", "isa_level"]

#: oneDNN's x86-64 levels from lowest to highest (``ONEDNN_MAX_CPU_ISA`` values).
ISA_ORDER = ("SSE41", "AVX", "AVX2", "AVX512_CORE", "AVX512_CORE_VNNI", "AVX512_CORE_BF16")

#: ISA levels, best first, in oneDNN's names, each with the NumPy CPU features that must all
#: be present.
ISA_LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AVX512_CORE_BF16", ("AVX512_SKX", "AVX512VNNI", "AVX512BF16")),
    ("AVX512_CORE_VNNI", ("AVX512_SKX", "AVX512VNNI")),
    ("AVX512_CORE", ("AVX512_SKX",)),  # AVX-512 F, CD, BW, DQ, VL
    ("AVX2", ("AVX2", "FMA3")),
    ("AVX", ("AVX",)),
    ("SSE41", ("SSE41",)),
)


def cpu_features() -> dict[str, bool]:
    """The instruction-set features this process's CPU offers, by NumPy's CPUID detection.

    CPUID is what QEMU emulates, so unlike ``/proc/cpuinfo`` this shows the emulated CPU.
    """
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # NumPy < 2
        from numpy.core._multiarray_umath import __cpu_features__  # type: ignore[no-redef]  # NumPy 1's name for it
    return {k: bool(v) for k, v in __cpu_features__.items()}


def isa_level(features: dict[str, bool] | None = None) -> str:
    """The best x86-64 instruction-set level of this CPU, in oneDNN's names.

    One of ``AVX512_CORE_BF16``, ``AVX512_CORE_VNNI``, ``AVX512_CORE``, ``AVX2``, ``AVX``,
    ``SSE41``, or ``"baseline"`` (none of those; also any non-x86 CPU).

    Examples
    --------
    >>> isa_level({"AVX": True, "AVX2": True, "FMA3": True, "AVX512_SKX": False})
    'AVX2'
    """
    features = cpu_features() if features is None else features
    for name, needs in ISA_LEVELS:
        if all(features.get(f, False) for f in needs):
            return name
    return "baseline"


@functools.lru_cache(maxsize=1)
def cpu_info() -> dict[str, Any]:
    """CPU vendor, model and flags (from ``/proc/cpuinfo`` on Linux) and the ISA level by CPUID."""
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
    info["isa"] = isa_level() if info["machine"] in ("x86_64", "AMD64") else "baseline"
    return info
