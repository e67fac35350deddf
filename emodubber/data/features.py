"""Features of every corpus, by the same code, cached by content hash.

Per clip (one ``.npz`` in ``cfg.features_dir / "clips"``, named by the SHA-1 of the wav bytes, the video
or lip-feature bytes, the phone alignment and the feature settings: a changed input is a new file, an
unchanged one is never recomputed):

============  ==========================  ===============================================================
key           shape / dtype               meaning
============  ==========================  ===============================================================
mel           float32 [n_mels, T]         log-mel (docs §B.2), *not* normalised (the dataset applies
                                          ``audio.mel_mean/std``); T = 4F for clips with video
lip           uint8 [F, S, S]             grey mouth ROIs (``roi.py``), S = ``video.roi_size``; or
              float32 [F, D]              pre-extracted lip features (Chem: D = 512); absent: speech only
durations     int32 [P]                   phone durations in mel frames, each ≥ 1, summing exactly to T
gt_sim        uint8 [P, F]                M[p, f] = 1 iff frame f (mel frames [4f, 4f+4)) overlaps phone
                                          p; every frame has ≥ 1 positive (speech-only: F = ceil(T/4))
pitch         float32 [P]                 phone-level F0 in Hz (pyworld DIO + StoneMask at 10 ms, mean
                                          over the phone's voiced frames; interpolated F0 if none)
energy        float32 [P]                 phone-level energy: mean over the phone's frames of the L2 norm
                                          of the STFT magnitude frame
spk_emb       float32 [256]               resemblyzer (GE2E) utterance embedding S_id, L2-normalised
============  ==========================  ===============================================================

Beside the clips: ``<manifest>.index.json`` (clip id → feature key, plus skipped clips and their
reasons) for each manifest, and ``stats.json`` (pitch / energy mean and std over the phones of the
train split of every manifest, used for z-normalisation; min / max after normalisation as in the
official ``stats_*.json``).

Length contract (paper's ``extract_window``): with video, T_raw = len(wav) // hop; F = min(F_video,
T_raw // 4); the mel is cut to 4F and the video to F. Phone spans are clipped to the kept length.

The signal processing (mel, F0, energy, speaker embeddings) is :mod:`emodubber.data.acoustics`; this module
caches its results. torch and OpenCV are imported inside the worker functions that set their thread counts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from emodubber.config import ProfileConfig
from emodubber.data.acoustics import (
    ClipSkipped,
    frame_f0,
    log_mel,
    phone_means,
    read_wav,
    speaker_embeddings,
    stft_magnitude,
)
from emodubber.data.manifest import ClipRecord, read_manifest
from emodubber.data.roi import FaceNotFoundError, VideoReadError, extract_mouth_rois
from emodubber.utils import atomic_path, atomic_write_json, progress

__all__ = ["FEATURE_VERSION", "FeatureError", "ExtractionReport", "spans_to_durations", "gt_sim_matrix",
           "clip_key", "extract_clip", "extract_features", "compute_stats", "load_index", "load_stats",
           "feature_path", "MANIFESTS", "time_extraction"]

log = logging.getLogger(__name__)

#: Bump when the meaning of a stored feature changes (part of every clip's hash).
FEATURE_VERSION = 1
#: Below this many clips per worker, extraction runs in the calling process (no worker start-up).
MIN_CLIPS_PER_WORKER = 24
#: The manifests a corpus directory may hold, in the order they are processed.
MANIFESTS = ("dubbing", "emotion")


class FeatureError(ValueError):
    """Features that break the contract; the message names the clip."""


# ------------------------------------------------------------------------------------------------
# Alignment-derived targets
# ------------------------------------------------------------------------------------------------


def spans_to_durations(spans: Sequence[Sequence[float]], n_frames: int, frames_per_second: float,
                       where: str = "") -> np.ndarray:
    """Phone durations in mel frames ``int32 [P]``: rounded cumulative end times, each phone ≥ 1 frame,
    the last phone ending exactly at ``n_frames`` (spans past the end are clipped)."""
    P = len(spans)
    if P > n_frames:
        raise ClipSkipped(f"{where}{P} phones do not fit in {n_frames} mel frames")
    ends = np.rint(np.asarray([e for _, e in spans], dtype=float) * frames_per_second).astype(int)
    ends[-1] = n_frames
    for p in range(P):  # forward: at least one frame per phone
        lo = (ends[p - 1] if p else 0) + 1
        ends[p] = max(ends[p], lo)
    for p in range(P - 1, -1, -1):  # backward: leave room for the phones after p
        ends[p] = min(ends[p], n_frames - (P - 1 - p))
    starts = np.concatenate([[0], ends[:-1]])
    d = (ends - starts).astype(np.int32)
    assert d.min() >= 1 and d.sum() == n_frames
    return d


def gt_sim_matrix(durations: np.ndarray, n_video_frames: int, mel_per_frame: int = 4) -> np.ndarray:
    """M ``uint8 [P, F]``: M[p, f] = 1 iff phone p's mel frames overlap video frame f's [4f, 4f+4).

    Because the durations tile [0, T) every frame has at least one positive (``docs/paper.md`` §F.2)."""
    ends = np.cumsum(durations)
    starts = ends - durations
    f0 = np.arange(n_video_frames) * mel_per_frame
    f1 = f0 + mel_per_frame
    return ((starts[:, None] < f1[None, :]) & (ends[:, None] > f0[None, :])).astype(np.uint8)


# ------------------------------------------------------------------------------------------------
# One clip
# ------------------------------------------------------------------------------------------------


def _feature_settings(cfg: ProfileConfig) -> dict[str, Any]:
    return {"version": FEATURE_VERSION, "audio": {k: v for k, v in asdict(cfg.audio).items()
                                                  if k not in ("mel_mean", "mel_std")},
            "fps": cfg.video.fps, "roi_size": cfg.video.roi_size}


def _file_hash(h, path: Path) -> None:
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)


def clip_key(rec: ClipRecord, root: Path, cfg: ProfileConfig) -> str:
    """SHA-1 of everything a clip's features depend on (input bytes, alignment, feature settings)."""
    h = hashlib.sha1()
    h.update(json.dumps(_feature_settings(cfg), sort_keys=True).encode())
    h.update(json.dumps([rec.phonemes, rec.phone_spans]).encode())
    for p in (rec.path(root, "wav"), rec.path(root, "video") if rec.video else None,
              Path(root) / rec.extra["lip_features"] if rec.extra.get("lip_features") else None):
        if p is not None:
            if not p.is_file():
                raise ClipSkipped(f"file {p} does not exist")
            _file_hash(h, p)
    return h.hexdigest()


