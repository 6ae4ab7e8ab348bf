"""Figure 7: training time of the portable profile (oneDNN capped at AVX2) vs native, on
figure 3's medium workload run by the plain script."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from bench.harness import Figure, alternate, job_env, plan_of, ratio_text, run, say
from bench.medium import medium_config, plain_cmd
from bench.schedule import Need, Result
from bench.settings import Settings

NUMBER = 7
NEEDS: tuple[Need, ...] = ()
PROVIDES: tuple[str, ...] = ()


def measure(s: Settings, root: Path) -> Result:
    from samebits.ml import determinism

    say(f"figure 7: portable vs native profile, training time of the medium workload, {s.heavy_reps} each")
    fits: dict[str, list[float]] = {determinism.PORTABLE: [], "native": []}

    def side(profile: str) -> Callable[[], float]:
        plan = plan_of(medium_config(s, {"profile": profile}))
        env = job_env(plan)

        def fn() -> float:
            out = root / f"plain-{profile}-{len(fits[profile])}"
            run(plain_cmd(plan, out), root, env)
            fit = json.loads((out / "metrics.json").read_text())["fit_seconds"]
            fits[profile].append(fit)
            return fit

        return fn

    t = alternate(s.heavy_reps, portable=side(determinism.PORTABLE), native=side("native"))
    r = t["portable"].median / t["native"].median
    figure = Figure(
        NUMBER,
        "Portable profile (oneDNN capped at AVX2) vs native: training time of the medium workload",
        ratio_text(r),
        "informative",
        None,
        [f"portable: {t['portable'].text()}; native: {t['native'].text()}"],
    )
    return Result(figure)
