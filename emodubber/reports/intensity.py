"""Figure 3: the intensity sweep, IS of the emotion judge against positive guidance α on three curves of β.

For each emotion, curve (:data:`emodubber.reports.paper.CURVES`: β = α/4, β = 0.6, β = 0) and α of
:func:`alpha_grid`, the dubber's output on the same clips and noise is scored by the emotion judge; IS is its
posterior of the asked emotion (``docs/paper.md`` §3.5.3 and §D.7).
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import pandas as pd

from emodubber.config import EMOTIONS
from emodubber.reports.generation import key_hash
from emodubber.reports.paper import CURVES, FIG3_EMOTIONS, curve_beta
from emodubber.utils import atomic_path, progress

__all__ = ["alpha_grid", "intensity_sweep"]


def alpha_grid(alpha_max: float = 5.0, n_alpha: int = 13) -> np.ndarray:
    """The α values of Figure 3: ``n_alpha`` points from 0 to ``alpha_max`` (the paper: 13 on [0, 5])."""
    if n_alpha < 2:
        raise ValueError(f"n_alpha must be >= 2, got {n_alpha}")
    return np.round(np.linspace(0.0, float(alpha_max), int(n_alpha)), 6)


def intensity_sweep(ex: Any, judge: Any, system: str = "EmoDubber", setting: int = 2,
                    emotions: Sequence[str] | None = None, curves: Sequence[str] | None = None,
                    alphas: Sequence[float] | None = None, clips: Sequence[str] | None = None,
                    n_steps: int | None = None, gamma: float | None = None) -> pd.DataFrame:
    """IS against α for each emotion and curve (β = α/4, 0.6, 0): the long frame Figure 3 plots.

    ``ex`` is the :class:`~emodubber.reports.experiments.Experiment` that generates (its cache, seed, vocoder).

    One row per (emotion, curve, α, clip): ``emotion, curve, alpha, beta, clip_id, IS`` (the emotion
    judge's posterior of the asked emotion on the vocoded audio), ``pred`` (its argmax), ``seconds``
    (generation + judging time of that point's batch). Each distinct (emotion, α, β) is generated
    once (α = β = 0 is the same unguided speech for every emotion and curve). Nothing is written but
    the CSV cache under ``generated/<system>/S<setting>/``; ``n_steps`` defaults to ``eval.n_steps``.
    """
    ev = ex.cfg.eval
    emotions = list(FIG3_EMOTIONS if emotions is None else emotions)
    curves = list(CURVES if curves is None else curves)
    alphas = [float(a) for a in (alpha_grid(ev.alpha_max, ev.n_alpha) if alphas is None else alphas)]
    clips = list(ex.test_clips(ev.n_intensity_clips, setting) if clips is None else clips)
    n_steps = int(n_steps or ev.n_steps)
    gamma = float(ev.gamma if gamma is None else gamma)
    key = {"gen": ex.generation_key(system, setting, "sweep", 1.0, 0.0, gamma, n_steps), "emotions": emotions,
           "curves": curves, "alphas": alphas, "clips": clips,
           "judge": getattr(judge, "weights_sha256", type(judge).__name__), "batch": ex.sweep_batch_size}
    cache = ex.gen_dir(system, setting, "intensity") / f"sweep_{key_hash(key)}.csv"
    if cache.exists():
        return pd.read_csv(cache)
    points: dict[tuple[str, float, float], list[tuple[str, float]]] = {}
    for e in emotions:
        for c in curves:
            for a in alphas:
                b = round(curve_beta(c, a), 6)
                points.setdefault((e, a, b), []).append((c, a))
    done: dict[tuple[float, float, str | None], tuple[np.ndarray, float]] = {}
    rows = []
    for (e, a, b), uses in progress(list(points.items()), desc="intensity sweep", disable=not ex.show_progress):
        gk = (a, b, None if a == 0 and b == 0 else e)
        if gk not in done:
            t0 = time.perf_counter()
            wavs = []
            for i in range(0, len(clips), ex.sweep_batch_size):
                batch = clips[i:i + ex.sweep_batch_size]
                mels = ex.synthesise(system, batch, setting, e, a, b, gamma, n_steps)
                wavs += ex.vocode(mels)
            post, _ = judge.predict(wavs, [ex.speaker_of(c) for c in clips])
            done[gk] = (post, time.perf_counter() - t0)
        post, secs = done[gk]
        k = EMOTIONS.index(e) if e in EMOTIONS else list(judge.emotions).index(e)
        for c, a_ in uses:
            for clip, p in zip(clips, post):
                ok = bool(np.isfinite(p).all())
                rows.append({"emotion": e, "curve": c, "alpha": a_, "beta": b, "clip_id": clip,
                             "IS": float(p[k]) if ok else math.nan,
                             "pred": EMOTIONS[int(np.argmax(p))] if ok else "", "seconds": round(secs, 3)})
    df = pd.DataFrame(rows)
    df.attrs["n_generated_points"] = len(done)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False)
    ex.timings["intensity sweep"] = round(sum(s for _, s in done.values()), 2)
    return df

