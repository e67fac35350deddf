"""Speed and size of the model presets on this machine: ``python -m emodubber.models.benchmark cpu``.

Measures, for one profile: parameters per component, forward GFLOP of one training step
(``torch.utils.flop_counter``; backward ≈ 2×), the wall time of a training step (median of ``steps``
after one warm-up) at 1 and 2 threads, and the synthesis time of a 3-s clip (75 video frames,
10 Euler steps) with and without PNGM guidance. Inputs are random tensors that keep the batch
contract (T = 4F, ~30 phonemes per 3-s clip as in GRID). Wall times depend on what else runs on the
machine: ``calibration_ms`` (a 12 M-parameter 256-channel U-Net forward on (1, 80, 300) at 1 thread,
44 ms measured on an idle 2-core machine) says how loaded it was.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import torch

from emodubber.batch import DubBatch
from emodubber.config import ModelConfig, load_profile

__all__ = ["synthetic_batch", "measure"]


def synthetic_batch(B: int = 16, F: int = 75, roi: int = 48, lip_input: str = "roi", n_phonemes: int = 30,
                    n_vocab: int = 42, seed: int = 0, speech_only: bool = False) -> DubBatch:
    """A random batch with the DubBatch contract: durations (mel frames) sum to T = 4F, gt_sim from them."""
    g = torch.Generator().manual_seed(seed)
    T = 4 * F
    P = min(n_phonemes, F)
    cuts = torch.stack([torch.sort(torch.randperm(T - 1, generator=g)[: P - 1] + 1).values for _ in range(B)])
    bounds = torch.cat([torch.zeros(B, 1, dtype=torch.long), cuts, torch.full((B, 1), T)], dim=1)
    durations = bounds[:, 1:] - bounds[:, :-1]
    starts, ends = bounds[:, :-1], bounds[:, 1:]
    f = torch.arange(F)[None, None]
    gt_sim = ((4 * f < ends[..., None]) & (4 * f + 4 > starts[..., None])).float()
    lip = torch.rand(B, F, 1, roi, roi, generator=g) if lip_input == "roi" else torch.randn(B, F, 512, generator=g)
    return DubBatch(
        clip_ids=[f"synthetic{i}" for i in range(B)],
        phonemes=torch.randint(1, n_vocab, (B, P), generator=g),
        phoneme_lengths=torch.full((B,), P),
        mel=torch.randn(B, 80, T, generator=g),
        mel_lengths=torch.full((B,), T),
        spk_emb=torch.nn.functional.normalize(torch.randn(B, 256, generator=g), dim=-1),
        speaker_ids=torch.zeros(B, dtype=torch.long),
        emotion_ids=torch.zeros(B, dtype=torch.long),
        intensity=torch.zeros(B),
        durations=durations,
        pitch=torch.randn(B, P, generator=g),
        energy=torch.randn(B, P, generator=g),
        lip=None if speech_only else lip,
        lip_lengths=torch.full((B,), F),
        gt_sim=None if speech_only else gt_sim,
    )


def _calibration_ms() -> float:
    from emodubber.models.decoder import UNet1DEstimator

    est = UNet1DEstimator(ModelConfig(decoder_channels=[256, 256], decoder_heads=4, decoder_head_dim=64)).eval()
    x, mask = torch.randn(1, 80, 300), torch.ones(1, 1, 300)
    times = []
    with torch.no_grad():
        for _ in range(4):
            t = time.perf_counter()
            est(x, mask, x, torch.rand(1), torch.randn(1, 256))
            times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times[1:])


def measure(profile: str = "cpu", threads: tuple[int, ...] = (1, 2), batch: int = 16, frames: int = 75,
            crop: int = 128, steps: int = 3, mode: str = "dubber") -> dict[str, Any]:
    """Sizes and timings of one profile's model (see the module docstring)."""
    from torch.utils.flop_counter import FlopCounterMode

    from emodubber.models.dubber import EmoDubber
    from emodubber.models.emotion import EmotionExpert

    cfg = load_profile(profile, local=None, overrides={"corpus.root": "/unused"} if profile == "paper" else None)
    old_threads = torch.get_num_threads()
    torch.manual_seed(0)
    model = EmoDubber(cfg.model, cfg.audio)
    res: dict[str, Any] = {"profile": profile, "parameters": model.count_parameters(), "batch": batch,
                           "mel_frames": 4 * frames, "roi": cfg.video.roi_size, "crop_frames": crop, "mode": mode}
    b = synthetic_batch(batch, frames, cfg.video.roi_size, cfg.model.lip_input, speech_only=mode == "tts")
    with FlopCounterMode(display=False) as fc:
        model.compute_loss(b, mode=mode, crop_frames=crop)
    res["gflop_forward"] = round(fc.get_total_flops() / 1e9, 2)
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    try:
        if threads:
            torch.set_num_threads(1)
            res["calibration_ms"] = round(_calibration_ms(), 1)
        for n in threads:
            torch.set_num_threads(n)
            times = []
            for _ in range(steps + 1):
                t = time.perf_counter()
                loss = model.compute_loss(b, mode=mode, crop_frames=crop)["loss"]
                opt.zero_grad()
                loss.backward()
                opt.step()
                times.append(time.perf_counter() - t)
            res[f"step_s_{n}threads"] = round(statistics.median(times[1:]), 3)
            model.eval()
            expert = EmotionExpert(cfg.model).eval()
            one = synthetic_batch(1, 75, cfg.video.roi_size, cfg.model.lip_input, seed=1)
            for name, kw in (("plain", {}), ("guided", dict(emotion="happy", alpha=2.0, beta=0.5, expert=expert))):
                times = []
                for _ in range(3):
                    t = time.perf_counter()
                    model.synthesise(one.phonemes, one.lip, one.spk_emb, n_steps=10, **kw)
                    times.append(time.perf_counter() - t)
                res[f"synth_3s_{name}_s_{n}threads"] = round(statistics.median(times[1:]), 3)
            model.train()
    finally:
        torch.set_num_threads(old_threads)
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("profile", nargs="?", default="cpu")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--mode", default="dubber", choices=["dubber", "tts"])
    a = ap.parse_args(argv)
    threads = tuple(int(x) for x in a.threads.split(",") if x)
    print(json.dumps(measure(a.profile, threads, a.batch, 75, a.crop, a.steps, a.mode), indent=2))


if __name__ == "__main__":
    main()
