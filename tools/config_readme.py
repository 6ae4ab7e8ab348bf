"""Write the parameter table of config/README.md from the configuration's schema
(workflow/schemas/config.schema.yaml, through ``samebits.config.schema.parameter_table``), in
place, between its two marker comments; the rest of the README is left as it is.

    .venv/bin/python tools/config_readme.py          # rewrite the table
    .venv/bin/python tools/config_readme.py --check  # exit 1 when the table is stale

Run it after editing the schema; tests/unit/test_config_readme.py fails when they disagree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from samebits.config.schema import parameter_table

README = Path(__file__).resolve().parents[1] / "config" / "README.md"
COMMAND = ".venv/bin/python tools/config_readme.py"
BEGIN = (
    "<!-- parameter table: generated from workflow/schemas/config.schema.yaml by "
    f"`{COMMAND}`; edit the schema's descriptions, not this table -->"
)
END = "<!-- end of parameter table -->"


def _bounds(readme: str) -> tuple[int, int]:
    """Where the text between the markers starts and ends in ``readme``."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1 or readme.index(BEGIN) > readme.index(END):
        raise ValueError(f"config/README.md: expected the line {BEGIN!r} once, then {END!r} once")
    return readme.index(BEGIN) + len(BEGIN), readme.index(END)


def table_in(readme: str) -> str:
    """The parameter table as ``readme`` has it."""
    start, end = _bounds(readme)
    return readme[start:end].strip("\n") + "\n"


def with_table(readme: str, table: str) -> str:
    """``readme`` with ``table`` between the markers, a blank line either side (so that
    Markdown ends the table before the closing marker)."""
    start, end = _bounds(readme)
    return readme[:start] + "\n\n" + table.strip("\n") + "\n\n" + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when the table is stale")
    args = parser.parse_args(argv)
    readme = README.read_text(encoding="utf-8")
    fresh = with_table(readme, parameter_table())
    if fresh == readme:
        print(f"{README}: the parameter table is the schema's")
        return 0
    if args.check:
        print(f"{README}: the parameter table differs from the schema's; run {COMMAND}", file=sys.stderr)
        return 1
    README.write_text(fresh, encoding="utf-8")
    print(f"{README}: parameter table rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
