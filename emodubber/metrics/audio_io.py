"""Audio input shared by every judge: one loader that never crashes a table, plus file hashing.

:func:`load_audio` turns a path or an array into mono float32 at the judge's rate and says what was
wrong with it. Bad input gets a *defined* result:

- wrong sample rate or several channels → resampled / mixed down, with a warning in ``issues``;
- clipped (≥ 1 % of samples at full scale) → scored, with a warning;
- missing file, unreadable, empty (< 0.1 s) or silent (RMS < 1e-4) → ``reason`` is set and every judge
  returns NaN for that clip with the reason in the table's ``error`` column.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["AudioInput", "load_audio", "sha256_file", "MIN_DURATION_S", "SILENCE_RMS"]

MIN_DURATION_S = 0.1  # shorter audio is "empty"
SILENCE_RMS = 1e-4  # RMS below this (full scale 1.0) is "silent"
CLIP_FRACTION = 0.01  # share of samples at |x| >= 0.999 that makes a clip "clipped"


@dataclass
class AudioInput:
    """Mono float32 audio at ``sr`` and what was wrong with it.

    wav:    shape (n_samples,), float32 in [-1, 1]; empty when unreadable
    reason: "" if usable, else why every judge gives NaN (``"silent"``, ``"empty"``, ``"unreadable: ..."``)
    issues: warnings that did not stop scoring (``"resampled 22050->16000"``, ``"clipped 3.1%"``)
    """

    wav: np.ndarray
    sr: int
    reason: str = ""
    issues: list[str] = field(default_factory=list)
    source: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason

    @property
    def duration_s(self) -> float:
        return len(self.wav) / self.sr


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(sr_in, sr_out)
    return resample_poly(x, sr_out // g, sr_in // g).astype(np.float32)


def load_audio(src: str | Path | np.ndarray | tuple[np.ndarray, int], sr: int = 16000,
               warn: bool = True) -> AudioInput:
    """Read ``src`` (path, ``(array, rate)`` or an array already at ``sr``) as mono float32 at ``sr``.

    Never raises for bad audio: see the module docstring for what each defect gives.
    """
    issues: list[str] = []
    source = ""
    if isinstance(src, (str, Path)):
        source = str(src)
        p = Path(src)
        if not p.exists():
            return AudioInput(np.zeros(0, np.float32), sr, reason=f"missing file {p.name}", source=source)
        try:
            import soundfile as sf

            x, sr_in = sf.read(str(p), dtype="float32", always_2d=True)
        except Exception as e:  # noqa: BLE001 - any decoder failure is a per-clip reason
            return AudioInput(np.zeros(0, np.float32), sr, reason=f"unreadable: {type(e).__name__}", source=source)
    elif isinstance(src, tuple):
        x, sr_in = np.asarray(src[0], dtype=np.float32), int(src[1])
    else:
        x, sr_in = np.asarray(src, dtype=np.float32), sr
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        # soundfile gives (n, channels); arrays may come as (channels, n)
        if x.shape[0] < x.shape[1] and x.shape[0] <= 8 and not isinstance(src, (str, Path)):
            x = x.T
        if x.shape[1] > 1:
            issues.append(f"mixed {x.shape[1]} channels to mono")
        x = x.mean(axis=1)
    x = np.nan_to_num(x.reshape(-1))
    if sr_in != sr and len(x):
        issues.append(f"resampled {sr_in}->{sr}")
        x = _resample(x, sr_in, sr)
    out = AudioInput(x.astype(np.float32), sr, issues=issues, source=source)
    if len(x) < MIN_DURATION_S * sr:
        out.reason = f"empty ({len(x)} samples)"
    elif float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) < SILENCE_RMS:
        out.reason = "silent"
    else:
        clipped = float(np.mean(np.abs(x) >= 0.999))
        if clipped >= CLIP_FRACTION:
            out.issues.append(f"clipped {100 * clipped:.1f}%")
    if warn and out.issues:
        warnings.warn(f"{source or 'audio'}: {'; '.join(out.issues)}", stacklevel=2)
    return out


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (weights hashes in every table's provenance)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def package_version(dist: str) -> str:
    """Installed version of distribution ``dist`` (named in every judge's provenance), or ``unknown``."""
    import importlib.metadata as md

    try:
        return md.version(dist)
    except md.PackageNotFoundError:  # pragma: no cover
        return "unknown"