def feature_path(cfg: ProfileConfig, key: str) -> Path:
    return cfg.features_dir / "clips" / f"{key}.npz"


def extract_clip(rec: ClipRecord, root: Path, cfg: ProfileConfig, with_speaker: bool = True) -> dict[str, np.ndarray]:
    """All features of one clip (see the module table); :class:`ClipSkipped` if it cannot be used.

    ``with_speaker=False`` leaves ``spk_emb`` out (the batch path embeds many clips at once)."""
    a, k = cfg.audio, cfg.mel_per_frame
    where = f"clip {rec.clip_id}: "
    wav = read_wav(rec.path(root, "wav"), a.sample_rate)
    mag = stft_magnitude(wav, a)
    mel = log_mel(wav, a, magnitude=mag)
    T = mel.shape[1]
    out: dict[str, np.ndarray] = {}
    lip = None
    if rec.extra.get("lip_features"):  # pre-extracted per-frame lip features (Chem)
        lip = np.load(Path(root) / rec.extra["lip_features"]).astype(np.float32)
        if lip.ndim != 2:
            raise ClipSkipped(f"{where}lip features of shape {lip.shape}, expected [F, D]")
    elif rec.video:
        try:
            lip = extract_mouth_rois(rec.path(root, "video"), cfg.video.roi_size).rois
        except (FaceNotFoundError, VideoReadError) as e:
            raise ClipSkipped(f"{where}{e}") from None
    if lip is not None:
        F = min(len(lip), T // k)
        if F < 2:
            raise ClipSkipped(f"{where}too short: {len(lip)} video frames, {T} mel frames")
        T = k * F
        lip = lip[:F]
        out["lip"] = lip
    else:
        F = math.ceil(T / k)
    mel, mag = mel[:, :T], mag[:, :T]
    dur = spans_to_durations(rec.phone_spans, T, a.frames_per_second, where)
    f0 = frame_f0(wav, a.sample_rate, a.hop_length, T)
    voiced = f0 > 0
    interp = np.interp(np.arange(T), np.flatnonzero(voiced), f0[voiced]) if voiced.any() else f0
    out.update(
        mel=mel,
        durations=dur,
        gt_sim=gt_sim_matrix(dur, F, k),
        pitch=phone_means(f0, dur, valid=voiced, fallback=interp),
        energy=phone_means(np.linalg.norm(mag, axis=0), dur),
    )
    if rec.extra.get("spk_emb"):  # a released embedding (Chem)
        out["spk_emb"] = np.load(Path(root) / rec.extra["spk_emb"]).astype(np.float32).reshape(-1)
    elif with_speaker:
        out["spk_emb"] = speaker_embeddings([wav], a.sample_rate)[0]
    out["_wav"] = wav
    return out


def _save(path: Path, feats: dict[str, np.ndarray]) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{k: v for k, v in feats.items() if not k.startswith("_")})


