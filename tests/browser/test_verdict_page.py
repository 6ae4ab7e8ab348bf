"""The verdict page (results/verification.html), opened in a real headless browser: a failed
step on the first screen of a 1,000-step verdict, differing checksums shown differently, the
per-epoch figure's mark on the first differing epoch. Beside them, without a browser: its
size at 1,000 steps, its bytes stable, nothing fetched, and the same facts as the terminal
verdict and verification.md. (How fast it renders is a bench figure: bench/README.md.)"""

from __future__ import annotations

import re

import pytest

from samebits.provenance import render
from samebits.provenance.identity import step_id
from tests.browser import chromium
from tests.browser.verdicts import DIVERGED, FIRST_EPOCH, verdict

#: The default run's chains copied to 143 seeds: 1,004 steps.
SEEDS = 143

TRAIN = step_id("train", *DIVERGED)


@pytest.fixture(scope="module")
def big():
    return verdict(seeds=SEEDS)


@pytest.fixture(scope="module")
def big_page(big):
    return render.html(big)


def test_a_failed_step_is_on_the_first_screen_of_a_1000_step_verdict(big, big_page, tmp_path):
    assert len(big.outcomes) >= 1000
    found = chromium.probe(
        big_page,
        """
        const card = document.querySelector('article.step.failing');
        const r = card.getBoundingClientRect();
        const fold = document.querySelector('details.fold-identical');
        const hidden = [...fold.querySelectorAll('code')].every(c => !c.checkVisibility());
        return {banner: document.getElementById('verdict').innerText, top: r.top, height: innerHeight,
                id: card.querySelector('h3 code').innerText, status: card.querySelector('.status').innerText,
                fold: fold.querySelector('summary').innerText, open: fold.open, hidden: hidden,
                chain: document.querySelector('ol.chain li').innerText};
        """,
        tmp_path,
    )
    assert found["banner"].startswith("FAILED"), found
    assert found["id"] == TRAIN and found["status"] == "DIVERGED", found
    assert 0 <= found["top"] < found["height"] - 60, f"the failed step starts below the first screen: {found}"
    assert found["fold"] == f"{len(big.outcomes) - 2} identical steps" and not found["open"] and found["hidden"]
    assert found["chain"].startswith(f"{DIVERGED[0]} seed {DIVERGED[1]}: train DIVERGED → evaluate DIVERGED")


def test_two_checksums_that_differ_are_shown_differently(tmp_path):
    v = verdict()
    (train,) = [o for o in v.outcomes if o.id == TRAIN]
    (history,) = [d for d in train.outputs if d["output"] == "history"]
    assert history["expected"][:23] == history["found"][:23]  # the same first 16 hex digits
    found = chromium.probe(
        render.html(v),
        f"""
        const row = [...document.querySelectorAll('#{render._anchor(TRAIN)} table.sums tr')]
            .find(tr => tr.cells[0].innerText === 'history');
        const [lock, run] = [row.cells[1], row.cells[2]];
        const mark = c => c.querySelector('mark');
        return {{lock: lock.innerText, run: run.innerText,
                 same: [lock.querySelector('.same').innerText, run.querySelector('.same').innerText],
                 marked: [mark(lock).innerText, mark(run).innerText],
                 width: mark(run).getBoundingClientRect().width,
                 colours: [getComputedStyle(run.querySelector('.same')).color, getComputedStyle(mark(run)).color]}};
        """,
        tmp_path,
    )
    assert found["lock"] == history["expected"] and found["run"] == history["found"], found
    assert found["lock"] != found["run"]
    assert found["same"] == [history["found"][:23]] * 2  # shared up to the digit where they part …
    assert found["marked"] == [history["expected"][23:], history["found"][23:]]  # … and marked from there
    assert found["width"] > 0 and found["colours"][0] != found["colours"][1], found


