"""The ``samebits`` command line.

Every command that needs the configuration (the lock's path, the tolerance, which records
make up the run, the determinism settings) reads it through the same plan as the workflow
(:class:`samebits.plan.Plan`, from ``--config``, by default the workflow's own file), so the
command and the workflow cannot disagree. Exit status: 0 as expected, 1 for a finding
(a failed verification, differing trees, a portability warning; lint's unmeasured pieces
are not findings), 2 for an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__, scaffold
from .core import layout
from .core.errors import SamebitsError
from .plan import Plan

__all__ = ["main"]


def _records(plan: Plan) -> list[str]:
    """The records of the plan's run, which must all be there (run the workflow first)."""
    paths = plan.all_records()
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise SamebitsError(
            f"{len(missing)} of the run's {len(paths)} step records are missing ({shown}); run the workflow first"
        )
    return paths


def _cmd_verify(args: argparse.Namespace) -> int:
    from .provenance import render
    from .provenance.verify import verify

    plan = Plan.load(args.config)
    result = verify(
        _records(plan), plan.lock, rtol=plan.rtol, atol=plan.atol, update_lock=not args.check, root=plan.layout.root
    )
    if args.json:
        print(json.dumps(render.as_json(result), indent=1, sort_keys=True))
    else:
        print("\n".join(render.terminal(result)))
    return 0 if result.ok else 1


def _cmd_accept(args: argparse.Namespace) -> int:
    from .provenance.verify import accept

    plan = Plan.load(args.config)
    accepted = accept(
        _records(plan),
        plan.lock,
        reason=args.reason,
        rtol=plan.rtol,
        atol=plan.atol,
        step=args.step,
        experiment=args.experiment,
        seed=args.seed,
        everything=args.all,
    )
    for o in accepted:
        print(f"accepted {o.verdict:<24} {o.id}")
    print(f"lock {plan.lock}: {len(accepted)} step(s) accepted, reason stored: {args.reason.strip()!r}")
    return 0


def _cmd_rebuild_lock(args: argparse.Namespace) -> int:
    from .provenance.verify import rebuild_lock

    plan = Plan.load(args.config)
    if not args.yes:
        print(
            f"samebits: error: rebuild-lock replaces {plan.lock} with the records of this run; "
            "add --yes to do it (the old file is kept as a .bak)",
            file=sys.stderr,
        )
        return 2
    n, backup = rebuild_lock(_records(plan), plan.lock)
    kept = f"; the old one is kept as {backup}" if backup else ""
    print(f"lock {plan.lock}: rebuilt from {n} step records{kept}")
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    from .diagnostics.treediff import diff_trees, format_table

    result = diff_trees(args.a, args.b)
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
    else:
        print(format_table(result), end="")
    return 0 if result["identical"] else 1


def _cmd_audit(args: argparse.Namespace) -> int:
    from .diagnostics.audit import audit, format_report

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
    from .provenance import fingerprint

    if args.check:
        from .provenance import lock as lockmod

        plan = Plan.load(args.config)
        lock = lockmod.read(plan.lock)
        if not lock.environments:
            print(f"{plan.lock}: no environment recorded yet")
            return 0
        found = fingerprint.differences_from_lock(lock.environments.values(), ignore_variables=plan.process_env())
        lines = "\n".join(f"  {d}" for d in found)
        if not found:
            print(f"this environment matches the one {plan.lock} was made in")
            return 0
        if not any(d.deciding for d in found):
            print(f"this environment gives the bits of the one {plan.lock} was made in; only context differs:")
            print(lines)
            return 0
        print(f"this environment differs from the one {plan.lock} was made in:")
        print(lines)
        return 1
    if args.exports:
        for key, value in Plan.load(args.config).process_env().items():
            print(f"export {key}={value}")
        return 0
    fp = fingerprint.fingerprint()
    if args.json:
        print(json.dumps(fp, indent=1, sort_keys=True))
        return 0
    width = max(12, *(len(name) + 1 for name in fp["packages"]))
    print(f"{'python':<{width}}{fp['python']['version']} ({fp['python']['implementation']})")
    for name, version in fp["packages"].items():
        print(f"{name:<{width}}{version or 'not installed'}")
    cpu = fp["cpu"]
    print(f"{'cpu':<{width}}{cpu['vendor']} {cpu['model']} ({cpu['machine']}, {len(cpu['flags'])} flags)")
    print(f"{'os':<{width}}{fp['os']['system']} {fp['os']['libc']}")
    for name, value in fp["variables"].items():
        print(f"{name:<24}{'(unset)' if value is None else value}")
    return 0


