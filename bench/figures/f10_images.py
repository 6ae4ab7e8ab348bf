"""Figure 10 (#16): the workflow on a generated image folder of over 2 GB of decoded pixels,
streamed: the train job's peak RSS (< 1.5 GB); and on a folder that fits, time per epoch
streamed vs in memory (and the same weights)."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import (
    PYTHON,
    REPO,
    Figure,
    Timing,
    alternate,
    clean_env,
    plan_of,
    ratio_text,
    say,
    snakemake,
    workdir,
)
from bench.schedule import Need, Result
from bench.settings import Settings
from bench.train_job import LOG_LINE, TrainRun, only_train_ran, read_train, train_in_copy, train_paths
from samebits.core import layout
from samebits.plan import Plan

NUMBER = 10
NEEDS: tuple[Need, ...] = ()
PROVIDES: tuple[str, ...] = ()

#: Figure 10's data set and experiment: the issue's small CNN, batch 64, one seed; every
#: other setting (scale maxabs, test fraction, optimizer, threads, ...) from the schema.
IMAGES, IMAGE_CNN = "shapes", "cnn"
IMAGE_MODEL = {"type": "cnn", "filters": [8, 16], "dense": [32]}
IMAGE_BATCH = 64
IMAGE_CLASSES = 2
#: The issue's bound on the train job's peak RSS, 1.5 GB, in the unit of Snakemake's benchmark
#: files: their ``max_rss`` is bytes / 1024² (they call it MB, as this figure does).
RSS_TARGET = 1536.0
MB = 1 << 20


def image_config(folder: Path, stream: bool, epochs: int) -> dict[str, Any]:
    """Figure 10's configuration: the image folder ``folder`` read with ``stream``, the CNN."""
    return {
        "seeds": [0],
        "datasets": {IMAGES: {"source": f"{folder}/", "stream": stream}},
        "experiments": {
            IMAGE_CNN: {
                "dataset": IMAGES,
                "model": dict(IMAGE_MODEL),
                "train": {"epochs": epochs, "batch_size": IMAGE_BATCH},
            }
        },
    }


def image_paths(plan: Plan) -> dict[str, str]:
    """Figure 10's chain: the train step's paths (:func:`train_paths`), and the split's and
    evaluate's that it reads, from the layout."""
    (seed,) = plan.seeds
    names = {"experiment": IMAGE_CNN, "seed": seed}
    return {
        **train_paths(plan, IMAGE_CNN),
        "split": layout.record("split", dataset=IMAGES, seed=seed),
        "split_log": layout.split.log.format(dataset=IMAGES, seed=seed),
        "evaluate": layout.record("evaluate", **names),
        "evaluate_benchmark": layout.evaluate.benchmark.format(**names),
    }


def make_folder(dest: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """Generate an image folder with tools/make_images.py (two classes, RGB, seed 0), every
    image a JPEG: made twice as fast as PNGs of its noisy backgrounds, and a quarter of their
    size on disk; the decoded pixels are the same size either way. Says every 15 s how far
    it got."""
    h, w = spec["size"]
    n = spec["per_class"] * IMAGE_CLASSES
    decoded = n * h * w * 3
    say(f"figure 10: generating {n:,} JPEG images of {h}x{w}x3 ({decoded / (1 << 30):.2f} GiB decoded) in {dest}")
    if dest.exists():
        shutil.rmtree(dest)
    cmd = [
        PYTHON,
        str(REPO / "tools" / "make_images.py"),
        str(dest),
        *("--per-class", str(spec["per_class"])),
        *("--size", str(h), str(w)),
        *("--classes", str(IMAGE_CLASSES)),
        *("--jpeg-every", "1"),
    ]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while True:
        try:
            out = proc.communicate(timeout=15)[0]
            break
        except subprocess.TimeoutExpired:
            made = sum(len(names) for _, _, names in os.walk(dest))
            say(f"figure 10: {made:,} of {n:,} images written ({time.perf_counter() - t:.0f} s)")
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{out[-4000:]}")
    files = [Path(here, name) for here, _, names in os.walk(dest) for name in names]
    if len(files) != n:
        raise RuntimeError(f"{dest}: {len(files)} files, expected {n}")
    return {"n": n, "shape": (h, w, 3), "decoded": decoded, "disk": sum(f.stat().st_size for f in files),
            "seconds": seconds}  # fmt: skip


class Peaks:
    """The kernel's high-water mark of resident memory (``VmHWM`` of /proc/<pid>/status) of
    every process under a running command, polled every ``every`` seconds.

    A check of Snakemake's benchmark files, whose ``max_rss`` is the largest of samples of
    the job's memory taken every 0.5 s for its first 15 s and every 30 s after that, so a
    peak between two samples is missed. A high-water mark only grows: the last poll before
    a process ends misses at most what its last ``every`` seconds added."""

    def __init__(self, pid: int, every: float = 0.2):
        import psutil

        self.root, self.every = psutil.Process(pid), every
        self.seen: dict[int, tuple[str, int]] = {}  # pid -> (command line, high-water mark in bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                procs = []
            for p in procs:
                try:
                    with open(f"/proc/{p.pid}/status") as fh:
                        hwm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))
                    cmd = self.seen[p.pid][0] if p.pid in self.seen else " ".join(p.cmdline())
                except (OSError, StopIteration, ValueError, psutil.Error):
                    continue
                self.seen[p.pid] = (cmd, max(hwm, self.seen.get(p.pid, ("", 0))[1]))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def of_step(self, step: str) -> float | None:
        """The largest high-water mark (MB) of the processes that ran ``step``'s script
        (Snakemake runs ``workflow/scripts/<step>.py`` as a copy ``.snakemake/scripts/tmp….<step>.py``)."""
        found = [hwm for cmd, hwm in self.seen.values() if re.search(rf"\.{step}\.py\b", cmd)]
        return max(found) / MB if found else None


