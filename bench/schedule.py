"""What a figure module is, which figures run, in which order, and what each hands the next.

A figure is a module of ``bench/figures/`` (listed in ``bench.figures.FIGURES``) with:

- ``NUMBER``: its number in the results table;
- ``NEEDS``: what its ``measure`` takes besides the settings and the scratch directory, each
  a :class:`Need`, passed as the keyword argument of that name;
- ``PROVIDES``: the names of what it hands on to the figures that need them;
- ``measure(s, root, **needs) -> Result``: the figure, and the values named in ``PROVIDES``.

No figure reads another's state: what one needs arrives as an argument, made either by the
figure that provides it or by a setup function that several figures share.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from bench.harness import Figure, say
from bench.settings import Settings


@dataclasses.dataclass(frozen=True)
class Need:
    """Something a figure's ``measure`` takes, as the keyword argument ``name``.

    It is made either by ``setup(s, root)``, called once for all the figures that name it
    (before the first of them), or, without a setup, by the figure whose ``PROVIDES`` names
    it: that figure then measures first, and choosing this one chooses it too, unless
    ``optional``: then the argument is None when the provider is not chosen."""

    name: str
    setup: Callable[[Settings, Path], Any] | None = None
    optional: bool = False


@dataclasses.dataclass(frozen=True)
class Result:
    """What a figure's ``measure`` returns: its row and details, and what it hands on (by the
    names in its ``PROVIDES``)."""

    figure: Figure
    provides: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class FigureModule(Protocol):
    NUMBER: int
    NEEDS: tuple[Need, ...]
    PROVIDES: tuple[str, ...]
    measure: Callable[..., Result]


def _providers(figures: Iterable[FigureModule]) -> dict[str, FigureModule]:
    """The figure that provides each name; every need without a setup must have one."""
    figures = list(figures)
    found: dict[str, FigureModule] = {}
    for f in figures:
        for name in f.PROVIDES:
            if name in found:
                raise ValueError(f"figures {found[name].NUMBER} and {f.NUMBER} both provide {name!r}")
            found[name] = f
    for f in figures:
        for need in f.NEEDS:
            if need.setup is None and need.name not in found:
                raise ValueError(f"figure {f.NUMBER} needs {need.name!r}, which no figure provides")
    return found


def choose(figures: Iterable[FigureModule], wanted: set[int]) -> list[FigureModule]:
    """The figures numbered in ``wanted``, and the providers of what they need (not
    optionally), in the order they measure: by number, each after the chosen figures that
    provide what it needs."""
    figures = list(figures)
    made_by = _providers(figures)
    by_number = {f.NUMBER: f for f in figures}
    chosen, todo = set(wanted), sorted(wanted)
    while todo:
        for need in by_number[todo.pop()].NEEDS:
            provider = made_by.get(need.name) if need.setup is None and not need.optional else None
            if provider is not None and provider.NUMBER not in chosen:
                chosen.add(provider.NUMBER)
                todo.append(provider.NUMBER)
    order: list[FigureModule] = []

    def visit(f: FigureModule, waiting: tuple[int, ...]) -> None:
        if f in order:
            return
        if f.NUMBER in waiting:
            raise ValueError(f"figures {waiting} need each other")
        for need in f.NEEDS:
            provider = made_by.get(need.name) if need.setup is None else None
            if provider is not None and provider.NUMBER in chosen:
                visit(provider, (*waiting, f.NUMBER))
        order.append(f)

    for number in sorted(chosen):
        visit(by_number[number], ())
    return order


def measure(figures: list[FigureModule], s: Settings, root: Path) -> list[Figure]:
    """Measure ``figures`` in this order (:func:`choose`'s) in the scratch directory
    ``root``, each given what it needs."""
    made: dict[str, Any] = {}
    out = []
    for f in figures:
        needs = {}
        for need in f.NEEDS:
            if need.setup is not None and need.name not in made:
                made[need.name] = need.setup(s, root)
            needs[need.name] = made.get(need.name) if need.optional else made[need.name]
        result = f.measure(s, root, **needs)
        if set(result.provides) != set(f.PROVIDES):
            raise RuntimeError(f"figure {f.NUMBER} provided {sorted(result.provides)}, not {sorted(f.PROVIDES)}")
        made.update(result.provides)
        fig = result.figure
        say(f"figure {fig.number}: {fig.measured} (target {fig.target})")
        out.append(fig)
    return out
