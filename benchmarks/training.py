"""Training throughput (samples/s) per stage: a few optimiser steps of each stage's loss on random
batches shaped as the ``cpu`` profile trains (its batch sizes and crops, 3-s clips, its ROI size)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from benchmarks.common import profile


def random_batch(B: int, seconds: float, roi: int, seed: int = 0, lip: bool = True):
    """A DubBatch of B random ``seconds``-long clips keeping the contract (T = 4F, durations sum to T)."""
    import torch

    from emodubber.batch import DubBatch

    g = torch.Generator().manual_seed(seed)
    F = int(round(seconds * 25))
    T = 4 * F
    P = int(round(seconds * 11))
    durs = torch.full((B, P), T // P, dtype=torch.long)
    durs[:, -1] += T - durs.sum(1)
    ends = durs.cumsum(1)
    starts = ends - durs
    gt = torch.zeros(B, P, F)
    for p in range(P):
        gt[:, p, int(starts[0, p]) // 4: (int(ends[0, p]) - 1) // 4 + 1] = 1
    return DubBatch(
        clip_ids=[f"r{i}" for i in range(B)], phonemes=torch.randint(3, 42, (B, P), generator=g),
        phoneme_lengths=torch.full((B,), P), mel=torch.randn(B, 80, T, generator=g),
        mel_lengths=torch.full((B,), T),
        spk_emb=torch.nn.functional.normalize(torch.randn(B, 256, generator=g), dim=-1),
        speaker_ids=torch.zeros(B, dtype=torch.long), emotion_ids=torch.randint(0, 7, (B,), generator=g),
        intensity=torch.zeros(B), durations=durs, pitch=torch.randn(B, P, generator=g),
        energy=torch.randn(B, P, generator=g), lip=torch.rand(B, F, 1, roi, roi, generator=g) if lip else None,
        lip_lengths=torch.full((B,), F), gt_sim=gt if lip else None)


def _steps(model, loss_fn, batch, n_steps: int, lr: float = 1e-4) -> float:
    """Seconds per optimiser step (median of ``n_steps`` after one warm-up step)."""
    import statistics

    import torch

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    ts = []
    for k in range(n_steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model, batch)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if k:
            ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def throughput(preset: str = "cpu", n_steps: int = 2, seconds: float = 3.0, log=print) -> list[dict[str, Any]]:
    """Samples/s of each training stage of ``preset`` (batch sizes and crops from its train config)."""
    import torch

    from emodubber.models.dubber import EmoDubber
    from emodubber.models.emotion import EmotionExpert
    from emodubber.train.stages import HiFiGAN

    cfg = profile(preset)
    roi = cfg.video.roi_size
    tr = cfg.train
    rows = []

    def record(stage, model, loss_fn, batch, B, what):
        dt = _steps(model, loss_fn, batch, n_steps)
        rows.append({"stage": stage, "batch": B, "what": what, "s_per_step": dt, "samples_per_s": B / dt,
                     "parameters": sum(p.numel() for p in model.parameters())})
        log(f"  train {stage:<15} batch {B:>3} ({what}): {dt:.2f} s/step, {B / dt:.1f} samples/s")

    torch.manual_seed(0)
    st = tr.tts
    tts = EmoDubber(dataclasses.replace(cfg.model, lip_blind=True), cfg.audio)
    b = random_batch(st.batch_size, seconds, roi, lip=False)
    record("tts", tts, lambda m, x: m.compute_loss(x, mode="tts", crop_frames=st.crop_frames), b, st.batch_size,
           f"{seconds:g}-s clips, decoder crop {st.crop_frames or 'none'}")
    del tts
    st = tr.dubber
    dub = EmoDubber(cfg.model, cfg.audio)
    b = random_batch(st.batch_size, seconds, roi)
    record("dubber", dub, lambda m, x: m.compute_loss(x, mode="dubber", crop_frames=st.crop_frames), b,
           st.batch_size, f"{seconds:g}-s clips, ROI {roi}², crop {st.crop_frames or 'none'}")
    del dub
    st = tr.emotion_expert
    ex = EmotionExpert(cfg.model, n_mels=cfg.audio.n_mels)
    b = random_batch(st.batch_size, seconds, roi, lip=False)
    # what the expert reads beside φ_t (model.expert_condition), given here as random tensors: the suite's data path
    # computes μ once per clip (train.expert.PriorCache), so a step costs the expert alone
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(b.mel.shape, generator=g) if ex.needs_mu else None
    ref = torch.randn(b.mel.shape[:2], generator=g) if ex.needs_ref else None
    record("emotion_expert", ex,
           lambda m, x: dict(zip(("loss", "acc"), m.loss(x.mel, x.mel_lengths, x.emotion_ids, mu=mu, ref=ref))),
           b, st.batch_size, f"{seconds:g}-s mels" + (f", reading {ex.condition}" if ex.condition != "none" else ""))
    st = tr.vocoder
    voc = HiFiGAN(cfg, adversarial=tr.vocoder_adversarial)
    seg = (tr.vocoder_segment // cfg.audio.hop_length) * cfg.audio.hop_length
    wav = torch.randn(st.batch_size, seg) * 0.1
    record("vocoder", voc, lambda m, x: m.loss(x), wav, st.batch_size,
           f"{seg}-sample segments, {'GAN' if voc.adversarial else 'mel L1'}")
    return rows


#: the stages timed on the real data path (their training functions in emodubber.train.stages)
REAL_STAGES = ("tts", "dubber", "emotion_expert", "vocoder")


def real_data_available(work_dir: str | None) -> str:
    """Why the real-data path cannot be timed ("" when it can): it needs a built corpus and a trained TTS."""
    from pathlib import Path

    if not work_dir:
        return "no work directory (make reproduce PROFILE=cpu, or --work-dir)"
    w = Path(work_dir)
    for need in (w / "corpus" / "dubbing.jsonl", w / "corpus" / "emotion.jsonl", w / "features",
                 w / "checkpoints" / "tts" / "model.pt"):
        if not need.exists():
            return f"{need} is missing (run notebooks 01 and 02 of the cpu profile first)"
    return ""


def real_throughput(work_dir: str, n_steps: int = 6, log=print) -> list[dict[str, Any]]:
    """Samples/s of each stage on the suite's own data path: the stage's training function (datasets, collate,
    sampler, loss, EMA, checks) run for ``n_steps`` in a scratch work directory that links ``work_dir``'s corpus,
    features and TTS model; seconds per step from its ``train_log.csv`` (median after the first step)."""
    import statistics
    import tempfile
    from pathlib import Path

    import pandas as pd

    from emodubber.config import load_profile
    from emodubber.train import stages

    src = Path(work_dir).resolve()
    fns = {"tts": stages.train_tts, "dubber": stages.train_dubber, "emotion_expert": stages.train_emotion_expert,
           "vocoder": stages.train_vocoder}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-real-") as tmp:
        w = Path(tmp)
        for root in (w, w / "tts_run"):  # the TTS trains in its own work dir, so the linked TTS model stays
            root.mkdir(exist_ok=True)
            for name in ("corpus", "features"):
                (root / name).symlink_to(src / name)
        (w / "checkpoints" / "tts").mkdir(parents=True)
        (w / "checkpoints" / "tts" / "model.pt").symlink_to(src / "checkpoints" / "tts" / "model.pt")
        for stage in REAL_STAGES:
            over = {"paths.work_dir": str(w), "paths.reports_dir": str(w / "reports")}
            for k, v in {"steps": n_steps, "val_every": 0, "ckpt_every": 0, "log_every": 1, "val_clips": 2,
                         "warmup_steps": 1}.items():
                over[f"train.{stage}.{k}"] = v
            if stage == "tts":
                over["paths.work_dir"] = str(w / "tts_run")
            cfg = load_profile("cpu", overrides=over, local=None)
            st = getattr(cfg.train, stage)
            fns[stage](cfg)
            dts = pd.read_csv(cfg.checkpoint_dir(stage) / "train_log.csv")["samples_per_s"].tolist()[1:]
            sps = statistics.median(dts)
            rows.append({"stage": stage, "batch": st.batch_size, "samples_per_s": sps,
                         "s_per_step": st.batch_size / sps, "steps": n_steps})
            log(f"  train {stage:<15} real data: {st.batch_size / sps:.2f} s/step, {sps:.1f} samples/s")
    return rows
