"""A large sweep's finished chain steps, made from a small real run (benchmark figure 6).

Training 1,000 TensorFlow jobs would take an hour here, and what figure 6 measures (DAG
build, no-op, lock size, verify time) depends on the number of jobs, files and records, not
on what the arrays hold. So seeds ``have..n-1`` get a copy of the chain outputs of seed
``m % have`` (every file of split, init, train and evaluate that
:mod:`samebits.core.layout` names: outputs, logs and benchmark files), written in graph
order, and each copied record is rewritten for its seed (id, paths, seed, file stats) and
sealed again with samebits' own record code: what a real run would have left, but for the
numbers inside the arrays. Everything after the chains (figures, summary, verify) then
runs for real.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from samebits.core import layout
from samebits.core.fileio import write_json
from samebits.provenance import records


def _rename(obj: Any, src: int, dst: int) -> Any:
    """``obj`` with every path part and step id of seed ``src`` made one of seed ``dst``."""
    if isinstance(obj, str):
        return obj.replace(f"/seed{src}/", f"/seed{dst}/").replace(f"/seed={src}", f"/seed={dst}")
    if isinstance(obj, dict):
        return {_rename(k, src, dst): _rename(v, src, dst) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rename(v, src, dst) for v in obj]
    return obj


def _files(step: str, wildcards: dict[str, Any]) -> list[str]:
    """Every file one job of a chain step writes but its record: outputs, log, benchmark."""
    files = layout.FILES[step]
    paths = [files.path(name, **wildcards) for name in files.outputs if name != "record"]
    return paths + [p.format(**wildcards) for p in (files.log, files.benchmark) if p is not None]


def extend(workdir: Path, experiment: str, dataset: str, have: int, n: int) -> None:
    """Give ``workdir`` (a finished ``have``-seed run) finished chains for seeds up to ``n``."""
    for step in layout.CHAIN_STEPS:
        for seed in range(have, n):
            src = {"experiment": experiment, "dataset": dataset, "seed": seed % have}
            dst = {**src, "seed": seed}
            rec = _rename(records.read(workdir / layout.record(step, **src)), src["seed"], seed)
            rec["seed"] = seed
            rec["determinism"]["seed"] = seed
            for a, b in zip(_files(step, src), _files(step, dst), strict=True):
                (workdir / b).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(workdir / a, workdir / b)
            with contextlib.chdir(workdir):  # record paths are relative to the workflow
                rec["run"]["files"] = records.file_stats(rec["run"]["files"])
                write_json(layout.record(step, **dst), records.seal(rec))


def chain_records(experiment: str, dataset: str, seeds: Iterable[int]) -> list[str]:
    """The split, init, train and evaluate records of ``seeds``, by seed then step (paths
    relative to the workflow)."""
    return [
        layout.record(step, experiment=experiment, dataset=dataset, seed=seed)
        for seed in seeds
        for step in layout.CHAIN_STEPS
    ]
