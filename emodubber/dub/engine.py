"""The model side of dubbing: load the checkpoints once, synthesise with a timer on every stage.

:class:`DubModels` holds the dubber, the emotion expert (if any), the vocoder and the sampling defaults
(:class:`SamplingDefaults`: temperature, Euler steps, γ and vocoder that the checkpoint's training profile
evaluates with, ``eval.*``; the profile is named by ``dubber/summary.json``). :func:`synthesise_timed` is
:meth:`emodubber.models.dubber.EmoDubber.synthesise` for one clip in dubbing mode, split so that each
stage is timed on its own — ``lip_encoder`` (𝓔 = LipEncoder(lip)), ``encoders`` (phoneme encoder,
prosody, LPA, PE, SIA: everything else up to μ), ``decoder`` (the estimator's Euler steps),
``guidance`` (PNGM: the expert's forward and its gradient), ``vocoder`` — and gives the same mel for the
same seed (a test checks it against ``synthesise``). The benchmarks time the model with it too.

Each model loads through the loader beside its class (``EmoDubber.from_pretrained``,
:func:`emodubber.models.emotion.load_emotion_expert`, :func:`emodubber.models.vocoder.load_vocoder`); nothing
here imports ``emodubber.train``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from emodubber.config import ConfigError, EvalConfig, VideoConfig, load_profile
from emodubber.dub.inputs import CheckpointLayout, DubInputError
from emodubber.dub.lipcheck import LipCheck, choose_alignment
from emodubber.models.checkpointing import ModelFileError, read_model_file
from emodubber.models.dubber import EmoDubber
from emodubber.models.emotion import PNGMGuidance, emotion_index, load_emotion_expert
from emodubber.models.vocoder import GriffinLimVocoder, load_vocoder
from emodubber.modules.checks import MEL_PER_FRAME

__all__ = ["DubModels", "SamplingDefaults", "sampling_defaults", "load_models", "synthesise_timed",
           "synthesise_aligned", "vocode", "MODEL_STAGES"]

#: The model stages timed by :func:`synthesise_timed` and :func:`vocode`, in order.
MODEL_STAGES = ("lip_encoder", "encoders", "decoder", "guidance", "vocoder")


@dataclass(frozen=True)
class SamplingDefaults:
    """What ``dub`` samples with when not told: the training profile's ``eval`` section."""

    temperature: float
    n_steps: int
    gamma: float
    vocoder: str  # "griffinlim" or "hifigan"
    source: str  # "profile 'cpu' (eval.*)" or why the dataclass defaults are used


def sampling_defaults(layout: CheckpointLayout | None) -> SamplingDefaults:
    """Temperature, Euler steps, γ (PNGM, docs/paper.md §3.5.2) and vocoder of the checkpoint's profile
    (``eval.temperature``, ``eval.n_steps``, ``eval.gamma``, ``eval.vocoder``); :class:`EvalConfig`'s defaults when
    the checkpoint does not name a loadable profile (``source`` says which)."""
    ev, source = EvalConfig(), "EvalConfig defaults (the checkpoint names no profile)"
    if layout is not None and layout.profile:
        try:
            ev, source = load_profile(layout.profile, local=None).eval, f"profile {layout.profile!r} (eval.*)"
        except (ConfigError, FileNotFoundError, OSError, ValueError):
            source = f"EvalConfig defaults (profile {layout.profile!r} of the checkpoint does not load)"
    return SamplingDefaults(float(ev.temperature), int(ev.n_steps), float(ev.gamma), str(ev.vocoder), source)


@dataclass
class DubModels:
    """Everything dubbing needs from the checkpoint directory."""

    dubber: nn.Module
    expert: nn.Module | None
    vocoder: nn.Module
    vocoder_name: str  # "hifigan" or "griffinlim"
    roi_size: int
    notes: list[str] = field(default_factory=list)
    layout: CheckpointLayout | None = None
    defaults: SamplingDefaults = field(default_factory=lambda: sampling_defaults(None))


def _load(fn, path: Path, what: str):
    try:
        return fn(path)
    except ModelFileError as e:
        msg = " ".join(str(e).split())
        raise DubInputError("checkpoint-bad", f"{what} checkpoint unusable: {_cut(msg)}") from None
    except (RuntimeError, KeyError, TypeError) as e:  # a state dict that does not fit the stored config
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DubInputError("checkpoint-bad", f"{what} checkpoint {path} does not load: {_cut(first)}") from None


