"""A train job run alone and read back (figures 8, 9 and 10): a copy of a scratch workflow
whose split and init are done, its train job run, and its record, benchmark file and log read."""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import shutil
from pathlib import Path
from typing import Any

from bench.medium import MEDIUM
from samebits.core import layout
from samebits.plan import Plan


@dataclasses.dataclass
class TrainRun:
    """One train job of figures 8 and 9, read back from its record, benchmark file and log."""

    fit: float  # run.fit_seconds: the training in this attempt
    wall: float  # the job's wall time (its benchmark file)
    outputs: dict[str, Any]  # the record's outputs (checksums): what must not depend on checkpoints
    resumed: list[dict[str, Any]]  # run.resumed: where the attempt started from
    saves: list[float]  # seconds inside each epoch-end checkpoint (see read_log)
    epochs: float  # seconds from the first epoch's log line to the last's (see read_log)
    tail: float  # seconds from the last epoch's log line to the step's last line

    @property
    def trained(self) -> float:
        """The training up to its last epoch: ``run.fit_seconds`` less :attr:`tail`, which
        leaves out the end of fit() (with tf.data's autotuning on, it waited 0 to 60 s for
        the autotuning thread: bench/README.md)."""
        return self.fit - self.tail


#: A line of a step's log (samebits.core.logs): its time, to the millisecond, and message.
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ [\w.]+: (.*)$", re.M)


def read_log(log_text: str) -> tuple[list[float], float, float]:
    """What a train log's times say: the time of each epoch-end checkpoint, from the epoch's
    line (written once the epoch's weights are hashed) to the checkpoint's line (written
    once it is saved), so the whole of ``Checkpointer.save`` and nothing of the training; the
    span from the first epoch's line to the last's (the training without its first epoch,
    whose graph tracing costs the same whatever is saved); and from the last epoch's line to
    the step's last line (the end of fit(), then writing the outputs)."""
    ended: dict[int, datetime.datetime] = {}
    saves: list[float] = []
    last = None
    for stamp, message in LOG_LINE.findall(log_text):
        last = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
        if m := re.search(r": epoch (\d+)/\d+ ", message):
            ended[int(m.group(1))] = last
        elif (m := re.search(r": checkpoint \S+, after epoch (\d+) of \d+$", message)) and int(m.group(1)) in ended:
            saves.append((last - ended[int(m.group(1))]).total_seconds())
    if not ended or last is None:
        raise ValueError("no epoch in the train log")
    first_epoch, last_epoch = ended[min(ended)], ended[max(ended)]
    return saves, (last_epoch - first_epoch).total_seconds(), (last - last_epoch).total_seconds()


def train_paths(plan: Plan, experiment: str = MEDIUM) -> dict[str, str]:
    """The train step's target, log, benchmark file and checkpoint folder for ``plan``'s one
    chain (of ``experiment``), from the layout."""
    (seed,) = plan.seeds
    names = {"experiment": experiment, "seed": seed}
    return {
        "record": layout.record("train", **names),
        "init": layout.record("init", **names),
        "log": layout.train.log.format(**names),
        "benchmark": layout.train.benchmark.format(**names),
        "resume": layout.resume.format(**names),
    }


def read_train(wd: Path, paths: dict[str, str]) -> TrainRun:
    rec = json.loads((wd / paths["record"]).read_text())
    wall = float((wd / paths["benchmark"]).read_text().splitlines()[-1].split("\t")[0])
    saves, epochs, tail = read_log((wd / paths["log"]).read_text(errors="replace"))
    return TrainRun(
        fit=rec["run"]["fit_seconds"],
        wall=wall,
        outputs=rec["outputs"],
        resumed=rec["run"].get("resumed", []),
        saves=saves,
        epochs=epochs,
        tail=tail,
    )


def train_in_copy(template: Path, wd: Path, config: dict[str, Any]) -> Path:
    """A copy of ``template`` with ``config``, ready to run its train job (and nothing else)."""
    if wd.exists():
        shutil.rmtree(wd)
    shutil.copytree(template, wd, symlinks=True)
    layout.write_config(wd, config)
    return wd


def only_train_ran(out: str, wd: Path) -> None:
    ran = set(re.findall(r"^(?:local)?rule (\w+):$", out, re.M))
    if ran != {"train"}:
        raise RuntimeError(f"{wd}: expected only the train job to run, ran {sorted(ran)}:\n{out[-3000:]}")
