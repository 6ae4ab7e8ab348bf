"""The determinism recipe, applied in one place.

Two halves, because some settings only work before the interpreter starts:

1. :func:`process_env` gives the environment variables a step's process must be *started*
   with (``PYTHONHASHSEED``, thread counts, oneDNN settings of the profile). The workflow
   puts them in the environment of every job; :func:`check_process_env` refuses to run if
   they are missing or different.
2. :func:`apply` runs inside the step, before any model code: seeds Python, NumPy and
   TensorFlow, fixes TensorFlow's thread pools before any op runs, turns on op determinism
   (ops without a deterministic kernel raise), turns XLA JIT off and, for the ``portable``
   profile, puts exact compositions in place of the kernels that start from an approximate
   instruction (:mod:`samebits.ml.exact`). It returns what it applied, read back from
   TensorFlow, so the step's record carries the settings.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from ..core.errors import DeterminismError
from ..core.seeds import check_seed

__all__ = [
    "EXACT_KERNELS",
    "PORTABLE",
    "PROFILES",
    "process_env",
    "check_process_env",
    "check_cpu",
    "apply",
    "import_keras",
]

log = logging.getLogger(__name__)

#: The profile whose bits travel between x86-64 CPUs with AVX2.
PORTABLE = "portable"

#: Kernel-level settings of each profile. TensorFlow's own default differs from CPU to CPU
#: (oneDNN custom ops are on by default only on some), so a profile always sets both.
#: ``portable`` caps oneDNN's code paths at AVX2 so the bits travel between x86-64 CPUs;
#: ``native`` lets oneDNN use the machine's best instruction set.
PROFILES: dict[str, dict[str, str]] = {
    PORTABLE: {"TF_ENABLE_ONEDNN_OPTS": "1", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "native": {"TF_ENABLE_ONEDNN_OPTS": "1", "ONEDNN_MAX_CPU_ISA": "ALL"},
    # oneDNN's custom ops off (TensorFlow's Eigen kernels where it has them; its matrix
    # products still call oneDNN, capped as in ``portable``): for audits of what the bits
    # depend on, not for published locks.
    "onednn-off": {"TF_ENABLE_ONEDNN_OPTS": "0", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}


#: The profiles that run :mod:`samebits.ml.exact`'s kernels in place of TensorFlow's approximate
#: ones (rsqrt, reciprocal, erfc, gelu, division by a square root in a graph).
EXACT_KERNELS = frozenset({PORTABLE})


def process_env(*, profile: str, threads: int, op_determinism: bool) -> dict[str, str]:
    """Environment variables a step's process must start with.

    Parameters
    ----------
    profile
        One of :data:`PROFILES`.
    threads
        TensorFlow intra-op and inter-op thread count: the thread count changes which
        kernels run, so a lock reproduces only with the thread count it was made with.
    op_determinism
        ``False`` only to audit what the bits depend on (``samebits audit --hazards``).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown determinism profile {profile!r}; accepted: {', '.join(sorted(PROFILES))}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    env = {
        # Only effective at interpreter start-up; 0 turns hash randomisation off.
        "PYTHONHASHSEED": "0",
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
        "TF_DETERMINISTIC_OPS": "1" if op_determinism else "0",
        # Quiet TensorFlow's INFO lines; changes no bits.
        "TF_CPP_MIN_LOG_LEVEL": "1",
    }
    env.update(PROFILES[profile])
    return env