def snakemake_watched(wd: Path, *args: str) -> tuple[float, str, Peaks]:
    """``snakemake --cores 1 args`` in ``wd``, its processes' memory watched (:class:`Peaks`);
    returns (wall seconds, its output, the peaks)."""
    with tempfile.TemporaryFile("w+") as out:
        t = time.perf_counter()
        proc = subprocess.Popen(
            [PYTHON, "-m", "snakemake", "--cores", "1", *args],
            cwd=wd,
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        peaks = Peaks(proc.pid)
        try:
            code = proc.wait()
        finally:
            peaks.stop()
        wall = time.perf_counter() - t
        out.seek(0)
        text = out.read()
    if code != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} failed in {wd} (exit {code}):\n{text[-4000:]}")
    return wall, text, peaks


def read_benchmark(path: Path) -> dict[str, float | None]:
    """A Snakemake benchmark file's last row by column (``s``, ``max_rss`` in MB, ``cpu_time``,
    ...); None where it says ``NA`` or holds no number."""
    header, *rows = path.read_text().splitlines()
    found: dict[str, float | None] = {}
    for name, value in zip(header.split("\t"), rows[-1].split("\t"), strict=True):
        try:
            found[name] = float(value)
        except ValueError:
            found[name] = None
    return found


def mb(x: float | None) -> str:
    return "NA" if x is None else f"{x:,.0f} MB"


