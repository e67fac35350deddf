"""Run the notebook suite of ``nbconfig/suite.yaml`` with papermill, in order, for one profile.

Each notebook gets the profile's parameters injected (``PROFILE``, ``SEED``, ``WORK_DIR``,
``REPORTS_DIR`` plus the notebook's own ``parameters`` from ``suite.yaml``); executed copies go to
``reports/<profile>/executed/``; a run record (profile, seed, commit, machine, start/end, time per
notebook) is written beside them as ``run_record.json``. The first failure stops the run and names
the notebook and the cell. jupyter_client and ipykernel are imported when a kernel is looked up (heavy
third-party backends, needed only to run notebooks).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import yaml

from emodubber.config import ConfigError, load_profile, repo_root
from emodubber.reports.host import host_speed
from emodubber.reports.index import partial_reruns, write_reports_readme
from emodubber.reports.provenance import RunRecord, truncated_training
from emodubber.tools import require_module
from emodubber.utils import atomic_write_json

__all__ = ["SuiteEntry", "SuiteError", "load_suite", "load_budgets", "select", "run_suite", "suite_path", "artefact_table",
           "combine_parts", "pin_package_for_kernels"]


class SuiteError(RuntimeError):
    """A notebook of the suite failed; the message names the notebook and the cell."""


@dataclass
class SuiteEntry:
    """One notebook of ``suite.yaml``."""

    name: str
    path: str
    title: str = ""
    paper: str = ""  # the paper artefact it reproduces ("Table 4", "Figure 3", "—")
    issue: int | None = None
    produces: list[str] = field(default_factory=list)  # artefacts, relative to reports/<profile>/
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def abspath(self) -> Path:
        return repo_root() / self.path


def suite_path() -> Path:
    return repo_root() / "nbconfig" / "suite.yaml"


def load_suite(path: str | Path | None = None) -> list[SuiteEntry]:
    """Entries of ``suite.yaml`` in order; names must be unique."""
    path = Path(path) if path else suite_path()
    data = yaml.safe_load(path.read_text()) or {}
    entries = []
    for i, item in enumerate(data.get("notebooks", [])):
        try:
            entries.append(SuiteEntry(**item))
        except TypeError as e:
            raise ConfigError(f"{path}: notebook entry {i} is malformed ({e})") from None
    names = [e.name for e in entries]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ConfigError(f"{path}: duplicate notebook names {sorted(dup)}")
    return entries


def load_budgets(profile: str, path: str | Path | None = None) -> dict[str, Any]:
    """The wall-time budgets of ``profile`` from ``suite.yaml`` (``budgets: {profile: {suite: s, groups: {name:
    {notebooks: [...], seconds: s}}}}``); empty when none is set."""
    path = Path(path) if path else suite_path()
    data = yaml.safe_load(path.read_text()) or {}
    return dict((data.get("budgets") or {}).get(profile) or {})


def select(entries: list[SuiteEntry], only: list[str] | None = None, start: str | None = None) -> list[SuiteEntry]:
    """``only`` keeps the named notebooks; ``start`` keeps that notebook and every later one.

    A name matches an entry's full name (``03_train_dubber``) or its number prefix (``03``).
    """

    def find(name: str) -> int:
        for i, e in enumerate(entries):
            if name in (e.name, e.name.split("_")[0], Path(e.path).name):
                return i
        raise ConfigError(f"no notebook named {name!r} in suite.yaml; known: {[e.name for e in entries]}")

    if only:
        keep = sorted({find(n) for n in only})
        entries = [entries[i] for i in keep]
    if start:
        entries = entries[find(start):]
    return entries


def _rel(p: Path) -> str:
    """``p`` relative to the repository when inside it (run records are committed), else absolute."""
    try:
        return str(Path(p).resolve().relative_to(repo_root().resolve()))
    except ValueError:
        return str(p)


def _kernel_name(preferred: str) -> str:
    """A kernel that runs *this* interpreter, so notebooks import the package being tested.

    A user-level kernelspec named ``preferred`` is used only if it points at ``sys.executable``
    (another checkout may have registered the same name); otherwise a kernelspec private to this
    environment (``<sys.prefix>/share/jupyter/kernels/emodubber-<hash>``) is installed and used.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ksm = KernelSpecManager()

    def runs_here(name: str) -> bool:
        try:
            return os.path.abspath(ksm.get_kernel_spec(name).argv[0]) == os.path.abspath(sys.executable)
        except NoSuchKernel:
            return False

    if runs_here(preferred):
        return preferred
    name = "emodubber-" + hashlib.sha1(sys.prefix.encode()).hexdigest()[:8]
    if runs_here(name):
        return name
    from ipykernel.kernelspec import install

    install(kernel_name=name, display_name=f"Python (emodubber, {sys.prefix})", prefix=sys.prefix)
    return name


