"""``DubbingDataset`` and ``collate``: manifest + cached features → :class:`emodubber.batch.DubBatch`.

A dataset reads ``cfg.corpus_dir/<corpus>.jsonl``, keeps the clips of one split that have features
(``cfg.features_dir/<corpus>.index.json``; skipped clips are counted in ``n_skipped``), and loads every
clip's ``.npz`` into memory once, at construction: items are then plain array look-ups. Each clip is
validated on load (phone count, durations summing to T, M's shape, known speaker); a broken clip raises
:class:`DatasetError` naming it, or for T = 4F (clips with video) the shared
:func:`emodubber.modules.checks.expect_t_equals_4f` (:class:`~emodubber.modules.checks.ShapeError`).

Speaker ids index :func:`speaker_list` — the sorted speakers of *every* manifest of the corpus, so the
dubbing and emotion corpora (same voices) share ids. Pitch and energy are z-normalised with
``stats.json`` (train split); the mel with ``cfg.audio.mel_mean / mel_std``.
"""

from __future__ import annotations

import functools
import math
import random
from collections import Counter
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader

from emodubber.batch import DubBatch, expect_t_equals_4f
from emodubber.config import EMOTIONS, ProfileConfig
from emodubber.data.features import MANIFESTS, feature_path, load_index, load_stats
from emodubber.data.manifest import SPLITS, ClipRecord, read_manifest
from emodubber.text.symbols import phonemes_to_ids

__all__ = ["DatasetError", "DubbingDataset", "collate", "make_loader", "speaker_list"]


class DatasetError(ValueError):
    """A clip whose features break the contract; the message names the clip."""


def speaker_list(cfg: ProfileConfig) -> list[str]:
    """Sorted speakers of all manifests in ``cfg.corpus_dir`` (the index behind ``speaker_ids``)."""
    spk: set[str] = set()
    for name in MANIFESTS:
        p = cfg.corpus_dir / f"{name}.jsonl"
        if p.exists():
            spk.update(r.speaker for r in read_manifest(p))
    if not spk:
        raise FileNotFoundError(f"no manifest in {cfg.corpus_dir}: build the corpus first (emodubber prepare)")
    return sorted(spk)