def _work_chunk(chunk: list[tuple[dict, str]], root: str, cfg: ProfileConfig) -> list[tuple[str, str, str]]:
    """Worker: extract a chunk of clips, embed their speakers in one batch, save; (clip_id, key, error).

    Runs with one torch / OpenCV thread (the caller's settings are restored afterwards)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        import cv2

        cv_threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        cv2 = None
    try:
        return _extract_chunk(chunk, root, cfg)
    finally:
        torch.set_num_threads(threads)
        if cv2 is not None:
            cv2.setNumThreads(cv_threads)


def _extract_chunk(chunk: list[tuple[dict, str]], root: str, cfg: ProfileConfig) -> list[tuple[str, str, str]]:
    results, pending = [], []
    for rec_d, key in chunk:
        rec = ClipRecord(**rec_d)
        try:
            feats = extract_clip(rec, Path(root), cfg, with_speaker=False)
        except ClipSkipped as e:
            results.append((rec.clip_id, key, str(e)))
            continue
        pending.append((rec.clip_id, key, feats))
    need = [p for p in pending if "spk_emb" not in p[2]]
    if need:
        embs = speaker_embeddings([p[2]["_wav"] for p in need], cfg.audio.sample_rate)
        for (_, _, feats), e in zip(need, embs):
            feats["spk_emb"] = e
    for cid, key, feats in pending:
        _save(feature_path(cfg, key), feats)
        results.append((cid, key, ""))
    return results


@dataclass
class ExtractionReport:
    """What :func:`extract_features` did for one manifest."""

    manifest: str
    n_clips: int
    n_cached: int = 0
    n_extracted: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # clip id → reason
    seconds: float = 0.0

    def __str__(self) -> str:
        return (f"{self.manifest}: {self.n_clips} clips, {self.n_cached} cached, {self.n_extracted} extracted, "
                f"{len(self.skipped)} skipped in {self.seconds:.1f} s")


def extract_features(cfg: ProfileConfig, manifests: Iterable[str] = MANIFESTS, n_workers: int | None = None,
                     chunk_size: int = 8, force: bool = False, show_progress: bool = True) -> list[ExtractionReport]:
    """Extract (or find cached) features of every clip of the corpus manifests, then ``stats.json``.

    Idempotent: clips whose key already has a file are not recomputed (``force`` recomputes). One pool
    of ``cfg.corpus.n_workers`` spawned processes serves all manifests (0 or 1, or fewer than
    :data:`MIN_CLIPS_PER_WORKER` clips per worker: in this process, which saves the workers' start-up,
    about 4 s of CPU each). Skipped clips are logged, counted and listed in ``<manifest>.index.json``;
    they never reach a dataset."""
    n_workers = cfg.corpus.n_workers if n_workers is None else n_workers
    t0 = time.time()
    reps: dict[str, ExtractionReport] = {}
    indices: dict[str, dict[str, str]] = {}
    todo: list[tuple[str, dict, str]] = []
    for name in manifests:
        mpath = cfg.corpus_dir / f"{name}.jsonl"
        if not mpath.exists():
            continue
        records = read_manifest(mpath)
        rep = reps[name] = ExtractionReport(name, len(records))
        index = indices[name] = {}
        for rec in records:
            try:
                key = clip_key(rec, cfg.corpus_dir, cfg)
            except ClipSkipped as e:
                rep.skipped[rec.clip_id] = str(e)
                continue
            if not force and feature_path(cfg, key).exists():
                index[rec.clip_id] = key
                rep.n_cached += 1
            else:
                todo.append((name, asdict(rec), key))
    if not reps:
        raise FileNotFoundError(f"no manifest ({', '.join(m + '.jsonl' for m in manifests)}) in {cfg.corpus_dir}: "
                                "build the corpus first (emodubber prepare)")
    # chunks never mix manifests (a chunk's speaker embeddings are computed in one batch)
    chunks = []
    for name in reps:
        mine = [(r, k) for n, r, k in todo if n == name]
        chunks += [(name, mine[i:i + chunk_size]) for i in range(0, len(mine), chunk_size)]
    bar = progress(total=len(todo), desc="features", unit="clip", disable=not show_progress or not todo)

    def collect(name, results):
        rep, index = reps[name], indices[name]
        for cid, key, err in results:
            if err:
                rep.skipped[cid] = err
            else:
                index[cid] = key
                rep.n_extracted += 1
            bar.update(1)

    if n_workers > 1 and len(todo) >= MIN_CLIPS_PER_WORKER * n_workers:
        # spawn: torch / OpenMP state of the parent (a notebook kernel) must not be forked
        with ProcessPoolExecutor(max_workers=n_workers, mp_context=multiprocessing.get_context("spawn")) as ex:
            futs = {ex.submit(_work_chunk, c, str(cfg.corpus_dir), cfg): name for name, c in chunks}
            for fut in as_completed(futs):
                collect(futs[fut], fut.result())
    else:
        for name, c in chunks:
            collect(name, _work_chunk(c, str(cfg.corpus_dir), cfg))
    bar.close()
    for name, rep in reps.items():
        for cid, why in sorted(rep.skipped.items()):
            log.warning("skipped %s: %s", cid, why)
        rep.seconds = time.time() - t0
        atomic_write_json(cfg.features_dir / f"{name}.index.json",
                          {"clips": {c: indices[name][c] for c in sorted(indices[name])}, "skipped": rep.skipped,
                           "settings": _feature_settings(cfg)})
    compute_stats(cfg)
    return list(reps.values())


# ------------------------------------------------------------------------------------------------
# Index and statistics
# ------------------------------------------------------------------------------------------------


def load_index(cfg: ProfileConfig, name: str) -> dict[str, Any]:
    """``{"clips": {clip_id: key}, "skipped": {clip_id: reason}}`` of a manifest's extracted features."""
    p = cfg.features_dir / f"{name}.index.json"
    if not p.exists():
        raise FileNotFoundError(f"no features for {name!r} ({p} is missing): run `emodubber prepare` "
                                "or emodubber.data.features.extract_features(cfg)")
    return json.loads(p.read_text())