def pin_package_for_kernels() -> Path:
    """Make the notebook kernels (child processes) import ``emodubber`` from the checkout this runner imported it
    from, whatever an editable install elsewhere points at: the run record's commit is this checkout's, so the
    code the notebooks run must be too. Prepends that checkout to ``PYTHONPATH``; returns it."""
    root = Path(__file__).resolve().parents[2]
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != root]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(root), *paths])
    return root


def combine_parts(profile: str = "cpu", since: str | None = None, suite: str | Path | None = None,
                  log: Callable[[str], None] = print, allow_missing: bool = False) -> dict[str, Any]:
    """One run record for a suite run made of partial runs (``--only``, e.g. parallel tracks on the two cores).

    Reads the ``run_record_<first notebook>_<start>.json`` parts started at or after ``since`` (ISO time; default: all),
    keeps for each notebook the latest part that ran it, and writes ``run_record.json`` and the index: steps in
    suite order, each naming its part's commit; started / ended the first part's start and the last part's end
    (wall time: that span, parts overlapping); ``extra.parts`` lists every part (with its parameters; a part whose
    notebooks all ran again later is marked ``superseded``). Every notebook of the suite must
    have run without failure, else :class:`SuiteError` names the missing ones; with ``allow_missing`` the record
    is written anyway, with status ``"partial"`` and the missing notebooks in ``extra.missing`` (the index says so).
    """
    cfg = load_profile(profile)
    entries = load_suite(suite)
    parts = []
    for p in sorted(cfg.reports_dir.glob("run_record_*.json")):
        rec = json.loads(p.read_text())
        if since is None or str(rec.get("started")) >= since:
            parts.append(rec)
    parts.sort(key=lambda r: str(r.get("started")))
    latest: dict[str, tuple[dict, dict]] = {}
    for rec in parts:
        for st in rec.get("steps") or []:
            if st.get("status") == "ok":
                latest[st["notebook"]] = (rec, st)
    missing = [e.name for e in entries if e.name not in latest]
    if missing and not allow_missing:
        raise SuiteError(f"no successful part ran {', '.join(missing)}")
    if not latest:
        raise SuiteError("no part ran any notebook successfully")
    used = {id(r): r for r, _ in latest.values()}.values()
    first = min(parts, key=lambda r: str(r["started"]))
    last = max(parts, key=lambda r: str(r.get("ended") or r["started"]))
    commits = list(dict.fromkeys(r.get("commit") for r in sorted(used, key=lambda r: str(r["started"]))))
    started, ended = datetime.fromisoformat(first["started"]), datetime.fromisoformat(last["ended"])
    record = {
        "profile": cfg.name, "seed": first.get("seed"), "kind": "notebook-suite (in parts)",
        "commit": ", ".join(str(c) for c in commits), "version": first.get("version"),
        "machine": first.get("machine"), "started": first["started"], "ended": last["ended"],
        "wall_time_s": round((ended - started).total_seconds(), 2),
        "steps": [{**latest[e.name][1], "commit": latest[e.name][0].get("commit"),
                   "part_started": latest[e.name][0].get("started")} if e.name in latest else
                  {"notebook": e.name, "status": "not run", "seconds": None} for e in entries],
        "status": "partial" if missing else "ok",
        "extra": {"notebooks": [e.name for e in entries], "missing": missing,
                  "parts": [{"notebooks": [s["notebook"] for s in r.get("steps") or []], "commit": r.get("commit"),
                             "started": r.get("started"), "ended": r.get("ended"),
                             "wall_time_s": r.get("wall_time_s"), "params": (r.get("extra") or {}).get("params"),
                             "superseded": all(latest.get(s["notebook"], (None,))[0] is not r for s in r.get("steps") or [])}
                            for r in parts],
                  "host_speed": (last.get("extra") or {}).get("host_speed")},
    }
    if truncated := truncated_training(cfg.work_dir):  # models stopped by their wall-clock guard
        record["extra"]["truncated"] = truncated
    atomic_write_json(cfg.reports_dir / "run_record.json", record)
    _write_index(cfg, record, suite, log, reruns=False)
    log(f"suite {cfg.name}: {len(record['steps'])} notebooks from {len(record['extra']['parts'])} parts, "
        f"{record['wall_time_s'] / 60:.1f} min from first start to last end")
    return record