def decode_seconds(log_text: str) -> float | None:
    """From a split log: the time from its ``decoding N images`` line to the line after the
    last image (the split's summary, once the scaling is fitted too), or None without one."""
    lines = [
        (datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f"), msg) for stamp, msg in LOG_LINE.findall(log_text)
    ]
    start = next((t for t, msg in lines if re.search(r"decoding \d+ images", msg)), None)
    end = next((t for t, msg in lines if start and t >= start and re.search(r"\d+ train / \d+ test$", msg)), None)
    return None if start is None or end is None else (end - start).total_seconds()


def pixel_cache(wd: Path) -> tuple[Path, dict[str, Any]]:
    """The one pixel cache of the run in ``wd`` and its description."""
    (pixels,) = (wd / layout.IMAGE_CACHE).glob("*.u8")
    return pixels, json.loads(pixels.with_suffix(".json").read_text())


def images_streamed(s: Settings, root: Path) -> dict[str, Any]:
    """Figure 10, memory: the whole workflow, streamed, on a folder of over 2 GB of pixels."""
    folder = root / "images-big"
    made = make_folder(folder, s.images_big)
    config = image_config(folder, True, 1)
    plan = plan_of(config)
    paths = image_paths(plan)
    wd = workdir(root / "images-big-run", config)
    say(f"figure 10: the whole workflow on {made['n']:,} images, streamed (`snakemake --cores 1`, 1 epoch)")
    wall, _, peaks = snakemake_watched(wd)
    pixels, meta = pixel_cache(wd)
    split = json.loads((wd / paths["split"]).read_text())
    evaluate = json.loads((wd / paths["evaluate"]).read_text())
    log = (wd / paths["log"]).read_text(errors="replace")
    if not re.search(r"\d+ samples streamed from", log):
        raise RuntimeError(f"{wd}: the train step did not stream its features")
    return {
        "made": made,
        "plan": plan,
        "wall": wall,
        "train": read_train(wd, paths),
        "train_bench": read_benchmark(wd / paths["benchmark"]),
        "evaluate_bench": read_benchmark(wd / paths["evaluate_benchmark"]),
        "train_hwm": peaks.of_step("train"),
        "evaluate_hwm": peaks.of_step("evaluate"),
        "split_hwm": peaks.of_step("split"),
        "split_seconds": split["run"]["seconds"],
        "decode_seconds": decode_seconds((wd / paths["split_log"]).read_text(errors="replace")),
        "n_train": split["outputs"]["split"]["arrays"]["train"]["shape"][0],
        "n_test": split["outputs"]["split"]["arrays"]["test"]["shape"][0],
        "predict_seconds": evaluate["run"]["predict_seconds"],
        "cache_bytes": pixels.stat().st_size,
        "cache_shape": [meta["n"], *meta["shape"]],
        "weights": json.loads((wd / paths["record"]).read_text())["outputs"]["weights"]["sha256"],
    }


@dataclasses.dataclass
class ImageRun:
    """One training of figure 10's second part."""

    train: TrainRun
    bench: dict[str, float | None]
    hwm: float | None
    weights: str  # the record's outputs.weights.sha256
    per_epoch: float  # seconds per epoch, the first (graph tracing) left out when there are others


def images_side_by_side(s: Settings, root: Path) -> dict[str, Any]:
    """Figure 10, time: streamed vs in memory on a folder that fits, trained alternately
    from one split and init (as figures 8 and 9 do)."""
    folder = root / "images-fit"
    made = make_folder(folder, s.images_fit)
    epochs = s.images_epochs
    configs = {"streamed": image_config(folder, True, epochs), "memory": image_config(folder, False, epochs)}
    plans = {side: plan_of(config) for side, config in configs.items()}
    paths = image_paths(plans["streamed"])
    template = workdir(root / "images-fit-template", configs["streamed"])
    snakemake(template, paths["init"])
    split = json.loads((template / paths["split"]).read_text())
    runs: dict[str, list[ImageRun]] = {side: [] for side in configs}
    say(
        f"figure 10: {made['n']:,} images, {epochs} epochs, streamed vs in memory, {s.images_reps} each "
        "(the order alternating)"
    )

    def side(name: str) -> Callable[[], float]:
        def fn() -> float:
            wd = train_in_copy(template, root / f"images-{name}-{len(runs[name])}", configs[name])
            _, out, peaks = snakemake_watched(wd, paths["record"])
            only_train_ran(out, wd)
            streamed = bool(re.search(r"\d+ samples streamed from", (wd / paths["log"]).read_text(errors="replace")))
            if streamed != (name == "streamed"):
                raise RuntimeError(f"{wd}: the {name} side {'did not stream' if not streamed else 'streamed'}")
            train = read_train(wd, paths)
            per_epoch = train.epochs / (epochs - 1) if epochs > 1 else train.trained
            rec = json.loads((wd / paths["record"]).read_text())
            bench = read_benchmark(wd / paths["benchmark"])
            weights = rec["outputs"]["weights"]["sha256"]
            runs[name].append(ImageRun(train, bench, peaks.of_step("train"), weights, per_epoch))
            shutil.rmtree(wd / layout.IMAGE_CACHE)  # a copy of the template's: 1/4 GB per training
            return per_epoch

        return fn

    t = alternate(s.images_reps, balanced=True, streamed=side("streamed"), memory=side("memory"))
    return {
        "made": made,
        "plans": plans,
        "epochs": epochs,
        "timing": t,
        "runs": runs,
        "n_train": split["outputs"]["split"]["arrays"]["train"]["shape"][0],
    }


def measure(s: Settings, root: Path) -> Result:
    big = images_streamed(s, root)
    fit = images_side_by_side(s, root)
    made, train = big["made"], big["train"]
    runs, t = fit["runs"], fit["timing"]
    rss = big["train_bench"]["max_rss"]
    peak = max(x for x in (rss, big["train_hwm"]) if x is not None) if rss or big["train_hwm"] else None
    ratio = t["streamed"].median / t["memory"].median
    rounds = [a.per_epoch / b.per_epoch for a, b in zip(runs["streamed"], runs["memory"], strict=True)]
    weights = {r.weights for rs in runs.values() for r in rs}
    outputs_same = all(r.train.outputs == runs["streamed"][0].train.outputs for rs in runs.values() for r in rs)
    identical = len(weights) == 1 and outputs_same
    gib = big["cache_bytes"] / (1 << 30)
    fit_made = fit["made"]
    h, w, c = made["shape"]

    def per_image(seconds: float, n: int) -> str:
        return f"{seconds / n * 1e6:.0f} µs per training image"

    def megabytes(values: list[float | None]) -> str:
        found = [x for x in values if x is not None]
        if not found:
            return "NA"
        if len(found) == 1:
            return f"{found[0]:,.0f} MB (1 run)"
        return f"{statistics.median(found):,.0f} MB ({min(found):,.0f}–{max(found):,.0f}, {len(found)} runs)"

    def side_rss(name: str) -> str:
        bench = megabytes([r.bench["max_rss"] for r in runs[name]])
        return f"{bench} (`max_rss`), {megabytes([r.hwm for r in runs[name]])} (VmHWM)"

    plan = big["plan"]
    figure = Figure(
        NUMBER,
        "Image folders: the train job's peak RSS streaming ≥ 2 GB of pixels; epoch time, streamed vs in memory",
        f"train peak RSS {mb(peak)} streaming {gib:.2f} GiB; epoch {ratio_text(ratio)} in-memory's",
        "< 1536 MB (1.5 GB); same weights",
        peak is not None and peak < RSS_TARGET and identical,
        [
            f"folder: {made['n']:,} generated JPEG images of {h}×{w}×{c} (tools/make_images.py, 2 classes; "
            f"{made['disk'] / MB:,.0f} MB on disk, made in {made['seconds']:.0f} s); pixel cache "
            f"{big['cache_bytes']:,} bytes = {gib:.2f} GiB (uint8, {' × '.join(map(str, big['cache_shape']))}); "
            f"`stream: true`",
            f"the whole workflow (`snakemake --cores 1`: split, init, train, evaluate, figures, summary, verify): "
            f"{big['wall']:.0f} s; split (record `run.seconds`: every file hashed, every image decoded into the "
            f"cache, the scaling fitted on the training split): {big['split_seconds']:.0f} s, of which "
            + (
                f"{big['decode_seconds']:.0f} s from its log's `decoding` line to its summary line"
                if big["decode_seconds"] is not None
                else "no decoding logged"
            )
            + f"; its peak RSS {mb(big['split_hwm'])} (VmHWM; split has no benchmark file)",
            f"train job: peak RSS {mb(rss)} (`max_rss` of its benchmark file), {mb(big['train_hwm'])} "
            f"(the kernel's high-water mark VmHWM of its Python process, polled every 0.2 s); "
            f"`max_uss` {mb(big['train_bench'].get('max_uss'))}; job wall time {big['train_bench']['s']:.0f} s; "
            f"1 epoch over {big['n_train']:,} training images: {train.trained:.0f} s up to its epoch's log line "
            f"(`run.fit_seconds` {train.fit:.0f} s) = {per_image(train.trained, big['n_train'])}",
            f"evaluate job ({big['n_test']:,} test images, streamed): peak RSS {mb(big['evaluate_bench']['max_rss'])} "
            f"(`max_rss`), {mb(big['evaluate_hwm'])} (VmHWM); prediction {big['predict_seconds']:.0f} s; "
            f"job wall time {big['evaluate_bench']['s']:.0f} s",
            f"a set that fits: {fit_made['n']:,} images of the same size ({fit_made['decoded'] / MB:,.0f} MB "
            f"decoded, {4 * fit_made['decoded'] / MB:,.0f} MB as float32 features), {fit['epochs']} epochs "
            f"over {fit['n_train']:,} training images, only the train job run, from one split and init; "
            f"time per epoch (from the first epoch's log line to the last's, over the epochs after the first): "
            f"streamed {t['streamed'].text()}, in memory {t['memory'].text()} → {ratio_text(ratio)} "
            f"({per_image(t['streamed'].median, fit['n_train'])} vs {per_image(t['memory'].median, fit['n_train'])}); "
            f"each round (the order alternating): " + ", ".join(ratio_text(r) for r in rounds),
            f"`run.fit_seconds` / {fit['epochs']}: streamed "
            f"{Timing([r.train.fit / fit['epochs'] for r in runs['streamed']]).text()}, in memory "
            f"{Timing([r.train.fit / fit['epochs'] for r in runs['memory']]).text()}",
            f"the train job's peak RSS on the set that fits: streamed {side_rss('streamed')}; "
            f"in memory {side_rss('memory')}",
            f"`outputs.weights.sha256` of all {sum(map(len, runs.values()))} trainings on the set that fits, "
            f"streamed and in memory: {', '.join(sorted(w.split(':')[-1][:12] + '…' for w in weights))} → identical: "
            f"{'yes' if identical else 'NO'} (every output checksum: {'the same' if outputs_same else 'DIFFERENT'})",
            f"model: CNN filters {IMAGE_MODEL['filters']}, dense {IMAGE_MODEL['dense']}, batch {IMAGE_BATCH}, "
            f"seed {plan.seeds[0]}; every other setting from the schema: scale "
            f"{plan.datasets[IMAGES]['scale']}, test fraction {plan.datasets[IMAGES]['test_fraction']}, "
            f"profile {plan.profile}, {plan.threads} thread(s); MB = 1024² bytes, as in Snakemake's benchmark "
            "files, which sample the job every 0.5 s for 15 s and every 30 s after",
        ],
    )
    return Result(figure)
