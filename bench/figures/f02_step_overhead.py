"""Figure 2: per-step overhead (a TensorFlow step's wall time minus its own training or
prediction time) vs ``python -c "import tensorflow"``; steps that need no TensorFlow must not
load it. Read from figure 1's real run."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

from bench.figures.f01_noop import NoopRun
from bench.harness import PYTHON, Figure, Timing, alternate, glob_pattern, job_env, plan_of, ratio_text, run, say
from bench.schedule import Need, Result
from bench.settings import Settings
from samebits.core import layout

NUMBER = 2
# Figure 1's finished run of the workflow: choosing figure 2 chooses figure 1.
NEEDS: tuple[Need, ...] = (Need("noop_run"),)
PROVIDES: tuple[str, ...] = ()

#: The steps that run a model and so import TensorFlow; split, figures, summary and verify must not.
MODEL_STEPS = layout.CHAIN_STEPS[1:]


def tf_loaded_by_step(wd: Path) -> dict[str, set[bool]]:
    """Which steps of the run in ``wd`` loaded TensorFlow, from the last line every step
    writes to its log (each step's logs found by its layout pattern)."""
    found: dict[str, set[bool]] = {}
    for step, files in layout.FILES.items():
        for log in sorted(wd.glob(glob_pattern(files.log))):
            m = re.search(r"tensorflow (loaded|not loaded)", log.read_text(errors="replace"))
            if m:
                found.setdefault(step, set()).add(m.group(1) == "loaded")
    return found


def measure(s: Settings, root: Path, *, noop_run: NoopRun) -> Result:
    ours = noop_run.workdir
    say("figure 2: per-step overhead vs `python -c 'import tensorflow'`")
    plan = plan_of(s.noop_config)
    env = job_env(plan)

    def import_tf() -> float:
        return run([PYTHON, "-c", "import tensorflow"], ours, env)[0]

    base = alternate(s.reps, tf=import_tf)["tf"]
    overheads: dict[str, list[float]] = {}
    for step in MODEL_STEPS:
        for experiment in plan.experiments:
            for seed in plan.seeds:
                rec = json.loads((ours / layout.record(step, experiment=experiment, seed=seed)).read_text())
                bench_file = ours / layout.FILES[step].benchmark.format(experiment=experiment, seed=seed)
                wall = float(bench_file.read_text().splitlines()[-1].split("\t")[0])
                own = rec["run"].get("fit_seconds", 0.0) + rec["run"].get("predict_seconds", 0.0)
                overheads.setdefault(step, []).append(wall - own)
    worst = max(statistics.median(v) for v in overheads.values()) / base.median
    loaded = tf_loaded_by_step(ours)
    no_tf_steps = sorted(k for k, v in loaded.items() if v == {False})
    tf_steps = sorted(k for k, v in loaded.items() if True in v)
    wrong = sorted(set(tf_steps) - set(MODEL_STEPS))
    details = [f'`python -c "import tensorflow"`: {base.text()}']
    for step, values in overheads.items():
        own = {"train": "training", "evaluate": "prediction"}.get(step, "work")
        details.append(
            f"{step}: job wall minus own {own} time: {Timing(values).text()}"
            f" → {statistics.median(values) / base.median:.2f}× the import"
        )
    details.append(f"steps that loaded TensorFlow: {', '.join(tf_steps)}; steps that did not: {', '.join(no_tf_steps)}")
    figure = Figure(
        NUMBER,
        "Per-step overhead of a TensorFlow step vs importing TensorFlow",
        f"{ratio_text(worst)} (worst step kind)",
        "≤ 1.25×; no TensorFlow in steps that need none",
        worst <= 1.25 and not wrong,
        details,
    )
    return Result(figure)