def test_the_epoch_figure_marks_the_first_differing_epoch(tmp_path):
    v = verdict()
    (train,) = [o for o in v.outcomes if o.id == TRAIN]
    epochs = len(train.epoch_weights[1])
    assert train.first_epoch == FIRST_EPOCH < epochs
    found = chromium.probe(
        render.html(v),
        f"""
        const svg = document.querySelector('#{render._anchor(TRAIN)} svg.epochs');
        const box = e => e.getBoundingClientRect();
        const rects = [...svg.querySelectorAll('rect')].map(r => ({{cls: r.getAttribute('class'), x: box(r).left,
            right: box(r).right, y: box(r).top}}));
        return {{line: box(svg.querySelector('line.first')).left + box(svg.querySelector('line.first')).width / 2,
                 label: svg.querySelector('.first-label').textContent, rects: rects,
                 ticks: [...svg.querySelectorAll('text.tick')].map(t => t.textContent)}};
        """,
        tmp_path,
    )
    lanes = sorted({r["y"] for r in found["rects"]})
    assert len(lanes) == 2, found  # the lock's, and this run's
    run = [r for r in found["rects"] if r["y"] == lanes[1]]
    same, differs = [r for r in run if r["cls"] == "same"], [r for r in run if r["cls"] == "differs"]
    assert len(same) == 1 and len(differs) == 1, found
    cell = (differs[0]["right"] - same[0]["x"]) / epochs
    assert abs(differs[0]["x"] - (same[0]["x"] + (FIRST_EPOCH - 1) * cell)) < 0.5  # this run differs from epoch 4 …
    assert abs(found["line"] - differs[0]["x"]) < 1.5, found  # … and the mark stands there
    assert found["label"] == f"weights first differ after epoch {FIRST_EPOCH}" and str(FIRST_EPOCH) in found["ticks"]


def test_a_passed_verdict_reads_passed_with_every_step_folded(tmp_path):
    v = verdict(diverge=())
    found = chromium.probe(
        render.html(v),
        """
        return {banner: document.getElementById('verdict').innerText,
                cards: document.querySelectorAll('article').length,
                fold: document.querySelector('details.fold-identical summary').innerText};
        """,
        tmp_path,
    )
    assert found == {
        "banner": "PASSED: 24/24 steps identical: every step reproduced bit for bit",
        "cards": 0,
        "fold": "24 identical steps",
    }


def test_1000_steps_weigh_under_1_MB_even_when_every_chain_failed():
    everything = verdict(seeds=SEEDS, diverge=[(e, s) for s in range(SEEDS) for e in ("mlp", "cnn")])
    page = render.html(everything).encode()
    assert sum(o.failing for o in everything.outcomes) == 4 * SEEDS
    assert len(page) < 1_000_000, len(page)
    assert page.count(b"<article") == render.CARDS  # the rest a line each


def test_the_page_is_self_contained_and_byte_stable(big, big_page):
    assert render.html(verdict(seeds=SEEDS)) == big_page
    fetched = r"<script|<link|<img|<iframe|\bsrc=|url\(|@import|https?://(?!www\.w3\.org/2000/svg)"
    assert not re.search(fetched, big_page)
    assert len(big_page.encode()) < 1_000_000


def test_the_page_says_what_the_terminal_and_markdown_say(big, big_page):
    md, screen = render.markdown(big), "\n".join(render.terminal(big))
    text = re.sub(r"<[^>]+>", "", big_page)
    for o in render.ordered(big):
        for line in render.details(o, limit=None):
            assert line in md
        for d in o.outputs:  # in full on the page, shortened but different on screen
            assert d["expected"] in text and d["found"] in text
            a, b = render.checksum_pair(d["expected"], d["found"])
            assert f"expected {a} found {b}" in screen and a != b
        assert o.log and o.log in big_page and f"log: {o.log}" in screen
    for c in big.chains:
        assert " | ".join(render.chain_notes(c)) in screen


def test_a_drifted_step_shows_what_moved_and_the_environment_that_decides_the_bits():
    v = verdict(diverge=(), drift=[DIVERGED])
    (train,) = [o for o in v.outcomes if o.id == TRAIN]
    assert train.status == "drifted" and train.equivalent and v.ok
    page, screen = render.html(v), render.terminal(v)
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "environment.packages.tensorflow 2.21.0 2.99.0 yes" in text  # lock, this run, decides the bits
    assert "environment.packages.tensorflow 2.21.0 → 2.99.0" in "\n".join(screen)
    moved = {m["label"]: m for m in train.deltas}["weights dense_1/bias l2"]
    assert 1 <= moved["ulps"] <= 3  # the builder moved it by 3e-16, relative
    old, new = render._number(moved["old"]), render._number(moved["new"])
    assert f"weights dense_1/bias l2 {old} {new} {moved['delta']:.3g} {moved['ulps']} (float64) yes" in text
