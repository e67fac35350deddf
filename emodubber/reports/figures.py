"""The paper's figures (3, 4, 5) and the training notebooks' plots, drawn from plain arrays and frames.

Every ``plot_*`` function returns the matplotlib Figure and, with ``path=``, also writes it as PNG
atomically (:func:`save_figure`). Inputs are numpy arrays / pandas frames (torch tensors are
accepted), so the tests call them on tiny synthetic inputs and the notebooks on real outputs.

- Figure 3: :func:`plot_intensity_curves` + :func:`spearman_table` (IS vs α for β = α/4, 0.6, 0).
- Figure 4: :func:`plot_emotion_mels` with boxes from :func:`top_difference_regions`; :func:`f0_track`.
- Figure 5: :func:`plot_tsne` (two seeded t-SNE panels) + :func:`silhouette`.
- Training: :func:`plot_mel_pair`, :func:`plot_attention`, :func:`plot_loss_curves`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from emodubber.config import EMOTIONS
from emodubber.reports.paper import CURVES, FIG3_EMOTIONS, METRIC_LABELS
from emodubber.utils import atomic_path
from emodubber.viz import EMOTION_COLOURS, draw_mel, to_numpy

__all__ = [
    "plot_guidance_range",
    "save_figure",
    "intensity_summary",
    "plot_intensity_curves",
    "spearman_table",
    "Region",
    "top_difference_regions",
    "f0_track",
    "describe_emotion_mel",
    "plot_emotion_mels",
    "tsne_embed",
    "silhouette",
    "plot_tsne",
    "plot_mel_pair",
    "plot_per_clip_boxes",
    "plot_metric_bars",
    "plot_delta_heatmap",
    "plot_attention",
    "plot_loss_curves",
]


def _plt():
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, dpi: int = 150, record: Any = None, synthetic: bool = True) -> Path:
    """Write ``fig`` as PNG at ``path`` atomically (a crash never leaves half a file).

    With ``record`` (a ``RunRecord`` or its dict) the PNG carries its provenance in text chunks:
    ``Source`` = JSON {profile, seed, commit, started, corpus}, readable with PIL's ``Image.open(p).text``.
    """
    import json

    from emodubber import __version__

    path = Path(path)
    meta = {"Software": f"emodubber {__version__}"}
    if record is not None:
        from emodubber.reports.tables import record_dict

        d = record_dict(record)
        meta["Source"] = json.dumps({k: d.get(k) for k in ("profile", "seed", "commit", "started")}
                                    | {"corpus": "synthetic" if synthetic else "as configured"})
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", metadata=meta)
    return path


def _finish(fig, path: str | Path | None, dpi: int = 150):
    if path is not None:
        save_figure(fig, path, dpi)
    return fig


# ------------------------------------------------------------------------------------------
# Figure 3: intensity curves
# ------------------------------------------------------------------------------------------


def intensity_summary(df: pd.DataFrame, value: str = "IS", level: float = 0.95) -> pd.DataFrame:
    """Mean, 95 % CI half-width and count of ``value`` per (emotion, curve, alpha), sorted by α.

    ``df`` is long: columns ``emotion``, ``curve`` (a key of :data:`~emodubber.reports.paper.CURVES`),
    ``alpha`` and ``value``, one row per clip (or one per point).
    """
    from scipy import stats

    need = {"emotion", "curve", "alpha", value}
    if not need <= set(df.columns):
        raise KeyError(f"intensity frame needs columns {sorted(need)}; it has {list(df.columns)}")
    g = df.groupby(["emotion", "curve", "alpha"], sort=False)[value]
    out = g.agg(["mean", "std", "count"]).reset_index()
    tcrit = np.array([stats.t.ppf(0.5 + level / 2, n - 1) if n > 1 else np.nan for n in out["count"]])
    out["ci"] = tcrit * out["std"] / np.sqrt(out["count"])
    return out.sort_values(["emotion", "curve", "alpha"], kind="stable").reset_index(drop=True)


def plot_intensity_curves(df: pd.DataFrame, emotions: Sequence[str] = FIG3_EMOTIONS,
                          curves: Sequence[str] = tuple(CURVES), value: str = "IS",
                          title: str | None = "Intensity Score vs positive guidance α — ours, synthetic corpus",
                          reference: pd.DataFrame | None = None, reference_label: str = "paper (approx. reading)",
                          ci: bool = True, path: str | Path | None = None, figsize=(21, 4.2)):
    """Figure 3: one panel per emotion, IS against α for β = α/4, β = 0.6 and β = 0 (the paper's styles).

    Lines are the mean over clips with markers ``x`` (as the paper), a shaded 95 % CI when several clips
    share a point, y in [0, 1]. ``reference`` (e.g. ``paper_intensity_readings("Chem")``) adds the
    paper's approximate readings as hollow circles ("≈") or downward triangles ("≤ over the curve").
    """
    plt = _plt()
    summ = intensity_summary(df, value)
    fig, axes = plt.subplots(1, len(emotions), figsize=figsize, squeeze=False, constrained_layout=True)
    for ax, emo in zip(axes[0], emotions):
        sub = summ[summ["emotion"] == emo]
        for c in curves:
            label, colour = CURVES[c]
            s = sub[sub["curve"] == c]
            if s.empty:
                continue
            ax.plot(s["alpha"], s["mean"], color=colour, marker="x", lw=2, ms=7, label=label)
            if ci and s["count"].max() > 1:
                ax.fill_between(s["alpha"], (s["mean"] - s["ci"]).clip(0, 1), (s["mean"] + s["ci"]).clip(0, 1),
                                color=colour, alpha=0.15, lw=0)
        if reference is not None:
            ref = reference[reference["emotion"] == emo]
            for _, r in ref.iterrows():
                if r["curve"] not in curves:
                    continue
                colour = CURVES[r["curve"]][1]
                marker = "v" if r.get("relation", "≈") == "≤" else "o"
                ax.scatter([r["alpha"]], [r["IS"]], s=70, facecolors="none", edgecolors=colour, marker=marker,
                           lw=1.5, zorder=5)
        if sub.empty:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="0.5")
        ax.set_title(emo.capitalize(), fontsize=15)
        ax.set_xlabel("Positive Guidance Scale α", fontsize=12)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.4)
    axes[0, 0].set_ylabel("Intensity Score (IS)", fontsize=12)
    handles, labels = axes[0, -1].get_legend_handles_labels()
    if not handles:
        for ax in axes[0]:
            handles, labels = ax.get_legend_handles_labels()
            if handles:
                break
    if reference is not None:
        from matplotlib.lines import Line2D

        handles = list(handles) + [Line2D([], [], ls="", marker="o", mfc="none", mec="k", label=f"{reference_label} ≈"),
                                   Line2D([], [], ls="", marker="v", mfc="none", mec="k",
                                          label=f"{reference_label}: curve ≤")]
        labels = list(labels) + [h.get_label() for h in handles[-2:]]
    if handles:
        fig.legend(handles, labels, loc="outside right center", fontsize=10, framealpha=0.9)
    if title:
        fig.suptitle(title, fontsize=14)
    return _finish(fig, path)


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


# ------------------------------------------------------------------------------------------
# Figure 4: mels under guidance, with the regions that differ most from neutral
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    """A box on a mel: frames [t0, t1) and mel bins [f0, f1); ``score`` = mean |Δ| inside, ``peak`` = smoothed max."""

    t0: int
    t1: int
    f0: int
    f1: int
    score: float
    peak: float

    def iou(self, other: "Region") -> float:
        it = max(0, min(self.t1, other.t1) - max(self.t0, other.t0))
        iff = max(0, min(self.f1, other.f1) - max(self.f0, other.f0))
        inter = it * iff
        union = (self.t1 - self.t0) * (self.f1 - self.f0) + (other.t1 - other.t0) * (other.f1 - other.f0) - inter
        return inter / union if union else 0.0


def _match_time(mel: np.ndarray, T: int) -> np.ndarray:
    """Linear resampling of ``[n_mels, T']`` to ``T`` frames (identity when T' == T)."""
    if mel.shape[1] == T:
        return mel
    src = np.linspace(0, 1, mel.shape[1])
    dst = np.linspace(0, 1, T)
    return np.stack([np.interp(dst, src, row) for row in mel])


def top_difference_regions(mel_a: Any, mel_b: Any, k: int = 3, smooth: tuple[int, int] = (5, 9),
                           rel_threshold: float = 0.5, min_rel_peak: float = 0.2) -> list[Region]:
    """The ``k`` boxes where two mels (``[n_mels, T]``) differ most, strongest first.

    The absolute difference is smoothed with a ``smooth = (bins, frames)`` box filter. Repeatedly: take
    the highest remaining point, grow the connected region where the smoothed difference is at least
    ``rel_threshold`` × that peak, keep its bounding box, and blank it out (with the filter's halo).
    Stops after ``k`` boxes or
    when the next peak falls below ``min_rel_peak`` × the first one (so identical mels give no box and a
    single change gives one). ``mel_b`` is resampled in time to ``mel_a``'s length when they differ.
    """
    from scipy import ndimage

    a, b = to_numpy(mel_a).astype(float), to_numpy(mel_b).astype(float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"mels must be [n_mels, T] with the same n_mels, got {a.shape} and {b.shape}")
    b = _match_time(b, a.shape[1])
    d = np.abs(a - b)
    size = (min(smooth[0], d.shape[0]), min(smooth[1], d.shape[1]))
    s = ndimage.uniform_filter(d, size=size, mode="nearest")
    regions: list[Region] = []
    work = s.copy()
    first = None
    scale = max(float(np.abs(a).max()), float(np.abs(b).max()), 1e-12)
    while len(regions) < k:
        i = np.unravel_index(int(np.argmax(work)), work.shape)
        peak = float(work[i])
        if peak <= 1e-9 * scale:
            break
        if first is None:
            first = peak
        elif peak < min_rel_peak * first:
            break
        labels, _ = ndimage.label(work >= rel_threshold * peak)
        ys, xs = np.nonzero(labels == labels[i])
        f0, f1 = int(ys.min()), int(ys.max()) + 1
        t0, t1 = int(xs.min()), int(xs.max()) + 1
        regions.append(Region(t0, t1, f0, f1, float(d[f0:f1, t0:t1].mean()), peak))
        # blank the box and the smoothing filter's halo around it, so a region is never found twice
        hb, ht = size[0] // 2 + 1, size[1] // 2 + 1
        work[max(0, f0 - hb):f1 + hb, max(0, t0 - ht):t1 + ht] = 0.0
    return regions


def f0_track(wav: Any, sr: int = 16000, hop: int = 160, fmin: float = 60.0, fmax: float = 500.0,
             method: str = "acf", voicing: float = 0.5) -> np.ndarray:
    """F0 in Hz per hop (NaN where unvoiced); one value per mel frame (``ceil(len(wav) / hop)``).

    ``method="acf"`` (default, numpy only, fast): per 2·(sr/fmin)-sample window, the normalised
    autocorrelation's shortest-lag peak within 15 % of its best one in [sr/fmax, sr/fmin] (so a
    multiple of the period is not taken for it), refined by parabolic interpolation; a frame is
    voiced when that peak exceeds ``voicing`` and its energy is above 1 % of the clip's loudest frame.
    ``method="pyin"``: librosa's pYIN (slower, first call compiles for ~10 s).
    """
    y = to_numpy(wav).astype(np.float64).reshape(-1)
    n = int(math.ceil(len(y) / hop))
    if method == "pyin":
        import librosa

        f0, voiced, _ = librosa.pyin(y.astype(np.float32), fmin=fmin, fmax=fmax, sr=sr, hop_length=hop,
                                     frame_length=max(1024, int(2 ** math.ceil(math.log2(2 * sr / fmin)))))
        out = np.where(voiced, f0, np.nan)[:n]
        return np.pad(out, (0, n - len(out)), constant_values=np.nan)
    if method != "acf":
        raise ValueError(f"method must be 'acf' or 'pyin', not {method!r}")
    win = int(2 * sr / fmin)
    lo, hi = max(1, int(sr / fmax)), min(win - 1, int(math.ceil(sr / fmin)))
    pad = np.pad(y, (win // 2, win // 2 + hop))
    frames = np.lib.stride_tricks.sliding_window_view(pad, win)[::hop][:n]
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = (frames ** 2).sum(axis=1)
    nfft = 1 << int(math.ceil(math.log2(2 * win)))
    spec = np.fft.rfft(frames * np.hanning(win), nfft)
    ac = np.fft.irfft(np.abs(spec) ** 2, nfft)[:, : hi + 2]
    ac = ac / np.maximum(ac[:, :1], 1e-12)
    # compensate the window's own autocorrelation so long lags are not penalised
    wac = np.fft.irfft(np.abs(np.fft.rfft(np.hanning(win), nfft)) ** 2, nfft)[: hi + 2]
    ac = ac / np.maximum(wac / wac[0], 1e-3)
    seg = ac[:, lo:hi + 1]
    best = seg.max(axis=1, keepdims=True)
    # the shortest-lag local maximum within 15 % of the best one: a period, not a multiple of it
    is_peak = np.zeros_like(seg, dtype=bool)
    is_peak[:, 1:-1] = (seg[:, 1:-1] >= seg[:, :-2]) & (seg[:, 1:-1] >= seg[:, 2:])
    is_peak[:, 0] = seg[:, 0] >= seg[:, 1]
    is_peak[:, -1] = True
    good = is_peak & (seg >= 0.85 * best)
    lag = lo + np.argmax(good, axis=1)
    rows = np.arange(len(lag))
    peak = ac[rows, lag]
    a, b, c = ac[rows, lag - 1], peak, ac[rows, np.minimum(lag + 1, ac.shape[1] - 1)]
    denom = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / denom, 0.0)
    f0 = sr / (lag + np.clip(shift, -0.5, 0.5))
    voiced = (peak > voicing) & (energy > 0.01 * max(float(energy.max()), 1e-12))
    out = np.where(voiced, f0, np.nan)
    return np.pad(out, (0, n - len(out)), constant_values=np.nan)


def describe_emotion_mel(mel: Any, f0: Any, audio: Any, above_hz: float = 4000.0) -> dict[str, float]:
    """Figure 4's numbers for one normalised log-mel ``[n_mels, T]`` and its F0 track ``[T]`` (Hz, 0 or NaN
    unvoiced): mean F0 over voiced frames, the F0 rise of the last third against the first two thirds
    (surprise's rising end), the mean log-mel, and the share of (linear) mel energy in bins whose centre
    (:func:`emodubber.viz.mel_hz`, Slaney scale as the front end) is at or above ``above_hz`` (sadness's
    "diminished high frequencies"). ``audio``: the :class:`~emodubber.config.AudioConfig` that normalised it."""
    from emodubber.viz import mel_hz

    m = to_numpy(mel)
    f = np.asarray(to_numpy(f0), dtype=float)
    lin = np.exp(m * audio.mel_std + audio.mel_mean)
    high = mel_hz(m.shape[0], audio.f_min, audio.f_max) >= above_hz
    voiced = np.isfinite(f) & (f > 0)
    n = len(f)
    head, tail = slice(0, 2 * n // 3), slice(2 * n // 3, n)
    hv, tv = f[head][voiced[head]], f[tail][voiced[tail]]
    return {"mean F0 (Hz)": float(f[voiced].mean()) if voiced.any() else math.nan,
            "F0 end rise (Hz)": float(tv.mean() - hv.mean()) if len(hv) and len(tv) else math.nan,
            "mean log-mel": float(m.mean()),
            f"energy > {above_hz / 1000:g} kHz (%)": float(100 * lin[high].sum() / lin.sum())}


def _overlay_f0(ax, f0: Any, dur: float, f0_max: float):
    f = to_numpy(f0).astype(float).reshape(-1)
    t = (np.arange(len(f)) + 0.5) * dur / max(len(f), 1)
    ax2 = ax.twinx()
    ax2.plot(t, f, color="cyan", lw=1.8, label="F0")
    ax2.set_ylim(0, f0_max)
    ax2.set_ylabel("F0 (Hz)", color="c")
    ax2.tick_params(axis="y", colors="c")
    return ax2


def _draw_regions(ax, regions: Sequence[Region], sr: int, hop: int, colour: str = "lime"):
    from matplotlib.patches import Rectangle

    for n, r in enumerate(regions, 1):
        ax.add_patch(Rectangle((r.t0 * hop / sr, r.f0 - 0.5), (r.t1 - r.t0) * hop / sr, r.f1 - r.f0,
                               fill=False, ec=colour, lw=2.2))
        ax.text(r.t0 * hop / sr, r.f1 - 0.5, str(n), color=colour, fontsize=9, fontweight="bold", va="bottom")


def plot_emotion_mels(neutral: Any, emotional: Mapping[str, Any], f0: Mapping[str, Any] | None = None,
                      k: int = 2, sr: int = 16000, hop: int = 160, titles: Mapping[str, str] | None = None,
                      title: str | None = ("The same clip: guided emotions (top) vs neutral (bottom) — "
                                           "ours, synthetic corpus"),
                      f0_max: float = 400.0, path: str | Path | None = None,
                      figsize: tuple[float, float] | None = None):
    """Figure 4: for each emotion, the guided mel (top) above the same clip's neutral mel (bottom).

    ``emotional`` maps emotion → mel (``[n_mels, T]``), e.g. surprised / angry / sad. The ``k`` regions
    that differ most from neutral (:func:`top_difference_regions`) are boxed on both rows and numbered;
    ``f0`` maps ``"neutral"`` and each emotion to an F0 track in Hz (NaN unvoiced), drawn on a right axis.
    ``titles`` overrides column titles (e.g. ``{"sad": "sad, α = 2.5, β = 0.6"}``). The regions are
    kept on the figure as ``fig.regions`` (emotion → list of :class:`Region`).
    """
    plt = _plt()
    names = list(emotional)
    if not names:
        raise ValueError("no emotional mel given")
    neu = to_numpy(neutral)
    mels = {e: _match_time(to_numpy(emotional[e]), neu.shape[1]) for e in names}
    vmin = min(float(neu.min()), *(float(m.min()) for m in mels.values()))
    vmax = max(float(neu.max()), *(float(m.max()) for m in mels.values()))
    figsize = figsize or (5.2 * len(names), 6.4)
    fig, axes = plt.subplots(2, len(names), figsize=figsize, squeeze=False, constrained_layout=True)
    dur = neu.shape[1] * hop / sr
    regions = {}
    im = None
    for j, e in enumerate(names):
        regions[e] = top_difference_regions(mels[e], neu, k=k)
        top, bottom = axes[0, j], axes[1, j]
        im = draw_mel(top, mels[e], sr, hop, vmin=vmin, vmax=vmax,
                      title=(titles or {}).get(e, f"{e} (guided)"))
        draw_mel(bottom, neu, sr, hop, vmin=vmin, vmax=vmax, title="neutral (no guidance)")
        for ax in (top, bottom):
            _draw_regions(ax, regions[e], sr, hop)
        if f0 is not None:
            if e in f0:
                _overlay_f0(top, f0[e], dur, f0_max)
            if "neutral" in f0:
                _overlay_f0(bottom, f0["neutral"], dur, f0_max)
        top.set_xlabel("")
    fig.colorbar(im, ax=axes, shrink=0.8, label="log-mel energy", location="left", pad=0.02)
    if title:
        fig.suptitle(title + f"\nboxes: the {k} regions differing most from neutral (|Δ log-mel|, numbered by strength)"
                     + ("; cyan: F0" if f0 is not None else ""), fontsize=12)
    fig.regions = regions
    return _finish(fig, path)


# ------------------------------------------------------------------------------------------
# Figure 5: t-SNE of emotion embeddings
# ------------------------------------------------------------------------------------------


def tsne_embed(emb: Any, seed: int = 0, perplexity: float | None = None) -> np.ndarray:
    """2-D t-SNE (scikit-learn, PCA init, seeded); perplexity defaults to min(30, (n − 1) / 3).

    Runs on one thread: on a shared CPU the OpenMP Barnes–Hut loop is many times slower with
    oversubscribed threads, and one thread also makes the map reproducible run to run.
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = to_numpy(emb).astype(np.float32)
    n = len(x)
    if n < 3:
        raise ValueError(f"t-SNE needs at least 3 points, got {n}")
    perp = perplexity if perplexity is not None else float(min(30.0, max(1.0, (n - 1) / 3)))
    with threadpool_limits(1):
        return TSNE(n_components=2, perplexity=perp, init="pca", random_state=seed,
                    learning_rate="auto").fit_transform(x)


def silhouette(emb: Any, labels: Sequence[Any], metric: str = "euclidean") -> float:
    """Silhouette score of ``labels`` on ``emb`` (−1..1; higher = better separated); NaN if undefined."""
    from sklearn.metrics import silhouette_score

    x = to_numpy(emb)
    lab = np.asarray(list(labels))
    n_lab = len(set(lab.tolist()))
    if n_lab < 2 or n_lab >= len(lab):
        return float("nan")
    return float(silhouette_score(x, lab, metric=metric))


def plot_tsne(embeddings_a: Any, labels_a: Sequence[str], embeddings_b: Any, labels_b: Sequence[str],
              titles: Sequence[str] = ("lip-blind TTS", "EmoDubber (with guidance)"), seed: int = 0,
              perplexity: float | None = None,
              title: str | None = "t-SNE of emotion-judge embeddings — ours, synthetic corpus",
              path: str | Path | None = None, figsize=(12, 5.4)):
    """Figure 5: two t-SNE panels (each fitted on its own side, seeded) coloured by emotion (seaborn).

    Each panel's title carries the silhouette score of the emotion labels computed in the judge's
    embedding space (not on the 2-D map). The scores are kept as ``fig.silhouettes`` (a, b).
    """
    import seaborn as sns

    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=figsize, constrained_layout=True)
    present = {str(x) for x in list(labels_a) + list(labels_b)}
    order = [e for e in EMOTIONS if e in present] + sorted(present - set(EMOTIONS))
    palette = {e: EMOTION_COLOURS.get(e, "k") for e in order}
    sils = []
    for ax, emb, lab, name in zip(axes, (embeddings_a, embeddings_b), (labels_a, labels_b), titles):
        emb, lab = to_numpy(emb).astype(float), np.asarray([str(x) for x in lab])
        if len(emb) != len(lab):
            raise ValueError(f"{name}: {len(emb)} embeddings for {len(lab)} labels")
        ok = np.isfinite(emb).all(axis=1)  # the judge gives NaN rows for audio it cannot use
        dropped = int((~ok).sum())
        emb, lab = emb[ok], lab[ok]
        xy = tsne_embed(emb, seed=seed, perplexity=perplexity)
        sil = silhouette(emb, lab)
        sils.append(sil)
        frame = pd.DataFrame({"t-SNE 1": xy[:, 0], "t-SNE 2": xy[:, 1], "emotion": [str(x) for x in lab]})
        sns.scatterplot(data=frame, x="t-SNE 1", y="t-SNE 2", hue="emotion", hue_order=order, palette=palette,
                        s=28, alpha=0.85, ax=ax, legend=ax is axes[1])
        ax.set_title(f"{name}\nsilhouette (embedding space) = {sil:.2f}, n = {len(lab)}"
                     + (f" ({dropped} unscorable dropped)" if dropped else ""), fontsize=12)
        ax.set_xticks([])
        ax.set_yticks([])
    if axes[1].get_legend() is not None:
        sns.move_legend(axes[1], "center left", bbox_to_anchor=(1.01, 0.5), title="emotion")
    if title:
        fig.suptitle(title, fontsize=13)
    fig.silhouettes = tuple(sils)
    return _finish(fig, path)


