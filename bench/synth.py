"""A large sweep's finished chain steps, made from a small real run (benchmark figure 6).

Training 1,000 TensorFlow jobs would take an hour here, and what figure 6 measures (DAG
build, no-op, lock size, verify time) depends on the number of jobs, files and records, not
on what the arrays hold. So seeds ``have..n-1`` get a copy of the chain outputs of seed
``m % have`` (split, init, train, evaluate, with logs and benchmark files), written in graph
order, and each copied record is rewritten for its seed (id, paths, seed, file stats) and
sealed again with samebits' own record code: what a real run would have left, but for the
numbers inside the arrays. Everything after the chains (figures, summary, verify) then
runs for real.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

from samebits import records
from samebits.fileio import write_json

STEPS = ("split", "init", "train", "evaluate")


def _rename(obj: Any, src: int, dst: int) -> Any:
    if isinstance(obj, str):
        return obj.replace(f"/seed{src}/", f"/seed{dst}/").replace(f"/seed={src}", f"/seed={dst}")
    if isinstance(obj, dict):
        return {_rename(k, src, dst): _rename(v, src, dst) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rename(v, src, dst) for v in obj]
    return obj


def _dirs(step: str, experiment: str, dataset: str, seed: int) -> tuple[str, list[str]]:
    """(results directory, [log, benchmark]) of one step of one seed."""
    if step == "split":
        return f"results/splits/{dataset}/seed{seed}", [f"logs/split/{dataset}/seed{seed}.log"]
    return f"results/experiments/{experiment}/seed{seed}", [
        f"logs/{step}/{experiment}/seed{seed}.log",
        f"benchmarks/{step}/{experiment}/seed{seed}.tsv",
    ]


def extend(workdir: Path, experiment: str, dataset: str, have: int, n: int) -> None:
    """Give ``workdir`` (a finished ``have``-seed run) finished chains for seeds up to ``n``."""
    for step in STEPS:
        for seed in range(have, n):
            src = seed % have
            src_dir, src_extra = _dirs(step, experiment, dataset, src)
            dst_dir, dst_extra = _dirs(step, experiment, dataset, seed)
            rec = records.read(workdir / src_dir / f"{step}.record.json")
            rec = _rename(rec, src, seed)
            rec["seed"] = seed
            rec["determinism"]["seed"] = seed
            (workdir / dst_dir).mkdir(parents=True, exist_ok=True)
            for desc in rec["outputs"].values():
                shutil.copyfile(workdir / _rename(desc["path"], seed, src), workdir / desc["path"])
            if step == "train":  # the .keras container is an output but not in the record
                shutil.copyfile(workdir / src_dir / "model.keras", workdir / dst_dir / "model.keras")
            for a, b in zip(src_extra, dst_extra, strict=True):
                (workdir / b).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(workdir / a, workdir / b)
            with contextlib.chdir(workdir):  # record paths are relative to the workflow
                rec["run"]["files"] = records.file_stats(rec["run"]["files"])
                write_json(f"{dst_dir}/{step}.record.json", records.seal(rec))


def chain_records(workdir: Path) -> list[tuple[int, Path]]:
    """(seed, path) of every split/init/train/evaluate record, by seed then step."""
    out = []
    for path in (workdir / "results").glob("**/*.record.json"):
        doc = json.loads(path.read_text())
        if doc["step"] in STEPS:
            out.append((doc["seed"], STEPS.index(doc["step"]), path))
    return [(seed, path) for seed, _, path in sorted(out)]
