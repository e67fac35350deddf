"""Examples the training notebooks (02–06) show: one clip as a batch, the model's mel for it, a waveform.

The plots and tables of those notebooks are in :mod:`emodubber.reports.training`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from emodubber.data.dataset import DubbingDataset, collate
from emodubber.models.dubber import EmoDubber
from emodubber.models.vocoder import GriffinLimVocoder
from emodubber.train.tts import synthesise_tts

__all__ = ["example_clip", "tts_example", "dubber_example", "vocode"]


def example_clip(cfg: Any, split: str = "val", corpus: str = "dubbing", index: int = 0, speech_only: bool = False):
    """One clip of the corpus as a batch of 1 (video dropped with ``speech_only``)."""
    ds = DubbingDataset(cfg, split, corpus)
    item = ds[index % len(ds)]
    if speech_only:
        item = {**item, "lip": None}
    return collate([item]), ds.records[index % len(ds)]


def vocode(cfg: Any, mel: Any, vocoder: Any = None) -> np.ndarray:
    """A waveform from a normalised log-mel ``[80, T]``: Griffin-Lim, or the given HiFi-GAN generator."""
    m = torch.as_tensor(np.asarray(mel), dtype=torch.float32)
    with torch.no_grad():
        if vocoder is None:
            return GriffinLimVocoder(cfg.audio)(m).numpy()
        return vocoder(m[None].to(next(vocoder.parameters()).device))[0].cpu().numpy()


def _loaded(model: Any):
    """An :class:`EmoDubber` in eval mode: ``model`` itself, or loaded from its ``model.pt`` path."""
    return (model if isinstance(model, EmoDubber) else EmoDubber.from_pretrained(model)).eval()


def tts_example(cfg: Any, model: Any, batch: Any, true_durations: bool = True) -> dict[str, np.ndarray]:
    """True and predicted mel (and μ) of a TTS-stage model (a ``model.pt`` path or the loaded model) for a
    batch of one."""
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