def _cmd_portability(args: argparse.Namespace) -> int:
    from .diagnostics import emulation, hosts, portability

    plan = Plan.load(args.config)
    if args.record and not args.hosts:
        raise SamebitsError("--record writes this host's record of a native run: give it with --hosts")
    if args.hosts and args.cpu:
        raise SamebitsError("--hosts runs the cases natively only; --cpu chooses emulated CPUs: give one of them")
    folder = Path(args.hosts_dir) if args.hosts_dir else hosts.HOSTS_DIR
    records = hosts.read_hosts(folder) if args.hosts else {}  # a broken record stops before the run
    result = portability.run(
        [] if args.hosts else (args.cpu or emulation.DEFAULT_CPUS),
        args.cases.split(",") if args.cases else None,
        profile=args.profile or plan.profile,
        threads=plan.threads,
        op_determinism=plan.op_determinism,
        jobs=args.jobs,
        timeout=portability.DEFAULT_TIMEOUT if args.timeout is None else args.timeout,
        progress=lambda line: print(f"samebits portability: {line}", file=sys.stderr, flush=True),
    )
    if args.hosts:
        cases = {r["case"]: r["native"] for r in result["cases"] if r["native"]}
        here = hosts.record(result, commit=_git_head())
        if args.json:
            print(json.dumps({"host": here, "compared": hosts.compare(cases, records)}, indent=1, sort_keys=True))
        else:
            name = hosts.file_name(here["host"])
            here_name = f"{name} ({here['host']['model_name']})"
            print(hosts.format_comparison(cases, records, here=here_name, folder=folder))
        if args.record:
            path = hosts.write(here, folder)
            print(f"samebits portability: wrote this host's record {path}", file=sys.stderr)
        return 0
    print(json.dumps(result, indent=1, sort_keys=True) if args.json else portability.format_table(result))
    return 0  # the table is the result; only errors exit non-zero


def _git_head() -> str | None:
    """The commit of the samebits checkout this runs from, if it is one."""
    import subprocess

    from .diagnostics.hosts import HOSTS_DIR

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=HOSTS_DIR.parents[2], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _cmd_lint(args: argparse.Namespace) -> int:
    from .diagnostics.lint import lint

    report = lint(Plan.load(args.config))
    if args.json:
        print(json.dumps(report.as_dict(), indent=1, sort_keys=True))
    else:
        for w in report.warnings:
            print(f"samebits lint: warning: {w.message}")
        for u in report.unmeasured:
            print(f"samebits lint: unmeasured: {u.message}")
        n_warnings = len(report.warnings)
        if not report.unmeasured:
            print(f"samebits lint: {args.config}: {n_warnings or 'no'} portability warning(s)")
        else:
            n_pieces = sum(len(u.pieces) for u in report.unmeasured)
            print(
                f"samebits lint: {args.config}: {n_warnings} portability warning(s); {n_pieces} unmeasured "
                f"piece(s) in {len(report.unmeasured)} experiment(s), whose portability is unknown"
            )
    return 1 if report.warnings else 0  # unmeasured pieces are not findings: nothing was found


def _cmd_init(args: argparse.Namespace) -> int:
    repo = args.repo or scaffold.installed_repo()
    if repo is None:
        print(
            "samebits: error: init needs --repo OWNER/NAME, the GitHub repository of samebits' workflow "
            "(e.g. --repo samebits/samebits): the installed library was not installed from a GitHub URL, "
            "so it does not say",
            file=sys.stderr,
        )
        return 2
    repo = scaffold.check_repo(repo, where="--repo")
    tag = scaffold.check_tag(args.tag, where="--tag")
    written = scaffold.init(args.dir, repo=repo, tag=tag)
    where = "this folder" if Path(args.dir).resolve() == Path.cwd() else args.dir
    print(
        f"samebits init: wrote {len(written)} files in {where}, a paper repository using samebits' workflow "
        f"from https://github.com/{repo} at {tag}:"
    )
    for path in written:
        print(f"  {path}")
    print(f"next, in {where}:")
    for line in scaffold.next_steps(repo=repo, tag=tag):
        print(f"  {line}")
    return 0


