"""Claims to test, not to assume: each a dict ``{claim, measured, holds}`` (``holds`` True / False / None).

The single claims compare rows of a :func:`emodubber.reports.stats.summarise_per_clip` summary
(:func:`claim_better`, :func:`claim_close`, :func:`claim_change_within`), paired per-clip differences
(:func:`claim_paired_within`, three outcomes) or Figure 3's curves (:func:`claim_increasing`,
:func:`claim_curve_above`). The notebooks' bundles: :func:`iron_triangle_claims` (Table 4, sync without
mumbling), :func:`ablation_claims`, :func:`emotion_quality_claims` (Table 5), :func:`intensity_claims`
(Figure 3); :func:`claims_check` gathers them and :func:`write_claims` writes ``name.claims.json`` (read by
``reports/README.md``).

scipy (the Wilcoxon test) is imported inside :func:`claim_curve_above`: a heavy third-party backend.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from emodubber.models.baselines import ABLATIONS
from emodubber.reports.paper import HIGHER_IS_BETTER, METRIC_LABELS
from emodubber.reports.provenance import not_comparable
from emodubber.reports.stats import (ci_half, delta_is_better, paired_differences, spearman_table, summary_row,
                                     system_level)
from emodubber.reports.tables import record_dict
from emodubber.utils import atomic_write_json

__all__ = [
    "ABLATION_EXPECTATIONS",
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
]


def ablation_reading(deltas: pd.DataFrame, budgets: pd.DataFrame | None = None, digits: int = 2) -> str:
    """A short Markdown reading of :func:`~emodubber.reports.stats.ablation_deltas`: per setting and ablation, the
    metrics on which it is worse than the reference and those on which it is better (largest |Δ| first), then — from
    ``budgets``
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
    a, b = summary_row(summary, system, setting), summary_row(summary, other, setting)
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
    a, b = summary_row(summary, system, setting), summary_row(summary, other, setting)
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
    d = paired_differences(per_clip, system, other, metric, by, setting, clip_col)
    if not HIGHER_IS_BETTER.get(metric, True):
        worse = d
    else:
        worse = -d
    where = f" (setting {setting})" if setting is not None else ""
    claim = f"{metric} of {system} within {tol:g} {unit} of {other}{where}, paired per clip"
    if len(worse) < 2:
        return {"claim": claim, "measured": f"{len(worse)} paired clip(s)", "holds": None, "outcome": "undecided"}
    mean, half = float(worse.mean()), ci_half(worse, level)
    lo, hi = mean - half, mean + half
    holds = True if hi <= tol else False if lo > tol else None
    outcome = {True: "holds", False: "fails", None: "undecided"}[holds]
    return {"claim": claim,
            "measured": f"worse by {_fmt(mean, digits)} [{_fmt(lo, digits)}, {_fmt(hi, digits)}] "
                        f"({level:.0%} interval, {len(worse)} paired clips; limit {tol:g})",
            "holds": holds, "outcome": outcome}


def claim_increasing(spearman: pd.DataFrame, min_rho: float = 0.0, max_p: float | None = 0.05,
                     curves: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One claim per (emotion, curve) of :func:`emodubber.reports.stats.spearman_table`: IS rises with α.

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
    first = ["claim", "measured", "holds", "outcome", "ci_separated"]
    df = pd.DataFrame(rows, columns=sorted({k for r in rows for k in r},
                                           key=lambda k: first.index(k) if k in first else 9))
    if "holds" not in df.columns:
        df["holds"] = pd.Series(dtype=object)
    return df


def write_claims(claims: pd.DataFrame, name: str, out_dir: str | Path, record: Any = None,
                 title: str = "") -> Path:
    """``name.claims.json``: {title, record, claims: [{claim, measured, holds, ...}], n_hold, n_fail, n_unknown};
    ``comparable: false`` and the reason when a model behind the record's numbers was truncated by its time guard."""
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
    if why := not_comparable(payload["record"]):  # a model behind them stopped on its wall-clock guard
        payload.update(comparable=False, not_comparable=why)
    return atomic_write_json(Path(out_dir) / f"{name}.claims.json", payload)




#: Which metrics each ablated module should help, as the paper frames them: LPA's contrastive loss
#: (L_cl) aligns lips and phonemes (sync); PE fuses them for pronunciation (intelligibility).
ABLATION_EXPECTATIONS: dict[str, tuple[str, ...]] = {
    ABLATIONS["no_lcl"].label: ("LSE-C", "LSE-D"),
    ABLATIONS["no_pe"].label: ("WER", "PER"),
}


def iron_triangle_claims(summary: pd.DataFrame, system: str = "EmoDubber", baseline: str = "lip-blind TTS",
                         setting: Any = None, wer_tol: float = 2.0, per_tol: float = 2.0,
                         per_clip: pd.DataFrame | None = None, max_offset: float | None = 0.5,
                         whisper_tol: float | None = 2.0) -> pd.DataFrame:
    """Sync without mumbling: ``system`` beats ``baseline`` on LSE-C, LSE-D and MCD, its mean |AV offset| is
    ≤ ``max_offset`` frames, while WER and PER stay within ``wer_tol`` / ``per_tol`` points (WER/PER in %, see
    :func:`~emodubber.reports.tables.from_evaluate`). With ``per_clip`` the "within" claims are paired per clip
    with three outcomes (:func:`claim_paired_within`); without it they compare the means. When the summary has
    the field judge's Whisper WER (``WER_whisper``), one more claim of the same kind: it stays within
    ``whisper_tol`` points (None: no such claim)."""
    metrics = [m for m in ("LSE-C", "LSE-D", "MCD") if m in summary.columns]
    parts: list[Any] = [claim_better(summary, system, baseline, metrics, setting)]
    if max_offset is not None and "abs_av_offset" in summary.columns:
        v = float(summary_row(summary, system, setting)["abs_av_offset"])
        where = f" (setting {setting})" if setting is not None else ""
        parts.append({"claim": f"mean |AV offset| of {system} ≤ {max_offset:g} frame{where}",
                      "measured": f"{_fmt(v)} frames", "holds": None if math.isnan(v) else bool(v <= max_offset)})
    for m, tol in (("WER", wer_tol), ("PER", per_tol), ("WER_whisper", whisper_tol)):
        if tol is not None and m in summary.columns:
            parts.append(claim_close(summary, system, baseline, m, tol, setting) if per_clip is None else
                         claim_paired_within(per_clip, system, baseline, m, tol, setting=setting))
    return claims_check(*parts)


def ablation_claims(summary: pd.DataFrame, full: str = "EmoDubber", setting: Any = None,
                    expectations: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """The full model is better than each ablation on the metrics its module should help
    (:data:`ABLATION_EXPECTATIONS`); ablations missing from the summary are skipped."""
    exp = dict(ABLATION_EXPECTATIONS if expectations is None else expectations)
    systems = set(summary.index.get_level_values(system_level(summary)))
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
    return claims_check(claim_increasing(spearman_table(curves, value)),
                        claim_curve_above(curves, upper, lower, value))