class DubbingDataset:
    """Clips of one split of one manifest, in memory. ``ds[i]`` is a dict of arrays (see :func:`collate`).

    ``corpus``: ``"dubbing"`` (clips with video) or ``"emotion"`` (speech only, ``lip`` absent).
    ``split``: ``"train"``, ``"val"``, ``"test"`` or ``"all"``.
    """

    def __init__(self, cfg: ProfileConfig, split: str = "train", corpus: str = "dubbing",
                 speakers: Sequence[str] | None = None, max_clips: int | None = None):
        if split not in SPLITS + ("all",):
            raise DatasetError(f"split must be one of {SPLITS + ('all',)}, not {split!r}")
        if corpus not in MANIFESTS:
            raise DatasetError(f"corpus must be one of {MANIFESTS}, not {corpus!r}")
        self.cfg, self.split, self.corpus = cfg, split, corpus
        self.speakers = list(speakers) if speakers is not None else speaker_list(cfg)
        spk_id = {s: i for i, s in enumerate(self.speakers)}
        records = read_manifest(cfg.corpus_dir / f"{corpus}.jsonl")
        index = load_index(cfg, corpus)
        stats = load_stats(cfg)
        self.records: list[ClipRecord] = []
        self.items: list[dict[str, Any]] = []
        self.n_skipped = 0
        self.skipped: dict[str, str] = {}
        for rec in records:
            if split != "all" and rec.split != split:
                continue
            if max_clips is not None and len(self.records) >= max_clips:
                break
            key = index["clips"].get(rec.clip_id)
            if key is None:
                self.n_skipped += 1
                self.skipped[rec.clip_id] = index.get("skipped", {}).get(rec.clip_id, "no features extracted")
                continue
            if rec.speaker not in spk_id:
                raise DatasetError(f"clip {rec.clip_id}: speaker {rec.speaker!r} is not in the speaker list "
                                   f"({len(self.speakers)} speakers)")
            path = feature_path(cfg, key)
            if not path.exists():
                raise DatasetError(f"clip {rec.clip_id}: feature file {path} is missing (re-run extract_features)")
            with np.load(path) as z:
                feats = {k: z[k] for k in z.files}
            item = self._item(rec, feats, spk_id[rec.speaker], stats)
            self.records.append(rec)
            self.items.append(item)
        if not self.items:
            raise DatasetError(f"no {split!r} clip with features in {corpus}.jsonl of {cfg.corpus_dir}"
                               + (f" ({self.n_skipped} skipped)" if self.n_skipped else ""))

    def _item(self, rec: ClipRecord, z: dict[str, np.ndarray], spk: int, stats: dict) -> dict[str, Any]:
        cfg, k = self.cfg, self.cfg.mel_per_frame
        w = f"clip {rec.clip_id}"
        mel = cfg.audio.normalise_mel(z["mel"])
        T = mel.shape[1]
        P = len(rec.phonemes)
        dur = z["durations"].astype(np.int64)
        if len(dur) != P:
            raise DatasetError(f"{w}: {len(dur)} durations for {P} phonemes (stale features? re-extract)")
        if int(dur.sum()) != T:
            raise DatasetError(f"{w}: durations sum to {int(dur.sum())} mel frames but the mel has {T}")
        lip = z.get("lip")
        if lip is not None:
            F = lip.shape[0]
            expect_t_equals_4f(T, F, "mel", clip=rec.clip_id, mel_per_frame=k)
        else:
            F = math.ceil(T / k)
        if z["gt_sim"].shape != (P, F):
            raise DatasetError(f"{w}: M has shape {z['gt_sim'].shape}, expected ({P}, {F})")
        if rec.emotion not in EMOTIONS:
            raise DatasetError(f"{w}: unknown emotion {rec.emotion!r}")
        ps, es = stats["pitch"], stats["energy"]
        return {
            "clip_id": rec.clip_id,
            "phonemes": np.asarray(phonemes_to_ids(rec.phonemes), dtype=np.int64),
            "mel": mel.astype(np.float32),
            "lip": lip,
            "n_frames": F,
            "spk_emb": z["spk_emb"].astype(np.float32),
            "speaker_id": spk,
            "emotion_id": EMOTIONS.index(rec.emotion),
            "intensity": float(rec.intensity),
            "durations": dur,
            "gt_sim": z["gt_sim"],
            "pitch": ((z["pitch"] - ps["mean"]) / ps["std"]).astype(np.float32),
            "energy": ((z["energy"] - es["mean"]) / es["std"]).astype(np.float32),
        }

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.items[i]

    @property
    def n_speakers(self) -> int:
        return len(self.speakers)

    def summary(self) -> dict[str, Any]:
        """Counts for reports: clips, skipped, speakers, emotions, seconds of audio."""
        hop_s = self.cfg.audio.hop_length / self.cfg.audio.sample_rate
        return {"corpus": self.corpus, "split": self.split, "clips": len(self), "skipped": self.n_skipped,
                "speakers": dict(Counter(r.speaker for r in self.records)),
                "emotions": dict(Counter(r.emotion for r in self.records)),
                "hours": sum(it["mel"].shape[1] for it in self.items) * hop_s / 3600}