def _config_option(p: argparse.ArgumentParser, uses: str = "the lock, the tolerance and the run's records") -> None:
    p.add_argument(
        "--config",
        default=layout.CONFIG_FILE,
        help=f"the workflow's configuration, alone, as `snakemake --configfile` runs it (default: "
        f"{layout.CONFIG_FILE}); {uses} come from it",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samebits", description="Prove that a rerun gives the same bits.")
    parser.add_argument("--version", action="version", version=f"samebits {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("verify", help="compare the step records of a run with the lock")
    _config_option(p)
    p.add_argument("--check", action="store_true", help="never write the lock, only report")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("accept", help="take drifted, diverged or edited steps into the lock, with a reason")
    _config_option(p)
    p.add_argument("--reason", required=True, help="why these results are accepted (stored in the lock)")
    p.add_argument("--step", choices=layout.STEPS, help="only this step")
    p.add_argument("--experiment", help="only this experiment (or data set, for split)")
    p.add_argument("--seed", type=int, help="only this seed")
    p.add_argument("--all", action="store_true", help="every drifted, diverged or edited step")
    p.set_defaults(func=_cmd_accept)

    p = sub.add_parser("rebuild-lock", help="replace an unreadable lock with one built from the current records")
    _config_option(p)
    p.add_argument("--yes", action="store_true", help="really replace it (the old file is kept as a .bak)")
    p.set_defaults(func=_cmd_rebuild_lock)

    p = sub.add_parser("diff", help="compare two result trees tensor by tensor (two machines, two runs)")
    p.add_argument("a", help="first results directory")
    p.add_argument("b", help="second results directory")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_diff)

    p = sub.add_parser("audit", help="run one chain twice, varying what must not matter; --hazards: what does")
    _config_option(p, "the experiments and the determinism settings")
    p.add_argument("--experiment", help="experiment to audit (default: the first)")
    p.add_argument("--seed", type=int, help="seed to audit (default: the first)")
    p.add_argument("--hazards", action="store_true", help="also flip threads, op determinism, ISA cap, oneDNN ops")
    p.add_argument("--keep", action="store_true", help="keep the scratch runs (their path is printed)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_audit)

    p = sub.add_parser("env", help="print this machine's environment fingerprint")
    _config_option(p, "the determinism settings (--exports) and the lock (--check)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--exports", action="store_true", help="print the configuration's determinism variables as exports")
    p.add_argument("--check", action="store_true", help="compare with the lock's environment; exit 1 if it differs")
    p.set_defaults(func=_cmd_env)

    p = sub.add_parser("portability", help="which ops and layers give the same bits on other CPUs (emulated)")
    _config_option(p, "the determinism profile")
    p.add_argument("--cpu", action="append", help="QEMU CPU model to emulate; repeat (default: Haswell, EPYC-Milan)")
    p.add_argument("--cases", help="comma-separated cases to run (default: all)")
    p.add_argument("--profile", help="determinism profile (default: the configuration's)")
    p.add_argument("--jobs", type=int, help="emulated CPUs run at once (default: one per core)")
    p.add_argument(
        "--timeout",
        type=float,
        help="seconds a probe process may take to start or to run one case before it is stopped and the case "
        "counts as failed (default: 600)",
    )
    p.add_argument(
        "--hosts",
        action="store_true",
        help="run the cases natively only (no emulation) and compare them with every committed host record "
        "(docs/portability/hosts/)",
    )
    p.add_argument("--record", action="store_true", help="with --hosts: also write this host's record there")
    p.add_argument("--hosts-dir", help="the folder of host records (default: the repository's docs/portability/hosts)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_portability)

    p = sub.add_parser("lint", help="warn about layers and settings that keep the bits from travelling to other CPUs")
    _config_option(p, "the experiments, their models and the determinism settings")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_lint)

    p = sub.add_parser("init", help="write a new paper repository that uses samebits' workflow as a Snakemake module")
    p.add_argument(
        "dir", metavar="DIR", help="the folder to write it in (created if missing; no file in it is overwritten)"
    )
    p.add_argument(
        "--repo",
        metavar="OWNER/NAME",
        help="samebits' GitHub repository (default: the one this library was installed from, if a GitHub URL)",
    )
    p.add_argument(
        "--tag",
        default=scaffold.default_tag(),
        help=f"the workflow's release tag (default: {scaffold.default_tag()}, the installed library's release)",
    )
    p.set_defaults(func=_cmd_init)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SamebitsError as exc:
        print(f"samebits: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
