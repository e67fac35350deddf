"""What the training notebooks (02–06) show: loss curves, the LPA attention over checkpoints, mel pairs,
throughput, and the held-out quality targets of the dubber and the TTS — read from a stage's output directory
(``cfg.checkpoint_dir(stage)``: ``train_log.csv``, ``val_log.csv``, ``summary.json``, ``attn/step_*.npz``).

matplotlib is imported inside the plotting functions: a heavy third-party backend.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from emodubber.reports.claims import write_claims
from emodubber.reports.figures import save_figure
from emodubber.viz import draw_mel, to_numpy

__all__ = ["plot_mel_pair", "plot_attention", "plot_loss_curves", "stage_summary", "load_logs", "plot_losses",
           "attention_snapshots", "plot_attention_progress", "throughput_table", "TARGETS", "quality_checks",
           "write_quality_claims"]


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, path: str | Path | None):
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_mel_pair(mel_a: Any, mel_b: Any, titles: Sequence[str] = ("ground truth", "generated"),
                  sr: int = 16000, hop: int = 160, title: str | None = None, path: str | Path | None = None,
                  figsize=(9, 5.2)):
    """Two mels stacked on one colour scale (e.g. ground truth above the model's output)."""
    plt = _plt()
    a, b = to_numpy(mel_a), to_numpy(mel_b)
    vmin, vmax = float(min(a.min(), b.min())), float(max(a.max(), b.max()))
    fig, axes = plt.subplots(2, 1, figsize=figsize, constrained_layout=True)
    im = draw_mel(axes[0], a, sr, hop, title=titles[0], vmin=vmin, vmax=vmax)
    draw_mel(axes[1], b, sr, hop, title=titles[1], vmin=vmin, vmax=vmax)
    axes[0].set_xlabel("")
    fig.colorbar(im, ax=axes, label="log-mel energy", shrink=0.9)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_attention(attn: Any, durations: Sequence[int] | None = None, phones: Sequence[str] | None = None,
                   layout: str = "FP", fps: int = 25, title: str | None = "LPA attention: lip frames → phonemes",
                   mel_per_frame: int | None = None, path: str | Path | None = None,
                   figsize: tuple[float, float] | None = None):
    """Lip–phoneme attention as an image (phonemes up, video frames across), with the MAS path overlaid.

    ``attn`` is ``[F, P]`` (``layout="FP"``, the LPA's lip-query attention) or ``[P, F]`` (``"PF"``).
    ``durations`` (video frames per phoneme, summing to at most F) draws the hard alignment as white
    boxes; with ``mel_per_frame=4`` they are mel-frame durations (``synthesise()['durations']``) and
    are divided by it. ``phones`` labels the phoneme axis. A leading batch axis of size 1 is dropped.
    """
    plt = _plt()
    a = to_numpy(attn).astype(float)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"attention must be 2-D, got {a.shape}")
    if layout not in ("FP", "PF"):
        raise ValueError("layout must be 'FP' or 'PF'")
    pf = a.T if layout == "FP" else a
    P, F = pf.shape
    if durations is not None:
        dur = np.asarray(to_numpy(durations)).astype(float).reshape(-1)
        if mel_per_frame:
            dur = dur / mel_per_frame
        dur = np.rint(dur).astype(int)
        if len(dur) != P:
            raise ValueError(f"{len(dur)} durations for {P} phonemes (attention {a.shape}, layout {layout})")
        if dur.sum() > F or (dur < 0).any():
            raise ValueError(f"durations sum to {dur.sum()} > {F} frames or are negative")
    figsize = figsize or (max(6.0, F / 10), max(3.5, P / 5))
    fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    im = ax.imshow(pf, origin="lower", aspect="auto", cmap="viridis", interpolation="nearest",
                   extent=(-0.5, F - 0.5, -0.5, P - 0.5))
    fig.colorbar(im, ax=ax, label="attention weight")
    if durations is not None:
        from matplotlib.patches import Rectangle

        start = np.concatenate([[0], np.cumsum(dur)[:-1]])
        for p, (s0, d) in enumerate(zip(start, dur)):
            if d > 0:
                ax.add_patch(Rectangle((s0 - 0.5, p - 0.5), d, 1, fill=False, ec="white", lw=1.2))
    if phones is not None and len(phones) == P and P <= 60:
        ax.set_yticks(range(P))
        ax.set_yticklabels(list(phones), fontsize=7)
    ax.set_ylabel("phoneme")
    ax.set_xlabel(f"video frame ({fps} fps)")
    if title:
        ax.set_title(title + ("  (boxes: MAS durations)" if durations is not None else ""))
    return _finish(fig, path)


def _loss_frame(data: Any, x: str) -> pd.DataFrame:
    df = pd.read_csv(data) if isinstance(data, (str, Path)) else pd.DataFrame(data)
    for name_col in ("name", "metric", "key"):
        if {name_col, "value", x} <= set(df.columns):
            idx = [x] + (["split"] if "split" in df.columns else [])
            df = df.pivot_table(index=idx, columns=name_col, values="value", aggfunc="mean").reset_index()
            df.columns.name = None
            break
    return df


