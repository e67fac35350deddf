"""Tables of the reproduction notebooks: Markdown, CSV and their provenance.

The per-clip frames come from ``emodubber.metrics.evaluate`` (one row per clip, one column per metric;
:func:`from_evaluate` renames them to the keys of :data:`emodubber.reports.paper.METRICS`). The notebooks call:

1. :func:`emodubber.reports.stats.summarise_per_clip` → mean ± 95 % t-interval per system and setting;
2. :func:`format_mean_ci` → the display strings (``"7.12 ± 0.31"``) under the paper's column headers;
3. :func:`write_table` → ``name.md`` + ``name.csv`` (atomically), with provenance, a "synthetic corpus"
   label, and — when ``paper=`` is given — the paper's own block under its own heading (never merged
   into our columns);
4. the claims of :mod:`emodubber.reports.claims` → ``name.claims.json``::

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
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from emodubber.reports.paper import METRIC_LABELS, PaperBlock
from emodubber.reports.provenance import not_comparable
from emodubber.reports.stats import summary_metrics, with_abs_offset
from emodubber.utils import atomic_path, atomic_write_text

__all__ = [
    "SYNTHETIC_LABEL",
    "EVALUATE_COLUMNS",
    "PERCENT_COLUMNS",
    "from_evaluate",
    "judge_hashes",
    "to_markdown",
    "machine_summary",
    "provenance_markdown",
    "record_dict",
    "write_table",
    "side_by_side",
    "format_mean_ci",
    "field_judge_notes",
]

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


def machine_summary(m: Mapping[str, Any] | None) -> str:
    """One line: CPU, cores, memory, torch (+ CUDA) and host of a run record's ``machine`` entry."""
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
        f"- machine: {machine_summary(d.get('machine'))}",
        f"- started: {d.get('started', '?')}; wall time: {wall}",
    ]
    if truncated := not_comparable(d):
        lines.append(f"- **{truncated}**")
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
    "wer_whisper": "WER_whisper", "dnsmos_ovrl": "DNSMOS", "dnsmos_sig": "DNSMOS_SIG", "dnsmos_bak": "DNSMOS_BAK",
    "dnsmos_p808": "DNSMOS_P808",
}
#: WER-like columns (fractions in ``evaluate``) that :func:`from_evaluate` turns into %.
PERCENT_COLUMNS: tuple[str, ...] = ("WER", "PER", "WER_swapped", "WER_LM", "WER_whisper")


def from_evaluate(table: pd.DataFrame, system: str | None = None, setting: Any = None, percent: bool = True,
                  secs_column: str | None = None) -> pd.DataFrame:
    """Rename an ``emodubber.metrics.evaluate`` table to the paper's metric keys (see :data:`EVALUATE_COLUMNS`).

    WER / PER / Whisper WER (fractions there) become % when ``percent`` (the paper's unit; the per-clip mean is
    the paper's WER, not the corpus rate); DNSMOS OVRL is ``DNSMOS``, its other scores ``DNSMOS_SIG`` …. SECS comes from ``secs_column`` or, by default, the column the
    table's provenance names (``secs_vs_target`` in Setting 1, ``secs_vs_reference`` in Setting 2).
    ``system`` / ``setting`` are added as columns for :func:`~emodubber.reports.stats.summarise_per_clip`.
    Other columns are kept.
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
    for m in PERCENT_COLUMNS:
        if percent and m in df.columns:
            df[m] = pd.to_numeric(df[m], errors="coerce") * 100.0
    df = with_abs_offset(df)
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



def format_mean_ci(summary: pd.DataFrame, metrics: Sequence[str] | None = None, digits: int = 2,
                   scale: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Display strings ``"mean ± ci"`` under the paper's headers; ``n/a`` where nothing was measured.

    ``scale`` multiplies a metric for display (e.g. ``{"WER": 100}`` to show a fraction in %).
    """
    ms = summary_metrics(summary, metrics)
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



def field_judge_notes(field_judges: Sequence[str]) -> list[str]:
    """The tables' notes on the field judges they carry (``eval.field_judges``); none without them."""
    notes = []
    if "whisper" in field_judges:
        notes.append("WER (Whisper): Whisper tiny.en (faster-whisper), open vocabulary, per-clip mean in %; GRID's "
                     "meaningless sentences keep it high even on ground truth (docs/paper.md §C.3): it compares rows, "
                     "it is not an absolute intelligibility.")
    if "dnsmos" in field_judges:
        notes.append("DNSMOS: P.835 overall quality (OVRL, 1-5, no reference clip); SIG, BAK and P.808 are in the CSV.")
    return notes
