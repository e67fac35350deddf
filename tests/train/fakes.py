"""In-memory dataset items shaped like ``emodubber.data.dataset.DubbingDataset``'s, for the stage tests.

Each phoneme has a fixed mel pattern (so a model can learn something), each emotion shifts and tilts it,
each speaker scales it; the mouth ROI opens with the phoneme id; M is the true phoneme × frame matrix.
"""

from __future__ import annotations

import numpy as np

from emodubber.text.symbols import SYMBOLS


class FakeSet(list):
    """A list of items with the ``n_speakers`` attribute the stages read."""

    def __init__(self, items, n_speakers):
        super().__init__(items)
        self.n_speakers = n_speakers


def fake_items(n: int, *, video: bool = True, roi: int = 32, n_speakers: int = 2, n_emotions: int = 7,
               seed: int = 0, prefix: str = "c", n_mels: int = 80) -> FakeSet:
    rng = np.random.default_rng(seed)
    patterns = np.random.default_rng(123).normal(0, 1, (len(SYMBOLS), n_mels)).astype(np.float32)
    emo_offsets = np.random.default_rng(321).normal(0, 1, (n_emotions, n_mels)).astype(np.float32)
    items = []
    for i in range(n):
        P = int(rng.integers(5, 9))
        ph = rng.integers(3, len(SYMBOLS), P)
        dur_v = rng.integers(1, 4, P)  # video frames per phoneme
        dur = 4 * dur_v  # mel frames
        F = int(dur_v.sum())
        T = 4 * F
        spk, emo = int(rng.integers(0, n_speakers)), int(rng.integers(0, n_emotions))
        mel = np.repeat(patterns[ph], dur, axis=0).T * (1 + 0.2 * spk)
        mel = mel + emo_offsets[emo][:, None]  # each emotion: its own spectral colouring
        mel = (mel + 0.05 * rng.normal(0, 1, mel.shape)).astype(np.float32)
        gt = np.zeros((P, F), dtype=np.float32)
        ends = np.cumsum(dur_v)
        for p in range(P):
            gt[p, ends[p] - dur_v[p]: ends[p]] = 1
        lip = None
        if video:
            lip = np.zeros((F, roi, roi), dtype=np.uint8)
            opening = np.repeat((ph % 5) * 3 + 2, dur_v)
            for f in range(F):
                c = roi // 2
                lip[f, c - opening[f] // 2: c + opening[f] // 2 + 1, roi // 4: 3 * roi // 4] = 255
        emb = np.zeros(256, dtype=np.float32)
        emb[spk] = 1.0
        items.append({"clip_id": f"{prefix}{i}", "phonemes": ph.astype(np.int64), "mel": mel, "lip": lip,
                      "n_frames": F, "spk_emb": emb, "speaker_id": spk, "emotion_id": emo,
                      "intensity": 0.0 if emo == 0 else 1.0, "durations": dur.astype(np.int64), "gt_sim": gt,
                      "pitch": rng.normal(0, 1, P).astype(np.float32), "energy": rng.normal(0, 1, P).astype(np.float32)})
    return FakeSet(items, n_speakers)
