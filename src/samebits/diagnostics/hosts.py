"""Real-hardware records: the probe's native checksums on every kind of host, committed and compared.

Emulation shows which cases run an approximate instruction (QEMU computes them exactly); only a
real CPU of the other vendor shows the bits that CPU gives. ``samebits portability --hosts``
runs every probe case natively (no emulation; about a minute) and compares each checksum with
every host record in :data:`HOSTS_DIR`; ``--record`` also writes this host's record there, one
file per kind of host (:func:`file_name`: vendor, family, model and instruction-set level), with
the samebits version, the date, the packages and the settings it was measured with.
"""

from __future__ import annotations

import datetime
import json
import platform
import re
from pathlib import Path
from typing import Any

from ..core import fileio
from ..core.errors import SamebitsError
from ..provenance.cpu import cpu_info

__all__ = ["HOSTS_DIR", "compare", "file_name", "format_comparison", "host_identity", "read_hosts", "record"]

#: Where the host records live: ``docs/portability/hosts/`` of the repository.
HOSTS_DIR = Path(__file__).resolve().parents[3] / "docs" / "portability" / "hosts"

#: The CPU flags a record keeps: the vector and matrix extensions that decide kernels.
_FLAGS = re.compile(r"^(sse|avx|fma|f16c|amx)")


def host_identity() -> dict[str, Any]:
    """This CPU as a record names it: vendor, model name, family, model, ISA level, SIMD flags."""
    info = cpu_info()
    numbers: dict[str, int | None] = {"family": None, "model": None}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("cpu family", "model") and value.strip().isdigit():
                    numbers["family" if key == "cpu family" else "model"] = int(value)
    except OSError:
        pass
    return {
        "vendor": info["vendor"],
        "model_name": info["model"],
        **numbers,
        "isa": info["isa"],
        "simd_flags": [f for f in info["flags"] if _FLAGS.match(f)],
    }


def file_name(host: dict[str, Any]) -> str:
    """``<vendor>-<family>-<model>-<isa>.json``, lower case: one file per kind of host."""
    parts = [host.get("vendor") or "unknown", host.get("family"), host.get("model"), host.get("isa") or "unknown"]
    return re.sub(r"[^a-z0-9_.-]+", "_", "-".join(str(p) for p in parts).lower()) + ".json"


def record(result: dict[str, Any], *, commit: str | None = None) -> dict[str, Any]:
    """This host's record from a native :func:`samebits.diagnostics.portability.run` result."""
    import keras
    import numpy
    import tensorflow

    from ..core.version import __version__

    return {
        "what": "native checksums of the probe cases (samebits.diagnostics.probes)",
        "samebits_version": __version__,
        "samebits_commit": commit,
        "date": datetime.date.today().isoformat(),
        "host": host_identity(),
        "packages": {
            "tensorflow": tensorflow.__version__,
            "keras": keras.__version__,
            "numpy": numpy.__version__,
            "python": platform.python_version(),
        },
        "settings": {**result["settings"], "exact_kernels": result.get("exact_kernels")},
        "cases": {r["case"]: r["native"] for r in result["cases"] if r["native"]},
        "failed": {r["case"]: r["failed"]["message"] for r in result["cases"] if "failed" in r},
    }


def read_hosts(folder: Path = HOSTS_DIR) -> dict[str, dict[str, Any]]:
    """Every host record in ``folder`` by file name; a record that is not one is an error."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SamebitsError(f"{path}: not a readable host record ({exc})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("cases"), dict) or "host" not in data:
            raise SamebitsError(f"{path}: not a host record (it needs 'host' and a 'cases' object of checksums)")
        found[path.name] = data
    return found


def compare(cases: dict[str, str], hosts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """This host's checksums against each record: ``identical``, ``different`` and the cases
    one side has and the other has not (``not_recorded``: run here only; ``not_run_here``)."""
    out = {}
    for name, host in hosts.items():
        theirs = host["cases"]
        out[name] = {
            "identical": [c for c in cases if theirs.get(c) == cases[c]],
            "different": [c for c in cases if c in theirs and theirs[c] != cases[c]],
            "not_recorded": [c for c in cases if c not in theirs],
            "not_run_here": [c for c in theirs if c not in cases],
        }
    return out


def _describe(host: dict[str, Any]) -> str:
    h = host["host"]
    kernels = (host.get("settings") or {}).get("exact_kernels")
    made = "the profile's exact kernels" if kernels else "TensorFlow's own kernels (before samebits.ml.exact)"
    version = host.get("samebits_version") or (host.get("samebits_commit") or "?")[:7]
    return f"{h.get('vendor')} {h.get('model_name')} ({h.get('isa')}), samebits {version}, {host.get('date')}, {made}"


def format_comparison(
    cases: dict[str, str], hosts: dict[str, dict[str, Any]], *, here: str, folder: Path = HOSTS_DIR
) -> str:
    """The human report of :func:`compare`."""
    if not hosts:
        return f"no host records in {folder}: nothing to compare with (--record writes this host's)"
    lines = [f"this host: {here}; {len(cases)} case(s) run natively", ""]
    for name, found in compare(cases, hosts).items():
        n = len(found["identical"]) + len(found["different"])
        lines.append(f"{name}: {_describe(hosts[name])}")
        lines.append(f"  {len(found['identical'])}/{n} identical")
        if found["different"]:
            lines.append(f"  different: {', '.join(found['different'])}")
        if found["not_recorded"]:
            lines.append(f"  not in that record: {', '.join(found['not_recorded'])}")
    return "\n".join(lines)


def write(data: dict[str, Any], folder: Path = HOSTS_DIR) -> Path:
    """Write a host record as :func:`file_name` names it in ``folder``; returns its path."""
    path = Path(folder) / file_name(data["host"])
    path.parent.mkdir(parents=True, exist_ok=True)
    fileio.write_text(path, json.dumps(data, indent=1, sort_keys=False) + "\n")
    return path
