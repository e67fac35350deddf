"""Statistics of the reports: t-intervals, per-clip summaries, paired differences, Spearman, silhouette.

Every table and claim reads its numbers from here:

- :func:`ci_half`: the half-width of the ``level`` Student-t interval of a mean, ``t_{(1+level)/2, n-1} · s / √n``;
- :func:`summarise_per_clip`: mean ± interval per (system, setting) of the per-clip frame
  (one row per clip, columns = the metric keys of :data:`emodubber.reports.paper.METRICS`);
- :func:`ablation_deltas` / :func:`delta_is_better`: each row's mean minus a reference row's;
- :func:`paired_differences`: per-clip differences between two rows on the same clips;
- :func:`intensity_summary` / :func:`spearman_table`: Figure 3's curves (IS against α, ``docs/paper.md`` §3.5.3);
- :func:`silhouette`: Figure 5's cluster separation in the judge's embedding space.

scipy and scikit-learn are imported inside the functions that need them: they are heavy third-party
backends and ``import emodubber.reports.stats`` should stay cheap for the writing modules.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from emodubber.config import EMOTIONS
from emodubber.reports.paper import CURVES, DETAIL_METRICS, HIGHER_IS_BETTER, METRIC_LABELS, METRICS
from emodubber.viz import to_numpy

__all__ = [
    "t_quantile",
    "ci_half",
    "with_abs_offset",
    "summarise_per_clip",
    "summary_metrics",
    "summary_means",
    "system_level",
    "summary_row",
    "ablation_deltas",
    "delta_is_better",
    "paired_differences",
    "intensity_summary",
    "spearman_table",
    "silhouette",
]


def t_quantile(level: float, n: int) -> float:
    """The two-sided ``level`` quantile of Student's t with ``n − 1`` degrees of freedom (NaN for n < 2)."""
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, n - 1)) if n > 1 else float("nan")


def ci_half(x: Any, level: float = 0.95) -> float:
    """Half-width of the ``level`` t-interval of the mean of ``x`` (NaN ignored; NaN with fewer than 2 values)."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n < 2:
        return float("nan")
    return float(t_quantile(level, n) * x.std(ddof=1) / math.sqrt(n))


def with_abs_offset(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with ``abs_av_offset`` = |AV offset| (frames) added when ``av_offset`` is there and it is not."""
    if "av_offset" in df.columns and "abs_av_offset" not in df.columns:
        df = df.assign(abs_av_offset=df["av_offset"].abs())
    return df


