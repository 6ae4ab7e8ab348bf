"""Logging for steps run by the workflow: everything to the rule's log file.

:func:`step_logging` sends Python logging, ``print`` and even TensorFlow's C++ messages
(file descriptors 1 and 2) to the log file, and turns a :class:`SamebitsError` into a
one-line message on the console, without a traceback, and exit status 1.

Every step's script (``workflow/scripts/*.py``) is an adapter of the same shape: it takes
``snakemake`` and ``__real_file__``, the names Snakemake injects into a script (hence their
``noqa: F821``: ruff cannot see them); calls one samebits function inside
:func:`step_logging`, with ``script=__real_file__`` where the step writes a record, since
that is the copy Snakemake ran, its preamble then the script's own source, whose part after
the preamble the record hashes (:func:`samebits.provenance.identity.script_source`); and
ends with :func:`finish`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from .errors import SamebitsError

__all__ = ["step_logging", "finish"]


@contextlib.contextmanager
def step_logging(log_path: str | Path) -> Iterator[None]:
    """Redirect this process's output to ``log_path`` for the duration of a step."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    err_console = os.fdopen(os.dup(saved_err), "w", buffering=1)
    with open(log_path, "w", buffering=1, encoding="utf-8") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
            force=True,
        )
        try:
            yield
            # The benchmark reads this line: steps that need no TensorFlow must not load it.
            loaded = "loaded" if "tensorflow" in sys.modules else "not loaded"
            logging.getLogger("samebits").info("step finished; tensorflow %s", loaded)
        except SamebitsError as exc:
            logging.getLogger("samebits").error("%s", exc)
            print(f"samebits: error: {exc}", file=err_console)
            raise SystemExit(1) from None
        except Exception:
            logging.getLogger("samebits").exception("step failed")
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            err_console.close()


def finish() -> NoReturn:
    """End a step's process now, skipping the interpreter's teardown.

    Call it only after the step returned: every output and the record were written through
    :mod:`samebits.core.fileio` (written to a temporary file, fsynced, renamed, directory
    fsynced), so they are durable. Tearing down a process that imported TensorFlow takes
    about a second (its modules and thread pools); nothing in it can change an output.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