def check_cpu(profile: str, *, isa: str | None = None, machine: str | None = None) -> None:
    """Raise :class:`DeterminismError` if this CPU cannot give the ``profile``'s bits.

    The ``portable`` profile caps oneDNN at AVX2 so that every x86-64 CPU with AVX2 runs the
    same kernels; a CPU below AVX2 (or not x86-64) would run other kernels and other bits.
    """
    if PROFILES.get(profile, {}).get("ONEDNN_MAX_CPU_ISA") != "AVX2":
        return
    from ..provenance.cpu import ISA_ORDER, cpu_info

    info = cpu_info()
    isa = isa if isa is not None else info.get("isa")
    machine = machine if machine is not None else info.get("machine")
    if machine not in ("x86_64", "AMD64") or isa not in ISA_ORDER or ISA_ORDER.index(isa) < ISA_ORDER.index("AVX2"):
        raise DeterminismError(
            f"determinism.profile 'portable' needs an x86-64 CPU with AVX2 and FMA (portable bits are "
            f"those of oneDNN's AVX2 code); this CPU is {machine}, {info.get('vendor')} {info.get('model')}, "
            f"instruction-set level {isa}. Use `determinism: {{profile: native}}` to run here: the bits are "
            "then this CPU's own, and a lock made elsewhere will report them as drifted."
        )


def check_process_env(expected: dict[str, str]) -> None:
    """Raise :class:`DeterminismError` unless this process started with ``expected``.

    ``PYTHONHASHSEED`` is checked through ``sys.flags`` too: setting it from inside Python
    is too late, and only the flag shows it was there at start-up.
    """
    wrong = [f"{k}={os.environ.get(k)!r} (needs {v!r})" for k, v in sorted(expected.items()) if os.environ.get(k) != v]
    if expected.get("PYTHONHASHSEED") == "0" and sys.flags.hash_randomization:
        wrong.append("PYTHONHASHSEED was not set when the interpreter started")
    if wrong:
        raise DeterminismError(
            "this step must be started with the determinism environment; wrong or missing: "
            + "; ".join(wrong)
            + ". Run it through the workflow (snakemake), or start it with "
            "`samebits env --exports` applied."
        )


#: Keras imports its optional integrations eagerly when they are installed: the scikit-learn
#: wrappers (which import scikit-learn and SciPy) and the plotting helpers (matplotlib). That
#: is about a second of every TensorFlow step's start-up, and no step uses them; they are
#: hidden while Keras is imported (those Keras helpers then stay unavailable in the step's
#: process; everything else imports them normally afterwards). They change no kernel.
KERAS_OPTIONAL_IMPORTS = ("sklearn", "matplotlib", "matplotlib.pyplot")


def import_keras() -> Any:
    """Import Keras (and TensorFlow) without its optional scikit-learn/matplotlib integrations."""
    if "keras" in sys.modules:
        import keras

        return keras
    hidden = [name for name in KERAS_OPTIONAL_IMPORTS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` raise ImportError
    try:
        import keras
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return keras


def apply(seed: int, *, profile: str, threads: int, op_determinism: bool) -> dict[str, Any]:
    """Apply the whole recipe in this process and return what was applied.

    Must run before any TensorFlow op: TensorFlow fixes its thread pools at the first op
    and raises if they are changed later.
    """
    check_seed(seed)
    expected = process_env(profile=profile, threads=threads, op_determinism=op_determinism)
    check_process_env(expected)
    check_cpu(profile)

    import random

    import numpy as np

    keras = import_keras()
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config  # the read-back lives here

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as exc:  # TensorFlow already ran an op in this process
        raise DeterminismError(
            f"TensorFlow's thread pools were already initialised; apply() must run before any TensorFlow op ({exc})"
        ) from exc
    keras.utils.set_random_seed(seed)  # Python random, NumPy global and TF global seeds
    random.seed(seed)
    np.random.seed(seed)
    if op_determinism:
        tf.config.experimental.enable_op_determinism()
    else:
        tf_config.disable_op_determinism()
        log.warning("op determinism is OFF: results may differ from run to run (audit setting)")
    tf.config.optimizer.set_jit(False)
    exact_kernels: list[str] = []
    if profile in EXACT_KERNELS:
        from . import exact

        exact_kernels = exact.install()

    applied = {
        "profile": profile,
        "seed": seed,
        "python_hash_seed": os.environ.get("PYTHONHASHSEED"),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "op_determinism": bool(tf_config.is_op_determinism_enabled()),
        "jit_compile": bool(tf.config.optimizer.get_jit()),
        "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "keras_backend": keras.backend.backend(),
        "exact_kernels": exact_kernels,
    }
    log.info("determinism applied: %s", applied)
    return applied