def _cut(msg: str, n: int = 240) -> str:
    """A long library message cut at its first sentence after ``n`` characters (one readable line)."""
    if len(msg) <= n:
        return msg
    end = msg.find(". ", n // 2)
    return msg[: end + 1] if 0 < end < n else msg[:n] + "…"


def _roi_size(layout: CheckpointLayout, payload_extra: dict, given: int | None, notes: list[str]) -> int:
    if given:
        return int(given)
    for src in (payload_extra.get("video") or {}, payload_extra):
        if src.get("roi_size"):
            return int(src["roi_size"])
    if layout.profile:
        try:
            return int(load_profile(layout.profile, local=None).video.roi_size)
        except (ConfigError, FileNotFoundError, OSError):
            pass
    size = VideoConfig().roi_size
    notes.append(f"the checkpoint does not say its ROI size: using {size} px (pass roi_size= to override)")
    return size


def load_models(layout: CheckpointLayout, need_expert: bool, vocoder: str = "auto", roi_size: int | None = None,
                check_version: bool = True) -> DubModels:
    """Load the dubber, the expert (only if ``need_expert``: unguided dubbing never reads it; refused if absent)
    and the vocoder (``auto``: the one the profile evaluates with, ``eval.vocoder``; Griffin-Lim when that is
    HiFi-GAN and ``vocoder/model.pt`` is absent)."""
    notes: list[str] = []
    defaults = sampling_defaults(layout)
    extra = _load(lambda p: read_model_file(p, "EmoDubber", check_version), layout.dubber, "dubber").get("extra") or {}
    dubber = _load(lambda p: EmoDubber.from_pretrained(p, check_version=check_version), layout.dubber, "dubber")
    if dubber.cfg.lip_blind:
        raise DubInputError("checkpoint-bad", f"{layout.dubber} is a lip-blind TTS model, not a dubber")
    dubber.eval()
    expert = None
    if need_expert and layout.emotion_expert is not None:
        expert = _load(load_emotion_expert, layout.emotion_expert, "emotion expert")
    elif need_expert:
        raise DubInputError("checkpoint-missing", f"alpha/beta > 0 need the emotion expert, but "
                                                  f"{layout.root / 'emotion_expert' / 'model.pt'} does not exist")
    if vocoder not in ("auto", "hifigan", "griffinlim"):
        raise DubInputError("bad-option", f"vocoder must be auto, hifigan or griffinlim, not {vocoder!r}")
    if vocoder == "hifigan" and layout.vocoder is None:
        raise DubInputError("checkpoint-missing", f"--vocoder hifigan: {layout.root / 'vocoder' / 'model.pt'} "
                                                  f"does not exist")
    want = defaults.vocoder if vocoder == "auto" else vocoder
    if want == "hifigan" and layout.vocoder is not None:
        voc, name = _load(load_vocoder, layout.vocoder, "vocoder"), "hifigan"
    else:
        voc, name = GriffinLimVocoder(dubber.audio_cfg), "griffinlim"
    if vocoder == "auto":
        got = "Griffin-Lim" if name == "griffinlim" else "HiFi-GAN"
        why = "" if want == name else ", but vocoder/model.pt does not exist"
        notes.append(f"vocoder auto: {got}; {defaults.source} evaluates with eval.vocoder = {defaults.vocoder}{why}")
    return DubModels(dubber, expert, voc.eval(), name, _roi_size(layout, extra, roi_size, notes), notes, layout,
                     defaults)


class _Clock:
    """Accumulates wall time per stage name."""

    def __init__(self):
        self.t: dict[str, float] = {}

    def add(self, name: str, dt: float) -> None:
        self.t[name] = self.t.get(name, 0.0) + dt


class _TimedGuidance:
    """Wraps a PNGM guidance callable and times it (decoder time excludes it)."""

    def __init__(self, guidance, clock: _Clock):
        self.g, self.clock = guidance, clock

    def __call__(self, phi, t, mask, v):
        t0 = time.perf_counter()
        out = self.g(phi, t, mask, v)
        self.clock.add("guidance", time.perf_counter() - t0)
        return out


@torch.no_grad()
def synthesise_timed(model: nn.Module, phonemes: torch.Tensor, lip: torch.Tensor, spk_emb: torch.Tensor,
                     expert: nn.Module | None = None, emotion: int | str | None = None, alpha: float = 0.0,
                     beta: float = 0.0, gamma: float = 1.0, n_steps: int = 10, temperature: float = 0.667,
                     seed: int = 1234, alignment: str = "lips",
                     expert_ref: torch.Tensor | None = None) -> tuple[dict[str, Any], dict[str, float]]:
    """One clip through the dubber with per-stage wall times (s).

    shape: phonemes [P] long, lip [F, 1, H, W] float in [0, 1] (or uint8), spk_emb [256], expert_ref [80] (r̄ of
        the reference voice, for an expert conditioned on it)
        -> (dict(mel [1, 80, 4F], mu, durations [1, P] mel frames, attn [1, F, P], guidance_logp), timings)
    ``alignment="lips"``: the dubbing path; same mel as ``model.synthesise(...)`` with the same arguments and seed.
    ``alignment="text"``: the lip-blind path for lips that cannot be read (:mod:`emodubber.dub.lipcheck`): the
    dubber's own TTS-mode forward, durations predicted from the phonemes and fitted to T = 4F mel frames
    (``mode="tts", mel_frames=4F``); the lips are not read (``lip_encoder`` 0 s, ``attn`` None). The duration
    predictor is the TTS stage's: the dubbing stage initialises from the TTS and never trains it (no duration
    loss in dubbing mode), while it trains the phoneme encoder that feeds it; only the predicted proportions
    are used, the total is the clip's.
    """
    clock = _Clock()
    dev = next(model.parameters()).device
    ph = phonemes[None].to(dev)
    lip = lip[None].to(dev)
    spk = spk_emb[None].to(dev).float()
    guided = gamma != 0 and (alpha != 0 or beta != 0)
    if guided and expert is None:
        raise ValueError("alpha/beta > 0 needs an emotion expert")
    if guided and emotion is None:
        raise ValueError("alpha/beta > 0 needs the target emotion")
    if alignment not in ("lips", "text"):
        raise ValueError(f"alignment must be 'lips' or 'text', not {alignment!r}")

    def pre(_m, _a):
        clock.add("_lip_start", time.perf_counter())

    def post(_m, _a, _o):
        clock.add("lip_encoder", time.perf_counter() - clock.t.pop("_lip_start"))

    was_training = model.training
    model.eval()
    hooks = [model.lip_encoder.register_forward_pre_hook(pre), model.lip_encoder.register_forward_hook(post)]
    try:
        t0 = time.perf_counter()
        n_frames = torch.full((1,), lip.shape[1], device=dev, dtype=torch.long)
        if alignment == "lips":
            out = model(ph, (ph != 0).sum(-1).clamp_min(1), spk, lip=lip, lip_lengths=n_frames, mode="dubber")
        else:
            out = model(ph, (ph != 0).sum(-1).clamp_min(1), spk, mode="tts", mel_frames=MEL_PER_FRAME * n_frames)
        clock.add("encoders", time.perf_counter() - t0 - clock.t.get("lip_encoder", 0.0))
        guidance = None
        if guided:
            expert.eval()
            tgt = torch.full((1,), emotion_index(emotion, model.cfg.n_emotions), device=dev, dtype=torch.long)
            guidance = PNGMGuidance(expert, tgt, alpha, beta, gamma, mu=out["mu"],
                                    ref=None if expert_ref is None else expert_ref.reshape(1, -1).to(dev).float())
        gen = torch.Generator().manual_seed(int(seed))
        t0 = time.perf_counter()
        mel = model.decoder(out["mu"], out["mel_mask"], spk, n_steps, temperature, gen,
                            _TimedGuidance(guidance, clock) if guidance is not None else None)
        clock.add("decoder", time.perf_counter() - t0 - clock.t.get("guidance", 0.0))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    clock.t.setdefault("guidance", 0.0)
    clock.t.setdefault("lip_encoder", 0.0)
    res = {"mel": mel, "mu": out["mu"], "mel_lengths": out["mel_lengths"],
           "durations": out["durations"] * (MEL_PER_FRAME if alignment == "lips" else 1), "attn": out.get("attn"),
           "guidance_logp": guidance.history if guidance is not None else []}
    return res, clock.t


def synthesise_aligned(model: nn.Module, phonemes: torch.Tensor, rois, spk_emb: torch.Tensor, alignment: str = "auto",
                       **kw) -> tuple[dict[str, Any], dict[str, float], LipCheck]:
    """Lips or text, as :func:`emodubber.dub.lipcheck.choose_alignment` decides on the ROIs, then
    :func:`synthesise_timed` on that path (``kw``: its sampling arguments).

    shape: phonemes [P], rois uint8 [F, S, S], spk_emb [256] -> (result, timings, LipCheck)
    """
    check = choose_alignment(rois, alignment)
    lip = torch.as_tensor(rois).float().div_(255.0)[:, None]  # [F, 1, S, S]
    res, tm = synthesise_timed(model, phonemes, lip, spk_emb, alignment=check.alignment, **kw)
    return res, tm, check


@torch.no_grad()
def vocode(vocoder: nn.Module, mel: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Waveform of a mel and the time it took. shape: mel [1, 80, T] -> wav [160·T] float"""
    t0 = time.perf_counter()
    params = list(vocoder.parameters())
    dev = params[0].device if params else mel.device
    hop = getattr(vocoder, "hop", None) or vocoder.audio.hop_length
    wav = vocoder(mel.to(dev).float())
    wav = wav.reshape(-1)[: mel.shape[-1] * hop].cpu()
    return wav, time.perf_counter() - t0
