"""Shared helpers of the benchmarks: presets, random inputs of a given length, timing, machine load."""

from __future__ import annotations

import os
import statistics
import time
from typing import Any, Callable

#: Phonemes per second of speech in the random inputs (the synthetic corpus speaks ~11 phones/s).
PHONES_PER_S = 11.0


def profile(name: str):
    """A profile's config (``paper`` with a synthetic corpus so it loads without GRID paths)."""
    from emodubber.config import load_profile

    over = {"corpus.kind": "synthetic"} if name == "paper" else None
    return load_profile(name, overrides=over, local=None)


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), ts


def random_clip(seconds: float, roi_size: int, seed: int = 0, n_vocab: int = 42):
    """Random (phonemes [P], lip [F, 1, S, S] in [0, 1], spk_emb [256]) of a ``seconds``-long clip at 25 fps."""
    import torch

    g = torch.Generator().manual_seed(seed)
    F = int(round(seconds * 25))
    P = max(3, int(round(seconds * PHONES_PER_S)))
    ph = torch.randint(3, n_vocab, (P,), generator=g)
    ph[0] = ph[-1] = 1  # sil at both ends
    lip = torch.rand(F, 1, roi_size, roi_size, generator=g)
    spk = torch.nn.functional.normalize(torch.randn(256, generator=g), dim=0)
    return ph, lip, spk


def guidance_kwargs(expert, n_mels: int = 80, seed: int = 0) -> dict:
    """``synthesise_timed`` keywords of a guided run: the instruction, and a random neutral reference r̄ [80] when
    the expert reads one (``model.expert_condition: mu_ref``; its cost does not depend on the values)."""
    import torch

    kw = dict(emotion="angry", alpha=3.0, beta=0.75)
    if getattr(expert, "needs_ref", False):
        kw["expert_ref"] = torch.randn(n_mels, generator=torch.Generator().manual_seed(seed))
    return kw