def plot_loss_curves(data: Any, x: str = "step", columns: Sequence[str] | None = None, split_col: str = "split",
                     log_y: bool | None = None, smooth: int = 1, title: str | None = "training losses",
                     path: str | Path | None = None, ncols: int = 3):
    """One small panel per loss term against ``x``, one line per split (train / val) when present.

    ``data`` is a CSV path or a frame, wide (``step, loss_a, loss_b, ..., [split]``) or long
    (``step, name, value, [split]``). ``smooth`` > 1 applies a centred rolling mean. ``log_y=None``
    picks a log axis for strictly positive terms spanning more than a factor of 20.
    """
    plt = _plt()
    df = _loss_frame(data, x)
    if x not in df.columns:
        raise KeyError(f"no {x!r} column in the loss log; columns: {list(df.columns)}")
    skip = {x, split_col, "epoch", "time", "wall_time", "lr"}
    cols = list(columns) if columns else [c for c in df.columns
                                          if c not in skip and pd.api.types.is_numeric_dtype(df[c])]
    if not cols:
        raise ValueError("no loss column to plot")
    nrows = int(math.ceil(len(cols) / ncols))
    fig, axes = plt.subplots(nrows, min(ncols, len(cols)), figsize=(4.6 * min(ncols, len(cols)), 3.1 * nrows),
                             squeeze=False, constrained_layout=True)
    splits = list(df[split_col].dropna().unique()) if split_col in df.columns else [None]
    for ax, c in zip(axes.ravel(), cols):
        for sp in splits:
            s = df if sp is None else df[df[split_col] == sp]
            s = s[[x, c]].dropna().sort_values(x)
            if s.empty:
                continue
            y = s[c].rolling(smooth, center=True, min_periods=1).mean() if smooth > 1 else s[c]
            ax.plot(s[x], y, lw=1.4, marker="o" if len(s) < 30 else None, ms=3, label=str(sp) if sp else c)
        vals = df[c].dropna()
        use_log = log_y if log_y is not None else bool(len(vals) and (vals > 0).all() and vals.max() > 20 * vals.min())
        if use_log:
            ax.set_yscale("log")
        ax.set_title(c)
        ax.set_xlabel(x)
        ax.set_ylabel("loss" + (" (log)" if use_log else ""))
        ax.grid(alpha=0.3)
        if splits != [None]:
            ax.legend(fontsize=8)
    for ax in axes.ravel()[len(cols):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def stage_summary(out_dir: str | Path) -> dict[str, Any]:
    """``summary.json`` of a stage (result, metrics, partial-load info)."""
    p = Path(out_dir) / "summary.json"
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist: train the stage first")
    return json.loads(p.read_text())


def load_logs(out_dir: str | Path):
    """Train and validation rows in one frame with a ``split`` column (``train`` / ``val``)."""
    out_dir = Path(out_dir)
    frames = []
    for split in ("train", "val"):
        p = out_dir / f"{split}_log.csv"
        if p.exists() and p.stat().st_size:
            df = pd.read_csv(p)
            df["split"] = split
            frames.append(df)
    if not frames:
        raise FileNotFoundError(f"no train_log.csv / val_log.csv in {out_dir}")
    return pd.concat(frames, ignore_index=True)


def plot_losses(out_dir: str | Path, columns: Sequence[str] | None = None, smooth: int = 5, title: str | None = None,
                path: str | Path | None = None):
    """Every loss term against the step, training (smoothed) and validation on the same axes."""
    df = load_logs(out_dir)
    if columns is None:
        skip = {"step", "lr", "grad_norm", "samples_per_s", "time_s", "split"}
        columns = [c for c in df.columns if c not in skip and df[c].notna().any()
                   and np.issubdtype(df[c].dtype, np.number)]
    if smooth > 1:  # smooth the per-step training rows only (validation points are few and already means)
        tr = df["split"] == "train"
        for c in columns:
            df.loc[tr, c] = df.loc[tr, c].rolling(smooth, center=True, min_periods=1).mean()
    return plot_loss_curves(df, columns=columns, smooth=1, title=title or f"{Path(out_dir).name}: losses",
                            path=path)


def attention_snapshots(out_dir: str | Path) -> list[tuple[int, dict[str, np.ndarray]]]:
    """``(step, {clip/attn, clip/gt, clip/path: [F, P]})`` of every validation, oldest first."""
    out = []
    for p in sorted((Path(out_dir) / "attn").glob("step_*.npz")):
        step = int(re.search(r"step_(\d+)", p.name).group(1))
        with np.load(p) as z:
            out.append((step, {k: z[k] for k in z.files}))
    return out


def plot_attention_progress(out_dir: str | Path, clip: str | None = None, max_panels: int = 4,
                            path: str | Path | None = None):
    """The LPA attention of one validation clip at successive validations, the true M outlined in white.

    A diagonal band that settles onto the outlined cells is the aligner learning which phoneme each lip
    frame belongs to; the title of each panel gives the attention mass on the true cells.
    """
    plt = _plt()
    snaps = attention_snapshots(out_dir)
    if not snaps:
        raise FileNotFoundError(f"no attention snapshots in {Path(out_dir) / 'attn'} (a lip-blind model has none)")
    if clip is None:
        clip = sorted(k.split("/")[0] for k in snaps[0][1] if k.endswith("/attn"))[0]
    pick = np.unique(np.linspace(0, len(snaps) - 1, min(max_panels, len(snaps))).round().astype(int))
    fig, axes = plt.subplots(1, len(pick), figsize=(3.6 * len(pick), 3.4), squeeze=False, constrained_layout=True)
    for ax, i in zip(axes[0], pick):
        step, z = snaps[i]
        a, gt = z[f"{clip}/attn"], z[f"{clip}/gt"]  # [F, P]
        ax.imshow(a.T, origin="lower", aspect="auto", cmap="viridis", interpolation="nearest")
        ax.contour(gt.T, levels=[0.5], colors="white", linewidths=0.8)
        on = float((a * gt).sum() / max(a.sum(), 1e-9))
        ax.set_title(f"step {step}: {100 * on:.0f}% on M")
        ax.set_xlabel("video frame")
    axes[0][0].set_ylabel("phoneme")
    fig.suptitle(f"LPA attention of validation clip {clip} over training (white: true phoneme-frame cells)")
    if path is not None:
        save_figure(fig, path)
    return fig


def throughput_table(outputs: dict[str, Any]):
    """One row per stage: steps, status, wall / training seconds, samples per second."""
    rows = []
    for name, o in outputs.items():
        r = o.result if hasattr(o, "result") else o
        rows.append({"stage": name, "steps": r.step, "status": r.status, "wall_s": r.wall_s, "train_s": r.train_s,
                     "samples_per_s": r.samples_per_s, "world_size": r.world_size})
    return pd.DataFrame(rows)


#: The held-out targets of the ``cpu`` profile (fractions; SECS in cosine × 100 points). "SECS to the true speaker
#: clearly above SECS to the others" is read as: own speaker ≥ 5 points above the mean over the other speakers;
#: the stricter per-clip "own voice the closest of all" (``SECS_same_wins``) is reported beside it.
TARGETS: dict[str, dict[str, tuple[str, float]]] = {
    "tts": {"WER": ("<=", 0.05), "SECS_gap": (">=", 5.0)},
    "dubber": {"WER": ("<=", 0.10), "SECS_gap": (">=", 5.0), "dur_within_1": (">=", 0.80)},
}


def quality_checks(summary: dict[str, Any]):
    """One row per target of :data:`TARGETS` for ``summary['stage']``: measured, target, met."""
    ops = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, ">": lambda a, b: a > b}
    rows = []
    for key, (op, bound) in TARGETS[summary["stage"]].items():
        v = summary.get(key, math.nan)
        rows.append({"metric": key, "measured": v, "target": f"{op} {bound:g}",
                     "met": bool(ops[op](v, bound)) if np.isfinite(v) else None})
    return pd.DataFrame(rows).set_index("metric")


