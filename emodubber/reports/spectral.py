"""Figure 4's analysis of one clip under guidance: where its mel differs from neutral, its F0, its numbers.

- :func:`top_difference_regions`: the boxes ([t0, t1) frames × [f0, f1) mel bins, :class:`Region`) where two
  normalised log-mels ``[n_mels, T]`` differ most;
- :func:`f0_track`: F0 in Hz per 10 ms hop (NaN unvoiced), one value per mel frame;
- :func:`describe_emotion_mel`: mean F0, the rising end, mean log-mel, the high-frequency energy share — the
  cues the paper reads off its Figure 4 (``docs/paper.md`` §D.7).

scipy (``ndimage``) and librosa (pYIN) are imported inside the functions that need them: heavy third-party
backends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from emodubber.viz import mel_hz, to_numpy

__all__ = ["Region", "match_time", "top_difference_regions", "f0_track", "describe_emotion_mel"]


@dataclass(frozen=True)
class Region:
    """A box on a mel: frames [t0, t1) and mel bins [f0, f1); ``score`` = mean |Δ| inside, ``peak`` = smoothed max."""

    t0: int
    t1: int
    f0: int
    f1: int
    score: float
    peak: float

    def iou(self, other: "Region") -> float:
        it = max(0, min(self.t1, other.t1) - max(self.t0, other.t0))
        iff = max(0, min(self.f1, other.f1) - max(self.f0, other.f0))
        inter = it * iff
        union = (self.t1 - self.t0) * (self.f1 - self.f0) + (other.t1 - other.t0) * (other.f1 - other.f0) - inter
        return inter / union if union else 0.0


def match_time(mel: np.ndarray, T: int) -> np.ndarray:
    """Linear resampling of ``[n_mels, T']`` to ``T`` frames (identity when T' == T)."""
    if mel.shape[1] == T:
        return mel
    src = np.linspace(0, 1, mel.shape[1])
    dst = np.linspace(0, 1, T)
    return np.stack([np.interp(dst, src, row) for row in mel])


def top_difference_regions(mel_a: Any, mel_b: Any, k: int = 3, smooth: tuple[int, int] = (5, 9),
                           rel_threshold: float = 0.5, min_rel_peak: float = 0.2) -> list[Region]:
    """The ``k`` boxes where two mels (``[n_mels, T]``) differ most, strongest first.

    The absolute difference is smoothed with a ``smooth = (bins, frames)`` box filter. Repeatedly: take
    the highest remaining point, grow the connected region where the smoothed difference is at least
    ``rel_threshold`` × that peak, keep its bounding box, and blank it out (with the filter's halo).
    Stops after ``k`` boxes or
    when the next peak falls below ``min_rel_peak`` × the first one (so identical mels give no box and a
    single change gives one). ``mel_b`` is resampled in time to ``mel_a``'s length when they differ.
    """
    from scipy import ndimage

    a, b = to_numpy(mel_a).astype(float), to_numpy(mel_b).astype(float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"mels must be [n_mels, T] with the same n_mels, got {a.shape} and {b.shape}")
    b = match_time(b, a.shape[1])
    d = np.abs(a - b)
    size = (min(smooth[0], d.shape[0]), min(smooth[1], d.shape[1]))
    s = ndimage.uniform_filter(d, size=size, mode="nearest")
    regions: list[Region] = []
    work = s.copy()
    first = None
    scale = max(float(np.abs(a).max()), float(np.abs(b).max()), 1e-12)
    while len(regions) < k:
        i = np.unravel_index(int(np.argmax(work)), work.shape)
        peak = float(work[i])
        if peak <= 1e-9 * scale:
            break
        if first is None:
            first = peak
        elif peak < min_rel_peak * first:
            break
        labels, _ = ndimage.label(work >= rel_threshold * peak)
        ys, xs = np.nonzero(labels == labels[i])
        f0, f1 = int(ys.min()), int(ys.max()) + 1
        t0, t1 = int(xs.min()), int(xs.max()) + 1
        regions.append(Region(t0, t1, f0, f1, float(d[f0:f1, t0:t1].mean()), peak))
        # blank the box and the smoothing filter's halo around it, so a region is never found twice
        hb, ht = size[0] // 2 + 1, size[1] // 2 + 1
        work[max(0, f0 - hb):f1 + hb, max(0, t0 - ht):t1 + ht] = 0.0
    return regions


def f0_track(wav: Any, sr: int = 16000, hop: int = 160, fmin: float = 60.0, fmax: float = 500.0,
             method: str = "acf", voicing: float = 0.5) -> np.ndarray:
    """F0 in Hz per hop (NaN where unvoiced); one value per mel frame (``ceil(len(wav) / hop)``).

    ``method="acf"`` (default, numpy only, fast): per 2·(sr/fmin)-sample window, the normalised
    autocorrelation's shortest-lag peak within 15 % of its best one in [sr/fmax, sr/fmin] (so a
    multiple of the period is not taken for it), refined by parabolic interpolation; a frame is
    voiced when that peak exceeds ``voicing`` and its energy is above 1 % of the clip's loudest frame.
    ``method="pyin"``: librosa's pYIN (slower, first call compiles for ~10 s).
    """
    y = to_numpy(wav).astype(np.float64).reshape(-1)
    n = int(math.ceil(len(y) / hop))
    if method == "pyin":
        import librosa

        f0, voiced, _ = librosa.pyin(y.astype(np.float32), fmin=fmin, fmax=fmax, sr=sr, hop_length=hop,
                                     frame_length=max(1024, int(2 ** math.ceil(math.log2(2 * sr / fmin)))))
        out = np.where(voiced, f0, np.nan)[:n]
        return np.pad(out, (0, n - len(out)), constant_values=np.nan)
    if method != "acf":
        raise ValueError(f"method must be 'acf' or 'pyin', not {method!r}")
    win = int(2 * sr / fmin)
    lo, hi = max(1, int(sr / fmax)), min(win - 1, int(math.ceil(sr / fmin)))
    pad = np.pad(y, (win // 2, win // 2 + hop))
    frames = np.lib.stride_tricks.sliding_window_view(pad, win)[::hop][:n]
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = (frames ** 2).sum(axis=1)
    nfft = 1 << int(math.ceil(math.log2(2 * win)))
    spec = np.fft.rfft(frames * np.hanning(win), nfft)
    ac = np.fft.irfft(np.abs(spec) ** 2, nfft)[:, : hi + 2]
    ac = ac / np.maximum(ac[:, :1], 1e-12)
    # compensate the window's own autocorrelation so long lags are not penalised
    wac = np.fft.irfft(np.abs(np.fft.rfft(np.hanning(win), nfft)) ** 2, nfft)[: hi + 2]
    ac = ac / np.maximum(wac / wac[0], 1e-3)
    seg = ac[:, lo:hi + 1]
    best = seg.max(axis=1, keepdims=True)
    # the shortest-lag local maximum within 15 % of the best one: a period, not a multiple of it
    is_peak = np.zeros_like(seg, dtype=bool)
    is_peak[:, 1:-1] = (seg[:, 1:-1] >= seg[:, :-2]) & (seg[:, 1:-1] >= seg[:, 2:])
    is_peak[:, 0] = seg[:, 0] >= seg[:, 1]
    is_peak[:, -1] = True
    good = is_peak & (seg >= 0.85 * best)
    lag = lo + np.argmax(good, axis=1)
    rows = np.arange(len(lag))
    peak = ac[rows, lag]
    a, b, c = ac[rows, lag - 1], peak, ac[rows, np.minimum(lag + 1, ac.shape[1] - 1)]
    denom = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / denom, 0.0)
    f0 = sr / (lag + np.clip(shift, -0.5, 0.5))
    voiced = (peak > voicing) & (energy > 0.01 * max(float(energy.max()), 1e-12))
    out = np.where(voiced, f0, np.nan)
    return np.pad(out, (0, n - len(out)), constant_values=np.nan)


def describe_emotion_mel(mel: Any, f0: Any, audio: Any, above_hz: float = 4000.0) -> dict[str, float]:
    """Figure 4's numbers for one normalised log-mel ``[n_mels, T]`` and its F0 track ``[T]`` (Hz, 0 or NaN
    unvoiced): mean F0 over voiced frames, the F0 rise of the last third against the first two thirds
    (surprise's rising end), the mean log-mel, and the share of (linear) mel energy in bins whose centre
    (:func:`emodubber.viz.mel_hz`, Slaney scale as the front end) is at or above ``above_hz`` (sadness's
    "diminished high frequencies"). ``audio``: the :class:`~emodubber.config.AudioConfig` that normalised it."""
    m = to_numpy(mel)
    f = np.asarray(to_numpy(f0), dtype=float)
    lin = np.exp(m * audio.mel_std + audio.mel_mean)
    high = mel_hz(m.shape[0], audio.f_min, audio.f_max) >= above_hz
    voiced = np.isfinite(f) & (f > 0)
    n = len(f)
    head, tail = slice(0, 2 * n // 3), slice(2 * n // 3, n)
    hv, tv = f[head][voiced[head]], f[tail][voiced[tail]]
    return {"mean F0 (Hz)": float(f[voiced].mean()) if voiced.any() else math.nan,
            "F0 end rise (Hz)": float(tv.mean() - hv.mean()) if len(hv) and len(tv) else math.nan,
            "mean log-mel": float(m.mean()),
            f"energy > {above_hz / 1000:g} kHz (%)": float(100 * lin[high].sum() / lin.sum())}

