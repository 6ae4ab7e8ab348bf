"""Figure 16 (#28): the verdict page (results/verification.html) of a 1,000-step and a
10,000-step verification, each with one failed chain: its size, the time to write it, and the
time a real browser (Debian's chromium, headless) takes from navigation start to the laid-out
page."""

from __future__ import annotations

import time
from pathlib import Path

from tests.browser import chromium
from tests.browser.verdicts import verdict

from bench.harness import Figure, Timing, say
from bench.schedule import Need, Result
from bench.settings import Settings
from samebits.provenance import render

NUMBER = 16
NEEDS: tuple[Need, ...] = ()
PROVIDES: tuple[str, ...] = ()

#: The default run's chains copied to this many seeds: 1,004 and 10,013 steps.
SEEDS = (143, 1430)
SECONDS, BYTES = 1.0, 1_000_000
LOADS = 5

#: Forces the layout (a position asked for), then the time since navigation start.
_LAID_OUT = "document.body.getBoundingClientRect(); return performance.now();"


def measure(s: Settings, root: Path) -> Result:
    if chromium.executable() is None:
        raise RuntimeError(f"figure 16 opens the page in chromium, which is missing: {chromium.INSTALL}")
    rows, first = [], None
    loads = 1 if s.quick else LOADS
    for seeds in SEEDS[:1] if s.quick else SEEDS:
        v = verdict(seeds=seeds)
        t = time.perf_counter()
        page = render.html(v)
        written = time.perf_counter() - t
        say(f"figure 16: the verdict page of {len(v.outcomes):,} steps, {len(page.encode()):,} bytes, {loads} loads")
        shown = Timing([chromium.probe(page, _LAID_OUT, root) / 1000 for _ in range(loads)])
        size = len(page.encode())
        first = first or (size, shown.median)
        rows.append(
            f"{len(v.outcomes):,} steps ({sum(o.failing for o in v.outcomes)} failing): {size / 1e6:.3f} MB, written "
            f"in {written * 1000:.0f} ms (`render.html`); chromium, navigation start to the laid-out page: "
            f"{shown.text()}"
        )
    assert first is not None
    size, seconds = first
    figure = Figure(
        NUMBER,
        "The verdict page: size, and time to a laid-out page in a real browser",
        f"1,000 steps: {seconds:.2f} s, {size / 1e6:.2f} MB",
        f"1,000 steps: < {SECONDS:g} s in the browser and < {BYTES / 1e6:g} MB",
        seconds < SECONDS and size < BYTES,
        [
            *rows,
            "each verdict: the committed lock's records, their chains copied to more seeds, one chain's train step "
            "diverged from epoch 4 (tests/browser/verdicts.py); chromium "
            f"{chromium.WIDTH}×{chromium.HEIGHT}, headless, started for every load",
        ],
    )
    return Result(figure)