# ------------------------------------------------------------------------------------------
# Training notebooks
# ------------------------------------------------------------------------------------------


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


# ------------------------------------------------------------------------------------------
# Tables 4 and 5, ablations: the figures beside the tables
# ------------------------------------------------------------------------------------------


def plot_per_clip_boxes(per_clip: pd.DataFrame, order: Sequence[str], metrics: Sequence[str] = ("LSE-D", "WER", "MCD"),
                        setting: Any = 2, title: str = "Table 4 per clip — ours, synthetic corpus",
                        path: str | Path | None = None):
    """One box plot per metric of the per-clip table (:func:`emodubber.reports.tables.from_evaluate` rows), one
    box per system in ``order`` (those present), means marked; only rows of ``setting`` (None: all)."""
    from emodubber.reports.paper import METRIC_LABELS

    plt = _plt()
    df = per_clip if setting is None or "setting" not in per_clip.columns else per_clip[per_clip["setting"] == setting]
    systems = [s for s in order if s in set(df["system"])]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.3 * len(metrics), 4.2), constrained_layout=True,
                             squeeze=False)
    for ax, m in zip(axes[0], metrics):
        if m in df.columns and df[m].notna().any():
            data = [pd.to_numeric(df.loc[df["system"] == s, m], errors="coerce").dropna() for s in systems]
            ax.boxplot(data, tick_labels=[s.replace("EmoDubber ", "ED ") for s in systems], showmeans=True)
            ax.tick_params(axis="x", rotation=30)
        else:
            ax.text(0.5, 0.5, f"no {m} scores", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(f"{METRIC_LABELS.get(m, m)} per clip" + (f", Setting {setting}" if setting is not None else ""))
    fig.suptitle(title)
    return _finish(fig, path)


def plot_metric_bars(summary: pd.DataFrame, metrics: Sequence[str], reference: str | None = "neutral",
                     title: str = "Table 5 per emotion (dashed: the neutral row) — ours, synthetic corpus",
                     path: str | Path | None = None):
    """A bar per row of ``summary`` (:func:`emodubber.reports.tables.summarise_per_clip`: columns ``m`` and
    ``m_ci``) for each metric, the 95 % interval as error bar and the ``reference`` row as a dashed line."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.6), constrained_layout=True,
                             squeeze=False)
    labels = [str(i) for i in summary.index]
    for ax, m in zip(axes[0], metrics):
        err = summary[f"{m}_ci"].fillna(0) if f"{m}_ci" in summary.columns else None
        ax.bar(labels, summary[m], yerr=err, color="0.6")
        if reference is not None and reference in summary.index:
            ax.axhline(summary.loc[reference, m], color="k", lw=0.8, ls="--")
        ax.set_title(m)
        ax.tick_params(axis="x", rotation=60)
    fig.suptitle(title)
    return _finish(fig, path)


def plot_delta_heatmap(deltas: pd.DataFrame, better: pd.DataFrame,
                       title: str = "What each module buys — ours, synthetic corpus", path: str | Path | None = None):
    """Ablation deltas (:func:`emodubber.reports.tables.ablation_deltas`, indexed by system and setting) as one
    heat map per setting: green where the ablation is better than the full model (``better``, from
    :func:`~emodubber.reports.tables.delta_is_better`), red where worse, grey where unmeasured; Δ in each cell."""
    plt = _plt()
    settings = list(dict.fromkeys(deltas.index.get_level_values("setting"))) if len(deltas) else []
    if not settings:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.text(0.5, 0.5, "no ablation was scored", ha="center", va="center")
        ax.set_axis_off()
        fig.suptitle(title)
        return _finish(fig, path)
    fig, axes = plt.subplots(1, len(settings), figsize=(7.5 * len(settings), 3.2), constrained_layout=True,
                             squeeze=False)
    for ax, k in zip(axes[0], settings):
        d, b = deltas.xs(k, level="setting"), better.xs(k, level="setting")
        colours = np.where(d.isna(), 0.0, np.where(b, 1.0, -1.0))
        ax.imshow(colours, cmap="RdYlGn", vmin=-1.5, vmax=1.5, aspect="auto")
        for i in range(d.shape[0]):
            for j in range(d.shape[1]):
                v = d.iat[i, j]
                ax.text(j, i, "n/a" if np.isnan(v) else f"{v:+.2f}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(d.shape[1]), d.columns, rotation=30, ha="right")
        ax.set_yticks(range(d.shape[0]), d.index)
        ax.set_title(f"Setting {k}: ablation − EmoDubber (green: ablation better)")
    fig.suptitle(title)
    return _finish(fig, path)


def plot_guidance_range(summary: pd.DataFrame, metrics: Sequence[str] = ("IS", "WER", "SECS"),
                        title: str = "guidance up to the paper's demo range (β = α/4) — ours, synthetic corpus",
                        path: str | Path | None = None):
    """One panel per metric, one line per emotion against α, 95 % intervals shaded.

    ``summary``: :func:`emodubber.reports.tables.summarise_per_clip` grouped by (emotion, alpha)."""
    plt = _plt()
    metrics = [m for m in metrics if m in summary.columns]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), constrained_layout=True,
                             squeeze=False)
    s = summary.reset_index()
    for ax, m in zip(axes[0], metrics):
        for emo, g in s.groupby("emotion", sort=False):
            g = g.sort_values("alpha")
            ax.plot(g["alpha"], g[m], marker="o", label=str(emo))
            ci = g[f"{m}_ci"].fillna(0) if f"{m}_ci" in g.columns else 0
            ax.fill_between(g["alpha"], g[m] - ci, g[m] + ci, alpha=0.15)
        ax.set_xlabel("α (β = α/4)")
        ax.set_title(METRIC_LABELS.get(m, m) if m != "IS" else "IS (asked emotion)")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    return _finish(fig, path)
