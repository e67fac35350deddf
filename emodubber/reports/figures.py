"""The paper's figures (3, 4, 5) and the tables' companion plots.

Every ``plot_*`` function returns the matplotlib Figure and, with ``path=``, also writes it as PNG
atomically (:func:`save_figure`). Inputs are numpy arrays / pandas frames (torch tensors are
accepted), so the tests call them on tiny synthetic inputs and the notebooks on real outputs. The numbers
behind the plots come from :mod:`emodubber.reports.stats` and :mod:`emodubber.reports.spectral`.

- Figure 3: :func:`plot_intensity_curves` (IS vs α for β = α/4, 0.6, 0).
- Figure 4: :func:`plot_emotion_mels` with boxes from :func:`emodubber.reports.spectral.top_difference_regions`.
- Figure 5: :func:`plot_tsne` (two seeded t-SNE panels, :func:`tsne_embed`).

matplotlib, seaborn and scikit-learn are imported inside the functions that draw or embed: heavy third-party
backends that ``import emodubber.reports.figures`` should not pay for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from emodubber import __version__
from emodubber.config import EMOTIONS
from emodubber.reports.paper import CURVES, FIG3_EMOTIONS, METRIC_LABELS
from emodubber.reports.spectral import Region, match_time, top_difference_regions
from emodubber.reports.stats import intensity_summary, silhouette
from emodubber.reports.tables import record_dict
from emodubber.utils import atomic_path
from emodubber.viz import EMOTION_COLOURS, draw_mel, to_numpy

__all__ = [
    "plot_guidance_range",
    "save_figure",
    "plot_intensity_curves",
    "plot_emotion_mels",
    "tsne_embed",
    "plot_tsne",
    "plot_per_clip_boxes",
    "plot_metric_bars",
    "plot_delta_heatmap",
    "plot_field_validation",
]


def _plt():
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, dpi: int = 150, record: Any = None, synthetic: bool = True) -> Path:
    """Write ``fig`` as PNG at ``path`` atomically (a crash never leaves half a file).

    With ``record`` (a ``RunRecord`` or its dict) the PNG carries its provenance in text chunks:
    ``Source`` = JSON {profile, seed, commit, started, corpus}, readable with PIL's ``Image.open(p).text``.
    """
    path = Path(path)
    meta = {"Software": f"emodubber {__version__}"}
    if record is not None:
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


# ------------------------------------------------------------------------------------------
# Figure 4: mels under guidance, with the regions that differ most from neutral
# ------------------------------------------------------------------------------------------

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
    mels = {e: match_time(to_numpy(emotional[e]), neu.shape[1]) for e in names}
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
# Tables 4 and 5, ablations: the figures beside the tables
# ------------------------------------------------------------------------------------------


def plot_per_clip_boxes(per_clip: pd.DataFrame, order: Sequence[str], metrics: Sequence[str] = ("LSE-D", "WER", "MCD"),
                        setting: Any = 2, title: str = "Table 4 per clip — ours, synthetic corpus",
                        path: str | Path | None = None):
    """One box plot per metric of the per-clip table (:func:`emodubber.reports.tables.from_evaluate` rows), one
    box per system in ``order`` (those present), means marked; only rows of ``setting`` (None: all)."""
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
    """A bar per row of ``summary`` (:func:`emodubber.reports.stats.summarise_per_clip`: columns ``m`` and
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
    """Ablation deltas (:func:`emodubber.reports.stats.ablation_deltas`, indexed by system and setting) as one
    heat map per setting: green where the ablation is better than the full model (``better``, from
    :func:`~emodubber.reports.stats.delta_is_better`), red where worse, grey where unmeasured; Δ in each cell."""
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

    ``summary``: :func:`emodubber.reports.stats.summarise_per_clip` grouped by (emotion, alpha)."""
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



def plot_field_validation(whisper: pd.DataFrame | None, dnsmos: pd.DataFrame | None,
                          title: str = "Field judges on ground truth — synthetic corpus", path: str | Path | None = None):
    """Notebook 07's check of the field judges: Whisper WER (%) per kind of audio (corpus rate) and DNSMOS OVRL per
    kind (clips as dots, mean as a bar), from ``emodubber.metrics.validation.validate_whisper`` / ``validate_dnsmos``
    tables; an empty or missing table leaves its panel with a note."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    for ax, df, name in ((axes[0], whisper, "Whisper WER (%)"), (axes[1], dnsmos, "DNSMOS OVRL")):
        if df is None or not len(df):
            ax.text(0.5, 0.5, f"{name}: not validated (off in this profile, or its package is missing)",
                    ha="center", va="center", wrap=True, transform=ax.transAxes)
            ax.set_axis_off()
            continue
        kinds = list(dict.fromkeys(df["kind"]))
        if "wer" in df.columns:
            tot = df.groupby("kind")[["word_errors", "ref_words"]].sum()
            ax.bar(kinds, [100 * tot.word_errors[k] / max(tot.ref_words[k], 1) for k in kinds], color="0.6")
        else:
            ax.bar(kinds, [df.loc[df["kind"] == k, "dnsmos_ovrl"].mean() for k in kinds], color="0.8")
            for i, k in enumerate(kinds):
                v = df.loc[df["kind"] == k, "dnsmos_ovrl"].dropna()
                ax.plot(np.full(len(v), i), v, "k.", alpha=0.5)
        ax.set_ylabel(name)
        ax.set_title(f"{name}, {df['clip_id'].nunique()} test clips")
    fig.suptitle(title)
    return _finish(fig, path)