def _write_index(cfg, record: dict, suite, log: Callable[[str], None], reruns: bool = True) -> None:
    """``reports/<profile>/README.md`` (and ``reports/README.md`` for ``cpu``, the committed profile):
    every paper artefact mapped to its file, the claims and their verdicts, the full run's record and the
    partial re-runs made since."""
    entries = load_suite(suite)
    title = f"Reproduction reports — profile `{cfg.name}`"
    reruns = partial_reruns(cfg.reports_dir, record) if reruns else []
    budgets = load_budgets(cfg.name, suite)
    written = [write_reports_readme(cfg.reports_dir, entries, run_record=record, title=title, reruns=reruns,
                                    budgets=budgets)]
    if cfg.name == "cpu":
        written.append(write_reports_readme(cfg.reports_dir.parent, entries, run_record=record,
                                            profile_dir=cfg.reports_dir.name, title=title, reruns=reruns,
                                            budgets=budgets))
    log("reports index: " + ", ".join(_rel(p) for p in written))


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["REUSE=true", "N_CLIPS=4"]`` → ``{"REUSE": True, "N_CLIPS": 4}`` (values are YAML literals)."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise SuiteError(f"--param wants NAME=VALUE with NAME a Python identifier, not {item!r}")
        out[name.strip()] = yaml.safe_load(value) if value.strip() else ""
    return out


