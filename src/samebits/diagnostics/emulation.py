"""Run this Python under an emulated x86-64 CPU, to check that bits travel between CPUs.

TensorFlow and oneDNN pick kernels by the CPU's instruction set at run time, so the only
honest way to know whether a result is portable is to compute it on another CPU. QEMU's
user-mode emulator (``qemu-x86_64 -cpu Haswell``) runs this machine's own binaries, wheels
and venv while presenting another CPU's CPUID, so the same code takes the other CPU's paths.

- :func:`ensure_qemu` finds ``qemu-x86_64`` and, as root with apt, installs Debian's
  ``qemu-user`` (CI starts from a fresh clone where it may be missing);
- :func:`emulated_python` writes a small *interpreter directory* whose ``bin/python`` runs
  this venv's interpreter under ``qemu-x86_64 -cpu <CPU>``. Under QEMU, Python sees that
  wrapper as ``sys.executable`` (QEMU's ``-0`` sets the guest's ``argv[0]``), so every Python
  child it starts the usual way (Snakemake runs ``script:`` jobs with ``sys.executable``) goes
  through QEMU as well. The directory has its own ``pyvenv.cfg`` and a ``lib`` link to the
  venv's, so the emulated interpreter finds the venv's site-packages.

Which CPU a process really runs on is :mod:`samebits.provenance.cpu`'s to say (by CPUID).
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from ..core.errors import SamebitsError

__all__ = ["QEMU", "DEFAULT_CPUS", "check_cpu_name", "find_qemu", "ensure_qemu", "emulated_python"]

log = logging.getLogger(__name__)

#: QEMU's user-mode emulator for x86-64 guests (Debian package ``qemu-user``).
QEMU = "qemu-x86_64"
#: CPUs checked by default: an Intel AVX2 CPU without AVX-512 (2013) and an AMD Zen 3
#: (AVX2, no AVX-512), i.e. the two families a reader most likely has.
DEFAULT_CPUS = ("Haswell", "EPYC-Milan")

_INSTALL_HINT = (
    "install QEMU's user-mode emulator: `apt-get install qemu-user` on Debian/Ubuntu, "
    "`dnf install qemu-user` on Fedora (it provides the `qemu-x86_64` command)"
)


def find_qemu() -> str | None:
    """Path of ``qemu-x86_64`` on ``PATH``, or ``None``."""
    return shutil.which(QEMU)


def ensure_qemu(*, install: bool = True, timeout: float = 900) -> str:
    """Return the path of ``qemu-x86_64``, installing Debian's ``qemu-user`` if needed.

    The install runs only when ``install`` is true, this process is root and ``apt-get``
    exists; ``apt-get update`` runs first only if the package is not known yet.

    Raises
    ------
    SamebitsError
        If QEMU is missing and cannot be installed here; the message says what to install.
    """
    found = find_qemu()
    if found:
        return found
    machine = os.uname().machine
    if machine != "x86_64":
        raise SamebitsError(f"CPU emulation needs an x86-64 host (this is {machine}); {_INSTALL_HINT}")
    apt = shutil.which("apt-get")
    if not install or apt is None or os.geteuid() != 0:
        why = "not allowed here" if not install else ("no apt-get" if apt is None else "not running as root")
        raise SamebitsError(f"{QEMU} is not installed ({why}); {_INSTALL_HINT}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def apt_get(*args: str) -> subprocess.CompletedProcess:
        log.info("running apt-get %s", " ".join(args))
        return subprocess.run([apt, *args], env=env, capture_output=True, text=True, timeout=timeout)

    known = subprocess.run(
        ["apt-cache", "show", "qemu-user"], env=env, capture_output=True, text=True, timeout=timeout
    ).returncode
    if known != 0:
        upd = apt_get("update")
        if upd.returncode != 0:
            raise SamebitsError(f"apt-get update failed (exit {upd.returncode}): {upd.stderr.strip()[-800:]}")
    proc = apt_get("install", "-y", "--no-install-recommends", "qemu-user")
    if proc.returncode != 0:
        raise SamebitsError(
            f"apt-get install qemu-user failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}; {_INSTALL_HINT}"
        )
    found = find_qemu()
    if not found:
        raise SamebitsError(f"apt-get installed qemu-user but {QEMU} is still not on PATH; {_INSTALL_HINT}")
    return found


def check_cpu_name(cpu: str) -> str:
    """Reject CPU names that are not plain QEMU model names (they go into a shell script)."""
    if not cpu or not all(c.isalnum() or c in "-_.,=+" for c in cpu):
        raise SamebitsError(f"CPU model {cpu!r} is not a QEMU CPU name (see `{QEMU} -cpu help`)")
    return cpu


def cpu_model_spec(cpu: str, qemu: str) -> str:
    """``cpu`` with the features QEMU's TCG cannot emulate turned off (``Haswell,-pcid,...``).

    QEMU leaves them out anyway but warns about each, in every process it starts; naming
    them keeps every emulated step's stderr clean without changing what the guest sees.
    """
    proc = subprocess.run([qemu, "-cpu", cpu, "/bin/true"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise SamebitsError(f"{qemu} -cpu {cpu} does not run: {proc.stderr.strip()[-400:]} (see `{QEMU} -cpu help`)")
    missing = sorted(set(re.findall(r"doesn't support requested feature: \S+?\.([\w-]+) \[bit", proc.stderr)))
    return ",".join([cpu, *(f"-{f}" for f in missing)])


def _venv_prefix(python: Path) -> Path | None:
    """The venv a ``bin/python`` belongs to (the directory holding ``pyvenv.cfg``), if any."""
    for d in (python.parent, python.parent.parent):
        if (d / "pyvenv.cfg").is_file():
            return d
    return None


def emulated_python(
    cpu: str, directory: str | Path, *, python: str | Path | None = None, qemu: str | None = None
) -> Path:
    """Write an interpreter directory whose ``bin/python`` runs ``python`` under ``-cpu cpu``.

    Parameters
    ----------
    cpu
        A QEMU CPU model (``qemu-x86_64 -cpu help`` lists them), e.g. ``"Haswell"``.
    directory
        Where to write it (created; an existing one is rewritten).
    python
        The interpreter to emulate; default: this one (``sys.executable``). When it belongs to
        a venv, the directory points at the venv's ``lib`` so its packages are importable.
    qemu
        Path of ``qemu-x86_64`` (default: :func:`ensure_qemu`).

    Returns
    -------
    Path
        ``directory/bin/python``: run it like any interpreter. Inside, ``sys.executable`` is
        that path, so the Python processes it starts (Snakemake's jobs) are emulated too.
        Processes that are not Python (a shell, ``uname``) run natively.

    Examples
    --------
    >>> py = emulated_python("Haswell", "/tmp/haswell")  # doctest: +SKIP
    >>> code = "from samebits.provenance.cpu import isa_level; print(isa_level())"
    >>> subprocess.run([py, "-c", code])  # doctest: +SKIP
    AVX2
    """
    check_cpu_name(cpu)
    qemu = qemu or ensure_qemu()
    python = Path(python or sys.executable).absolute()
    real = python.resolve()  # the ELF binary QEMU must load (venv pythons are symlinks)
    directory = Path(directory).absolute()
    (directory / "bin").mkdir(parents=True, exist_ok=True)
    venv = _venv_prefix(python)
    if venv is not None:
        # Python finds pyvenv.cfg next to (or one above) sys.executable and then takes its
        # packages from <prefix>/lib/pythonX.Y/site-packages: mirror the venv here.
        shutil.copy2(venv / "pyvenv.cfg", directory / "pyvenv.cfg")
        link = directory / "lib"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(venv / "lib", target_is_directory=True)
    model = cpu_model_spec(cpu, qemu)
    wrapper = directory / "bin" / "python"
    # -0 sets the guest's argv[0]: Python then takes the wrapper as sys.executable (so its
    # Python children are emulated too) and this directory as its prefix.
    script = (
        "#!/bin/sh\n"
        f"# {python} under an emulated {cpu} CPU (written by samebits.diagnostics.emulation)\n"
        f'exec {shlex.quote(qemu)} -cpu {model} -0 {shlex.quote(str(wrapper))} {shlex.quote(str(real))} "$@"\n'
    )
    tmp = wrapper.with_suffix(".tmp")
    tmp.write_text(script, encoding="utf-8")
    tmp.chmod(0o755)
    tmp.replace(wrapper)
    return wrapper
