"""Reading a configuration file: YAML that refuses a key given twice, and errors that name
the file, the line and the column. Only PyYAML: the workflow reads its configuration with
this before Snakemake does (whose message names neither line nor column).
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from ..core.errors import ConfigError

__all__ = ["check_duplicate_keys", "read_yaml"]


_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when there: 5x faster


class _StrictLoader(_Loader):  # type: ignore[valid-type,misc]  # (a base chosen at import time)
    """A YAML loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(
                f"{loader.name}: line {key_node.start_mark.line + 1}: duplicate key {key!r} "
                "(YAML would silently keep only the last one)"
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def read_yaml(path: str | Path) -> Any:
    """The document of a YAML file; :class:`ConfigError` if it cannot be read, is not YAML,
    or repeats a key in one mapping."""
    try:
        with open(path, encoding="utf-8") as fh:
            loader = _StrictLoader(fh)
            loader.name = str(path)
            try:
                return loader.get_single_data()
            finally:
                loader.dispose()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: byte {exc.start} is not UTF-8; a configuration is UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    except ValueError as exc:  # an integer of over 4,300 digits, say
        raise ConfigError(f"{path}: a value cannot be read ({exc})") from None


def check_duplicate_keys(path: str | Path) -> None:
    """Raise :class:`ConfigError` if a YAML file repeats a key in one mapping."""
    read_yaml(path)
