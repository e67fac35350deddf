"""Tables of the reproduction notebooks: summaries with confidence intervals, deltas, claims, files.

The per-clip frames come from ``emodubber.metrics.evaluate`` (one row per clip, one column per metric;
the keys of :data:`emodubber.reports.paper.METRICS`). The notebooks call, in order:

1. :func:`summarise_per_clip` → mean ± 95 % CI per system and setting;
2. :func:`format_mean_ci` → the display strings (``"7.12 ± 0.31"``) under the paper's column headers;
3. :func:`write_table` → ``name.md`` + ``name.csv`` (atomically), with provenance, a "synthetic corpus"
   label, and — when ``paper=`` is given — the paper's own block under its own heading (never merged
   into our columns);
4. :func:`ablation_deltas` / :func:`claim_better` / :func:`claim_close` / ... → :func:`claims_check`
   → :func:`write_claims` (``name.claims.json``, read by ``reports/README.md``). The issue's claims
   come bundled: :func:`iron_triangle_claims` (Table 4), :func:`ablation_claims`,
   :func:`emotion_quality_claims` (Table 5), :func:`intensity_claims` (Figure 3).

The judges' tables enter through :func:`from_evaluate` (their column names → the paper's, WER/PER in %)::

    per_clip = pd.concat([from_evaluate(t, system=name, setting=k) for (name, k), t in tables.items()])
    s = summarise_per_clip(per_clip, order={"system": OUR_TABLE4_ROWS})
    write_table(format_mean_ci(s), "table4_grid", out, record, "Table 4 ...", paper=paper_table4_block("2"),
                judges=prov, csv_df=s)
    write_claims(iron_triangle_claims(s, setting=2), "table4_grid", out, record)
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from emodubber.reports.paper import HIGHER_IS_BETTER, METRIC_LABELS, METRICS, PaperBlock
from emodubber.utils import atomic_path, atomic_write_json, atomic_write_text

__all__ = [
    "SYNTHETIC_LABEL",
    "EVALUATE_COLUMNS",
    "from_evaluate",
    "judge_hashes",
    "to_markdown",
    "provenance_markdown",
    "record_dict",
    "write_table",
    "side_by_side",
    "summarise_per_clip",
    "summary_means",
    "format_mean_ci",
    "ablation_deltas",
    "delta_is_better",
    "ablation_reading",
    "claim_better",
    "claim_close",
    "claim_change_within",
    "claim_paired_within",
    "claim_increasing",
    "claim_curve_above",
    "claims_check",
    "write_claims",
    "iron_triangle_claims",
    "ablation_claims",
    "emotion_quality_claims",
    "intensity_claims",
    "ABLATION_EXPECTATIONS",
]

#: The label every table of our numbers carries.
SYNTHETIC_LABEL = (
    "**Synthetic corpus.** These numbers were measured on the project's embedded synthetic corpus "
    "(GRID-grammar sentences from open synthesisers, rendered faces) with judges trained or chosen here. "
    "They are not GRID or Chem results and are not directly comparable to the paper's values, which are "
    "shown separately under their own heading."
)


# ------------------------------------------------------------------------------------------
# Markdown rendering and provenance
# ------------------------------------------------------------------------------------------


def _cell(v: Any, digits: int, na: str) -> str:
    if v is None:
        return na
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return na if math.isnan(v) else f"{float(v):.{digits}f}"
    return _esc(v)


def _esc(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def to_markdown(df: pd.DataFrame, digits: int = 2, na: str = "n/a", index: bool = True) -> str:
    """A GitHub-markdown table of ``df`` (floats with ``digits`` decimals, NaN as ``na``; pipes escaped)."""
    cols = [_esc(c) if not isinstance(c, tuple) else " / ".join(map(_esc, c)) for c in df.columns]
    head = []
    if index:
        names = [n for n in (df.index.names or []) if n is not None]
        head = [" / ".join(map(_esc, names)) if names else ""]
    lines = ["| " + " | ".join(head + cols) + " |", "|" + "---|" * (len(head) + len(cols))]
    for idx, row in df.iterrows():
        cells = []
        if index:
            cells.append(" / ".join(map(_esc, idx)) if isinstance(idx, tuple) else _esc(idx))
        cells += [_cell(v, digits, na) for v in row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def record_dict(record: Any) -> dict[str, Any]:
    """A run record (``RunRecord`` or its ``as_dict()``) as a dict; an unfinished record gets its elapsed time."""
    if record is None:
        return {}
    if isinstance(record, Mapping):
        return dict(record)
    d = dict(record.as_dict())
    if d.get("wall_time_s") is None and hasattr(record, "_t0"):
        d["elapsed_s"] = round(time.perf_counter() - record._t0, 2)
    return d


def _machine_summary(m: Mapping[str, Any] | None) -> str:
    if not m:
        return "unknown"
    parts = [str(m.get("cpu") or m.get("platform") or "?")]
    if m.get("cpu_count"):
        parts.append(f"{m['cpu_count']} cores")
    if m.get("mem_gib"):
        parts.append(f"{m['mem_gib']} GiB")
    if m.get("torch"):
        parts.append(f"torch {m['torch']}" + (" + CUDA" if m.get("cuda") else ", CPU"))
    if m.get("host"):
        parts.append(f"host {m['host']}")
    return ", ".join(parts)


def provenance_markdown(record: Any, judges: Mapping[str, str] | None = None) -> str:
    """Markdown bullets: profile, seed, commit, machine, start, wall time, and the judges' weight hashes."""
    d = record_dict(record)
    if not d:
        return "- provenance: **missing** (no run record was given)\n"
    if d.get("wall_time_s") is not None:
        wall = f"{d['wall_time_s']:.1f} s ({d.get('status', '')}, ended {d.get('ended', '?')})"
    elif d.get("elapsed_s") is not None:
        wall = f"{d['elapsed_s']:.1f} s so far (run still going when this file was written)"
    else:
        wall = "unknown"
    lines = [
        f"- profile: `{d.get('profile', '?')}`, seed: `{d.get('seed', '?')}`",
        f"- commit: `{d.get('commit', '?')}` (emodubber {d.get('version', '?')})",
        f"- machine: {_machine_summary(d.get('machine'))}",
        f"- started: {d.get('started', '?')}; wall time: {wall}",
    ]
    if judges and any(isinstance(v, Mapping) for v in judges.values()):
        if judges.get("setting_description"):
            lines.append(f"- {judges['setting_description']}"
                         + (f"; SECS column: `{judges['secs_column']}`" if judges.get("secs_column") else ""))
        judges = judge_hashes(judges)
    if judges:
        lines.append("- judges' weights (sha256): " + ", ".join(f"{k} `{v}`" for k, v in judges.items()))
    return "\n".join(lines) + "\n"