def compute_stats(cfg: ProfileConfig) -> dict[str, Any]:
    """Pitch / energy statistics over the phones of every manifest's *train* split → ``stats.json``."""
    vals: dict[str, list[np.ndarray]] = {"pitch": [], "energy": [], "mel": []}
    for name in MANIFESTS:
        mpath = cfg.corpus_dir / f"{name}.jsonl"
        ipath = cfg.features_dir / f"{name}.index.json"
        if not (mpath.exists() and ipath.exists()):
            continue
        index = json.loads(ipath.read_text())["clips"]
        for rec in read_manifest(mpath):
            if rec.split != "train" or rec.clip_id not in index:
                continue
            with np.load(feature_path(cfg, index[rec.clip_id])) as z:
                vals["pitch"].append(z["pitch"])
                vals["energy"].append(z["energy"])
                vals["mel"].append(z["mel"].mean(1))
    if not vals["pitch"]:
        raise FeatureError(f"no train-split clip has features in {cfg.features_dir}: cannot compute statistics")
    stats: dict[str, Any] = {"n_train_clips": len(vals["pitch"])}
    for k in ("pitch", "energy"):
        v = np.concatenate(vals[k]).astype(np.float64)
        mean, std = float(v.mean()), float(v.std() or 1.0)
        stats[k] = {"mean": mean, "std": std, "min": float((v.min() - mean) / std),
                    "max": float((v.max() - mean) / std)}
    mel_means = np.stack(vals["mel"])
    stats["mel"] = {"mean": float(mel_means.mean())}
    atomic_write_json(cfg.features_dir / "stats.json", stats)
    return stats


