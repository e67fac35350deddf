"""The ``emodubber`` command: ``reproduce`` here; other sub-commands register from their packages.

Each part of the package that offers a sub-command has a module in :data:`SUBCOMMAND_MODULES` with a
``register(subparsers)`` function that adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit code). User errors (bad paths, bad configs) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from pathlib import Path

from emodubber import __version__
from emodubber.config import ConfigError
from emodubber.tools import MissingToolError

#: Modules that add sub-commands (``prepare``, ``train``, ``evaluate``, ``dub`` ...), if present.
SUBCOMMAND_MODULES = ("emodubber.data.cli", "emodubber.train.cli", "emodubber.metrics.cli", "emodubber.dub")

#: Errors that mean "the user asked for something that cannot work": one line, exit code 2.
USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, MissingToolError, FileNotFoundError)


def _reference(args: argparse.Namespace):
    from emodubber.config import load_profile, repo_root
    from emodubber.reports.verify import reference_dir

    cfg = load_profile(args.profile)
    ref = Path(args.reference) if args.reference else reference_dir(cfg.name, cfg.reports_dir, repo_root())
    return cfg, ref


def _reproduce(args: argparse.Namespace) -> int:
    from emodubber.reports.suite import SuiteError, parse_params, run_suite
    from emodubber.reports.verify import compare_reports, format_differences, snapshot_tables

    if args.combine_parts:
        from emodubber.reports.suite import combine_parts

        try:
            combine_parts(args.profile, since=args.since, allow_missing=args.allow_missing)
        except SuiteError as e:
            print(f"emodubber reproduce: {e}", file=sys.stderr)
            return 1
        return 0
    snapshot = None
    if args.check:
        cfg, ref = _reference(args)
        snapshot = snapshot_tables(ref, Path(tempfile.mkdtemp(prefix="emodubber-reference-")))
        if not any(snapshot.glob("*.csv")):
            raise FileNotFoundError(f"--check: {ref} holds no reference tables (*.csv)")
    try:
        run_suite(args.profile, only=args.only, start=args.start, kernel=args.kernel,
                  params=parse_params(args.param or []))
    except SuiteError as e:
        print(f"emodubber reproduce: {e}", file=sys.stderr)
        return 1
    if snapshot is not None:
        n, diffs = compare_reports(snapshot, cfg.reports_dir, args.atol, args.rtol)
        print(format_differences(n, diffs))
        return 1 if diffs else 0
    return 0


def _verify(args: argparse.Namespace) -> int:
    from emodubber.reports.verify import compare_reports, format_differences, snapshot_tables

    cfg, ref = _reference(args)
    if args.update:
        if ref.resolve() == cfg.reports_dir.resolve():
            raise FileNotFoundError(f"--update: {ref} is the reports folder itself; give --reference DIR")
        for p in ref.glob("*.csv"):
            p.unlink()
        snapshot_tables(cfg.reports_dir, ref)
        print(f"reference tables of {cfg.name!r} refreshed from {cfg.reports_dir} into {ref}")
        return 0
    n, diffs = compare_reports(ref, cfg.reports_dir, args.atol, args.rtol)
    print(format_differences(n, diffs))
    return 1 if diffs else 0


def _tolerance_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reference", metavar="DIR", help="reference tables (default: tests/fixtures/<profile>_reference "
                                                     "when it exists, else the committed reports/<profile>)")
    p.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance per cell (default 1e-6)")
    p.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance per cell (default 1e-6)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="emodubber", description="EmoDubber: emotion-controllable dubbing, reproduced.")
    p.add_argument("--version", action="version", version=f"emodubber {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("reproduce", help="run the notebook suite of nbconfig/suite.yaml with papermill")
    r.add_argument("--profile", default="cpu", help="smoke | cpu | paper | path to a profile YAML (default: cpu)")
    r.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks (name or number prefix)")
    r.add_argument("--from", dest="start", metavar="NAME", help="run from this notebook to the end")
    r.add_argument("--kernel", default="emodubber", help="Jupyter kernel (falls back to python3)")
    r.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="set a notebook parameter (YAML literal) in every selected notebook that declares it, "
                        "e.g. --only 02 03 --param REUSE=true re-reports trained stages without retraining")
    r.add_argument("--check", action="store_true",
                   help="compare every number of the new tables with the reference ones and print what differs "
                        "(exit 1 when something does)")
    r.add_argument("--combine-parts", action="store_true",
                   help="run nothing: write one run record (and the index) from the partial runs' records, e.g. of "
                        "notebooks run side by side with --only")
    r.add_argument("--since", metavar="ISO_TIME", help="with --combine-parts: only parts started at or after this")
    r.add_argument("--allow-missing", action="store_true",
                   help="with --combine-parts: write the record even if some notebooks did not run (status partial)")
    _tolerance_args(r)
    r.set_defaults(func=_reproduce)

    v = sub.add_parser("verify", help="compare reports/<profile>'s tables with the reference tables")
    v.add_argument("--profile", default="smoke", help="profile name (default: smoke)")
    v.add_argument("--update", action="store_true", help="copy reports/<profile>'s tables into the reference")
    _tolerance_args(v)
    v.set_defaults(func=_verify)

    for modname in SUBCOMMAND_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name == modname:  # that part of the package does not exist (yet)
                continue
            raise
        mod.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as e:
        print(f"emodubber {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