def run_suite(
    profile: str = "smoke",
    only: list[str] | None = None,
    start: str | None = None,
    kernel: str = "emodubber",
    suite: str | Path | None = None,
    log: Callable[[str], None] = print,
    params: dict[str, Any] | None = None,
) -> RunRecord:
    """Execute the suite for ``profile``; returns the run record (also written as JSON).

    ``params`` set notebook parameters in every selected notebook that declares them (a name that no
    selected notebook declares is refused before anything runs).
    Raises :class:`SuiteError` at the first failing notebook, after writing the record.
    """
    pm = require_module("papermill", "running the notebook suite")
    cfg = load_profile(profile)
    entries = select(load_suite(suite), only, start)
    params = dict(params or {})
    declared = {e.name: set(pm.inspect_notebook(str(e.abspath))) for e in entries} if params else {}
    unknown = sorted(k for k in params if not any(k in names for names in declared.values()))
    if unknown:
        raise SuiteError(f"no selected notebook has the parameter(s) {unknown}; "
                         f"known: {sorted(set().union(*declared.values()))}")
    out_dir = cfg.reports_dir / "executed"
    out_dir.mkdir(parents=True, exist_ok=True)
    record = RunRecord(profile=cfg.name, seed=cfg.seed, kind="notebook-suite").watch_training(cfg.work_dir)
    record.extra["notebooks"] = [e.name for e in entries]
    if params:
        record.extra["params"] = params
    # a part's record is named after its first notebook and its start, so a later part that begins with the same
    # notebook never overwrites it (combine_parts keeps, per notebook, the latest part that ran it)
    stamp = record.started.replace(":", "").replace("-", "").split("+")[0]
    record_path = cfg.reports_dir / ("run_record.json" if not (only or start) else
                                     f"run_record_{entries[0].name if entries else 'none'}_{stamp}.json")
    kname = _kernel_name(kernel)
    # kernels inherit the environment: torch imported first in a notebook must not spin OpenMP threads
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    pin_package_for_kernels()
    for k, e in enumerate(entries, 1):
        applied = {name: v for name, v in params.items() if name in declared.get(e.name, ())}
        nb_params = {
            "PROFILE": cfg.name,
            "SEED": cfg.seed,
            "WORK_DIR": str(cfg.work_dir),
            "REPORTS_DIR": str(cfg.reports_dir),
            **e.parameters,
            **applied,
        }
        out_nb = out_dir / Path(e.path).name
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(
                str(e.abspath), str(out_nb), parameters=nb_params, kernel_name=kname,
                cwd=str(e.abspath.parent), progress_bar=False, log_output=False,
            )
        except Exception as exc:  # papermill's PapermillExecutionError names the cell
            dt = time.perf_counter() - t0
            cell = getattr(exc, "exec_count", None)
            cell_index = getattr(exc, "cell_index", None)
            ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
            where = f"cell {cell_index}" + (f" (execution count {cell})" if cell else "") if cell_index is not None else "before any cell ran"
            msg = f"{e.name} failed at {where}: {ename}: {evalue}"
            record.steps.append({"notebook": e.name, "seconds": round(dt, 2), "status": "failed", "error": msg,
                                 "executed": _rel(out_nb), **({"params": applied} if params else {})})
            record.finish("failed")
            atomic_write_json(record_path, record.as_dict())
            log(f"[{k}/{len(entries)}] {e.name:<32} FAILED after {dt:7.1f} s")
            raise SuiteError(f"{msg}\n  executed copy with the traceback: {out_nb}") from None
        dt = time.perf_counter() - t0
        record.steps.append({"notebook": e.name, "seconds": round(dt, 2), "status": "ok", "executed": _rel(out_nb),
                             **({"params": applied} if params else {})})
        log(f"[{k}/{len(entries)}] {e.name:<32} ok  {dt:7.1f} s")
        sys.stdout.flush()
    record.extra["host_speed"] = host_speed(cfg.reports_dir)  # a slow run told from a different one
    record.finish("ok")
    atomic_write_json(record_path, record.as_dict())
    full = cfg.reports_dir / "run_record.json"
    if not (only or start):
        _write_index(cfg, record.as_dict(), suite, log)
    elif full.exists():  # a partial re-run refreshes the index of the last full run
        _write_index(cfg, json.loads(full.read_text()), suite, log)
    log(f"suite {cfg.name}: {len(entries)} notebook(s) in {record.wall_time_s:.1f} s; record: {_rel(record_path)}")
    return record


def artefact_table(entries: list[SuiteEntry] | None = None) -> str:
    """Markdown table: which notebook reproduces which paper artefact (read from ``suite.yaml``)."""
    entries = load_suite() if entries is None else entries
    rows = ["| notebook | paper artefact | what it does | writes (under reports/<profile>/) |",
            "|---|---|---|---|"]
    for e in entries:
        produces = ", ".join(f"`{p}`" for p in e.produces) or "—"
        rows.append(f"| `{e.path}` | {e.paper or '—'} | {e.title} | {produces} |")
    return "\n".join(rows) + "\n"
