"""Stage 2: the dubber, and by the same recipe the baselines and ablations (one model flag changed each)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from emodubber.config import ModelConfig, ProfileConfig
from emodubber.models.baselines import ABLATIONS, variant_config
from emodubber.models.dubber import EmoDubber
from emodubber.train.common import (StageOutput, begin, check_inputs, corpus_datasets, default_collate, finish,
                                    make_trainer, model_path, n_speakers, stage_config, stage_dir)
from emodubber.train.loop import evaluate_loss
from emodubber.train.validate import TrainInputError

__all__ = ["BASELINES", "train_dubber", "train_baselines", "duration_accuracy"]

#: Baseline variants: key (the checkpoint directory ``baselines/<key>``) -> ModelConfig overrides, from the one
#: registry :data:`emodubber.models.baselines.ABLATIONS` (the rest is the dubber recipe).
BASELINES: dict[str, dict[str, Any]] = {k: dict(a.overrides) for k, a in ABLATIONS.items()}


def duration_accuracy(pred_video: torch.Tensor, true_mel: torch.Tensor, lengths: torch.Tensor,
                      mel_per_frame: int = 4, tol: float = 1.0) -> tuple[int, int]:
    """(phonemes whose predicted duration is within ±``tol`` video frames of the truth, phonemes).

    shape: pred_video [B, P] video frames, true_mel [B, P] mel frames, lengths [B]
    """
    P = pred_video.shape[1]
    mask = torch.arange(P, device=pred_video.device)[None] < lengths[:, None]
    err = (pred_video.float() - true_mel.float() / mel_per_frame).abs()
    return int(((err <= tol) & mask).sum()), int(mask.sum())


def _attention_stats(out: dict, batch: Any) -> tuple[float, float]:
    """(attention mass on the true phoneme-frame cells M, number of clips) for a dubbing forward."""
    attn = out["attn"]  # [B, F, P]
    M = batch.gt_sim.transpose(1, 2)[:, : attn.shape[1], : attn.shape[2]]  # [B, F, P]
    lip_mask = out["lip_mask"].to(attn.dtype)[..., None]
    on = (attn * M * lip_mask).sum((1, 2))
    tot = (attn * lip_mask).sum((1, 2)).clamp_min(1e-9)
    return float((on / tot).sum()), attn.shape[0]


def _dubbing_val_fn(mode: str, attn_dir: Path | None, mel_per_frame: int = 4, n_snap: int = 2) -> Callable:
    """Validation of a dubbing model: loss terms, ``dur_within_1`` (share of phonemes whose MAS duration
    D_p is within ±1 video frame of the truth), ``attn_on_truth`` (LPA attention mass on the true cells
    of M); saves the attention of ``n_snap`` clips per validation into ``attn_dir/step_*.npz``."""

    def val_fn(m, loader, step):
        dev = next(m.parameters()).device
        res = evaluate_loss(m, lambda mm, b: mm.compute_loss(b, mode=mode), loader, dev)
        if m.cfg.lip_blind:
            return res
        ok = tot = 0
        mass = n = 0.0
        snaps: dict[str, np.ndarray] = {}
        for b in loader:
            b = b.to(dev)
            out = m(b.phonemes, b.phoneme_lengths, b.spk_emb, lip=b.lip, lip_lengths=b.lip_lengths, mode="dubber")
            a, c = duration_accuracy(out["durations"], b.durations, b.phoneme_lengths, mel_per_frame)
            ok, tot = ok + a, tot + c
            s, k = _attention_stats(out, b)
            mass, n = mass + s, n + k
            for i in range(b.phonemes.shape[0]):
                if len(snaps) >= 3 * n_snap:
                    break
                F_, P_ = int(b.lip_lengths[i]), int(b.phoneme_lengths[i])
                snaps[f"{b.clip_ids[i]}/attn"] = out["attn"][i, :F_, :P_].float().cpu().numpy()
                snaps[f"{b.clip_ids[i]}/gt"] = b.gt_sim[i, :P_, :F_].T.float().cpu().numpy()
                snaps[f"{b.clip_ids[i]}/path"] = out["path"][i, :P_, :F_].T.float().cpu().numpy()
        res["dur_within_1"] = ok / max(tot, 1)
        res["attn_on_truth"] = mass / max(n, 1)
        if attn_dir is not None and snaps:
            attn_dir.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(attn_dir / f"step_{step:07d}.npz", **snaps)
        return res

    return val_fn


def _train_dubbing_model(cfg: ProfileConfig, name: str, stage_key: str, mcfg: ModelConfig, out_dir: Path,
                         resume: bool, datasets: tuple[Any, Any] | None, init_from: str | Path | None) -> StageOutput:
    begin(cfg)
    st = stage_config(cfg, stage_key)
    if datasets is None:
        train_set, val_set, n_spk = corpus_datasets(cfg, ("dubbing",))
    else:
        (train_set, val_set), n_spk = datasets, n_speakers(datasets[0])
    collate = default_collate()
    model = EmoDubber(mcfg, cfg.audio)
    check = check_inputs(cfg, train_set, val_set, collate, model.n_vocab, n_spk, name, need_video=not mcfg.lip_blind)
    info: dict[str, Any] = {"parameters": model.count_parameters(), "train_clips": len(train_set),
                            "val_clips": len(val_set) if val_set is not None else 0}
    init = Path(init_from) if init_from not in (None, "") else None
    if init is not None:
        if not init.exists():
            raise TrainInputError(f"{name}: the TTS model {init} does not exist: run `emodubber train tts` first "
                                  f"(or pass init_from=None to train from scratch)")
        missing, unexpected = model.load_partial(init)
        info["init_from"] = str(init)
        info["missing_keys"] = missing
        info["unexpected_keys"] = unexpected
        if int(os.environ.get("RANK", 0)) == 0:
            print(f"[{name}] partial load from {init}: {len(missing)} missing keys (trained from scratch: "
                  f"{sorted({k.split('.')[0] for k in missing})}), {len(unexpected)} unexpected keys")
    if model.loss_weights.get("content", 0.0) > 0 and not mcfg.lip_blind:
        if init is None:
            raise TrainInputError(f"{name}: model.loss_weights.content > 0 needs the TTS stage as its teacher "
                                  f"(init_from), but none is given")
        model.set_content_teacher(EmoDubber.from_pretrained(init))
        info["content_teacher"] = str(init)
    params = None
    if init is not None and st.init_lr_scale != 1.0:
        # pre-trained weights at lr · init_lr_scale, the new ones (and those the TTS never trained) at lr
        missing_set = set(missing)
        loaded = [p for k, p in model.named_parameters() if k not in missing_set]
        new = [p for k, p in model.named_parameters() if k in missing_set]
        params = [g for g in ({"params": loaded, "lr": st.lr * st.init_lr_scale}, {"params": new, "lr": st.lr})
                  if g["params"]]
        info["param_groups"] = {"pretrained": sum(p.numel() for p in loaded), "new": sum(p.numel() for p in new),
                                "pretrained_lr": st.lr * st.init_lr_scale, "new_lr": st.lr}
    mode = "tts" if mcfg.lip_blind else "dubber"
    crop = st.crop_frames

    def loss_fn(m, batch):
        return m.compute_loss(batch, mode=mode, crop_frames=crop if crop < batch.mel.shape[-1] else 0)

    tr = make_trainer(cfg, name, model, loss_fn, train_set, val_set, collate, st, out_dir, mcfg,
                  val_fn=_dubbing_val_fn(mode, out_dir / "attn", cfg.mel_per_frame), check=check, params=params)
    if tr.info.is_main and not resume and (out_dir / "attn").is_dir():
        for p in (out_dir / "attn").glob("step_*.npz"):
            p.unlink()
    result = tr.fit(resume=resume)
    return finish(cfg, name, tr, result, lambda p: model.save(p, extra={"stage": name, "step": result.step, "video": {"roi_size": cfg.video.roi_size}}),
                   dict(result.last_val), info)


def train_dubber(cfg: ProfileConfig, resume: bool = False, datasets: tuple[Any, Any] | None = None,
                 init_from: str | Path | None = "auto") -> StageOutput:
    """Stage 2: the full model on the dubbing corpus, from the TTS stage's ``model.pt`` (``"auto"``)."""
    if init_from == "auto":
        init_from = model_path(cfg, "tts")
    return _train_dubbing_model(cfg, "dubber", "dubber", dataclasses.replace(cfg.model, lip_blind=False),
                                stage_dir(cfg, "dubber"), resume, datasets, init_from)


def train_baselines(cfg: ProfileConfig, resume: bool = False, datasets: tuple[Any, Any] | None = None,
                    variants: Sequence[str] = tuple(BASELINES), init_from: str | Path | None = "auto"
                    ) -> dict[str, StageOutput]:
    """The lip-blind TTS baseline and the ablations, each by the dubber recipe with ``train.<recipe>`` of its
    :class:`~emodubber.models.baselines.Ablation` (``train.baselines``, or ``train.dubber``: as long as EmoDubber)."""
    unknown = [v for v in variants if v not in BASELINES]
    if unknown:
        raise TrainInputError(f"unknown baseline(s) {unknown}; known: {list(BASELINES)}")
    if init_from == "auto":
        init_from = model_path(cfg, "tts")
    out = {}
    for v in variants:
        mcfg = variant_config(cfg.model, v)
        out[v] = _train_dubbing_model(cfg, f"baselines/{v}", ABLATIONS[v].recipe, mcfg,
                                      stage_dir(cfg, "baselines", v), resume, datasets, init_from)
    return out
