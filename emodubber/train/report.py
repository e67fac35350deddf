"""What the training notebooks show: loss curves, the LPA attention over checkpoints, predicted vs true mels,
validation samples and throughput — read from a stage's output directory (see :mod:`emodubber.train.stages`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["stage_summary", "load_logs", "plot_losses", "attention_snapshots", "plot_attention_progress",
           "throughput_table", "example_clip", "tts_example", "dubber_example", "vocode"]


def stage_summary(out_dir: str | Path) -> dict[str, Any]:
    """``summary.json`` of a stage (result, metrics, partial-load info)."""
    p = Path(out_dir) / "summary.json"
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist: train the stage first")
    return json.loads(p.read_text())


def load_logs(out_dir: str | Path):
    """Train and validation rows in one frame with a ``split`` column (``train`` / ``val``)."""
    import pandas as pd

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
    from emodubber.reports.figures import plot_loss_curves

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
    import matplotlib.pyplot as plt

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
        from emodubber.reports.figures import save_figure

        save_figure(fig, path)
    return fig


def throughput_table(outputs: dict[str, Any]):
    """One row per stage: steps, status, wall / training seconds, samples per second."""
    import pandas as pd

    rows = []
    for name, o in outputs.items():
        r = o.result if hasattr(o, "result") else o
        rows.append({"stage": name, "steps": r.step, "status": r.status, "wall_s": r.wall_s, "train_s": r.train_s,
                     "samples_per_s": r.samples_per_s, "world_size": r.world_size})
    return pd.DataFrame(rows)


def example_clip(cfg: Any, split: str = "val", corpus: str = "dubbing", index: int = 0, speech_only: bool = False):
    """One clip of the corpus as a batch of 1 (video dropped with ``speech_only``)."""
    from emodubber.data.dataset import DubbingDataset, collate

    ds = DubbingDataset(cfg, split, corpus)
    item = ds[index % len(ds)]
    if speech_only:
        item = {**item, "lip": None}
    return collate([item]), ds.records[index % len(ds)]


def vocode(cfg: Any, mel: Any, vocoder: Any = None) -> np.ndarray:
    """A waveform from a normalised log-mel ``[80, T]``: Griffin-Lim, or the given HiFi-GAN generator."""
    import torch

    from emodubber.models.vocoder import GriffinLimVocoder

    m = torch.as_tensor(np.asarray(mel), dtype=torch.float32)
    with torch.no_grad():
        if vocoder is None:
            return GriffinLimVocoder(cfg.audio)(m).numpy()
        return vocoder(m[None].to(next(vocoder.parameters()).device))[0].cpu().numpy()


def _loaded(model: Any):
    """An :class:`EmoDubber` in eval mode: ``model`` itself, or loaded from its ``model.pt`` path."""
    from emodubber.models.dubber import EmoDubber

    return (model if isinstance(model, EmoDubber) else EmoDubber.from_pretrained(model)).eval()


def tts_example(cfg: Any, model: Any, batch: Any, true_durations: bool = True) -> dict[str, np.ndarray]:
    """True and predicted mel (and μ) of a TTS-stage model (a ``model.pt`` path or the loaded model) for a
    batch of one."""
    from emodubber.train.stages import synthesise_tts

    model = _loaded(model)
    out = synthesise_tts(model, batch, n_steps=cfg.eval.n_steps, temperature=cfg.eval.temperature, seed=cfg.seed,
                         true_durations=true_durations)
    T = int(batch.mel_lengths[0])
    Tp = int(out["mel_lengths"][0])
    return {"true": batch.mel[0, :, :T].numpy(), "pred": out["mel"][0, :, :Tp].numpy(),
            "mu": out["mu"][0, :, :Tp].numpy()}


def dubber_example(cfg: Any, model: Any, batch: Any) -> dict[str, Any]:
    """True and dubbed mel (from video), with the LPA attention and MAS durations D_p × 4 (mel frames), for a
    batch of one; ``model``: a ``model.pt`` path or the loaded model."""
    model = _loaded(model)
    F = int(batch.lip_lengths[0])
    P = int(batch.phoneme_lengths[0])
    out = model.synthesise(batch.phonemes[0, :P], lip=batch.lip[0, :F] if batch.lip is not None else None,
                           spk_emb=batch.spk_emb[0], n_steps=cfg.eval.n_steps, temperature=cfg.eval.temperature,
                           seed=cfg.seed, n_frames=int(batch.mel_lengths[0]))
    T = int(batch.mel_lengths[0])
    Tp = int(out["mel_lengths"][0])
    res = {"true": batch.mel[0, :, :T].numpy(), "pred": out["mel"][0, :, :Tp].numpy(),
           "durations": out["durations"][0].numpy(), "attn": None}
    if out.get("attn") is not None:
        res["attn"] = out["attn"][0, :F, :P].numpy()
    return res