def collate(items: Sequence[dict[str, Any]], lip_as_float: bool = True, with_lip: bool = True):
    """Pad a list of dataset items into a :class:`emodubber.batch.DubBatch` (contract in ``batch.py``).

    Phonemes, durations, pitch, energy pad with 0 to P_max; mel with 0 to T_max; M to [P_max, F_max].
    ROI frames become ``float [B, F, 1, H, W]`` in [0, 1]; pre-extracted lip features ``[B, F, D]``.
    If no item has video (or ``with_lip=False``: speech-only training on any clips), ``lip`` is None
    and ``lip_lengths = ceil(T / 4)``. Mixing clips with and without video in one batch is refused
    unless ``with_lip=False``."""
    B = len(items)
    has_lip = [it["lip"] is not None and with_lip for it in items]
    if any(has_lip) and not all(has_lip):
        raise DatasetError("a batch mixes clips with and without video: "
                           + ", ".join(it["clip_id"] for it, h in zip(items, has_lip) if not h))
    P = max(len(it["phonemes"]) for it in items)
    T = max(it["mel"].shape[1] for it in items)
    F = max(it["n_frames"] for it in items)
    n_mels = items[0]["mel"].shape[0]
    # padded arrays are filled in numpy (single-threaded: torch's intra-op threads make small copies
    # very slow on a busy machine) and handed to torch without a copy at the end
    phonemes = np.zeros((B, P), dtype=np.int64)
    durations = np.zeros((B, P), dtype=np.int64)
    pitch = np.zeros((B, P), dtype=np.float32)
    energy = np.zeros((B, P), dtype=np.float32)
    mel = np.zeros((B, n_mels, T), dtype=np.float32)
    gt_sim = np.zeros((B, P, F), dtype=np.float32)
    lip = None
    if all(has_lip):
        l0 = items[0]["lip"]
        if l0.dtype == np.uint8:
            lip = np.zeros((B, F, 1, *l0.shape[1:]), dtype=np.float32 if lip_as_float else np.uint8)
        else:
            lip = np.zeros((B, F, l0.shape[1]), dtype=np.float32)
    for i, it in enumerate(items):
        p, t, f = len(it["phonemes"]), it["mel"].shape[1], it["n_frames"]
        phonemes[i, :p] = it["phonemes"]
        durations[i, :p] = it["durations"]
        pitch[i, :p] = it["pitch"]
        energy[i, :p] = it["energy"]
        mel[i, :, :t] = it["mel"]
        gt_sim[i, :p, :f] = it["gt_sim"]
        if lip is not None:
            x = it["lip"]
            if x.dtype == np.uint8:
                if lip_as_float:
                    np.multiply(x, np.float32(1 / 255.0), out=lip[i, :f, 0])
                else:
                    lip[i, :f, 0] = x
            else:
                lip[i, :f] = x
    t_ = torch.from_numpy
    return DubBatch(
        clip_ids=[it["clip_id"] for it in items],
        phonemes=t_(phonemes),
        phoneme_lengths=torch.tensor([len(it["phonemes"]) for it in items], dtype=torch.long),
        mel=t_(mel),
        mel_lengths=torch.tensor([it["mel"].shape[1] for it in items], dtype=torch.long),
        spk_emb=torch.from_numpy(np.stack([it["spk_emb"] for it in items])),
        speaker_ids=torch.tensor([it["speaker_id"] for it in items], dtype=torch.long),
        emotion_ids=torch.tensor([it["emotion_id"] for it in items], dtype=torch.long),
        intensity=torch.tensor([it["intensity"] for it in items], dtype=torch.float32),
        durations=t_(durations),
        pitch=t_(pitch),
        energy=t_(energy),
        lip=None if lip is None else t_(lip),
        lip_lengths=torch.tensor([it["n_frames"] for it in items], dtype=torch.long),
        gt_sim=t_(gt_sim),
    )


def _seed_worker(worker_id: int) -> None:
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


def make_loader(cfg: ProfileConfig, split: str = "train", corpus: str = "dubbing", batch_size: int = 16,
                shuffle: bool | None = None, seed: int | None = None, dataset: Any = None,
                drop_last: bool = False, num_workers: int | None = None):
    """A seeded ``torch.utils.data.DataLoader`` of :class:`DubBatch` (shuffle defaults to ``split == "train"``).

    ``corpus``: ``"dubbing"``, ``"emotion"``, or ``"both"`` (the two concatenated, lips dropped: speech-only
    batches for TTS pre-training). Same ``seed`` → same batch order; workers are seeded from it
    (``cfg.train.num_workers`` processes)."""
    fn = collate
    if dataset is not None:
        ds = dataset
    elif corpus == "both":
        parts = [c for c in MANIFESTS if (cfg.corpus_dir / f"{c}.jsonl").exists()]
        ds = ConcatDataset([DubbingDataset(cfg, split, c) for c in parts])
        fn = functools.partial(collate, with_lip=False)
    else:
        ds = DubbingDataset(cfg, split, corpus)
    g = torch.Generator()
    g.manual_seed(cfg.seed if seed is None else seed)
    nw = cfg.train.num_workers if num_workers is None else num_workers
    return DataLoader(ds, batch_size=batch_size, shuffle=(split == "train") if shuffle is None else shuffle,
                      collate_fn=fn, generator=g, worker_init_fn=_seed_worker, num_workers=nw,
                      drop_last=drop_last)
