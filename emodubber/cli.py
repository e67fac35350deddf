"""The ``emodubber`` command: ``reproduce`` here; other sub-commands register from their packages.

Each part of the package that offers a sub-command has a module in :data:`SUBCOMMAND_MODULES` with a
``register(subparsers)`` function that adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit code). User errors (bad paths, bad configs) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from emodubber import __version__
from emodubber.config import ConfigError
from emodubber.tools import MissingToolError

#: Modules that add sub-commands (``prepare``, ``train``, ``evaluate``, ``dub`` ...), if present.
SUBCOMMAND_MODULES = ("emodubber.data.cli", "emodubber.train.cli", "emodubber.metrics.cli", "emodubber.dub")

#: Errors that mean "the user asked for something that cannot work": one line, exit code 2.
USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, MissingToolError, FileNotFoundError)


def _reproduce(args: argparse.Namespace) -> int:
    from emodubber.reports.suite import SuiteError, parse_params, run_suite

    try:
        run_suite(args.profile, only=args.only, start=args.start, kernel=args.kernel,
                  params=parse_params(args.param or []))
    except SuiteError as e:
        print(f"emodubber reproduce: {e}", file=sys.stderr)
        return 1
    return 0


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
    r.set_defaults(func=_reproduce)

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
