"""``reports/README.md``: what a reader needs to trust the committed results.

:func:`write_reports_readme` writes one Markdown file that maps every paper artefact (the ``paper``
and ``produces`` fields of ``nbconfig/suite.yaml``) to its file, says which files exist, gives the
run record (profile, seed, commit, machine, wall time, time per notebook), carries the
synthetic-corpus disclaimer, lists the claims the notebooks tested (``*.claims.json`` written by
:func:`emodubber.reports.claims.write_claims`) with what held and what did not, and explains where
the paper's own numbers come from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from emodubber.reports.paper import SOURCES
from emodubber.reports.provenance import not_comparable
from emodubber.reports.tables import SYNTHETIC_LABEL, machine_summary, record_dict
from emodubber.utils import atomic_write_text

__all__ = ["budget_lines", "write_reports_readme", "artefact_rows", "load_claims", "partial_reruns"]


def _entry(e: Any) -> dict[str, Any]:
    if isinstance(e, Mapping):
        return dict(e)
    return {k: getattr(e, k, None) for k in ("name", "path", "title", "paper", "produces")}


def artefact_rows(base: str | Path, suite_entries: Sequence[Any]) -> list[dict[str, Any]]:
    """One row per produced file of every suite entry: paper artefact, notebook, file, whether it exists."""
    base = Path(base)
    rows = []
    for e in map(_entry, suite_entries):
        produces = list(e.get("produces") or [])
        if not produces:
            rows.append({"paper": e.get("paper") or "—", "notebook": e.get("path") or e.get("name"), "file": None,
                         "exists": None})
        for f in produces:
            rows.append({"paper": e.get("paper") or "—", "notebook": e.get("path") or e.get("name"), "file": f,
                         "exists": (base / f).exists()})
    return rows


def load_claims(base: str | Path) -> list[dict[str, Any]]:
    """Every ``*.claims.json`` under ``base`` (sorted by path), each with its ``path`` relative to ``base``."""
    base = Path(base)
    out = []
    for p in sorted(base.rglob("*.claims.json")):
        try:
            data = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            data = {"title": p.name, "claims": [], "error": f"unreadable: {exc}"}
        data["path"] = p.relative_to(base).as_posix()
        out.append(data)
    return out


def _holds(h: Any) -> str:
    return {True: "✅ holds", False: "❌ does not hold"}.get(h, "❔ not measured")


def _esc(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _record(run_record: Any, base: Path) -> dict[str, Any]:
    if run_record is None:
        p = base / "run_record.json"
        return json.loads(p.read_text()) if p.exists() else {}
    if isinstance(run_record, (str, Path)):
        return json.loads(Path(run_record).read_text())
    return record_dict(run_record)


def budget_lines(record: Mapping[str, Any], budgets: Mapping[str, Any]) -> list[str]:
    """One line per budget (``suite``, then each of ``groups``): the run's wall time against it, within or over.
    A group whose notebooks are not all in the record is said to be incomplete, not judged."""
    def verdict(name: str, wall: float, limit: float) -> str:
        return (f"budget, {name}: {wall / 60:.1f} min of {limit / 60:.0f} min → "
                + ("**within**" if wall <= limit else f"**over** by {(wall - limit) / 60:.1f} min"))

    steps = {s.get("notebook"): s.get("seconds") for s in record.get("steps") or []}
    out = []
    if budgets.get("suite") and isinstance(record.get("wall_time_s"), (int, float)):
        out.append(verdict("whole suite", float(record["wall_time_s"]), float(budgets["suite"])))
    for name, g in (budgets.get("groups") or {}).items():
        want = list(g.get("notebooks") or [])
        missing = [n for n in want if not isinstance(steps.get(n), (int, float))]
        limit = float(g.get("seconds", 0))
        if missing:
            out.append(f"budget, {name}: not all of them ran in this run (missing {', '.join(missing)})")
            continue
        out.append(verdict(name, sum(float(steps[n]) for n in want), limit))
    return out


def partial_reruns(base: str | Path, full_record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``run_record_<notebook>_<start>.json`` of partial runs (``--only`` / ``--from``) started after the full run
    ``full_record`` started, oldest first: the notebooks whose files are newer than the full run."""
    start = str(full_record.get("started") or "")
    out = []
    for p in sorted(Path(base).glob("run_record_*.json")):
        try:
            rec = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if start and str(rec.get("started") or "") > start:
            out.append(rec)
    return sorted(out, key=lambda r: str(r.get("started")))


