"""Figure 11: training time of a small CNN with BatchNormalization, fit with RMSprop, under the
portable profile (oneDNN capped at AVX2, and samebits.ml.exact's kernels in place of
TensorFlow's approximate rsqrt and of Grappler's rsqrt rewrite) vs the native profile
(TensorFlow's own kernels, oneDNN uncapped). On a host whose best level is AVX2 the cap changes
nothing, so the ratio is the exact kernels' cost; on an AVX-512 host it includes the cap's
(figure 7)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from bench.harness import Figure, alternate, clean_env, ratio_text, run, say
from bench.schedule import Need, Result
from bench.settings import Settings

NUMBER = 11
NEEDS: tuple[Need, ...] = ()
PROVIDES: tuple[str, ...] = ()
TARGET = 1.10
#: The training each side runs, in a process of its own.
SCRIPT = Path(__file__).resolve().parents[1] / "bn_train.py"


def measure(s: Settings, root: Path) -> Result:
    from samebits.ml import determinism
    from samebits.provenance.cpu import isa_level

    size = s.exact_kernels
    say(f"figure 11: portable vs native, a CNN with BatchNormalization and RMSprop, {size['reps']} each")
    found: dict[str, list[dict]] = {determinism.PORTABLE: [], "native": []}

    def side(profile: str) -> Callable[[], float]:
        env = clean_env(determinism.process_env(profile=profile, threads=1, op_determinism=True))

        def fn() -> float:
            out = root / f"bn-{profile}-{len(found[profile])}.json"
            cmd = [sys.executable, str(SCRIPT), "--profile", profile, "--out", str(out)]
            cmd += ["--n", str(size["n"]), "--size", str(size["size"]), "--epochs", str(size["epochs"])]
            run(cmd, root, env)
            found[profile].append(json.loads(out.read_text()))
            return found[profile][-1]["fit_seconds"]

        return fn

    t = alternate(size["reps"], balanced=True, portable=side(determinism.PORTABLE), native=side("native"))
    r = t["portable"].median / t["native"].median
    same = {profile: len({f["weights_sha256"] for f in runs}) == 1 for profile, runs in found.items()}
    kernels = found[determinism.PORTABLE][0]["exact_kernels"]
    figure = Figure(
        NUMBER,
        "Exact kernels: a small CNN with BatchNormalization, fit with RMSprop, portable profile vs native",
        ratio_text(r),
        f"≤ {TARGET:.2f}×",
        r <= TARGET,
        [
            f"portable: {t['portable'].text()}; native: {t['native'].text()} (fit time; {size['n']} images of "
            f"{size['size']}×{size['size']}, {size['epochs']} epoch(s), batch 32, one thread)",
            f"host instruction-set level {isa_level()}; portable's exact kernels: {', '.join(kernels)}",
            "each profile gave the same weights in every run: "
            + ", ".join(f"{p} {'yes' if ok else 'NO'}" for p, ok in same.items()),
        ],
    )
    return Result(figure)
