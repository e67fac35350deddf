"""One check of a clip before any judge scores it: a usable clip gives ``""``, a bad one a reason string.

Every judge (docs/paper.md §C.3) calls :func:`check_clip` (or :func:`judge_input`) first and returns NaN with
the reason in the row instead of crashing in the middle of a table. Reasons, in the order they are checked:

- ``not mono (shape ...)``: more than one channel (an array of shape ``(n, 1)`` / ``(1, n)`` is mono);
- ``sample rate X Hz, the judge needs Y Hz``;
- ``non-finite samples (k NaN/inf)``;
- ``empty (n samples)``;
- ``shorter than the judge's window (d s < m s)``;
- ``samples outside [-1, 1] (peak p)``: not float audio at full scale 1;
- ``silent (RMS r)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emodubber.metrics.audio_io import SILENCE_RMS, AudioInput

__all__ = ["check_clip", "judge_input"]


def check_clip(wav: Any, sr: int, *, expected_sr: int = 16000, min_duration_s: float = 0.1,
               silence_rms: float = SILENCE_RMS) -> str:
    """Why ``wav`` (at ``sr``) cannot be scored by a judge needing ``expected_sr`` and ``min_duration_s``;
    ``""`` if it can."""
    x = np.asarray(wav)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        return f"not mono (shape {tuple(x.shape)})"
    if int(sr) != int(expected_sr):
        return f"sample rate {int(sr)} Hz, the judge needs {int(expected_sr)} Hz"
    if not np.issubdtype(x.dtype, np.number):
        return f"not audio samples (dtype {x.dtype})"
    x = x.astype(np.float64, copy=False)
    bad = int((~np.isfinite(x)).sum())
    if bad:
        return f"non-finite samples ({bad} NaN/inf)"
    if len(x) == 0:
        return "empty (0 samples)"
    dur = len(x) / float(sr)
    if dur < min_duration_s:
        return f"shorter than the judge's window ({dur:.3f} s < {min_duration_s:g} s)"
    peak = float(np.abs(x).max())
    if peak > 1.0 + 1e-6:
        return f"samples outside [-1, 1] (peak {peak:.3g})"
    rms = float(np.sqrt(np.mean(x ** 2)))
    if rms < silence_rms:
        return f"silent (RMS {rms:.2g})"
    return ""


def judge_input(audio: AudioInput | np.ndarray | tuple, sr: int | None = None, *, expected_sr: int = 16000,
                min_duration_s: float = 0.1) -> tuple[np.ndarray | None, str]:
    """``(mono float32 wav, "")`` for a usable clip, ``(None, reason)`` otherwise.

    ``audio`` is an :class:`AudioInput` (its own ``reason`` wins), an array at ``sr`` (default
    ``expected_sr``) or a ``(array, rate)`` tuple. Nothing is resampled here: a wrong rate is a reason.
    """
    if isinstance(audio, AudioInput):
        if audio.reason:
            return None, audio.reason
        wav, rate = audio.wav, audio.sr
    elif isinstance(audio, tuple):
        wav, rate = audio[0], int(audio[1])
    else:
        wav, rate = audio, expected_sr if sr is None else int(sr)
    why = check_clip(wav, rate, expected_sr=expected_sr, min_duration_s=min_duration_s)
    if why:
        return None, why
    return np.asarray(wav, dtype=np.float32).reshape(-1), ""
