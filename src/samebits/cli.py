"""The ``samebits`` command line.

samebits verify [--results DIR] [--lock FILE] [--check] [--json]
samebits env [--json] [--exports [--profile P] [--threads N]]
samebits portability [--cpu CPU ...] [--cases A,B] [--json]
samebits lint [--config FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .compare import DEFAULT_ATOL, DEFAULT_RTOL
from .errors import SamebitsError

RECORD_GLOB = "**/*.record.json"


def _cmd_verify(args: argparse.Namespace) -> int:
    from .verify import verify

    result = verify(_records(args.results), args.lock, update_lock=not args.check, rtol=args.rtol, atol=args.atol)
    if args.json:
        print(json.dumps(result.as_dict(), indent=1, sort_keys=True))
    else:
        print("\n".join(result.lines()))
    return 0 if result.ok else 1


def _records(results: str) -> list[Path]:
    paths = sorted(Path(results).glob(RECORD_GLOB))
    if not paths:
        raise SamebitsError(f"no step records under {results}/ (run the workflow first)")
    return paths


def _cmd_accept(args: argparse.Namespace) -> int:
    from .verify import accept

    accepted = accept(
        _records(args.results),
        args.lock,
        reason=args.reason,
        step=args.step,
        experiment=args.experiment,
        seed=args.seed,
        everything=args.all,
    )
    for o in accepted:
        print(f"accepted {o.verdict:<24} {o.id}")
    print(f"lock {args.lock}: {len(accepted)} step(s) accepted, reason stored: {args.reason.strip()!r}")
    return 0


def _cmd_rebuild_lock(args: argparse.Namespace) -> int:
    from .verify import rebuild_lock

    if not args.yes:
        print(
            f"samebits: error: rebuild-lock replaces {args.lock} with the records of {args.results}/; "
            "add --yes to do it (the old file is kept as a .bak)",
            file=sys.stderr,
        )
        return 2
    n, backup = rebuild_lock(_records(args.results), args.lock)
    kept = f"; the old one is kept as {backup}" if backup else ""
    print(f"lock {args.lock}: rebuilt from {n} step records{kept}")
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    from .treediff import diff_trees, format_table

    result = diff_trees(args.a, args.b)
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
    else:
        print(format_table(result))
    return 0 if result["identical"] else 1


def _cmd_audit(args: argparse.Namespace) -> int:
    from .audit import audit, format_report

    result = audit(
        args.config,
        experiment=args.experiment,
        seed=args.seed,
        hazards=args.hazards,
        keep=args.keep,
        progress=None if args.json else (lambda line: print(line, file=sys.stderr, flush=True)),
    )
    print(json.dumps(result, indent=1, sort_keys=True) if args.json else format_report(result))
    return 0 if result["harmless_identical"] else 1


def _cmd_env(args: argparse.Namespace) -> int:
    from . import determinism, envinfo

    if args.check:
        from . import lock as lockmod

        lock = lockmod.read(args.lock)
        if not lock.environments:
            print(f"{args.lock}: no environment recorded yet")
            return 0
        workflow_vars = {k for p in determinism.PROFILES for k in determinism.process_env(p)}
        lines = envinfo.differences_from_lock(lock, ignore_variables=workflow_vars)
        deciding = [line for line in lines if not envinfo.is_context(line)]
        if not lines:
            print(f"this environment matches the one {args.lock} was made in")
            return 0
        if not deciding:
            print(f"this environment gives the bits of the one {args.lock} was made in; only context differs:")
            print("\n".join(f"  {line}" for line in lines))
            return 0
        print(f"this environment differs from the one {args.lock} was made in:")
        print("\n".join(f"  {line}" for line in lines))
        return 1
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


def _cmd_portability(args: argparse.Namespace) -> int:
    from . import emulation, portability

    result = portability.run(
        args.cpu or emulation.DEFAULT_CPUS,
        args.cases.split(",") if args.cases else None,
        profile=args.profile,
        jobs=args.jobs,
        progress=lambda line: print(f"samebits portability: {line}", file=sys.stderr, flush=True),
    )
    print(json.dumps(result, indent=1, sort_keys=True) if args.json else portability.format_table(result))
    return 0  # the table is the result; only errors exit non-zero


def _cmd_lint(args: argparse.Namespace) -> int:
    from .lint import lint_config

    warnings = lint_config(args.config)
    if args.json:
        print(json.dumps([w.as_dict() for w in warnings], indent=1, sort_keys=True))
    else:
        for w in warnings:
            print(f"samebits lint: warning: {w.message}")
        print(f"samebits lint: {args.config}: {len(warnings) or 'no'} portability warning(s)")
    return 1 if warnings else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samebits", description="Prove that a rerun gives the same bits.")
    parser.add_argument("--version", action="version", version=f"samebits {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("verify", help="compare the step records of a run with samebits.lock")
    p.add_argument("--results", default="results", help="results directory (default: results)")
    p.add_argument("--lock", default="samebits.lock", help="lock file (default: samebits.lock)")
    p.add_argument("--check", action="store_true", help="never write the lock, only report")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help=f"tolerance for drift (default {DEFAULT_RTOL})")
    p.add_argument("--atol", type=float, default=DEFAULT_ATOL, help=f"tolerance for drift (default {DEFAULT_ATOL})")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("accept", help="take drifted or diverged steps into the lock, with a reason")
    p.add_argument("--reason", required=True, help="why these results are accepted (stored in the lock)")
    p.add_argument("--step", choices=["split", "init", "train", "evaluate"], help="only this step")
    p.add_argument("--experiment", help="only this experiment (or data set, for split)")
    p.add_argument("--seed", type=int, help="only this seed")
    p.add_argument("--all", action="store_true", help="every drifted or diverged step")
    p.add_argument("--results", default="results", help="results directory (default: results)")
    p.add_argument("--lock", default="samebits.lock", help="lock file (default: samebits.lock)")
    p.set_defaults(func=_cmd_accept)

    p = sub.add_parser("rebuild-lock", help="replace an unreadable lock with one built from the current records")
    p.add_argument("--yes", action="store_true", help="really replace it (the old file is kept as a .bak)")
    p.add_argument("--results", default="results", help="results directory (default: results)")
    p.add_argument("--lock", default="samebits.lock", help="lock file (default: samebits.lock)")
    p.set_defaults(func=_cmd_rebuild_lock)

    p = sub.add_parser("diff", help="compare two result trees tensor by tensor (two machines, two runs)")
    p.add_argument("a", help="first results directory")
    p.add_argument("b", help="second results directory")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_diff)

    p = sub.add_parser("audit", help="run one chain twice, varying what must not matter; --hazards: what does")
    p.add_argument("--config", default="config/config.yaml", help="config file (default: config/config.yaml)")
    p.add_argument("--experiment", help="experiment to audit (default: the first)")
    p.add_argument("--seed", type=int, help="seed to audit (default: the first)")
    p.add_argument("--hazards", action="store_true", help="also flip threads, op determinism, ISA cap, oneDNN ops")
    p.add_argument("--keep", action="store_true", help="keep the scratch runs (their path is printed)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_audit)

    p = sub.add_parser("env", help="print this machine's environment fingerprint")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--exports", action="store_true", help="print the determinism variables as shell exports")
    p.add_argument("--profile", default="portable", help="determinism profile for --exports")
    p.add_argument("--threads", type=int, default=1, help="thread count for --exports")
    p.add_argument("--check", action="store_true", help="compare with the lock's environment; exit 1 if it differs")
    p.add_argument("--lock", default="samebits.lock", help="lock file for --check (default: samebits.lock)")
    p.set_defaults(func=_cmd_env)

    p = sub.add_parser("portability", help="which ops and layers give the same bits on other CPUs (emulated)")
    p.add_argument("--cpu", action="append", help="QEMU CPU model to emulate; repeat (default: Haswell, EPYC-Milan)")
    p.add_argument("--cases", help="comma-separated cases to run (default: all)")
    p.add_argument("--profile", default="portable", help="determinism profile (default: portable)")
    p.add_argument("--jobs", type=int, help="emulated CPUs run at once (default: one per core)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_portability)

    p = sub.add_parser("lint", help="warn about layers and settings that keep the bits from travelling to other CPUs")
    p.add_argument("--config", default="config/config.yaml", help="config file (default: config/config.yaml)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_lint)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SamebitsError as exc:
        print(f"samebits: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