def summarise_per_clip(df: pd.DataFrame, group_cols: Sequence[str] = ("system", "setting"),
                       metrics: Sequence[str] | None = None, level: float = 0.95,
                       order: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Mean and ``level`` t-interval half-width of each metric per group.

    Returns one row per group (index = ``group_cols``, in first-appearance order or ``order``) and,
    for every metric ``m``, columns ``m`` (mean over clips, NaN ignored), ``m_ci`` (half-width of the
    95 % confidence interval of the mean; NaN with fewer than 2 clips) and ``m_n`` (clips counted).
    ``abs_av_offset`` is derived from ``av_offset`` when missing. ``metrics`` defaults to the keys of
    :data:`~emodubber.reports.paper.METRICS` (plus ``IS``) present in ``df``. The
    :data:`~emodubber.reports.paper.DETAIL_METRICS` present (DNSMOS SIG, BAK, P.808) are summarised too, for the
    CSVs, but are not among ``attrs["metrics"]`` (what the Markdown tables show).
    """
    df = with_abs_offset(df)
    group_cols = [c for c in group_cols if c in df.columns]
    if not group_cols:
        raise ValueError("none of the group columns is in the frame")
    if metrics is None:
        metrics = [m for m in (*METRICS, "IS") if m in df.columns]
    missing = [m for m in metrics if m not in df.columns]
    if missing:
        raise KeyError(f"metric column(s) {missing} not in the per-clip frame; it has {list(df.columns)}")
    details = [m for m in DETAIL_METRICS if m in df.columns and m not in metrics]
    rows = []
    for key, g in df.groupby(list(group_cols), sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(group_cols, key))
        for m in (*metrics, *details):
            x = pd.to_numeric(g[m], errors="coerce").to_numpy(dtype=float)
            n = int((~np.isnan(x)).sum())
            row[m] = float(np.nanmean(x)) if n else float("nan")
            row[f"{m}_ci"] = ci_half(x, level)
            row[f"{m}_n"] = n
        rows.append(row)
    out = pd.DataFrame(rows)
    for col, values in (order or {}).items():
        if col in out.columns:
            rank = {v: i for i, v in enumerate(values)}
            out = out.iloc[np.argsort([rank.get(v, len(rank)) for v in out[col]], kind="stable")]
    out = out.set_index(list(group_cols))
    out.attrs["metrics"] = list(metrics)
    out.attrs["detail_metrics"] = details
    out.attrs["level"] = level
    return out

def summary_metrics(summary: pd.DataFrame, metrics: Sequence[str] | None = None) -> list[str]:
    """The metric keys of a summary: ``metrics`` when given, else those it was made with, else its mean columns
    (without :data:`~emodubber.reports.paper.DETAIL_METRICS`)."""
    if metrics is not None:
        return list(metrics)
    if summary.attrs.get("metrics"):
        return list(summary.attrs["metrics"])
    return [c for c in summary.columns if not c.endswith(("_ci", "_n")) and c not in DETAIL_METRICS]


def summary_means(summary: pd.DataFrame, metrics: Sequence[str] | None = None, labels: bool = False) -> pd.DataFrame:
    """The mean columns only (optionally renamed to the paper's headers with arrows)."""
    ms = summary_metrics(summary, metrics)
    out = summary[ms].copy()
    if labels:
        out.columns = [METRIC_LABELS.get(m, m) for m in ms]
    return out

def system_level(summary: pd.DataFrame) -> str | int:
    """The index level that names the system (``"system"``, else the first)."""
    return "system" if "system" in (summary.index.names or []) else 0


def summary_row(summary: pd.DataFrame, system: str, setting: Any = None) -> pd.Series:
    """The summary row of ``system`` (and ``setting`` when the index has more levels)."""
    if isinstance(summary.index, pd.MultiIndex):
        sub = summary.xs(system, level=system_level(summary))
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
    ms = [m for m in summary_metrics(summary, metrics) if m in summary.columns]
    means = summary[ms]
    if isinstance(means.index, pd.MultiIndex):
        lvl = system_level(means)
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



def paired_differences(per_clip: pd.DataFrame, system: str, other: str, metric: str, by: str = "system",
                       setting: Any = None, clip_col: str = "clip_id") -> np.ndarray:
    """``metric`` of ``system`` minus that of ``other`` on every clip both were scored on (NaN dropped).

    ``per_clip``: long frame with columns ``by``, ``clip_col``, ``metric`` (and ``setting`` when given); a clip
    with several rows under one ``by`` value counts with its mean.
    """
    df = per_clip if setting is None or "setting" not in per_clip.columns else per_clip[per_clip["setting"] == setting]
    a = df[df[by] == system].groupby(clip_col)[metric].mean()
    b = df[df[by] == other].groupby(clip_col)[metric].mean()
    common = a.index.intersection(b.index)
    d = (a[common] - b[common]).to_numpy(dtype=float)
    return d[~np.isnan(d)]


def intensity_summary(df: pd.DataFrame, value: str = "IS", level: float = 0.95) -> pd.DataFrame:
    """Mean, 95 % CI half-width and count of ``value`` per (emotion, curve, alpha), sorted by α.

    ``df`` is long: columns ``emotion``, ``curve`` (a key of :data:`~emodubber.reports.paper.CURVES`),
    ``alpha`` and ``value``, one row per clip (or one per point).
    """
    need = {"emotion", "curve", "alpha", value}
    if not need <= set(df.columns):
        raise KeyError(f"intensity frame needs columns {sorted(need)}; it has {list(df.columns)}")
    g = df.groupby(["emotion", "curve", "alpha"], sort=False)[value]
    out = g.agg(["mean", "std", "count"]).reset_index()
    tcrit = np.array([t_quantile(level, n) for n in out["count"]])
    out["ci"] = tcrit * out["std"] / np.sqrt(out["count"])
    return out.sort_values(["emotion", "curve", "alpha"], kind="stable").reset_index(drop=True)



def spearman_table(df: pd.DataFrame, value: str = "IS") -> pd.DataFrame:
    """Spearman ρ of IS with α for every (emotion, curve) curve.

    ``rho``/``p`` use the curve as plotted (mean IS per α; ``n`` = number of α points);
    ``rho_clips``/``p_clips`` use every clip-level row (equal to the former with one row per point).
    Also the curve's IS at the smallest and largest α. A constant curve gives ρ = NaN.
    """
    from scipy import stats

    summ = intensity_summary(df, value)
    rows = []
    for (emo, c), s in summ.groupby(["emotion", "curve"], sort=False):
        raw = df[(df["emotion"] == emo) & (df["curve"] == c)].dropna(subset=["alpha", value])
        s = s.dropna(subset=["mean"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = stats.spearmanr(s["alpha"], s["mean"]) if len(s) > 1 else (np.nan, np.nan)
            rc = stats.spearmanr(raw["alpha"], raw[value]) if len(raw) > 1 else (np.nan, np.nan)
        rows.append({"emotion": emo, "curve": c, "beta": CURVES.get(c, (c,))[0], "rho": float(r[0]), "p": float(r[1]),
                     "n": len(s), "rho_clips": float(rc[0]), "p_clips": float(rc[1]), "n_clips": len(raw),
                     "IS_at_min_alpha": float(s["mean"].iloc[0]), "IS_at_max_alpha": float(s["mean"].iloc[-1])})
    out = pd.DataFrame(rows)
    order = {e: i for i, e in enumerate(EMOTIONS)}
    corder = {c: i for i, c in enumerate(CURVES)}
    if not out.empty:
        out = out.iloc[np.lexsort(([corder.get(c, 9) for c in out["curve"]],
                                   [order.get(e, 99) for e in out["emotion"]]))].reset_index(drop=True)
    return out



def silhouette(emb: Any, labels: Sequence[Any], metric: str = "euclidean") -> float:
    """Silhouette score of ``labels`` on ``emb`` (−1..1; higher = better separated); NaN if undefined."""
    from sklearn.metrics import silhouette_score

    x = to_numpy(emb)
    lab = np.asarray(list(labels))
    n_lab = len(set(lab.tolist()))
    if n_lab < 2 or n_lab >= len(lab):
        return float("nan")
    return float(silhouette_score(x, lab, metric=metric))