def write_reports_readme(reports_root: str | Path, suite_entries: Sequence[Any], run_record: Any = None,
                         profile_dir: str | Path | None = None, title: str | None = None,
                         synthetic: bool = True, reruns: Sequence[Mapping[str, Any]] | None = None,
                         budgets: Mapping[str, Any] | None = None) -> Path:
    """Write ``reports_root/README.md`` and return its path.

    ``suite_entries``: :func:`emodubber.reports.suite.load_suite` entries (or dicts with ``name, path,
    title, paper, produces``); ``produces`` paths are relative to the profile's reports directory,
    which is ``reports_root / profile_dir`` (``profile_dir=None``: ``reports_root`` itself).
    ``run_record``: a ``RunRecord``, its dict, a path to its JSON, or None to read
    ``run_record.json`` from the profile directory. Claims are read from every ``*.claims.json`` there.
    ``reruns``: records of partial runs made after it (:func:`partial_reruns`), listed under the run record.
    ``budgets``: :func:`emodubber.reports.suite.load_budgets` of the profile; the run's wall times are checked
    against them (:func:`budget_lines`).
    """
    root = Path(reports_root)
    base = root / profile_dir if profile_dir is not None else root
    rel = Path(profile_dir).as_posix() + "/" if profile_dir is not None else ""
    rec = _record(run_record, base)
    profile = rec.get("profile", "?")
    md = [f"# {title or f'Reproduction reports — profile `{profile}`'}\n"]
    if synthetic:
        md.append(f"\n> {SYNTHETIC_LABEL}\n")
    md.append("\nEvery number and figure below was written by a notebook of the suite through "
              "`emodubber.reports`, in the run described here; each table's own file repeats its provenance.\n")

    md.append("\n## Run record\n\n")
    if rec:
        wall = rec.get("wall_time_s")
        wall_s = f"{wall:.0f} s ({wall / 60:.1f} min)" if isinstance(wall, (int, float)) else "—"
        machine = _esc(machine_summary(rec.get("machine")))
        md += [
            "| profile | seed | commit | machine | started | ended | wall time | status |\n",
            "|---|---|---|---|---|---|---|---|\n",
            f"| `{profile}` | {rec.get('seed', '?')} | `{rec.get('commit', '?')}` | {machine} "
            f"| {rec.get('started', '?')} | {rec.get('ended') or '—'} | {wall_s} | {rec.get('status', '?')} |\n",
        ]
        if truncated := not_comparable(rec):
            md.append(f"\n**Training truncated — {truncated}.**\n")
        speed = (rec.get("extra") or {}).get("host_speed")
        if speed:
            md.append("\nHost speed: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in speed.items())
                      + " (`emodubber.reports.host`: a slow host is told from a different run).\n")
        steps = rec.get("steps") or []
        parts = (rec.get("extra") or {}).get("parts")
        missing = (rec.get("extra") or {}).get("missing")
        if missing:
            md.append(f"\n**Not run in this run** (their files are absent): {', '.join(missing)}.\n")
        if parts:
            md.append(f"\nRun in {len(parts)} parts (`emodubber reproduce --only ...`, some side by side on the two "
                      "cores, then `--combine-parts`); the wall time above spans the first start to the last end.\n\n")
            md += ["| part | notebooks | parameters | commit | started | ended | seconds |\n",
                   "|---|---|---|---|---|---|---|\n"]
            md += [f"| {i}{' (superseded)' if p.get('superseded') else ''} | {', '.join(p.get('notebooks') or [])} "
                   f"| {', '.join(f'`{k}={v}`' for k, v in (p.get('params') or {}).items()) or '—'} "
                   f"| `{p.get('commit', '?')}` | {p.get('started', '?')} | {p.get('ended', '?')} "
                   f"| {p.get('wall_time_s', '?')} |\n" for i, p in enumerate(parts, 1)]
        if steps:
            md += ["\n| notebook | seconds | status |\n", "|---|---|---|\n"]
            md += [f"| {s.get('notebook', '?')} | {s.get('seconds', '?')} | {s.get('status', '?')} |\n" for s in steps]
        if budgets:
            md.append("\n" + "".join(f"- {line}\n" for line in budget_lines(rec, budgets)))
        if reruns:
            md += ["\nRe-run since, by `emodubber reproduce --only` or `--from` (their files replace the full run's):\n\n",
                   "| notebook | seconds | status | commit | started | parameters |\n", "|---|---|---|---|---|---|\n"]
            for r in reruns:
                run_params = (r.get("extra") or {}).get("params") or {}
                for s in r.get("steps") or []:  # each step names what it received (older records: the run's)
                    params = ", ".join(f"`{k}={v}`" for k, v in s.get("params", run_params).items())
                    md.append(f"| {s.get('notebook', '?')} | {s.get('seconds', '?')} | {s.get('status', '?')} "
                              f"| `{r.get('commit', '?')}` | {r.get('started', '?')} | {params or '—'} |\n")
    else:
        md.append("**No run record found** — these files were not produced by a recorded suite run.\n")

    md.append("\n## Paper artefacts and their files\n\n")
    rows = artefact_rows(base, suite_entries)
    if rows:
        md += ["| paper artefact | notebook | file | present |\n", "|---|---|---|---|\n"]
        for r in rows:
            f = f"[`{r['file']}`]({rel}{r['file']})" if r["file"] else "—"
            present = "—" if r["exists"] is None else ("yes" if r["exists"] else "**missing**")
            md.append(f"| {_esc(r['paper'])} | `{r['notebook']}` | {f} | {present} |\n")
        missing = [r["file"] for r in rows if r["exists"] is False]
        md.append(f"\n{sum(r['exists'] is True for r in rows)} of {sum(r['exists'] is not None for r in rows)} "
                  "listed files present"
                  + (f"; missing: {', '.join(f'`{m}`' for m in missing)}.\n" if missing else ".\n"))
    else:
        md.append("No notebook listed.\n")

    md.append("\n## Claims tested on this run\n\n")
    claims = load_claims(base)
    if not claims:
        md.append("No claims file (`*.claims.json`) found.\n")
    n_hold = n_fail = n_unk = 0
    counted: set[tuple[str, str]] = set()  # a claim listed by two notebooks (Table 4 and the ablations) counts once
    for c in claims:
        md.append(f"\n### {_esc(c.get('title', c['path']))}\n\nfrom [`{c['path']}`]({rel}{c['path']})\n\n")
        if c.get("error"):
            md.append(f"{c['error']}\n")
            continue
        if c.get("comparable") is False:
            md.append(f"**{_esc(c.get('not_comparable', 'not comparable with the recorded run'))}**\n\n")
        rows = c.get("claims", [])
        with_ci = any(r.get("ci_separated") is not None for r in rows)
        md += (["| claim | measured | result | 95 % intervals apart |\n", "|---|---|---|---|\n"] if with_ci
               else ["| claim | measured | result |\n", "|---|---|---|\n"])
        for r in rows:
            ci = r.get("ci_separated")
            md.append(f"| {_esc(r.get('claim', ''))} | {_esc(r.get('measured', ''))} | {_holds(r.get('holds'))} |"
                      + (f" {'—' if ci is None else 'yes' if ci else 'no'} |" if with_ci else "") + "\n")
            key = (str(r.get("claim", "")), str(r.get("measured", "")))
            if key in counted:
                continue
            counted.add(key)
            h = r.get("holds")
            n_hold += h is True
            n_fail += h is False
            n_unk += h is None
    if claims:
        md.append(f"\n**In all: {n_hold} distinct claim(s) hold, {n_fail} do not, {n_unk} could not be measured.** "
                  "A claim that does not hold is a result, reported as measured; it is not hidden or tuned away. "
                  "Where a claim compares two means, '95 % intervals apart' says whether their confidence "
                  "intervals are separated: a claim that holds with overlapping intervals is a direction, not a "
                  "finding.\n")

    md.append("\n## Where the paper's numbers come from\n\n"
              "The paper's own values are shown beside ours in every table, each in its own block, never merged. "
              "They live in one place, `emodubber/reports/paper.py`, each tagged with its source; none is verified "
              "against the paper's PDF. A cell the project does not know is shown as `unknown`, never filled.\n\n")
    md += [f"- `[{k}]`: {v}\n" for k, v in SOURCES.items()]
    return atomic_write_text(root / "README.md", "".join(md))
