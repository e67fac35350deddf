"""SECS judge: speaker-embedding cosine similarity × 100 with resemblyzer (GE2E weights in its wheel).

The comparison target is always named (docs/paper.md §F.15): ``secs_vs_target`` in Setting 1 (the ground-truth
clip itself is the reference), ``secs_vs_reference`` in Setting 2 (another clip of the same speaker, the
one listed in ``references.tsv`` — what the sister repo's GRID script compares against).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from emodubber.metrics.audio_io import AudioInput, load_audio, package_version, sha256_file
from emodubber.tools import require_module

__all__ = ["SpeakerJudge", "secs_column", "roc_auc"]

#: resemblyzer's own minimum after VAD trimming (shorter utterances give NaN with a reason)
MIN_SAMPLES = 2205


def secs_column(setting: int) -> str:
    """Column name of SECS in a table of ``setting`` (1: vs target, 2: vs reference clip)."""
    if setting not in (1, 2, 3):
        raise ValueError(f"setting must be 1, 2 or 3, not {setting!r}")
    return "secs_vs_target" if setting == 1 else "secs_vs_reference"


def _file_key(path: str | Path) -> tuple | None:
    """Cache key of a file: its path with its inode, size and modification time (None when it cannot be read);
    an atomic rewrite makes a new inode, so a same-size file rewritten within the clock's resolution is caught."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return str(path), st.st_ino, st.st_size, st.st_mtime_ns


class SpeakerJudge:
    """resemblyzer ``VoiceEncoder`` on CPU; embeddings cached per file (path, inode, size and modification time)."""

    def __init__(self, device: str = "cpu"):
        rz = require_module("resemblyzer", "SECS")
        self._rz = rz
        self.encoder = rz.VoiceEncoder(device, verbose=False)
        weights = Path(rz.__file__).parent / "pretrained.pt"
        self.weights_sha256 = sha256_file(weights) if weights.exists() else "unknown"
        self._cache: dict[tuple, np.ndarray] = {}
        # the first preprocess_wav compiles librosa/numba kernels (~5 s): pay it here, not on the first clip
        rz.preprocess_wav(np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), source_sr=16000)

    @property
    def settings(self) -> dict:
        v = package_version("resemblyzer")
        return {"judge": f"resemblyzer {v}", "weights": "pretrained.pt (GE2E, in the wheel)",
                "weights_sha256": self.weights_sha256, "scale": "cosine x 100"}

    def embed(self, audio: AudioInput | str | Path | np.ndarray) -> tuple[np.ndarray | None, str]:
        """(256-d unit embedding or None, reason). Paths are cached by (path, inode, size, mtime): a file rewritten
        under the same name (a regenerated system output) is embedded again, not served from the cache."""
        key = _file_key(audio) if isinstance(audio, (str, Path)) else None
        if key is not None and key in self._cache:
            return self._cache[key], ""
        if not isinstance(audio, AudioInput):
            audio = load_audio(audio, 16000)
        if not audio.ok:
            return None, audio.reason
        wav = self._rz.preprocess_wav(audio.wav, source_sr=audio.sr)
        if len(wav) < MIN_SAMPLES:
            return None, "no speech after VAD trimming"
        e = self.encoder.embed_utterance(wav)
        if key is not None:
            self._cache[key] = e
        return e, ""

    def similarity(self, a, b) -> tuple[float, str]:
        """(cosine × 100, reason); NaN with the reason when either side cannot be embedded."""
        ea, ra = self.embed(a)
        eb, rb = self.embed(b)
        if ea is None or eb is None:
            return math.nan, "; ".join(r for r in (ra and f"generated: {ra}", rb and f"reference: {rb}") if r)
        return self.cosine(ea, eb), ""

    @staticmethod
    def cosine(ea: np.ndarray, eb: np.ndarray) -> float:
        """SECS of two embeddings: cosine × 100."""
        return float(100.0 * np.dot(ea, eb) / (np.linalg.norm(ea) * np.linalg.norm(eb)))


def roc_auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count one half)."""
    p = np.asarray(positive, float)[:, None]
    n = np.asarray(negative, float)[None, :]
    if p.size == 0 or n.size == 0:
        return math.nan
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))
