"""Stage 1: TTS pre-training (phoneme encoder, prosody, duration predictor, SIA, CFM decoder) on all speech."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch import nn

from emodubber.config import ProfileConfig
from emodubber.models.dubber import EmoDubber
from emodubber.train.common import (StageOutput, begin, check_inputs, corpus_datasets, finish, make_trainer,
                                    n_speakers, speech_collate, stage_config, stage_dir)
from emodubber.train.loop import evaluate_loss

__all__ = ["train_tts", "synthesise_tts"]


def _mu_mse(model: nn.Module, batch: Any) -> float:
    """MSE between the prior μ (true durations) and the mel over valid frames: a sensitive progress signal."""
    out = model(batch.phonemes, batch.phoneme_lengths, batch.spk_emb, pitch=batch.pitch, energy=batch.energy,
                durations=batch.durations, mode="tts")
    m = out["mel_mask"]
    T = min(out["mu"].shape[-1], batch.mel.shape[-1])
    d = (out["mu"][..., :T] - batch.mel[..., :T]) ** 2 * m[..., :T]
    return float(d.sum() / (m[..., :T].sum() * batch.mel.shape[1]).clamp_min(1))


def train_tts(cfg: ProfileConfig, resume: bool = False, datasets: tuple[Any, Any] | None = None) -> StageOutput:
    """Stage 1: TTS pre-training on all training speech (video dropped), true durations."""

    begin(cfg)
    st = stage_config(cfg, "tts")
    if datasets is None:
        train_set, val_set, n_spk = corpus_datasets(cfg, ("dubbing", "emotion"))
    else:
        (train_set, val_set), n_spk = datasets, n_speakers(datasets[0])
    # the TTS model is the lip-blind one: phoneme encoder, prosody, durations, SIA, decoder. The dubber's
    # partial load then reports the lip encoder, LPA, PE and CTC head as missing (trained from scratch).
    mcfg = dataclasses.replace(cfg.model, lip_blind=True)
    model = EmoDubber(mcfg, cfg.audio)
    check = check_inputs(cfg, train_set, val_set, speech_collate, model.n_vocab, n_spk, "tts")
    crop = st.crop_frames

    def loss_fn(m, batch):
        return m.compute_loss(batch, mode="tts", crop_frames=crop if crop < batch.mel.shape[-1] else 0)

    def val_fn(m, loader, step):
        res = evaluate_loss(m, lambda mm, b: mm.compute_loss(b, mode="tts"), loader, next(m.parameters()).device)
        dev = next(m.parameters()).device
        mses = [_mu_mse(m, b.to(dev)) for b in loader]
        res["mu_mse"] = float(np.mean(mses)) if mses else float("nan")
        return res

    tr = make_trainer(cfg, "tts", model, loss_fn, train_set, val_set, speech_collate, st, stage_dir(cfg, "tts"), mcfg,
                  val_fn=val_fn, check=check)
    result = tr.fit(resume=resume)
    info = {"parameters": model.count_parameters(), "train_clips": len(train_set),
            "val_clips": len(val_set) if val_set is not None else 0}
    return finish(cfg, "tts", tr, result, lambda p: model.save(p, extra={"stage": "tts", "step": result.step, "video": {"roi_size": cfg.video.roi_size}}),
                   dict(result.last_val), info)


@torch.no_grad()
def synthesise_tts(model: nn.Module, batch: Any, n_steps: int = 10, temperature: float = 0.667, seed: int = 1234,
                   true_durations: bool = True) -> dict[str, torch.Tensor]:
    """Mels of a TTS-mode model for a batch, with the true durations (or the predicted ones fitted to the
    true length): the held-out evaluation of the TTS stage. shape: -> mel [B, 80, T], mu, mel_lengths [B]"""
    model.eval()
    dev = next(model.parameters()).device
    b = batch.to(dev)
    out = model(b.phonemes, b.phoneme_lengths, b.spk_emb, durations=b.durations if true_durations else None,
                mode="tts", mel_frames=None if true_durations else b.mel_lengths)
    gen = torch.Generator().manual_seed(int(seed))
    mel = model.decoder(out["mu"], out["mel_mask"], b.spk_emb, n_steps, temperature, gen)
    return {"mel": mel, "mu": out["mu"], "mel_lengths": out["mel_lengths"], "durations": out["durations"]}
