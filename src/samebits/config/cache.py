"""A cache of the checked configuration, so that a workflow start does not check it again.

The workflow checks its configuration before any job: the clear checks of
:mod:`samebits.config.checks`, then the schema (:mod:`samebits.config.schema`, which also
fills in the defaults). Both are a pure function of their inputs, and together they cost
about 0.1 s of every start (most of it importing jsonschema and NumPy), a large part of
what samebits adds to a no-op. So the result, the configuration with its defaults, is kept
under ``.snakemake/`` with the SHA-256 of everything it depends on:

- the configuration as Snakemake loaded it (files and ``--config``), and the bytes of each
  config file (the duplicate-key check reads them);
- the size and modification time of every file of the samebits package (the checks and
  the schema);
- the bytes of every custom builder file (its check parses it);
- the Snakemake and Python versions.

A configuration that names a builder by module, not by file, is never cached: whether a
module can be found depends on the environment. Nor is one that is not plain JSON.
A hit gives exactly what the checks would have given; a miss runs them.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core import fileio
from ..core.errors import SamebitsError
from ..core.layout import CONFIG_CACHE
from ..core.usercode import CodeRef

__all__ = ["PATH", "key", "load", "store"]

#: Where the workflow keeps the checked configuration (relative to the working directory).
PATH = CONFIG_CACHE
VERSION = 2


def _file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _package_stamp(folder: Path | None = None, prefix: str = "") -> list[list[Any]]:
    """Name, size and mtime of every module and YAML file of the package, at every depth."""
    folder = folder or Path(__file__).parents[1]
    stamp = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir() and entry.name != "__pycache__":
            stamp += _package_stamp(Path(entry.path), f"{prefix}{entry.name}/")
        elif entry.name.endswith((".py", ".yaml")):
            st = entry.stat()
            stamp.append([prefix + entry.name, st.st_size, st.st_mtime_ns])
    return stamp


def _builder_files(config: dict[str, Any]) -> list[str] | None:
    """The builder files the experiments and grids name; ``None`` if one is named by module."""
    files = []
    for model in _find_builders([config.get("experiments"), config.get("grids")]):
        file = CodeRef.parse(str(model["builder"])).workflow_file
        if file is None:
            return None
        files.append(file)
    return sorted(set(files))


def _find_builders(doc: Any) -> Iterable[dict[str, Any]]:
    if isinstance(doc, dict):
        if "builder" in doc:
            yield doc
        for value in doc.values():
            yield from _find_builders(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from _find_builders(value)


def _plain_json(value: Any) -> str:
    """``value`` as JSON text; ``ValueError`` unless it comes back equal (an integer key, say,
    would come back as a string, and two configurations would share a key)."""
    text = json.dumps(value, sort_keys=True, allow_nan=False)
    if json.loads(text) != value:
        raise ValueError("not plain JSON")
    return text


def key(config: dict[str, Any], configfiles: Iterable[str | Path]) -> str | None:
    """The cache key of ``config`` as loaded, or ``None`` when it must not be cached."""
    try:
        builders = _builder_files(config)
        if builders is None:
            return None
        import snakemake

        parts = {
            "version": VERSION,
            "config": config,
            "configfiles": [[str(p), _file_digest(p)] for p in configfiles],
            "samebits": _package_stamp(),
            "builders": [[p, _file_digest(p)] for p in builders],
            "snakemake": getattr(snakemake, "__version__", ""),
            "python": sys.version,
        }
        _plain_json(config)
        text = json.dumps(parts, sort_keys=True, allow_nan=False)
    except (OSError, TypeError, ValueError, AttributeError, SamebitsError):
        return None  # a missing file or a value that is not plain JSON: check in full
    return hashlib.sha256(text.encode()).hexdigest()


def load(path: str | Path, cache_key: str | None) -> dict[str, Any] | None:
    """The checked configuration stored under ``cache_key``, or ``None``."""
    if cache_key is None:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != cache_key or not isinstance(data.get("value"), dict):
        return None
    return data["value"]


def store(path: str | Path, cache_key: str | None, value: dict[str, Any]) -> None:
    """Keep ``value`` (the checked configuration) under ``cache_key``; atomic, best effort."""
    if cache_key is None:
        return
    try:
        _plain_json(value)
        fileio.write_text(path, json.dumps({"key": cache_key, "value": value}, allow_nan=False))
    except (SamebitsError, TypeError, ValueError):
        pass  # a read-only tree, or a value that is not plain JSON: no cache, only slower
