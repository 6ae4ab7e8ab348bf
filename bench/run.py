"""The samebits benchmark: what reproducibility costs, measured against the bare tools.

    python -m bench.run                  # the full benchmark (about 30 min), writes bench/RESULTS.md
    python -m bench.run --quick --out X  # a tiny setting (about 3 min): checks that it runs (figures 1-7)
    python -m bench.run --only 1,5       # some figures only

Run from the repository root. Every figure is a ratio of two things timed side by side in
this one run (several repetitions, alternating, median and min-max), so a noisy machine moves
both sides alike. Each figure is a module of bench/figures/ (``fNN_<name>.py``), whose
docstring says what it compares.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import schedule
from bench.figures import FIGURES
from bench.harness import REPO, say
from bench.report import render
from bench.settings import settings

#: Figures ``--quick`` leaves out unless ``--only`` names them: even tiny, the five train
#: jobs of 8 and 9 take about a minute, and 10's and 12–15's workflows and trainings about as
#: long (``--quick --only 8,9,10,12,13,14,15`` runs them); 16 opens its page in chromium,
#: which a machine may not have (tests/browser says how to install it).
NOT_QUICK = {8, 9, 10, 12, 13, 14, 15, 16}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description="Benchmark samebits against bare Snakemake and a plain script."
    )
    p.add_argument("--quick", action="store_true", help="tiny setting (checks that the benchmark runs)")
    p.add_argument("--only", help="comma-separated figure numbers (default: all)")
    p.add_argument("--out", default=str(REPO / "bench" / "RESULTS.md"), help="results file")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = p.parse_args(argv)
    s = settings(args.quick)
    numbers = {f.NUMBER for f in FIGURES}
    if args.only:
        wanted = {int(x) for x in args.only.split(",")}
        if unknown := sorted(wanted - numbers):
            p.error(f"--only: no figure {unknown}; the figures are {sorted(numbers)}")
    else:
        wanted = numbers - (NOT_QUICK if args.quick else set())
    figures = schedule.choose(FIGURES, wanted)  # with what they need: figure 2 brings figure 1
    root = Path(tempfile.mkdtemp(prefix="samebits-bench-"))
    say(f"scratch directory {root}")
    t0 = time.perf_counter()
    try:
        figs = schedule.measure(figures, s, root)
    finally:
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    figs.sort(key=lambda f: f.number)
    text = render(figs, args.quick, time.perf_counter() - t0)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
