"""The paper's reported numbers, as data, each with its source and a verified flag.

This module is the **only** place in the package where the paper's numbers are written down. What
is known is summarised in docs/paper.md §D (tables) and §3.5.3 (the intensity plots); nothing
here has been checked against the paper's PDF, so every value carries ``verified=False``:

- ``[NOTE3P]``: a third-party, AI-generated paper note (Chem table, zero-shot table, approximate
  ablations). Useful, **not authoritative**.
- ``[ART]``: numbers quoted in a blog summary of the paper (docs/paper.md §D.4, §D.5): GRID MCD and WER.
- ``[FIG]``: approximate readings of the intensity plots (the paper's Figure 3 on its demo page),
  taken by eye from the images, as summarised in docs/paper.md §3.5.3 and §D.7.

Later papers reprint EmoDubber's rows beside their own (docs/paper.md §D.2 and §D.4 give the tables):

- ``[DIFLOW]``: DiFlowDubber's main tables (GRID Setting 1, Chem) as given by two notes on that paper, with
  Whisper WER and UTMOS; ``[NOTE3P+DIFLOW]`` marks a Chem cell both sources give with the same value.
- ``[COSYNC]``: CoSyncDiT's own re-measurements of EmoDubber on Chem (other judges, DNSMOS).

A cell that is not known is ``NaN`` and renders as ``"unknown"``; it is never filled or guessed.
The paper's table numbering follows the article: Table 4 = GRID, Table 5 = emotional quality,
Figure 3 = intensity on Chem (the demo page has the same plot for GRID and V2C-Animation).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

__all__ = [
    "SOURCES",
    "METRICS",
    "DETAIL_METRICS",
    "METRIC_LABELS",
    "HIGHER_IS_BETTER",
    "OUR_TABLE4_ROWS",
    "PAPER_BASELINES",
    "FIG3_EMOTIONS",
    "CURVES",
    "curve_beta",
    "PaperValue",
    "PaperBlock",
    "paper_values",
    "paper_table4_block",
    "paper_chem_block",
    "paper_zero_shot_block",
    "paper_ablation_notes",
    "paper_intensity_readings",
    "format_paper_cell",
    "paper_grid_setting1_block",
    "paper_chem_confirmed_block",
    "paper_cosync_block",
]

#: Source tags and what they mean (shown under every paper block).
SOURCES: dict[str, str] = {
    "NOTE3P": "third-party AI-generated paper note (en.papernotes.org); not authoritative, unverified",
    "ART": "blog summary of the paper (docs/paper.md §D); quoted as given, unverified",
    "FIG": "approximate reading, by eye, of the paper's intensity plots (docs/paper.md §D.7); unverified",
    "DIFLOW": "DiFlowDubber (CVPR 2026, arXiv 2603.14267) reprint of the rows, as given by two notes on that paper "
              "(docs/paper.md §D.2, §D.4); Whisper WER, UTMOS; medium-high confidence, not the EmoDubber PDF",
    "NOTE3P+DIFLOW": "the same value in the third-party note and in DiFlowDubber's reprint (docs/paper.md §D.2)",
    "COSYNC": "CoSyncDiT (2026 preprint) re-measurement of EmoDubber with its own judges (WavLM SPKSIM, "
              "Whisper-large-v3 WER, emotion2vec EMOSIM, Sync-KL, DNSMOS); CoSyncDiT's numbers, not the paper's",
}

#: Metric keys as the per-clip frames of ``emodubber.metrics.evaluate`` name them, in Table 4 order; the last two
#: are the field judges (Whisper WER, DNSMOS OVRL; docs/paper.md §C.3).
METRICS: tuple[str, ...] = ("LSE-C", "LSE-D", "abs_av_offset", "WER", "PER", "SECS", "MCD", "MCD-SL", "WER_whisper",
                            "DNSMOS")
#: Per-clip metrics summarised into the tables' CSVs but not shown in their Markdown: DNSMOS's other scores.
DETAIL_METRICS: tuple[str, ...] = ("DNSMOS_SIG", "DNSMOS_BAK", "DNSMOS_P808")

#: Column headers with the direction of "better" (the paper's arrows).
METRIC_LABELS: dict[str, str] = {
    "LSE-C": "LSE-C ↑",
    "LSE-D": "LSE-D ↓",
    "abs_av_offset": "|AV offset| ↓",
    "WER": "WER ↓",
    "WER_whisper": "WER (Whisper) ↓",
    "PER": "PER ↓",
    "SECS": "SECS ↑",
    "MCD": "MCD ↓",
    "MCD-SL": "MCD-SL ↓",
    "IS": "IS ↑",
    "UTMOS": "UTMOS ↑",
    "MOS-S": "MOS-S ↑",
    "MOS-N": "MOS-N ↑",
    "SPKSIM": "SPKSIM ↑",
    "EMOSIM": "EMOSIM ↑",
    "Sync-KL": "Sync-KL ↓",
    "DNSMOS": "DNSMOS ↑",
    "DNSMOS_SIG": "DNSMOS SIG ↑",
    "DNSMOS_BAK": "DNSMOS BAK ↑",
    "DNSMOS_P808": "DNSMOS P.808 ↑",
}

#: Direction of each metric: True when a larger value is better.
HIGHER_IS_BETTER: dict[str, bool] = {
    "LSE-C": True, "LSE-D": False, "abs_av_offset": False, "av_offset": False, "WER": False, "PER": False,
    "SECS": True, "MCD": False, "MCD-SL": False, "IS": True, "UTMOS": True, "MOS-S": True, "MOS-N": True,
    "emotion_acc": True, "SPKSIM": True, "EMOSIM": True, "Sync-KL": False, "DNSMOS": True, "WER_whisper": False,
    "DNSMOS_SIG": True, "DNSMOS_BAK": True, "DNSMOS_P808": True,
}

#: The rows our Table 4 reproduces (the systems we train and measure), in display order.
OUR_TABLE4_ROWS: tuple[str, ...] = (
    "GT", "GT mel + vocoder", "lip-blind TTS", "EmoDubber w/o L_cl", "EmoDubber w/o PE", "EmoDubber",
)

#: Baselines of the paper's tables that we do not re-implement (docs/paper.md §D.1).
PAPER_BASELINES: tuple[str, ...] = ("V2C-Net", "HPMDubbing", "Speaker2Dub", "StyleDubber")

#: The emotions of the intensity figure, in the paper's panel order.
FIG3_EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "surprised", "angry")

#: The three curves of the intensity figure: key -> (legend label as in the paper, colour); β from ``curve_beta``.
CURVES: dict[str, tuple[str, str]] = {
    "beta=alpha/4": ("β = α/4", "tab:blue"),
    "beta=0.6": ("β = 0.6", "tab:orange"),
    "beta=0": ("β = 0.0 (Baseline)", "tab:green"),
}


def curve_beta(curve: str, alpha: float) -> float:
    """β of ``curve`` at ``alpha`` (``beta=alpha/4`` -> α/4, ``beta=0.6`` -> 0.6, ``beta=0`` -> 0)."""
    if curve == "beta=alpha/4":
        return alpha / 4.0
    if curve.startswith("beta="):
        return float(curve.split("=", 1)[1])
    raise ValueError(f"unknown curve {curve!r}; known: {list(CURVES)}")



@dataclass(frozen=True)
class PaperValue:
    """One number the paper (reportedly) gives."""

    table: str  # "Table 4 (GRID)", "Chem", "zero-shot", "ablation", "Figure 3 (Chem)" ...
    dataset: str  # "GRID", "Chem", "V2C-Animation", "unknown"
    setting: str  # "1", "2", "1+2 (merged, per the note)", "unspecified"
    system: str
    metric: str  # a key of METRIC_LABELS
    value: float
    source: str  # a key of SOURCES
    verified: bool = False
    approx: bool = False  # the source itself says "~" / the value is read off a plot
    note: str = ""


def _chem() -> list[PaperValue]:
    # docs/paper.md §D.2 [NOTE3P], Chem, "Setting 1.0 + 2.0 merged" per the note. WER and SECS in %.
    rows = {
        "GT": (8.12, 6.59, 3.85, 100.0),
        "HPMDubbing": (7.85, 7.19, 16.05, 85.09),
        "StyleDubber": (3.87, 10.92, 13.14, 87.72),
        "Speaker2Dub": (3.76, 10.56, 16.98, 74.73),
        "EmoDubber": (8.11, 6.92, 11.72, 90.62),
    }
    out = []
    for system, vals in rows.items():
        for metric, v in zip(("LSE-C", "LSE-D", "WER", "SECS"), vals):
            out.append(PaperValue("Chem", "Chem", "1+2 (merged, per the note)", system, metric, v, "NOTE3P"))
    return out


def _grid() -> list[PaperValue]:
    # docs/paper.md §D.4 [ART]: the only GRID values known. MCD is Setting 2 ("On the challenging GRID benchmark
    # (Setting 2.0 ...)"); the WER sentence follows it but does not name its setting.
    return [
        PaperValue("Table 4 (GRID)", "GRID", "2", "EmoDubber", "MCD", 3.92, "ART"),
        PaperValue("Table 4 (GRID)", "GRID", "2", "StyleDubber", "MCD", 6.33, "ART"),
        PaperValue("Table 4 (GRID)", "GRID", "unspecified", "EmoDubber", "WER", 19.75, "ART",
                   note="setting not named; the article's paragraph is about Setting 2"),
        PaperValue("Table 4 (GRID)", "GRID", "unspecified", "V2C-Net", "WER", 49.09, "ART",
                   note="setting not named; the article's paragraph is about Setting 2"),
    ]


def _zero_shot() -> list[PaperValue]:
    # docs/paper.md §D.3 [NOTE3P] "Dub 3.0", probably V2C-Animation Setting 3.
    rows = {
        "StyleDubber": (6.17, 9.11, 15.10, 4.03, 3.85),
        "Speaker2Dub": (4.83, 10.39, 15.91, 3.98, 4.01),
        "EmoDubber": (7.40, 6.65, 14.03, 4.07, 4.05),
    }
    out = []
    for system, vals in rows.items():
        for metric, v in zip(("LSE-C", "LSE-D", "WER", "MOS-S", "MOS-N"), vals):
            out.append(PaperValue("zero-shot", "V2C-Animation (probably)", "3", system, metric, v, "NOTE3P"))
    return out


def _ablations() -> list[PaperValue]:
    # docs/paper.md §D.6 [NOTE3P]: explicitly approximate ("~"); dataset not stated; NOT targets.
    rows = {"EmoDubber w/o L_cl": (5.5, 9.0, 14.0), "EmoDubber w/o PE": (7.0, 7.5, 15.0)}
    out = []
    for system, vals in rows.items():
        for metric, v in zip(("LSE-C", "LSE-D", "WER"), vals):
            out.append(PaperValue("ablation", "unknown", "unspecified", system, metric, v, "NOTE3P", approx=True,
                                  note="'~' in the source; dataset unknown; not a target"))
    return out


_FIELD_METRICS = ("LSE-C", "LSE-D", "WER", "SECS", "UTMOS")


def _grid_diflow() -> list[PaperValue]:
    # docs/paper.md §D.4 [DIFLOW]: GRID Setting 1 (the English note's label), WER from Whisper, SECS in %.
    rows = {
        "GT": (7.13, 6.78, 22.41, 100.00, 3.94),
        "StyleDubber": (6.12, 9.03, 18.88, 93.79, 3.73),
        "ProDubber": (5.23, 9.59, 18.60, 89.03, 3.87),
        "EmoDubber": (7.12, 6.82, 18.53, 92.22, 3.83),
        "DiFlowDubber": (7.32, 6.73, 16.79, 82.52, 3.95),
    }
    return [PaperValue("DiFlowDubber, GRID", "GRID", "1", system, metric, v, "DIFLOW",
                       note="Whisper WER" if metric == "WER" else "")
            for system, vals in rows.items() for metric, v in zip(_FIELD_METRICS, vals)]


def _chem_diflow() -> list[PaperValue]:
    # docs/paper.md §D.2 [DIFLOW]: Chem, "Setting 1.0" per the DiFlowDubber note; UTMOS is DiFlowDubber's measurement.
    rows = {
        "GT": (8.12, 6.59, 3.85, 100.00, 4.18),
        "V2C-Net": (1.97, 12.17, 90.47, 51.52, 1.81),
        "HPMDubbing": (7.85, 7.19, 16.05, 85.09, 2.16),
        "StyleDubber": (3.87, 10.92, 13.14, 87.72, 3.14),
        "ProDubber": (2.58, 12.54, 9.45, 72.13, 3.85),
        "EmoDubber": (8.11, 6.92, 11.72, 90.62, 3.82),
        "DiFlowDubber": (8.31, 6.73, 9.65, 84.59, 4.02),
    }
    return [PaperValue("DiFlowDubber, Chem", "Chem", "1", system, metric, v, "DIFLOW")
            for system, vals in rows.items() for metric, v in zip(_FIELD_METRICS, vals)]


def _cosync() -> list[PaperValue]:
    # docs/paper.md §D.2 [COSYNC]: EmoDubber re-run by CoSyncDiT on Chem; SPKSIM, WER, EMOSIM in %.
    rows = {"1": (75.60, 11.86, 85.10, 0.420, 3.70), "2": (67.53, 12.01, 79.41, 0.427, 3.71)}
    return [PaperValue("CoSyncDiT re-measurement", "Chem", setting, "EmoDubber", metric, v, "COSYNC",
                       note="Whisper-large-v3 WER" if metric == "WER" else "")
            for setting, vals in rows.items() for metric, v in zip(("SPKSIM", "WER", "EMOSIM", "Sync-KL", "DNSMOS"),
                                                                     vals)]


def paper_values() -> pd.DataFrame:
    """Every tabulated number known of the paper, one row each (long format), with source and flags.

    A cell given by two sources (Chem: [NOTE3P] and [DIFLOW]) has one row per source.
    """
    rows = _chem() + _grid() + _zero_shot() + _ablations() + _grid_diflow() + _chem_diflow() + _cosync()
    return pd.DataFrame([r.__dict__ for r in rows])


@dataclass
class PaperBlock:
    """A block of the paper's numbers shaped like one of our tables.

    ``values`` holds floats (``NaN`` = unknown); ``sources`` holds the source tag of each known cell
    (empty string where unknown). ``formatted()`` renders unknown cells as ``"unknown"``.
    """

    title: str
    values: pd.DataFrame
    sources: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def known(self) -> int:
        """How many cells hold a number."""
        return int(self.values.notna().to_numpy().sum())

    def formatted(self, digits: int = 2, with_source: bool = True) -> pd.DataFrame:
        """Strings: ``"3.92 [ART]"`` for a known cell, ``"unknown"`` otherwise."""
        out = self.values.copy().astype(object)
        for r in self.values.index:
            for c in self.values.columns:
                out.loc[r, c] = format_paper_cell(self.values.loc[r, c], self.sources.loc[r, c] if with_source else "",
                                                  digits)
        return out

    def legend(self) -> str:
        """Markdown lines explaining the source tags used in the block, plus the block's notes."""
        tags = sorted({t for t in self.sources.to_numpy().ravel() if t})
        lines = [f"- `[{t}]`: {SOURCES[t]}" for t in tags]
        lines += [f"- {n}" for n in self.notes]
        lines.append("- `unknown`: the value is not available to this project (not retrieved); it is never filled.")
        return "\n".join(lines)


