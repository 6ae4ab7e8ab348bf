"""Copy the pins of requirements.txt (the one source) into the conda environment files.

    python tools/sync_pins.py

Rewrites the ``pip:`` list of environment.yml and workflow/envs/*.yaml, keeping each file's
last entry (the install of samebits itself) and everything else as it is.
tests/unit/test_pins.py fails when they disagree.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^[A-Za-z0-9_.-]+==\S+$")


def main() -> None:
    pins = [line for line in (REPO / "requirements.txt").read_text().splitlines() if PIN.match(line)]
    for path in [REPO / "environment.yml", *sorted((REPO / "workflow" / "envs").glob("*.yaml"))]:
        lines = path.read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:") + 1
        end = start
        while end < len(lines) and PIN.match(lines[end].strip().removeprefix("- ")):
            end += 1
        lines[start:end] = [f"      - {pin}" for pin in pins]
        path.write_text("\n".join(lines) + "\n")
        print(f"{path.relative_to(REPO)}: {len(pins)} pins")


if __name__ == "__main__":
    main()