def load_stats(cfg: ProfileConfig) -> dict[str, Any]:
    p = cfg.features_dir / "stats.json"
    if not p.exists():
        raise FileNotFoundError(f"{p} is missing: run emodubber.data.features.extract_features(cfg) first")
    return json.loads(p.read_text())


def time_extraction(cfg: ProfileConfig, corpus: str = "dubbing", n_clips: int = 8) -> dict[str, float]:
    """CPU milliseconds per clip of each feature step on ``n_clips`` clips of a manifest, in this process,
    one thread, after one warm-up clip: ``{"mel", "roi", "pitch", "energy+M", "speaker", "total",
    "audio_s"}`` (``audio_s``: mean clip length in seconds)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pt = time.process_time
    recs = read_manifest(cfg.corpus_dir / f"{corpus}.jsonl")[: n_clips + 1]
    if len(recs) < 2:
        raise FeatureError(f"time_extraction needs at least 2 clips in {corpus}.jsonl")
    acc = {"mel": 0.0, "roi": 0.0, "pitch": 0.0, "energy+M": 0.0, "speaker": 0.0}
    wavs = []
    try:
        for k, rec in enumerate(recs):
            t = {}
            t0 = pt()
            wav = read_wav(rec.path(cfg.corpus_dir, "wav"), cfg.audio.sample_rate)
            mag = stft_magnitude(wav, cfg.audio)
            mel = log_mel(wav, cfg.audio, magnitude=mag)
            t["mel"] = pt() - t0
            t0 = pt()
            if rec.video:
                extract_mouth_rois(rec.path(cfg.corpus_dir, "video"), cfg.video.roi_size)
            t["roi"] = pt() - t0
            t0 = pt()
            T = mel.shape[1]
            frame_f0(wav, cfg.audio.sample_rate, cfg.audio.hop_length, T)
            t["pitch"] = pt() - t0
            t0 = pt()
            d = spans_to_durations(rec.phone_spans, T, cfg.audio.frames_per_second)
            phone_means(np.linalg.norm(mag, axis=0), d)
            gt_sim_matrix(d, math.ceil(T / cfg.mel_per_frame))
            t["energy+M"] = pt() - t0
            t0 = pt()
            speaker_embeddings([wav], cfg.audio.sample_rate)
            t["speaker"] = pt() - t0
            if k:  # the first clip warms caches and imports
                for key in acc:
                    acc[key] += t[key]
                wavs.append(len(wav) / cfg.audio.sample_rate)
        # the batched speaker path that extract_features uses
        t0 = pt()
        speaker_embeddings([read_wav(r.path(cfg.corpus_dir, "wav"), cfg.audio.sample_rate) for r in recs[1:]],
                           cfg.audio.sample_rate)
        batched = (pt() - t0) / len(wavs)
    finally:
        torch.set_num_threads(threads)
    out = {k: 1000 * v / len(wavs) for k, v in acc.items()}
    out["speaker_batched"] = 1000 * batched
    out["total"] = sum(v for k, v in out.items() if k != "speaker")
    out["audio_s"] = float(np.mean(wavs))
    return out