def format_paper_cell(value: float, source: str = "", digits: int = 2) -> str:
    """``"unknown"`` for NaN, else the number (with its ``[SOURCE]`` tag when given)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    s = f"{float(value):.{digits}f}"
    return f"{s} [{source}]" if source else s


def _block(title: str, rows: Iterable[str], metrics: Iterable[str], values: list[PaperValue],
           notes: list[str]) -> PaperBlock:
    rows, metrics = list(rows), list(metrics)
    vals = pd.DataFrame(np.nan, index=pd.Index(rows, name="system"), columns=[METRIC_LABELS[m] for m in metrics])
    srcs = pd.DataFrame("", index=vals.index, columns=vals.columns)
    for v in values:
        if v.system in rows and v.metric in metrics:
            col = METRIC_LABELS[v.metric]
            if not np.isnan(vals.loc[v.system, col]):
                raise ValueError(f"two paper values for {v.system} / {v.metric} in block {title!r}")
            vals.loc[v.system, col] = v.value
            srcs.loc[v.system, col] = v.source
    return PaperBlock(title, vals, srcs, notes)


def paper_table4_block(setting: str = "2", include_baselines: bool = True) -> PaperBlock:
    """The paper's GRID Table 4 with our rows and columns (plus the paper's baselines when asked).

    The [ART] values known for GRID: MCD (Setting 2) of EmoDubber and StyleDubber, and the WER
    of EmoDubber and V2C-Net whose setting the article does not name; those WER values are placed
    under ``setting="2"`` (the setting the article's paragraph is about) and flagged in the notes.
    Setting 1 has the Whisper WER of GT, EmoDubber and StyleDubber from DiFlowDubber's reprint ([DIFLOW],
    :func:`paper_grid_setting1_block` has its other columns). Every other cell, including the ablation rows, is
    unknown. Baseline rows come after ours.
    """
    if str(setting) not in ("1", "2"):
        raise ValueError(f"setting must be '1' or '2', not {setting!r}")
    rows = list(OUR_TABLE4_ROWS) + (list(PAPER_BASELINES) if include_baselines else [])
    chosen = [v for v in _grid() if v.setting == str(setting) or (v.setting == "unspecified" and str(setting) == "2")]
    notes = [
        "GRID numbers known to this project are only those quoted by the article and a later paper's reprint: the "
        "full Table 4 was not retrieved.",
        "Units as in the paper: WER and PER in %, SECS in % (cosine × 100), MCD in dB.",
    ]
    if str(setting) == "1":
        chosen += [dataclasses.replace(v, metric="WER_whisper") for v in _grid_diflow() if v.metric == "WER"]
        notes.append("WER (Whisper): DiFlowDubber's reprint of GRID Setting 1 (Whisper, model size not given by the "
                     "notes; ours is tiny.en, so only the ordering of rows compares). DNSMOS on GRID: unknown.")
    if str(setting) == "2":
        notes.append("WER: the article does not name the setting of 19.75 % / 49.09 %; its paragraph is about "
                     "Setting 2, so they are shown here.")
    notes.append("Approximate ablation values from a third-party note exist (`paper_ablation_notes()`), dataset "
                 "unknown and marked '~' by the note; they are not shown here and are not targets.")
    return _block(f"Paper, Table 4 (GRID), Setting {setting}", rows, METRICS, chosen, notes)


def paper_chem_block() -> PaperBlock:
    """The Chem table as given by the third-party note (docs/paper.md §D.2), with our columns."""
    rows = ["GT", "GT mel + vocoder", "HPMDubbing", "StyleDubber", "Speaker2Dub", "EmoDubber"]
    return _block("Paper, Chem (Setting 1 + 2 merged, per a third-party note)", rows, METRICS, _chem(),
                  ["Whole table from [NOTE3P]: not authoritative; the note's 'Setting 1.0 + 2.0' label is ambiguous.",
                   "The real table very likely has MCD / MCD-SL and a GT mel + vocoder row; those are unknown."])


def paper_grid_setting1_block() -> PaperBlock:
    """GRID Setting 1 as reprinted by DiFlowDubber (docs/paper.md §D.4): LSE, Whisper WER, SECS, UTMOS."""
    return _block("Successor reprint, GRID Setting 1 (DiFlowDubber)",
                  ["GT", "StyleDubber", "ProDubber", "EmoDubber", "DiFlowDubber"], _FIELD_METRICS, _grid_diflow(),
                  ["From [DIFLOW]: a peer's reprint, not the EmoDubber PDF; WER by Whisper (open vocabulary), "
                   "which is why GT's WER (22.41 %) is above the generated systems'.",
                   "The Chinese note does not print the setting; the English one says Setting 1.0.",
                   "Units: WER and SECS in %; UTMOS 1-5."])


def paper_chem_confirmed_block() -> PaperBlock:
    """Chem with the third-party note's cells confirmed by DiFlowDubber's reprint, widened with its rows and
    UTMOS (docs/paper.md §D.2). Equal values from both sources carry ``NOTE3P+DIFLOW``."""
    by_cell: dict[tuple[str, str], PaperValue] = {(v.system, v.metric): v for v in _chem_diflow()}
    for v in _chem():
        other = by_cell.get((v.system, v.metric))
        if other is None:
            by_cell[(v.system, v.metric)] = v
        elif math.isclose(other.value, v.value, abs_tol=1e-9):
            by_cell[(v.system, v.metric)] = PaperValue(v.table, v.dataset, "1", v.system, v.metric, v.value,
                                                       "NOTE3P+DIFLOW")
        else:
            raise ValueError(f"Chem sources disagree on {v.system} / {v.metric}: {v.value} vs {other.value}")
    rows = ["GT", "GT mel + vocoder", "V2C-Net", "HPMDubbing", "StyleDubber", "Speaker2Dub", "ProDubber",
            "EmoDubber", "DiFlowDubber"]
    return _block("Paper, Chem (third-party note, confirmed and widened by DiFlowDubber's reprint)", rows,
                  METRICS + ("UTMOS",), list(by_cell.values()),
                  ["DiFlowDubber labels the block Setting 1.0; the EmoDubber note called it 'Setting 1.0 + 2.0 "
                   "merged'.",
                   "UTMOS is DiFlowDubber's measurement; Speaker2Dub is in the note only; MCD / MCD-SL unknown."])


def paper_cosync_block() -> PaperBlock:
    """EmoDubber re-measured by CoSyncDiT on Chem, Settings 1 and 2 (docs/paper.md §D.2): other judges."""
    vals = [PaperValue(v.table, v.dataset, v.setting, f"EmoDubber (Chem, Setting {v.setting})", v.metric, v.value,
                       v.source, note=v.note) for v in _cosync()]
    return _block("CoSyncDiT's re-measurement of EmoDubber (Chem)",
                  ["EmoDubber (Chem, Setting 1)", "EmoDubber (Chem, Setting 2)"],
                  ("SPKSIM", "WER", "EMOSIM", "Sync-KL", "DNSMOS"), vals,
                  ["CoSyncDiT's numbers with its own judges (WavLM SPKSIM, Whisper-large-v3 WER, emotion2vec EMOSIM, "
                   "Sync-KL, DNSMOS), not the EmoDubber paper's. SPKSIM, WER, EMOSIM in %."])


def paper_zero_shot_block() -> PaperBlock:
    """Zero-shot ('Dub 3.0', probably V2C-Animation Setting 3) per the third-party note (docs/paper.md §D.3)."""
    return _block("Paper, zero-shot (Dub 3.0, per a third-party note)", ["StyleDubber", "Speaker2Dub", "EmoDubber"],
                  ("LSE-C", "LSE-D", "WER", "MOS-S", "MOS-N"), _zero_shot(),
                  ["Whole table from [NOTE3P]: not authoritative."])


def paper_ablation_notes() -> PaperBlock:
    """Approximate ablation values ("~", docs/paper.md §D.6); dataset unknown; shown for context, not as targets."""
    return _block("Paper ablations, approximate (third-party note, '~', dataset unknown — not targets)",
                  ["EmoDubber w/o L_cl", "EmoDubber w/o PE"], ("LSE-C", "LSE-D", "WER"), _ablations(),
                  ["Values marked '~' by the source; the note calls the L_cl ablation 'w/o DLCL'."])


# ------------------------------------------------------------------------------------------
# The intensity plots (docs/paper.md §3.5.2): approximate readings by eye, only the values docs/paper.md §3.5.2 gives.
# ------------------------------------------------------------------------------------------

# (dataset, emotion, curve, alpha, IS, relation). relation "≈": reading of the curve at alpha;
# "≤": the curve stays at or below IS over [0, 5] (docs/paper.md §D.7 gives the baseline's maximum only).
_INTENSITY: list[tuple[str, str, str, float, float, str]] = []


def _add(dataset: str, curve: str, alpha: float, relation: str, **by_emotion: float) -> None:
    for emo, v in by_emotion.items():
        _INTENSITY.append((dataset, emo, curve, alpha, v, relation))


# Chem (the paper's Figure 3): baseline β = 0 from α = 0 to α = 5; both guided curves ≈ 1.0 by α ≈ 2–3.
_add("Chem", "beta=0", 0.0, "≈", happy=0.10, sad=0.07, surprised=0.10, angry=0.20, neutral=0.43)
_add("Chem", "beta=0", 5.0, "≈", happy=0.37, sad=0.62, surprised=0.62, angry=0.86, neutral=0.92)
_add("Chem", "beta=alpha/4", 5.0, "≈", happy=1.0, sad=1.0, surprised=1.0, angry=1.0, neutral=1.0)
_add("Chem", "beta=0.6", 5.0, "≈", happy=1.0, sad=1.0, surprised=1.0, angry=1.0, neutral=1.0)
# GRID (demo page): values at α = 5 for the guided curves; the baseline's maximum over α.
_add("GRID", "beta=alpha/4", 5.0, "≈", happy=0.65, sad=0.96, surprised=0.94, angry=0.90, neutral=0.99)
_add("GRID", "beta=0.6", 5.0, "≈", happy=0.51, sad=0.77, surprised=0.78, angry=0.86, neutral=0.96)
_add("GRID", "beta=0", 5.0, "≤", happy=0.15, sad=0.06, surprised=0.32, angry=0.48, neutral=0.91)
_add("GRID", "beta=0.6", 0.0, "≈", sad=0.6)
# V2C-Animation (demo page): β = α/4 at α = 5 (β = 0.6 "ends slightly lower": no number given).
_add("V2C-Animation", "beta=alpha/4", 5.0, "≈", neutral=0.88, happy=0.67, sad=0.74, surprised=0.50, angry=0.93)


def paper_intensity_readings(dataset: str | None = None) -> pd.DataFrame:
    """Approximate IS readings of the paper's intensity plots (docs/paper.md §3.5.2), one row per reading.

    Columns: dataset, emotion, curve (a key of :data:`CURVES`), alpha, IS, relation ("≈" a reading at
    ``alpha``; "≤" an upper bound of the whole curve), source ("FIG"), verified (False), approx (True).
    ``dataset`` filters ("Chem" is the paper's Figure 3; "GRID" and "V2C-Animation" are demo-page plots).
    """
    df = pd.DataFrame(_INTENSITY, columns=["dataset", "emotion", "curve", "alpha", "IS", "relation"])
    df["source"] = "FIG"
    df["verified"] = False
    df["approx"] = True
    if dataset is not None:
        if dataset not in set(df["dataset"]):
            raise ValueError(f"no intensity readings for {dataset!r}; known: {sorted(set(df['dataset']))}")
        df = df[df["dataset"] == dataset].reset_index(drop=True)
    return df
