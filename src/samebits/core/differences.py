"""Structured differences between two JSON-like documents.

A :class:`Difference` names one leaf that differs (its path, the old and the new value) and
whether it decides the bits. Comparisons return these objects, and code that needs to know
*what* differs reads their fields; only a reader sees their text (``str(d)``), e.g.
``params.epochs 5 → 8`` or ``cpu.flags -avx512f +sse3``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["Difference", "MISSING", "deep_diff"]


class _Missing:
    """The value on the side where a key does not exist."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

#: Lists of strings with more items than this (both sides together) are compared as sets,
#: so a difference names the items that went and came (CPU flags) instead of every position.
SET_COMPARED_ABOVE = 8


@dataclasses.dataclass(frozen=True)
class Difference:
    """One leaf that differs between two documents.

    ``path`` starts with the section (``("params", "epochs")``); ``old`` or ``new`` is
    :data:`MISSING` where the key exists on one side only. ``deciding`` is false for a
    difference that cannot change the bits (another CPU model under the same ISA cap), and
    ``note`` then says why.

    Examples
    --------
    >>> str(Difference(("params", "epochs"), 5, 8))
    'params.epochs 5 → 8'
    >>> str(Difference(("params", "dropout"), MISSING, 0.1))
    'params.dropout added (0.1)'
    """

    path: tuple[str, ...]
    old: Any
    new: Any
    deciding: bool = True
    note: str | None = None

    @property
    def section(self) -> str:
        """The first part of the path (``params``, ``inputs``, ``environment``, ...)."""
        return self.path[0] if self.path else ""

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def kind(self) -> str:
        """``added``, ``removed`` or ``changed``."""
        if self.old is MISSING:
            return "added"
        if self.new is MISSING:
            return "removed"
        return "changed"

    def __str__(self) -> str:
        if self.kind == "added":
            text = f"{self.dotted} added ({_short(self.new)})"
        elif self.kind == "removed":
            text = f"{self.dotted} removed (was {_short(self.old)})"
        elif _as_sets(self.old, self.new):
            gone, came = sorted(set(self.old) - set(self.new)), sorted(set(self.new) - set(self.old))
            moved = [f"-{v}" for v in gone] + [f"+{v}" for v in came]
            text = f"{self.dotted} {' '.join(moved)}" if moved else f"{self.dotted} reordered"
        else:
            text = f"{self.dotted} {_short(self.old)} → {_short(self.new)}"
        return f"{text} ({self.note})" if self.note else text

    def as_dict(self) -> dict[str, Any]:
        """For JSON reports: the path, both values (``None`` where missing), the flags, the text."""
        return {
            "path": self.dotted,
            "kind": self.kind,
            "old": None if self.old is MISSING else self.old,
            "new": None if self.new is MISSING else self.new,
            "deciding": self.deciding,
            "text": str(self),
        }


def _as_sets(old: Any, new: Any) -> bool:
    return (
        isinstance(old, list)
        and isinstance(new, list)
        and all(isinstance(v, str) for v in old + new)
        and len(old) + len(new) > SET_COMPARED_ABOVE
    )


def _short(value: Any) -> str:
    if isinstance(value, str) and value.startswith("sha256:"):
        return value[7:19]
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def deep_diff(
    old: Any, new: Any, path: tuple[str, ...] = (), *, deciding: bool = True, note: str | None = None
) -> list[Difference]:
    """Every leaf that differs between ``old`` and ``new``, in sorted key order.

    Dicts are compared key by key; long lists of strings as sets (see
    :data:`SET_COMPARED_ABOVE`); anything else by value and type (``1`` and ``1.0`` differ:
    their JSON text does). ``deciding`` and ``note`` are set on every difference found.

    Examples
    --------
    >>> [str(d) for d in deep_diff({"a": {"b": 1}}, {"a": {"b": 2}}, ("params",))]
    ['params.a.b 1 → 2']
    """
    if type(old) is type(new) and old == new:  # the common case, decided at C speed
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            sub = (*path, str(key))
            if key not in old:
                found.append(Difference(sub, MISSING, new[key], deciding, note))
            elif key not in new:
                found.append(Difference(sub, old[key], MISSING, deciding, note))
            else:
                found.extend(deep_diff(old[key], new[key], sub, deciding=deciding, note=note))
        return found
    return [Difference(path, old, new, deciding, note)]