def side_by_side(ours: pd.DataFrame, paper: PaperBlock | pd.DataFrame | None, digits: int = 2,
                 ours_title: str = "Ours — synthetic corpus (this run)",
                 paper_title: str | None = None) -> str:
    """Markdown: our block and the paper's block, each under its own heading (never merged).

    ``ours`` is usually the output of :func:`format_mean_ci` (strings) or a numeric frame. ``paper``
    is a :class:`~emodubber.reports.paper.PaperBlock` (unknown cells render as ``unknown``, known ones
    with their source tag and the tag legend below) or a plain frame.
    """
    parts = [f"### {ours_title}\n", to_markdown(ours, digits)]
    if paper is not None:
        if isinstance(paper, PaperBlock):
            title = paper_title or f"{paper.title} — reported, not measured here"
            parts += [f"\n### {title}\n", to_markdown(paper.formatted(digits), digits, na="unknown"),
                      "\n" + paper.legend() + "\n"]
        else:
            parts += [f"\n### {paper_title or 'Paper — reported, not measured here'}\n",
                      to_markdown(paper, digits, na="unknown")]
    return "".join(parts)


def write_table(df: pd.DataFrame, name: str, out_dir: str | Path, record: Any, caption: str,
                synthetic: bool = True, judges: Mapping[str, str] | None = None,
                paper: PaperBlock | pd.DataFrame | None = None, notes: Sequence[str] = (),
                digits: int = 2, csv_df: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write ``name.md`` and ``name.csv`` into ``out_dir`` atomically; returns their paths.

    The Markdown has the caption, the synthetic-corpus label (``synthetic=True``), the provenance of
    ``record`` (profile, seed, commit, machine, wall time, ``judges`` = {judge: weights hash} or an
    ``evaluate`` provenance dict), our
    table, and — with ``paper`` — the paper's block under its own heading (also ``name.paper.csv``).
    The CSV holds ``csv_df`` when given (e.g. the numeric summary behind a formatted ``df``), else ``df``.
    """
    out_dir = Path(out_dir)
    md = [f"# {caption}\n"]
    if synthetic:
        md.append(f"\n> {SYNTHETIC_LABEL}\n")
    md.append("\n## Provenance\n\n" + provenance_markdown(record, judges))
    md.append("\n## Results\n\n")
    ours_title = "Ours — synthetic corpus (this run)" if synthetic else "Ours (this run)"
    md.append(side_by_side(df, paper, digits, ours_title=ours_title))
    if notes:
        md.append("\n## Notes\n\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    paths = {"md": out_dir / f"{name}.md", "csv": out_dir / f"{name}.csv"}
    atomic_write_text(paths["md"], "".join(md))
    with atomic_path(paths["csv"]) as tmp:
        (df if csv_df is None else csv_df).to_csv(tmp)
    if isinstance(paper, PaperBlock):
        long = paper.values.stack(future_stack=True).rename("value").to_frame()
        long["source"] = paper.sources.stack(future_stack=True)
        long["verified"] = False
        paths["paper_csv"] = out_dir / f"{name}.paper.csv"
        with atomic_path(paths["paper_csv"]) as tmp:
            long.reset_index().rename(columns={"level_1": "metric"}).to_csv(tmp, index=False)
    return paths


# ------------------------------------------------------------------------------------------
# From the judges' per-clip table to the paper's metric names
# ------------------------------------------------------------------------------------------

#: ``emodubber.metrics.evaluate`` column -> our metric key (Table 4 / 5 names). MCD and MCD-SL are the
#: DTW variants (pymcd "dtw" / "dtw_sl"), as the sister repo's GRID evaluation reports them.
EVALUATE_COLUMNS: dict[str, str] = {
    "lse_c": "LSE-C", "lse_d": "LSE-D", "av_offset": "av_offset", "wer": "WER", "per": "PER",
    "mcd_dtw": "MCD", "mcd_dtw_sl": "MCD-SL", "mcd": "MCD_plain", "is_posterior": "IS",
    "emotion_correct": "emotion_acc", "wer_swapped": "WER_swapped", "wer_lm": "WER_LM",
}


def from_evaluate(table: pd.DataFrame, system: str | None = None, setting: Any = None, percent: bool = True,
                  secs_column: str | None = None) -> pd.DataFrame:
    """Rename an ``emodubber.metrics.evaluate`` table to the paper's metric keys (see :data:`EVALUATE_COLUMNS`).

    WER / PER (fractions there) become % when ``percent`` (the paper's unit; the per-clip mean is the
    paper's WER, not the corpus rate). SECS comes from ``secs_column`` or, by default, the column the
    table's provenance names (``secs_vs_target`` in Setting 1, ``secs_vs_reference`` in Setting 2).
    ``system`` / ``setting`` are added as columns for :func:`summarise_per_clip`. Other columns are kept.
    """
    df = table.copy()
    prov = table.attrs.get("provenance") or {}
    secs = secs_column or prov.get("secs_column")
    if secs is None:
        present = [c for c in ("secs_vs_target", "secs_vs_reference") if c in df.columns]
        if len(present) > 1:
            raise ValueError("both SECS columns present: pass secs_column= (Setting 1: target, 2: reference)")
        secs = present[0] if present else None
    ren = {k: v for k, v in EVALUATE_COLUMNS.items() if k in df.columns}
    if secs and secs in df.columns:
        ren[secs] = "SECS"
    df = df.rename(columns=ren)
    for m in ("WER", "PER", "WER_swapped", "WER_LM"):
        if percent and m in df.columns:
            df[m] = pd.to_numeric(df[m], errors="coerce") * 100.0
    df = _with_abs_offset(df)
    if system is not None:
        df["system"] = system
    if setting is not None:
        df["setting"] = setting
    elif "setting" not in df.columns and prov.get("setting") is not None:
        df["setting"] = prov["setting"]
    df.attrs["provenance"] = prov
    return df


def judge_hashes(provenance: Mapping[str, Any] | None) -> dict[str, str]:
    """``{judge: weights sha256}`` from an ``evaluate`` provenance (its ``judges`` entry or the entry itself)."""
    if not provenance:
        return {}
    judges = provenance.get("judges", provenance)
    out = {}
    for name, settings in judges.items():
        if isinstance(settings, Mapping) and settings.get("weights_sha256"):
            out[name] = str(settings["weights_sha256"])
    return out


# ------------------------------------------------------------------------------------------
# Summaries
# ------------------------------------------------------------------------------------------


def _with_abs_offset(df: pd.DataFrame) -> pd.DataFrame:
    if "av_offset" in df.columns and "abs_av_offset" not in df.columns:
        df = df.assign(abs_av_offset=df["av_offset"].abs())
    return df


def _ci_half(x: np.ndarray, level: float) -> float:
    from scipy import stats

    x = x[~np.isnan(x)]
    n = len(x)
    if n < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))


def summarise_per_clip(df: pd.DataFrame, group_cols: Sequence[str] = ("system", "setting"),
                       metrics: Sequence[str] | None = None, level: float = 0.95,
                       order: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Mean and ``level`` t-interval half-width of each metric per group.

    Returns one row per group (index = ``group_cols``, in first-appearance order or ``order``) and,
    for every metric ``m``, columns ``m`` (mean over clips, NaN ignored), ``m_ci`` (half-width of the
    95 % confidence interval of the mean; NaN with fewer than 2 clips) and ``m_n`` (clips counted).
    ``abs_av_offset`` is derived from ``av_offset`` when missing. ``metrics`` defaults to the keys of
    :data:`~emodubber.reports.paper.METRICS` (plus ``IS``) present in ``df``.
    """
    df = _with_abs_offset(df)
    group_cols = [c for c in group_cols if c in df.columns]
    if not group_cols:
        raise ValueError("none of the group columns is in the frame")
    if metrics is None:
        metrics = [m for m in (*METRICS, "IS") if m in df.columns]
    missing = [m for m in metrics if m not in df.columns]
    if missing:
        raise KeyError(f"metric column(s) {missing} not in the per-clip frame; it has {list(df.columns)}")
    rows = []
    for key, g in df.groupby(list(group_cols), sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(group_cols, key))
        for m in metrics:
            x = pd.to_numeric(g[m], errors="coerce").to_numpy(dtype=float)
            n = int((~np.isnan(x)).sum())
            row[m] = float(np.nanmean(x)) if n else float("nan")
            row[f"{m}_ci"] = _ci_half(x, level)
            row[f"{m}_n"] = n
        rows.append(row)
    out = pd.DataFrame(rows)
    for col, values in (order or {}).items():
        if col in out.columns:
            rank = {v: i for i, v in enumerate(values)}
            out = out.iloc[np.argsort([rank.get(v, len(rank)) for v in out[col]], kind="stable")]
    out = out.set_index(list(group_cols))
    out.attrs["metrics"] = list(metrics)
    out.attrs["level"] = level
    return out


def _metrics_of(summary: pd.DataFrame, metrics: Sequence[str] | None) -> list[str]:
    if metrics is not None:
        return list(metrics)
    if summary.attrs.get("metrics"):
        return list(summary.attrs["metrics"])
    return [c for c in summary.columns if not c.endswith(("_ci", "_n"))]


def summary_means(summary: pd.DataFrame, metrics: Sequence[str] | None = None, labels: bool = False) -> pd.DataFrame:
    """The mean columns only (optionally renamed to the paper's headers with arrows)."""
    ms = _metrics_of(summary, metrics)
    out = summary[ms].copy()
    if labels:
        out.columns = [METRIC_LABELS.get(m, m) for m in ms]
    return out


def format_mean_ci(summary: pd.DataFrame, metrics: Sequence[str] | None = None, digits: int = 2,
                   scale: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Display strings ``"mean ± ci"`` under the paper's headers; ``n/a`` where nothing was measured.

    ``scale`` multiplies a metric for display (e.g. ``{"WER": 100}`` to show a fraction in %).
    """
    ms = _metrics_of(summary, metrics)
    scale = dict(scale or {})
    out = pd.DataFrame(index=summary.index)
    for m in ms:
        k = scale.get(m, 1.0)
        vals = []
        for mean, ci in zip(summary[m], summary.get(f"{m}_ci", pd.Series(np.nan, index=summary.index))):
            if mean is None or math.isnan(mean):
                vals.append("n/a")
            elif ci is None or math.isnan(ci):
                vals.append(f"{mean * k:.{digits}f}")
            else:
                vals.append(f"{mean * k:.{digits}f} ± {ci * k:.{digits}f}")
        out[METRIC_LABELS.get(m, m)] = vals
    return out


# ------------------------------------------------------------------------------------------
# Ablations and claims
# ------------------------------------------------------------------------------------------


def _system_level(summary: pd.DataFrame) -> str | int:
    return "system" if "system" in (summary.index.names or []) else 0


def _lookup(summary: pd.DataFrame, system: str, setting: Any = None) -> pd.Series:
    """The summary row of ``system`` (and ``setting`` when the index has more levels)."""
    if isinstance(summary.index, pd.MultiIndex):
        sub = summary.xs(system, level=_system_level(summary))
        if setting is not None:
            sub = sub.xs(setting, level=0) if isinstance(sub.index, pd.MultiIndex) else sub.loc[[setting]]
        if len(sub) != 1:
            raise ValueError(f"{system!r} has {len(sub)} rows in the summary: pass setting= to choose one")
        return sub.iloc[0]
    if system not in summary.index:
        raise KeyError(f"{system!r} not in the summary; rows: {list(summary.index)}")
    return summary.loc[system]


def ablation_deltas(summary: pd.DataFrame, reference_row: str, metrics: Sequence[str] | None = None,
                    labels: bool = True) -> pd.DataFrame:
    """Each system's mean minus ``reference_row``'s, per metric (within each setting).

    ``summary`` is :func:`summarise_per_clip`'s output (or any frame of means indexed by system, or by
    (system, setting)). The reference's own row is dropped. Positive Δ means "larger"; whether that is
    better depends on the metric (:func:`delta_is_better`).
    """
    ms = [m for m in _metrics_of(summary, metrics) if m in summary.columns]
    means = summary[ms]
    if isinstance(means.index, pd.MultiIndex):
        lvl = _system_level(means)
        other = [n for n in means.index.names if n != lvl]
        parts = []
        for _, g in means.groupby(level=other, sort=False):
            sys_idx = g.index.get_level_values(lvl)
            if reference_row not in set(sys_idx):
                raise KeyError(f"reference {reference_row!r} missing in a group of the summary")
            ref = g[sys_idx == reference_row].iloc[0]
            parts.append(g[sys_idx != reference_row] - ref)
        out = pd.concat(parts)
        out = out.loc[[i for i in means.index if i in out.index]]
    else:
        if reference_row not in means.index:
            raise KeyError(f"reference {reference_row!r} not in the summary; rows: {list(means.index)}")
        out = means.drop(index=reference_row) - means.loc[reference_row]
    if labels:
        out.columns = [f"Δ {METRIC_LABELS.get(m, m)}" for m in ms]
    out.attrs["metrics"] = ms
    out.attrs["reference"] = reference_row
    return out


def delta_is_better(deltas: pd.DataFrame) -> pd.DataFrame:
    """Booleans: True where a delta of :func:`ablation_deltas` is an improvement over the reference."""
    ms = deltas.attrs.get("metrics") or list(deltas.columns)
    out = deltas.copy()
    for col, m in zip(deltas.columns, ms):
        sign = 1.0 if HIGHER_IS_BETTER.get(m, True) else -1.0
        out[col] = (deltas[col] * sign > 0) & deltas[col].notna()
    return out


def ablation_reading(deltas: pd.DataFrame, budgets: pd.DataFrame | None = None, digits: int = 2) -> str:
    """A short Markdown reading of :func:`ablation_deltas`: per setting and ablation, the metrics on which it is
    worse than the reference and those on which it is better (largest |Δ| first), then — from ``budgets``
    (``train_baselines.csv``: model, steps, status) — how many training steps each model had: an ablation
    trained for fewer steps than the full model confounds the missing module with the shorter training."""
    better = delta_is_better(deltas)
    lines: list[str] = []
    groups = (deltas.groupby(level="setting", sort=False) if isinstance(deltas.index, pd.MultiIndex)
              and "setting" in deltas.index.names else [(None, deltas)])
    for setting, d in groups:
        if setting is not None:
            d = d.droplevel("setting")
        b = better.loc[d.index] if setting is None else better.xs(setting, level="setting")
        for system, row in d.iterrows():
            def listing(mask):
                cols = [c for c in row.index if mask[c] and pd.notna(row[c]) and round(abs(row[c]), digits) > 0]
                cols.sort(key=lambda c: -abs(row[c]))
                return ", ".join(f"{c.removeprefix('Δ ')} {row[c]:+.{digits}f}" for c in cols) or "none"
            worse = {c: (not b.loc[system, c]) and row[c] != 0 for c in row.index}
            where = f"Setting {setting}: " if setting is not None else ""
            lines.append(f"- {where}**{system}** is worse on {listing(worse)}; better on "
                         f"{listing(b.loc[system].to_dict())}.")
    reading = "\n".join(lines)
    if budgets is not None and len(budgets) and {"model", "steps"} <= set(budgets.columns):
        steps = ", ".join(f"{r.model} {int(r.steps)}" + (" (time budget)" if str(getattr(r, "status", "")) ==
                                                          "time_budget" else "") for r in budgets.itertuples())
        most, least = int(budgets["steps"].max()), int(budgets["steps"].min())
        reading += (f"\n\nTraining steps: {steps}."
                    + (f" The models had unequal training ({least} to {most} steps): a difference can come from the "
                       "missing module *or* from the shorter training, and is not a clean ablation."
                       if most > 1.25 * least else " The models had comparable training."))
    return reading


def _fmt(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def claim_better(summary: pd.DataFrame, system: str, other: str, metrics: Iterable[str],
                 setting: Any = None, digits: int = 2) -> list[dict[str, Any]]:
    """One claim per metric: ``system`` is better than ``other`` (direction-aware, on the means).

    ``holds`` is None when either value is missing. ``ci_separated`` says whether the two 95 %
    intervals do not overlap (a stricter reading; None without intervals).
    """
    a, b = _lookup(summary, system, setting), _lookup(summary, other, setting)
    out = []
    for m in metrics:
        hib = HIGHER_IS_BETTER.get(m, True)
        va, vb = float(a[m]), float(b[m])
        ca, cb = float(a.get(f"{m}_ci", np.nan)), float(b.get(f"{m}_ci", np.nan))
        holds = None if math.isnan(va) or math.isnan(vb) else bool(va > vb if hib else va < vb)
        sep = None
        if holds is not None and not (math.isnan(ca) or math.isnan(cb)):
            sep = bool((va - ca > vb + cb) if hib else (va + ca < vb - cb))
        where = f" (setting {setting})" if setting is not None else ""
        out.append({
            "claim": f"{system} better than {other} on {METRIC_LABELS.get(m, m)}{where}",
            "measured": f"{_fmt(va, digits)} vs {_fmt(vb, digits)} (Δ {_fmt(va - vb, digits)})",
            "holds": holds,
            "ci_separated": sep,
        })
    return out


def claim_close(summary: pd.DataFrame, system: str, other: str, metric: str, tol: float,
                setting: Any = None, digits: int = 2, unit: str = "points") -> dict[str, Any]:
    """``system`` is not worse than ``other`` on ``metric`` by more than ``tol`` (in the metric's units).

    Example: "WER of EmoDubber within 2 points of lip-blind TTS" = ``claim_close(s, "EmoDubber",
    "lip-blind TTS", "WER", 2.0)`` when WER is in % (use ``0.02`` when it is a fraction).
    """
    a, b = _lookup(summary, system, setting), _lookup(summary, other, setting)
    va, vb = float(a[metric]), float(b[metric])
    worse_by = (vb - va) if HIGHER_IS_BETTER.get(metric, True) else (va - vb)
    holds = None if math.isnan(worse_by) else bool(worse_by <= tol)
    where = f" (setting {setting})" if setting is not None else ""
    return {
        "claim": f"{metric} of {system} within {tol:g} {unit} of {other}{where}",
        "measured": f"{_fmt(va, digits)} vs {_fmt(vb, digits)} (worse by {_fmt(worse_by, digits)})",
        "holds": holds,
    }


def claim_change_within(summary: pd.DataFrame, reference: str, metric: str, tol: float,
                        systems: Iterable[str] | None = None, digits: int = 2,
                        unit: str = "points") -> list[dict[str, Any]]:
    """For each row (e.g. each guided emotion of Table 5): no worse than ``reference`` by more than ``tol``.

    Example: "under guidance WER rises ≤ 2 points against neutral" =
    ``claim_change_within(s, "neutral", "WER", 2)``; "SECS falls ≤ 2 points" likewise with ``"SECS"``.
    """
    rows = [r for r in summary.index if r != reference] if systems is None else list(systems)
    verb = "falls" if HIGHER_IS_BETTER.get(metric, True) else "rises"
    out = []
    for r in rows:
        c = claim_close(summary, r, reference, metric, tol, digits=digits, unit=unit)
        c["claim"] = f"{r}: {metric} {verb} ≤ {tol:g} {unit} against {reference}"
        out.append(c)
    return out


def claim_paired_within(per_clip: pd.DataFrame, system: str, other: str, metric: str, tol: float,
                        by: str = "system", setting: Any = None, clip_col: str = "clip_id", level: float = 0.95,
                        digits: int = 2, unit: str = "points") -> dict[str, Any]:
    """``system`` is no worse than ``other`` on ``metric`` by more than ``tol``, judged on the paired per-clip
    difference (the same clips under both rows of ``by``) with three outcomes:

    - **holds** (``holds`` True): the ``level`` t-interval of the mean "worse by" lies entirely ≤ ``tol``;
    - **fails** (False): it lies entirely > ``tol``;
    - **undecided** (None): it straddles ``tol`` (too few clips to tell), said so in ``outcome``.

    ``per_clip``: long frame with columns ``by``, ``clip_col``, ``metric`` (and ``setting`` when given).
    """
    df = per_clip if setting is None or "setting" not in per_clip.columns else per_clip[per_clip["setting"] == setting]
    a = df[df[by] == system].groupby(clip_col)[metric].mean()
    b = df[df[by] == other].groupby(clip_col)[metric].mean()
    common = a.index.intersection(b.index)
    d = (a[common] - b[common]).to_numpy(dtype=float)
    d = d[~np.isnan(d)]
    if not HIGHER_IS_BETTER.get(metric, True):
        worse = d
    else:
        worse = -d
    where = f" (setting {setting})" if setting is not None else ""
    claim = f"{metric} of {system} within {tol:g} {unit} of {other}{where}, paired per clip"
    if len(worse) < 2:
        return {"claim": claim, "measured": f"{len(worse)} paired clip(s)", "holds": None, "outcome": "undecided"}
    mean, half = float(worse.mean()), _ci_half(worse, level)
    lo, hi = mean - half, mean + half
    holds = True if hi <= tol else False if lo > tol else None
    outcome = {True: "holds", False: "fails", None: "undecided"}[holds]
    return {"claim": claim,
            "measured": f"worse by {_fmt(mean, digits)} [{_fmt(lo, digits)}, {_fmt(hi, digits)}] "
                        f"({level:.0%} interval, {len(worse)} paired clips; limit {tol:g})",
            "holds": holds, "outcome": outcome}


def claim_increasing(spearman: pd.DataFrame, min_rho: float = 0.0, max_p: float | None = 0.05,
                     curves: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One claim per (emotion, curve) of :func:`emodubber.reports.figures.spearman_table`: IS rises with α.

    Holds when Spearman ρ > ``min_rho`` and its (two-sided) p ≤ ``max_p`` (None: the sign of ρ alone): a rise
    that chance could give as easily is not a finding.
    """
    out = []
    for _, r in spearman.iterrows():
        if curves is not None and r["curve"] not in set(curves):
            continue
        rho, p = float(r["rho"]), float(r["p"])
        holds = None if math.isnan(rho) else bool(rho > min_rho and (max_p is None or p <= max_p))
        out.append({"claim": f"IS rises with α: {r['emotion']}, {r['curve']}",
                    "measured": f"Spearman ρ = {_fmt(rho)} (p = {p:.2g}, {int(r['n'])} points)",
                    "holds": holds})
    return out


def claim_curve_above(curves: pd.DataFrame, upper: str = "beta=alpha/4", lower: str = "beta=0",
                      value: str = "IS", digits: int = 3, max_p: float = 0.05) -> list[dict[str, Any]]:
    """Per emotion: curve ``upper`` lies above ``lower``. The unit of the test is the clip when ``curves`` has a
    ``clip_id`` column (each clip's difference averaged over α: neighbouring α give nearly the same speech, so
    the (α, clip) pairs are not independent), else the α point. Holds when the mean difference is positive and a
    one-sided Wilcoxon signed-rank test of the units gives p ≤ ``max_p`` (equal curves, or a difference that
    chance gives as easily, do not hold; with 6 clips the smallest possible p is 1/64). NaN values are dropped.

    ``curves`` is the long frame the intensity figure plots (columns emotion, curve, alpha, IS; one row
    per clip or per point). The area between the curves (mean difference over α) is reported.
    """
    from scipy.stats import wilcoxon

    clip_col = next((c for c in ("clip_id", "clip") if c in curves.columns), None)
    keys = ["alpha", *([clip_col] if clip_col else [])]
    mean = curves.dropna(subset=[value]).groupby(["emotion", "curve", *keys], sort=False)[value].mean().reset_index()
    out = []
    for emo, g in mean.groupby("emotion", sort=False):
        u = g[g["curve"] == upper].set_index(keys)[value]
        lo = g[g["curve"] == lower].set_index(keys)[value]
        common = u.index.intersection(lo.index)
        if len(common) == 0:
            out.append({"claim": f"{upper} above {lower}: {emo}", "measured": "no common α", "holds": None})
            continue
        pairs = u[common] - lo[common]
        units = pairs.groupby(level=clip_col).mean() if clip_col else pairs
        d = units.to_numpy(dtype=float)
        diff = float(pairs.mean())
        p = float(wilcoxon(d, alternative="greater").pvalue) if np.any(d != 0) else 1.0
        n_alpha = len(set(common.get_level_values("alpha")))
        unit = "clips" if clip_col else "α points"
        out.append({"claim": f"{upper} above {lower}: {emo}",
                    "measured": f"mean IS {_fmt(float(u[common].mean()), digits)} vs "
                                f"{_fmt(float(lo[common].mean()), digits)} over {n_alpha} α (Δ {diff:+.{digits}f}, "
                                f"one-sided Wilcoxon p = {p:.2g} over {len(d)} {unit})",
                    "holds": bool(diff > 0 and p <= max_p)})
    return out


def claims_check(*groups: Any) -> pd.DataFrame:
    """Gather claim dicts (or lists of them) into one table: claim / measured / holds (+ ci_separated)."""
    rows: list[dict[str, Any]] = []
    for g in groups:
        if isinstance(g, Mapping):
            rows.append(dict(g))
        elif isinstance(g, pd.DataFrame):
            rows.extend(g.to_dict("records"))
        else:
            rows.extend(dict(x) for x in g)
    df = pd.DataFrame(rows, columns=sorted({k for r in rows for k in r},
                                           key=lambda k: ["claim", "measured", "holds", "outcome", "ci_separated"].index(k)
                                           if k in ("claim", "measured", "holds", "outcome", "ci_separated") else 9))
    if "holds" not in df.columns:
        df["holds"] = pd.Series(dtype=object)
    return df


def write_claims(claims: pd.DataFrame, name: str, out_dir: str | Path, record: Any = None,
                 title: str = "") -> Path:
    """``name.claims.json``: {title, record, claims: [{claim, measured, holds, ...}], n_hold, n_fail, n_unknown}."""
    recs = []
    for r in claims.to_dict("records"):
        recs.append({k: (None if isinstance(v, float) and math.isnan(v) else
                         bool(v) if isinstance(v, (bool, np.bool_)) else v) for k, v in r.items()})
    hold = [r.get("holds") for r in recs]
    payload = {
        "title": title or name,
        "record": record_dict(record),
        "claims": recs,
        "n_hold": sum(h is True for h in hold),
        "n_fail": sum(h is False for h in hold),
        "n_unknown": sum(h is None for h in hold),
        "n_undecided": sum(r.get("outcome") == "undecided" for r in recs),
    }
    return atomic_write_json(Path(out_dir) / f"{name}.claims.json", payload)


# ------------------------------------------------------------------------------------------
# The claims, one call each (issue 7: "claims to test, not to assume")
# ------------------------------------------------------------------------------------------

#: Which metrics each ablated module should help, as the paper frames them: LPA's contrastive loss
#: (L_cl) aligns lips and phonemes (sync); PE fuses them for pronunciation (intelligibility).
ABLATION_EXPECTATIONS: dict[str, tuple[str, ...]] = {
    "EmoDubber w/o L_cl": ("LSE-C", "LSE-D"),
    "EmoDubber w/o PE": ("WER", "PER"),
}


def iron_triangle_claims(summary: pd.DataFrame, system: str = "EmoDubber", baseline: str = "lip-blind TTS",
                         setting: Any = None, wer_tol: float = 2.0, per_tol: float = 2.0,
                         per_clip: pd.DataFrame | None = None, max_offset: float | None = 0.5) -> pd.DataFrame:
    """Sync without mumbling: ``system`` beats ``baseline`` on LSE-C, LSE-D and MCD, its mean |AV offset| is
    ≤ ``max_offset`` frames, while WER and PER stay within ``wer_tol`` / ``per_tol`` points (WER/PER in %, see
    :func:`from_evaluate`). With ``per_clip`` the "within" claims are paired per clip with three outcomes
    (:func:`claim_paired_within`); without it they compare the means."""
    metrics = [m for m in ("LSE-C", "LSE-D", "MCD") if m in summary.columns]
    parts: list[Any] = [claim_better(summary, system, baseline, metrics, setting)]
    if max_offset is not None and "abs_av_offset" in summary.columns:
        v = float(_lookup(summary, system, setting)["abs_av_offset"])
        where = f" (setting {setting})" if setting is not None else ""
        parts.append({"claim": f"mean |AV offset| of {system} ≤ {max_offset:g} frame{where}",
                      "measured": f"{_fmt(v)} frames", "holds": None if math.isnan(v) else bool(v <= max_offset)})
    for m, tol in (("WER", wer_tol), ("PER", per_tol)):
        if m in summary.columns:
            parts.append(claim_close(summary, system, baseline, m, tol, setting) if per_clip is None else
                         claim_paired_within(per_clip, system, baseline, m, tol, setting=setting))
    return claims_check(*parts)


def ablation_claims(summary: pd.DataFrame, full: str = "EmoDubber", setting: Any = None,
                    expectations: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """The full model is better than each ablation on the metrics its module should help
    (:data:`ABLATION_EXPECTATIONS`); ablations missing from the summary are skipped."""
    exp = dict(ABLATION_EXPECTATIONS if expectations is None else expectations)
    systems = set(summary.index.get_level_values(_system_level(summary)))
    parts = [claim_better(summary, full, abl, [m for m in ms if m in summary.columns], setting)
             for abl, ms in exp.items() if abl in systems]
    return claims_check(*parts)


def emotion_quality_claims(summary: pd.DataFrame, reference: str = "neutral", wer_tol: float = 2.0,
                           secs_tol: float = 2.0, per_tol: float | None = None,
                           per_clip: pd.DataFrame | None = None) -> pd.DataFrame:
    """Table 5: under guidance each emotion's WER rises ≤ ``wer_tol`` points and SECS falls ≤ ``secs_tol``
    points against ``reference`` (and PER ≤ ``per_tol`` when given). ``summary`` is indexed by emotion.
    With ``per_clip`` (columns emotion, clip_id, metrics) each limit is judged on the paired per-clip
    difference with three outcomes (:func:`claim_paired_within`)."""
    parts: list[Any] = []
    for m, tol in (("WER", wer_tol), ("SECS", secs_tol), ("PER", per_tol)):
        if tol is None or m not in summary.columns:
            continue
        if per_clip is None:
            parts.append(claim_change_within(summary, reference, m, tol))
            continue
        verb = "falls" if HIGHER_IS_BETTER.get(m, True) else "rises"
        for e in (r for r in summary.index if r != reference):
            c = claim_paired_within(per_clip, e, reference, m, tol, by="emotion")
            c["claim"] = f"{e}: {m} {verb} ≤ {tol:g} points against {reference}, paired per clip"
            parts.append(c)
    return claims_check(*parts)


def intensity_claims(curves: pd.DataFrame, upper: str = "beta=alpha/4", lower: str = "beta=0",
                     value: str = "IS") -> pd.DataFrame:
    """Figure 3: IS rises with α on every curve (Spearman ρ > 0, p ≤ 0.05: :func:`claim_increasing`) and ``upper``
    lies above ``lower`` (:func:`claim_curve_above`)."""
    from emodubber.reports.figures import spearman_table

    return claims_check(claim_increasing(spearman_table(curves, value)),
                        claim_curve_above(curves, upper, lower, value))
