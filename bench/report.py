"""The results file: the machine the benchmark ran on, the table of figures and their details."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

from bench.harness import PYTHON, REPO, Figure, run


def machine() -> list[str]:
    from samebits.provenance.cpu import cpu_info
    from samebits.provenance.fingerprint import fingerprint

    cpu = cpu_info()
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / (1 << 20):.1f} GiB"
    except OSError:
        pass
    pk = fingerprint()["packages"]
    sm = run([PYTHON, "-m", "snakemake", "--version"], REPO)[1].strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    at = f"; samebits at commit {commit.stdout.strip()}" if commit.returncode == 0 else ""
    return [
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}{at}",
        f"- CPU: {cpu['vendor']} {cpu['model']}, {os.cpu_count()} cores visible; memory {mem}",
        f"- OS: {platform.system()} {platform.release()}; Python {platform.python_version()}",
        f"- tensorflow {pk['tensorflow']}, keras {pk['keras']}, numpy {pk['numpy']}, snakemake {sm}",
        f"- load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


def render(figs: list[Figure], quick: bool, seconds: float) -> str:
    lines = [
        "# samebits benchmark results",
        "",
        "Made by `python -m bench.run`" + (" --quick (a tiny setting: numbers mean nothing)" if quick else "") + ".",
        "Each figure is a ratio of two things timed side by side in the same run (median, with",
        "min–max over the repetitions). bench/README.md says how each is measured.",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        "## Figures",
        "",
        "| # | what | measured | target | met |",
        "|---|---|---|---|---|",
    ]
    for f in figs:
        met = "—" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(f"| {f.number} | {f.title} | {f.measured} | {f.target} | {met} |")
    lines.append("")
    for f in figs:
        lines += [f"### {f.number}. {f.title}", ""]
        lines += [f"- {d}" for d in f.details]
        lines.append("")
    lines.append(f"The benchmark took {seconds / 60:.1f} min.")
    return "\n".join(lines) + "\n"