_CLAIM_TEXT = {
    "WER": "held-out WER (GRID-grammar judge, Griffin-Lim audio) {op} {pct}",
    "SECS_gap": "SECS to the speaker's other clip {op} {bound} points above SECS to the other speakers",
    "dur_within_1": "D_p within ±1 video frame of the truth for {op} {pct} of phonemes",
}


def write_quality_claims(summary: dict[str, Any], out_dir: str | Path, record: Any = None) -> Path:
    """``train_<stage>_quality.claims.json``: :data:`TARGETS` as claims (listed by ``reports/README.md``)."""
    checks = quality_checks(summary)
    who = "TTS (true durations)" if summary["stage"] == "tts" else "dubber (from video)"
    rows = []
    for key, (op, bound) in TARGETS[summary["stage"]].items():
        v = checks.loc[key, "measured"]
        text = _CLAIM_TEXT[key].format(op=op, pct=f"{bound:.0%}", bound=f"{bound:g}")
        measured = (f"{v:.1%}" if key != "SECS_gap" else f"{v:+.1f}") if np.isfinite(v) else "n/a"
        if key == "WER":
            measured += f" (Griffin-Lim on the true mels: {summary['WER_gl_true']:.1%})"
        if key == "SECS_gap":
            measured += (f" (own {summary['SECS_same']:.1f}, others {summary['SECS_other']:.1f}; own voice the "
                         f"closest of all for {summary['SECS_same_wins']:.0%} of clips)")
        rows.append({"claim": f"{who}: {text}", "measured": f"{measured}, {summary['n_clips']} test clips",
                     "holds": checks.loc[key, "met"]})
    return write_claims(pd.DataFrame(rows), f"train_{summary['stage']}_quality", out_dir, record,
                        title=f"Held-out quality of the {who} (cpu-profile targets)")
