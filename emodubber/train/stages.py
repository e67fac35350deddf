"""The training stages of the suite, each one function of the profile config (and one CLI sub-command).

=====================  ===============================================================================
stage                  what it trains, on what, starting from what
=====================  ===============================================================================
``train_tts``          phoneme encoder, prosody, duration predictor, SIA and the CFM decoder in TTS mode
                       (true durations) on all training speech: dubbing + emotional corpus, video dropped
``train_dubber``       the full EmoDubber (LPA, PE, SIA, decoder) on the dubbing corpus; weights that
                       match are loaded from the TTS stage (missing / unexpected keys reported), fresh
                       optimiser (DIGEST F.9)
``train_emotion_expert``  p_ψ(c | φ_t, t) on OT-CFM interpolants φ_t of the emotional corpus mels,
                       t ~ U(0, 1), labels = emotion ids; accuracy on clean held-out mels (t = 1)
``train_vocoder``      HiFi-GAN (generator + MPD + MSD in one optimiser, the adversarial terms split with
                       ``requires_grad`` so each net only gets its own gradient) on waveform segments;
                       validation compares its mel error with Griffin-Lim's
``train_baselines``    lip-blind TTS, EmoDubber w/o L_cl, EmoDubber w/o PE: the dubber recipe with one
                       model flag changed each
=====================  ===============================================================================

Each stage writes into ``cfg.checkpoint_dir(stage)`` (baselines: ``…/baselines/<variant>``):
``step_*.pt`` training checkpoints, ``model.pt`` (the final weights, EMA when on, loadable with
``EmoDubber.from_pretrained`` or :func:`load_emotion_expert` / :func:`load_vocoder`), ``train_log.csv``,
``val_log.csv``, ``summary.json`` (result, samples/s, held-out metrics, partial-load report) and, for
the dubbing stages, ``attn/step_*.npz`` (the LPA attention of fixed validation clips at every
validation, to watch it become diagonal). ``datasets=`` lets tests and notebooks pass their own
(train, val) datasets instead of the corpus on disk.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, Dataset

from emodubber.config import ModelConfig, ProfileConfig, StageConfig
from emodubber.train.loop import Trainer, TrainResult, evaluate_loss
from emodubber.train.validate import TrainInputError, make_batch_checker, validate_dataset
from emodubber.utils import atomic_write_json, seed_everything

__all__ = ["train_tts", "train_dubber", "train_emotion_expert", "train_vocoder", "train_baselines",
           "BASELINES", "StageOutput", "stage_dir", "model_path", "load_emotion_expert", "load_vocoder",
           "speech_collate", "synthesise_tts", "duration_accuracy", "evaluate_emotion_expert", "WavDataset", "HiFiGAN",
           "vocoder_compare"]

#: Baseline variants: name -> ModelConfig overrides (the rest is the dubber recipe).
BASELINES: dict[str, dict[str, Any]] = {
    "lip_blind": {"lip_blind": True},
    "no_lcl": {"use_lpa_loss": False},
    "no_pe": {"use_pe": False},
}


@dataclasses.dataclass
class StageOutput:
    """What a stage leaves behind (``summary.json`` holds the same)."""

    stage: str
    out_dir: Path
    model_path: Path  # final weights (EMA when on): what later stages and notebooks load
    result: TrainResult
    metrics: dict[str, Any]  # held-out evaluation after training
    info: dict[str, Any]  # partial-load report, parameter counts …


# ------------------------------------------------------------------------------------------------
# shared plumbing
# ------------------------------------------------------------------------------------------------


def stage_dir(cfg: ProfileConfig, stage: str, variant: str = "") -> Path:
    d = cfg.checkpoint_dir(stage)
    return d / variant if variant else d


def model_path(cfg: ProfileConfig, stage: str, variant: str = "") -> Path:
    """``model.pt`` of a stage (``stage_dir/model.pt``)."""
    return stage_dir(cfg, stage, variant) / "model.pt"


def _begin(cfg: ProfileConfig) -> None:
    torch.set_num_threads(max(1, cfg.train.threads))
    seed_everything(cfg.seed)


def speech_collate(items: Sequence[dict]) -> Any:
    """``emodubber.data.dataset.collate`` with the video dropped (TTS: all speech, with or without video)."""
    from emodubber.data.dataset import collate

    return collate([{**it, "lip": None} for it in items])


def _default_collate():
    from emodubber.data.dataset import collate

    return collate


def _datasets(cfg: ProfileConfig, corpora: Sequence[str]) -> tuple[Dataset, Dataset, int]:
    """Train and val sets over ``corpora`` (concatenated), and the number of speakers."""
    from emodubber.data.dataset import DubbingDataset, speaker_list

    speakers = speaker_list(cfg)
    tr, va = [], []
    for c in corpora:
        if not (cfg.corpus_dir / f"{c}.jsonl").exists():
            continue
        tr.append(DubbingDataset(cfg, "train", c, speakers=speakers))
        try:
            va.append(DubbingDataset(cfg, "val", c, speakers=speakers))
        except ValueError:  # no val clip in this corpus
            pass
    if not tr:
        raise TrainInputError(f"no training clips: none of {list(corpora)} exists in {cfg.corpus_dir} "
                              f"(build the corpus first: notebooks/01)")
    cat = lambda xs: xs[0] if len(xs) == 1 else ConcatDataset(xs)  # noqa: E731
    return cat(tr), (cat(va) if va else None), len(speakers)


def _n_speakers(ds: Any) -> int | None:
    for d in getattr(ds, "datasets", [ds]):
        if hasattr(d, "n_speakers"):
            return int(d.n_speakers)
    return None


def _stage_cfg(cfg: ProfileConfig, name: str) -> StageConfig:
    st = getattr(cfg.train, name)
    if st.crop_frames % cfg.mel_per_frame:
        raise TrainInputError(f"train.{name}.crop_frames = {st.crop_frames} must be a multiple of "
                              f"{cfg.mel_per_frame} (mel frames per video frame)")
    return st


def _trainer(cfg: ProfileConfig, name: str, model: nn.Module, loss_fn: Callable, train_set: Any, val_set: Any,
             collate_fn: Callable | None, st: StageConfig, out_dir: Path, model_cfg: ModelConfig | None,
             val_fn: Callable | None = None, check: Callable | None = None, **kw: Any) -> Trainer:
    if val_set is not None and 0 < st.val_clips < len(val_set):  # evenly spread: every speaker / emotion
        idx = sorted(set(np.linspace(0, len(val_set) - 1, st.val_clips).round().astype(int).tolist()))
        val_set = torch.utils.data.Subset(val_set, idx)
    config = {"profile": cfg.name, "stage": name, "train": dataclasses.asdict(st)}
    if model_cfg is not None:
        config.update(model=dataclasses.asdict(model_cfg), audio=dataclasses.asdict(cfg.audio))
    return Trainer(model, loss_fn, train_set, st, out_dir, val_data=val_set, collate_fn=collate_fn, val_fn=val_fn,
                   seed=cfg.seed, name=name, config=config, device=cfg.train.device,
                   num_workers=cfg.train.num_workers, check_batch=check, **kw)


def _finish(cfg: ProfileConfig, stage: str, trainer: Trainer, result: TrainResult, save_model: Callable[[Path], Any],
            metrics: dict, info: dict) -> StageOutput:
    """Write ``model.pt`` (EMA weights when on) and ``summary.json`` on rank 0."""
    out_dir = Path(result.out_dir)
    path = out_dir / "model.pt"
    if trainer.info.is_main:
        if trainer.ema is not None:
            with trainer.ema.applied(trainer.model):
                save_model(path)
        else:
            save_model(path)
        summary = {"stage": stage, "profile": cfg.name, "seed": cfg.seed, "model_path": str(path),
                   "result": dataclasses.asdict(result), "metrics": metrics, "info": info}
        atomic_write_json(out_dir / "summary.json", summary)
    return StageOutput(stage, out_dir, path, result, metrics, info)


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _check_inputs(cfg: ProfileConfig, train_set: Any, val_set: Any, collate_fn: Callable, n_vocab: int | None,
                  n_speakers: int | None, name: str, need_video: bool = False) -> Callable:
    limits = dict(n_speakers=n_speakers, n_vocab=n_vocab, n_emotions=cfg.model.n_emotions,
                  mel_per_frame=cfg.mel_per_frame, need_video=need_video)
    validate_dataset(train_set, collate_fn, what=f"{name}: training set", batch_size=64, **limits)
    if val_set is not None:
        validate_dataset(val_set, collate_fn, what=f"{name}: validation set", batch_size=64, **limits)
    return make_batch_checker(what=name, **limits)


# ------------------------------------------------------------------------------------------------
# Stage 1: TTS pre-training
# ------------------------------------------------------------------------------------------------


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
    from emodubber.models.dubber import EmoDubber

    _begin(cfg)
    st = _stage_cfg(cfg, "tts")
    if datasets is None:
        train_set, val_set, n_spk = _datasets(cfg, ("dubbing", "emotion"))
    else:
        (train_set, val_set), n_spk = datasets, _n_speakers(datasets[0])
    # the TTS model is the lip-blind one: phoneme encoder, prosody, durations, SIA, decoder. The dubber's
    # partial load then reports the lip encoder, LPA, PE and CTC head as missing (trained from scratch).
    mcfg = dataclasses.replace(cfg.model, lip_blind=True)
    model = EmoDubber(mcfg, cfg.audio)
    check = _check_inputs(cfg, train_set, val_set, speech_collate, model.n_vocab, n_spk, "tts")
    crop = st.crop_frames

    def loss_fn(m, batch):
        return m.compute_loss(batch, mode="tts", crop_frames=crop if crop < batch.mel.shape[-1] else 0)

    def val_fn(m, loader, step):
        res = evaluate_loss(m, lambda mm, b: mm.compute_loss(b, mode="tts"), loader, next(m.parameters()).device)
        dev = next(m.parameters()).device
        mses = [_mu_mse(m, b.to(dev)) for b in loader]
        res["mu_mse"] = float(np.mean(mses)) if mses else float("nan")
        return res

    tr = _trainer(cfg, "tts", model, loss_fn, train_set, val_set, speech_collate, st, stage_dir(cfg, "tts"), mcfg,
                  val_fn=val_fn, check=check)
    result = tr.fit(resume=resume)
    info = {"parameters": model.count_parameters(), "train_clips": len(train_set),
            "val_clips": len(val_set) if val_set is not None else 0}
    return _finish(cfg, "tts", tr, result, lambda p: model.save(p, extra={"stage": "tts", "step": result.step, "video": {"roi_size": cfg.video.roi_size}}),
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


# ------------------------------------------------------------------------------------------------
# Stage 2: the dubber (and, with one flag changed, the baselines)
# ------------------------------------------------------------------------------------------------


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
    from emodubber.models.dubber import EmoDubber

    _begin(cfg)
    st = _stage_cfg(cfg, stage_key)
    if datasets is None:
        train_set, val_set, n_spk = _datasets(cfg, ("dubbing",))
    else:
        (train_set, val_set), n_spk = datasets, _n_speakers(datasets[0])
    collate = _default_collate()
    model = EmoDubber(mcfg, cfg.audio)
    check = _check_inputs(cfg, train_set, val_set, collate, model.n_vocab, n_spk, name, need_video=not mcfg.lip_blind)
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

    tr = _trainer(cfg, name, model, loss_fn, train_set, val_set, collate, st, out_dir, mcfg,
                  val_fn=_dubbing_val_fn(mode, out_dir / "attn", cfg.mel_per_frame), check=check, params=params)
    if tr.info.is_main and not resume and (out_dir / "attn").is_dir():
        for p in (out_dir / "attn").glob("step_*.npz"):
            p.unlink()
    result = tr.fit(resume=resume)
    return _finish(cfg, name, tr, result, lambda p: model.save(p, extra={"stage": name, "step": result.step, "video": {"roi_size": cfg.video.roi_size}}),
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
    """The lip-blind TTS baseline and the ablations, each by the dubber recipe with ``train.baselines``."""
    unknown = [v for v in variants if v not in BASELINES]
    if unknown:
        raise TrainInputError(f"unknown baseline(s) {unknown}; known: {list(BASELINES)}")
    if init_from == "auto":
        init_from = model_path(cfg, "tts")
    out = {}
    for v in variants:
        mcfg = dataclasses.replace(cfg.model, **BASELINES[v])
        out[v] = _train_dubbing_model(cfg, f"baselines/{v}", "baselines", mcfg, stage_dir(cfg, "baselines", v),
                                      resume, datasets, init_from)
    return out


# ------------------------------------------------------------------------------------------------
# Stage 3: the emotion expert
# ------------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate_emotion_expert(expert: nn.Module, loader: Any, t: float = 1.0, device: str | torch.device = "cpu",
                            seed: int = 0, prior_fn: Callable | None = None) -> dict[str, Any]:
    """Accuracy of p_ψ at flow time ``t`` (t = 1: clean mels) and the confusion matrix (rows = truth).

    φ_t is built as in training (noise at the expert's ``noise_scale``, the sampler's temperature);
    ``prior_fn(batch) -> μ [B, 80, T]`` feeds an expert conditioned on the prior."""
    from emodubber.config import EMOTIONS

    expert.eval()
    g = torch.Generator().manual_seed(seed)
    n = len(EMOTIONS)
    conf = np.zeros((n, n), dtype=np.int64)
    scale = float(getattr(expert, "noise_scale", 1.0))
    for b in loader:
        mel, lengths, y = b.mel.to(device), b.mel_lengths.to(device), b.emotion_ids.to(device)
        T = mel.shape[-1]
        mask = (torch.arange(T, device=device)[None] < lengths[:, None]).to(mel.dtype)[:, None]
        z = torch.randn(mel.shape, generator=g).to(mel) * scale
        tt = torch.full((mel.shape[0],), float(t), device=device)
        sm = getattr(expert, "sigma_min", 1e-4)
        phi = ((1 - (1 - sm) * t) * z + t * mel) * mask
        kw = {"mu": prior_fn(b.to(device)) * mask} if getattr(expert, "needs_mu", False) else {}
        pred = expert(phi, tt, mask, **kw).argmax(-1)
        for a, p in zip(y.tolist(), pred.tolist()):
            conf[a, p] += 1
    total = conf.sum()
    return {"accuracy": float(np.trace(conf) / max(total, 1)), "n": int(total), "confusion": conf.tolist(), "t": t}


def expert_accuracy_curve(expert: nn.Module, loader: Any, ts: Sequence[float] = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0),
                          device: str | torch.device = "cpu", seed: int = 0,
                          prior_fn: Callable | None = None) -> list[dict[str, Any]]:
    """Held-out accuracy of p_ψ against the flow time t (what decides the guidance schedule's ``t_min``)."""
    return [evaluate_emotion_expert(expert, loader, t, device, seed, prior_fn) for t in ts]


def tts_prior_fn(tts: nn.Module) -> Callable:
    """``prior_fn(batch) -> μ [B, 80, T_mel]``: the frozen TTS's prior for a speech batch, with the true durations
    and *predicted* pitch and energy (as at inference: the prior does not carry the clip's own emotion)."""
    tts.eval()
    for p in tts.parameters():
        p.requires_grad_(False)

    @torch.no_grad()
    def prior(batch: Any) -> torch.Tensor:
        out = tts(batch.phonemes, batch.phoneme_lengths, batch.spk_emb, durations=batch.durations, mode="tts")
        mu, T = out["mu"], batch.mel.shape[-1]
        return nn.functional.pad(mu, (0, T - mu.shape[-1])) if mu.shape[-1] < T else mu[..., :T]

    return prior


def load_emotion_expert(path: str | Path, map_location: str = "cpu") -> nn.Module:
    """The expert saved by :func:`train_emotion_expert` (``model.pt`` or a training checkpoint)."""
    from emodubber.config import from_dict
    from emodubber.models.checkpointing import read_model_file
    from emodubber.models.emotion import EmotionExpert

    payload = read_model_file(path, "EmotionExpert")
    c = payload["config"]
    expert = EmotionExpert(from_dict(ModelConfig, c["model"]), n_mels=c.get("audio", {}).get("n_mels", 80))
    expert.load_state_dict(payload["state_dict"])
    return expert.to(map_location).eval()


def train_emotion_expert(cfg: ProfileConfig, resume: bool = False, datasets: tuple[Any, Any] | None = None,
                         test_set: Any = None) -> StageOutput:
    """Stage 3: p_ψ(c | φ_t, t) on interpolants of the emotional corpus; clean held-out accuracy reported."""
    from emodubber.data.dataset import DubbingDataset
    from emodubber.models.checkpointing import write_model_file
    from emodubber.models.emotion import EmotionExpert

    _begin(cfg)
    st = _stage_cfg(cfg, "emotion_expert")
    if datasets is None:
        train_set, val_set, n_spk = _datasets(cfg, ("emotion",))
    else:
        (train_set, val_set), n_spk = datasets, _n_speakers(datasets[0])
    expert = EmotionExpert(cfg.model, n_mels=cfg.audio.n_mels)
    check = _check_inputs(cfg, train_set, val_set, speech_collate, None, n_spk, "emotion_expert")
    crop = st.crop_frames
    prior_fn = None
    if expert.needs_mu:  # the expert reads the prior μ of a frozen TTS beside φ_t
        from emodubber.models.dubber import EmoDubber

        tts_file = model_path(cfg, "tts")
        if not tts_file.exists():
            raise TrainInputError(f"emotion_expert: model.expert_condition = 'mu' needs the TTS stage's {tts_file}: "
                                  f"run `emodubber train tts` first")
        prior_fn = tts_prior_fn(EmoDubber.from_pretrained(tts_file))

    def loss_fn(m, batch):
        mel, lengths = batch.mel, batch.mel_lengths
        mu = prior_fn(batch) if prior_fn is not None else None
        if 0 < crop < mel.shape[-1]:  # random window inside each clip (its emotion is everywhere)
            start = (torch.rand(mel.shape[0]) * (lengths.cpu() - crop).clamp_min(0).add(1).float()).long()
            idx = (start[:, None] + torch.arange(crop)[None]).clamp_max(mel.shape[-1] - 1).to(mel.device)
            take = lambda a: a.gather(2, idx[:, None].expand(-1, a.shape[1], -1))  # noqa: E731
            mel = take(mel)
            mu = None if mu is None else take(mu)
            lengths = (lengths - start.to(lengths.device)).clamp(1, crop)
        loss, acc = m.loss(mel, lengths, batch.emotion_ids, mu=mu)
        return {"loss": loss, "acc": acc.detach()}

    def val_fn(m, loader, step):
        dev = next(m.parameters()).device

        def val_loss(mm, b):
            mu = prior_fn(b) if prior_fn is not None else None
            return dict(zip(("loss", "acc"), mm.loss(b.mel, b.mel_lengths, b.emotion_ids, mu=mu)))

        res = evaluate_loss(m, val_loss, loader, dev)
        res["acc_clean"] = evaluate_emotion_expert(m, loader, 1.0, dev, prior_fn=prior_fn)["accuracy"]
        res["acc_t0.5"] = evaluate_emotion_expert(m, loader, 0.5, dev, prior_fn=prior_fn)["accuracy"]
        return res

    tr = _trainer(cfg, "emotion_expert", expert, loss_fn, train_set, val_set, speech_collate, st,
                  stage_dir(cfg, "emotion_expert"), cfg.model, val_fn=val_fn, check=check)
    result = tr.fit(resume=resume)
    metrics: dict[str, Any] = dict(result.last_val)
    if test_set is None and datasets is None:
        try:
            test_set = DubbingDataset(cfg, "test", "emotion")
        except (ValueError, FileNotFoundError):
            test_set = None
    if test_set is not None and tr.info.is_main:
        loader = torch.utils.data.DataLoader(test_set, batch_size=32, collate_fn=speech_collate)
        model = tr.model
        ctx = tr.ema.applied(model) if tr.ema is not None else _null()
        with ctx:
            curve = expert_accuracy_curve(model, loader, device=tr.device, seed=cfg.seed, prior_fn=prior_fn)
        for r in curve:
            metrics[f"test_t{r['t']:g}"] = r
        metrics["test_accuracy_clean"] = metrics["test_t1"]["accuracy"]
        metrics["test_accuracy_curve"] = {f"{r['t']:g}": r["accuracy"] for r in curve}
    config = {"model": dataclasses.asdict(cfg.model), "audio": dataclasses.asdict(cfg.audio)}
    return _finish(cfg, "emotion_expert", tr, result,
                   lambda p: write_model_file(p, "EmotionExpert", expert.state_dict(), config,
                                              {"stage": "emotion_expert", "step": result.step}),
                   metrics, {"parameters": _count(expert), "train_clips": len(train_set)})


def _null():
    import contextlib

    return contextlib.nullcontext()


# ------------------------------------------------------------------------------------------------
# Stage 4: the vocoder
# ------------------------------------------------------------------------------------------------


class WavDataset(Dataset):
    """Waveforms of manifest clips (read from disk per item, resampled to the audio contract's rate)."""

    def __init__(self, paths: Sequence[str | Path], sample_rate: int = 16000):
        self.paths = [Path(p) for p in paths]
        self.sr = sample_rate

    @classmethod
    def from_corpus(cls, cfg: ProfileConfig, split: str, corpora: Sequence[str] = ("dubbing", "emotion")) -> "WavDataset":
        from emodubber.data.manifest import read_manifest

        paths = []
        for c in corpora:
            p = cfg.corpus_dir / f"{c}.jsonl"
            if p.exists():
                paths += [r.path(cfg.corpus_dir) for r in read_manifest(p) if r.split == split]
        return cls(paths, cfg.audio.sample_rate)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        import soundfile as sf

        wav, sr = sf.read(str(self.paths[i]), dtype="float32", always_2d=True)
        x = torch.from_numpy(wav.mean(1))
        if sr != self.sr:
            import torchaudio

            x = torchaudio.functional.resample(x, sr, self.sr)
        return x


def wav_collate(items: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad waveforms: ``(wav [B, N], lengths [B])``."""
    n = max(int(x.shape[0]) for x in items)
    out = torch.zeros(len(items), n)
    for i, x in enumerate(items):
        out[i, : x.shape[0]] = x
    return out, torch.tensor([int(x.shape[0]) for x in items])


class HiFiGAN(nn.Module):
    """Generator + MPD + MSD + the mel front end, trained with one optimiser (see :func:`train_vocoder`)."""

    def __init__(self, cfg: ProfileConfig, adversarial: bool = True):
        super().__init__()
        from emodubber.models.vocoder import (HiFiGANGenerator, MelSpectrogram, MultiPeriodDiscriminator,
                                              MultiScaleDiscriminator)

        self.generator = HiFiGANGenerator(cfg.audio.n_mels, cfg.model.hifigan_channels)
        self.adversarial = adversarial
        if adversarial:
            self.mpd = MultiPeriodDiscriminator()
            self.msd = MultiScaleDiscriminator()
        self.mel = MelSpectrogram(cfg.audio)

    def discriminators(self) -> list[nn.Module]:
        return [self.mpd, self.msd] if self.adversarial else []

    def loss(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """HiFi-GAN losses on waveform segments. shape: wav [B, N] (N a multiple of the hop)"""
        from emodubber.models.vocoder import discriminator_loss, feature_loss, generator_loss, mel_loss

        with torch.no_grad():
            mel = self.mel(wav)
        fake = self.generator(mel)[..., : wav.shape[-1]]
        l_mel = mel_loss(self.mel, wav, fake)
        out = {"mel_l1": l_mel.detach()}
        if not self.adversarial:
            out["loss"] = 45.0 * l_mel
            return out
        # generator terms: the discriminators act as fixed functions (no gradient into them)
        discs = self.discriminators()
        for d in discs:
            d.requires_grad_(False)
        try:
            adv = fm = 0.0
            for d in discs:
                _, f_real = d(wav)
                s_fake, f_fake = d(fake)
                adv = adv + generator_loss(s_fake)
                fm = fm + feature_loss(f_real, f_fake)
        finally:
            for d in discs:
                d.requires_grad_(True)
        # discriminator terms: the generated audio is a fixed input (no gradient into the generator)
        l_d = 0.0
        for d in discs:
            s_real, _ = d(wav)
            s_fake, _ = d(fake.detach())
            l_d = l_d + discriminator_loss(s_real, s_fake)
        out.update(gen_adv=adv.detach(), feat=fm.detach(), disc=l_d.detach())
        out["loss"] = adv + fm + 45.0 * l_mel + l_d
        return out


def load_vocoder(path: str | Path, map_location: str = "cpu") -> nn.Module:
    """The HiFi-GAN generator saved by :func:`train_vocoder` (mel [B, 80, T] -> wav [B, 160 T])."""
    from emodubber.models.checkpointing import read_model_file
    from emodubber.models.vocoder import HiFiGANGenerator

    payload = read_model_file(path, "HiFiGANGenerator")
    c = payload["config"]
    gen = HiFiGANGenerator(c["n_mels"], c["channels"])
    gen.load_state_dict(payload["state_dict"])
    return gen.to(map_location).eval()


def _mel_l1(mel_fn: nn.Module, wav: torch.Tensor, mel: torch.Tensor) -> float:
    m2 = mel_fn(wav)
    n = min(m2.shape[-1], mel.shape[-1])
    return float((m2[..., :n] - mel[..., :n]).abs().mean())


@torch.no_grad()
def vocoder_compare(generator: nn.Module | None, wavs: Sequence[torch.Tensor], cfg: ProfileConfig,
                    griffinlim: bool = True) -> dict[str, float]:
    """Mel L1 between the input mel and the mel of the audio made from it, over whole clips:
    ``mel_l1_hifigan`` (when a generator is given) and ``mel_l1_griffinlim`` (when asked)."""
    from emodubber.models.vocoder import GriffinLimVocoder, MelSpectrogram

    mel_fn = MelSpectrogram(cfg.audio)
    gl = GriffinLimVocoder(cfg.audio) if griffinlim else None
    out: dict[str, float] = {}
    k = max(1, len(wavs))
    for w in wavs:
        mel = mel_fn(w[None])
        if generator is not None:
            dev = next(generator.parameters()).device
            out["mel_l1_hifigan"] = out.get("mel_l1_hifigan", 0.0) + _mel_l1(mel_fn, generator(mel.to(dev)).cpu(), mel) / k
        if gl is not None:
            out["mel_l1_griffinlim"] = out.get("mel_l1_griffinlim", 0.0) + _mel_l1(mel_fn, gl(mel), mel) / k
    return out


def train_vocoder(cfg: ProfileConfig, resume: bool = False, datasets: tuple[Any, Any] | None = None) -> StageOutput:
    """Stage 4: HiFi-GAN on waveform segments of the corpus; validation against Griffin-Lim."""
    from emodubber.models.checkpointing import write_model_file

    _begin(cfg)
    st = _stage_cfg(cfg, "vocoder")
    if datasets is None:
        train_set = WavDataset.from_corpus(cfg, "train")
        val_set = WavDataset.from_corpus(cfg, "val")
    else:
        train_set, val_set = datasets
    if len(train_set) == 0:
        raise TrainInputError(f"vocoder: training set is empty (no train wav in {cfg.corpus_dir})")
    hop = cfg.audio.hop_length
    seg = (cfg.train.vocoder_segment // hop) * hop
    if seg <= 0:
        raise TrainInputError(f"train.vocoder_segment = {cfg.train.vocoder_segment} is shorter than one hop ({hop})")
    model = HiFiGAN(cfg, adversarial=cfg.train.vocoder_adversarial)

    def loss_fn(m, batch):
        wav, lengths = batch
        start = (torch.rand(wav.shape[0]) * (lengths - seg).clamp_min(0).add(1).float()).long()
        idx = (start[:, None] + torch.arange(seg)[None]).to(wav.device)
        padded = nn.functional.pad(wav, (0, seg))
        return m.loss(padded.gather(1, idx))

    val_wavs: list[torch.Tensor] = []
    if val_set is not None and len(val_set):
        n_val = st.val_clips or 4
        val_wavs = [val_set[i][: 3 * cfg.audio.sample_rate] for i in range(min(n_val, len(val_set)))]
    gl_cache: dict[str, float] = {}

    def val_fn(m, loader, step):
        if not val_wavs:
            return {}
        res = vocoder_compare(m.generator, val_wavs, cfg, griffinlim=not gl_cache)
        gl_cache.setdefault("g", res.get("mel_l1_griffinlim", float("nan")))  # Griffin-Lim does not train
        res["mel_l1_griffinlim"] = gl_cache["g"]
        return res

    tr = _trainer(cfg, "vocoder", model, loss_fn, train_set, val_set, wav_collate, st, stage_dir(cfg, "vocoder"),
                  None, val_fn=val_fn, betas=(0.8, 0.99))
    result = tr.fit(resume=resume)
    config = {"n_mels": cfg.audio.n_mels, "channels": cfg.model.hifigan_channels, "audio": dataclasses.asdict(cfg.audio)}
    info = {"parameters": {"generator": _count(model.generator), "total": _count(model)},
            "segment_samples": seg, "adversarial": model.adversarial, "train_clips": len(train_set)}
    return _finish(cfg, "vocoder", tr, result,
                   lambda p: write_model_file(p, "HiFiGANGenerator", model.generator.state_dict(), config,
                                              {"stage": "vocoder", "step": result.step}),
                   dict(result.last_val), info)
