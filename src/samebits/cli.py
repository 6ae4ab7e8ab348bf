"""The ``samebits`` command line.

samebits verify [--results DIR] [--lock FILE] [--check] [--json]
samebits env [--json] [--exports [--profile P] [--threads N]]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .errors import SamebitsError

RECORD_GLOB = "**/*.record.json"


def _cmd_verify(args: argparse.Namespace) -> int:
    from .verify import verify

    paths = sorted(Path(args.results).glob(RECORD_GLOB))
    if not paths:
        print(f"samebits: error: no step records under {args.results}/ (run the workflow first)", file=sys.stderr)
        return 2
    result = verify(paths, args.lock, update_lock=not args.check)
    if args.json:
        print(json.dumps(result.as_dict(), indent=1, sort_keys=True))
    else:
        print("\n".join(result.lines()))
    return 0 if result.ok else 1


def _cmd_env(args: argparse.Namespace) -> int:
    from . import determinism, envinfo

    if args.exports:
        for key, value in determinism.process_env(args.profile, args.threads).items():
            print(f"export {key}={value}")
        return 0
    fp = envinfo.fingerprint()
    if args.json:
        print(json.dumps(fp, indent=1, sort_keys=True))
        return 0
    print(f"python      {fp['python']['version']} ({fp['python']['implementation']})")
    for name, version in fp["packages"].items():
        print(f"{name:<12}{version or 'not installed'}")
    cpu = fp["cpu"]
    print(f"cpu         {cpu['vendor']} {cpu['model']} ({cpu['machine']}, {len(cpu['flags'])} flags)")
    print(f"os          {fp['os']['system']} {fp['os']['libc']}")
    for name, value in fp["variables"].items():
        print(f"{name:<24}{'(unset)' if value is None else value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samebits", description="Prove that a rerun gives the same bits.")
    parser.add_argument("--version", action="version", version=f"samebits {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("verify", help="compare the step records of a run with samebits.lock")
    p.add_argument("--results", default="results", help="results directory (default: results)")
    p.add_argument("--lock", default="samebits.lock", help="lock file (default: samebits.lock)")
    p.add_argument("--check", action="store_true", help="never write the lock, only report")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("env", help="print this machine's environment fingerprint")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--exports", action="store_true", help="print the determinism variables as shell exports")
    p.add_argument("--profile", default="portable", help="determinism profile for --exports")
    p.add_argument("--threads", type=int, default=1, help="thread count for --exports")
    p.set_defaults(func=_cmd_env)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SamebitsError as exc:
        print(f"samebits: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
