"""Features of every corpus, by the same code, cached by content hash.

Per clip (one ``.npz`` in ``cfg.features_dir / "clips"``, named by the SHA-1 of the wav bytes, the video
or lip-feature bytes, the phone alignment and the feature settings: a changed input is a new file, an
unchanged one is never recomputed):

============  ==========================  ===============================================================
key           shape / dtype               meaning
============  ==========================  ===============================================================
mel           float32 [n_mels, T]         log-mel (DIGEST A.10), *not* normalised (the dataset applies
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
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from emodubber.config import AudioConfig, ProfileConfig
from emodubber.data.manifest import ClipRecord, read_manifest
from emodubber.tools import require_module
from emodubber.utils import atomic_path, atomic_write_json, progress

__all__ = ["FEATURE_VERSION", "ClipSkipped", "FeatureError", "ExtractionReport", "log_mel", "envelope_log_mel", "world_f0", "stft_magnitude",
           "spans_to_durations", "gt_sim_matrix", "phone_means", "frame_f0", "speaker_embeddings",
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


class ClipSkipped(ValueError):
    """A clip that cannot be used (unreadable, too short, no face); the reason is logged and counted."""


# ------------------------------------------------------------------------------------------------
# Audio front end (DIGEST A.10)
# ------------------------------------------------------------------------------------------------


def stft_magnitude(wav: np.ndarray, a: AudioConfig) -> np.ndarray:
    """|STFT| ``float32 [n_fft/2+1, len(wav)//hop]``: reflect pad (n_fft−hop)/2, center=False, Hann window,
    magnitude √(re² + im² + 1e-9), as the official ``utils/audio.py``."""
    import torch

    x = torch.as_tensor(np.asarray(wav, dtype=np.float32))[None, None]
    pad = (a.n_fft - a.hop_length) // 2
    if x.shape[-1] <= pad:
        raise ClipSkipped(f"audio of {x.shape[-1]} samples is too short for an STFT")
    x = torch.nn.functional.pad(x, (pad, pad), mode="reflect")[0, 0]
    spec = torch.stft(x, a.n_fft, hop_length=a.hop_length, win_length=a.win_length,
                      window=torch.hann_window(a.win_length), center=False, return_complex=True)
    return torch.sqrt(spec.real ** 2 + spec.imag ** 2 + 1e-9).numpy()


def _mel_basis(a: AudioConfig) -> np.ndarray:
    import librosa

    key = (a.sample_rate, a.n_fft, a.n_mels, a.f_min, a.f_max)
    if key not in _MEL_CACHE:
        _MEL_CACHE[key] = librosa.filters.mel(sr=a.sample_rate, n_fft=a.n_fft, n_mels=a.n_mels, fmin=a.f_min,
                                              fmax=a.f_max, htk=False, norm="slaney").astype(np.float32)
    return _MEL_CACHE[key]


_MEL_CACHE: dict = {}


def log_mel(wav: np.ndarray, a: AudioConfig, magnitude: np.ndarray | None = None) -> np.ndarray:
    """Log-mel ``float32 [n_mels, len(wav)//hop]``: slaney mel of :func:`stft_magnitude`, log(clamp(·, 1e-5))."""
    mag = stft_magnitude(wav, a) if magnitude is None else magnitude
    return np.log(np.maximum(_mel_basis(a) @ mag, 1e-5)).astype(np.float32)


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

    Because the durations tile [0, T) every frame has at least one positive (DIGEST F.2)."""
    ends = np.cumsum(durations)
    starts = ends - durations
    f0 = np.arange(n_video_frames) * mel_per_frame
    f1 = f0 + mel_per_frame
    return ((starts[:, None] < f1[None, :]) & (ends[:, None] > f0[None, :])).astype(np.uint8)


def phone_means(values: np.ndarray, durations: np.ndarray, valid: np.ndarray | None = None,
                fallback: np.ndarray | None = None) -> np.ndarray:
    """Mean of frame ``values [T]`` inside each phone; with ``valid`` only over valid frames, using
    ``fallback`` (per frame) for a phone without any valid frame."""
    out = np.zeros(len(durations), dtype=np.float32)
    start = 0
    for p, d in enumerate(durations):
        seg = slice(start, start + int(d))
        v = values[seg]
        if valid is not None:
            m = valid[seg]
            v = v[m] if m.any() else (fallback[seg] if fallback is not None else v)
        out[p] = float(v.mean()) if len(v) else 0.0
        start += int(d)
    return out


def world_f0(wav: np.ndarray, sr: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """(F0 ``float64 [N]`` in Hz, 0 = unvoiced; frame times ``[N]`` in s): pyworld DIO + StoneMask every hop."""
    pw = require_module("pyworld", "phoneme-level pitch")
    x = np.ascontiguousarray(wav, dtype=np.float64)
    f0, t = pw.dio(x, sr, f0_floor=60.0, f0_ceil=600.0, frame_period=1000.0 * hop / sr)
    return pw.stonemask(x, f0, t, sr), t


def frame_f0(wav: np.ndarray, sr: int, hop: int, n_frames: int) -> np.ndarray:
    """F0 per mel frame ``float [T]`` in Hz (0 = unvoiced): pyworld DIO + StoneMask at the hop's period."""
    f0, _ = world_f0(wav, sr, hop)
    if len(f0) < n_frames:
        f0 = np.pad(f0, (0, n_frames - len(f0)))
    return f0[:n_frames]


def envelope_log_mel(wav: np.ndarray, a: AudioConfig, n_frames: int,
                     f0_t: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Log-mel of WORLD's F0-adaptive spectral envelope (CheapTrick) ``float32 [n_mels, n_frames]``.

    The STFT log-mel of :func:`log_mel` resolves the harmonics below ~1 kHz, so it carries the absolute F0;
    CheapTrick's envelope does not (it is smoothed over one pitch period). Same slaney mel scale and log floor
    as :func:`log_mel`, on the envelope's magnitude; ``f0_t`` = :func:`world_f0`'s output, if already computed.
    """
    import dataclasses

    pw = require_module("pyworld", "spectral envelopes")
    f0, t = world_f0(wav, a.sample_rate, a.hop_length) if f0_t is None else f0_t
    fft_size = pw.get_cheaptrick_fft_size(a.sample_rate, 60.0)
    sp = pw.cheaptrick(np.ascontiguousarray(wav, dtype=np.float64), f0, t, a.sample_rate, f0_floor=60.0,
                       fft_size=fft_size)  # power, [N, fft_size/2 + 1]
    basis = _mel_basis(dataclasses.replace(a, n_fft=fft_size, win_length=fft_size))
    mel = np.log(np.maximum(basis @ np.sqrt(sp.T), 1e-5)).astype(np.float32)
    if mel.shape[1] < n_frames:
        mel = np.pad(mel, ((0, 0), (0, n_frames - mel.shape[1])), mode="edge")
    return mel[:, :n_frames]


# ------------------------------------------------------------------------------------------------
# Speaker embeddings (resemblyzer, batched over partial utterances)
# ------------------------------------------------------------------------------------------------

_ENCODER = None


def _voice_encoder():
    global _ENCODER
    if _ENCODER is None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rz = require_module("resemblyzer", "speaker embeddings")
        _ENCODER = rz.VoiceEncoder("cpu", verbose=False)
    return _ENCODER


def speaker_embeddings(wavs: Sequence[np.ndarray], sr: int) -> np.ndarray:
    """Resemblyzer utterance embeddings ``float32 [N, 256]`` (L2-normalised), all partials in one forward.

    Same result as ``VoiceEncoder.embed_utterance(preprocess_wav(w, sr))`` per clip."""
    import torch

    enc = _voice_encoder()
    from resemblyzer import audio as rz_audio
    from resemblyzer import preprocess_wav

    mels, owners = [], []
    for i, w in enumerate(wavs):
        x = preprocess_wav(np.asarray(w, dtype=np.float32), source_sr=sr)
        if len(x) < 1600:  # VAD removed (almost) everything: fall back to the raw, resampled clip
            import librosa

            x = librosa.resample(np.asarray(w, dtype=np.float32), orig_sr=sr, target_sr=rz_audio.sampling_rate)
        wav_slices, mel_slices = enc.compute_partial_slices(len(x), rate=1.3, min_coverage=0.75)
        if wav_slices[-1].stop >= len(x):
            x = np.pad(x, (0, wav_slices[-1].stop - len(x)))
        m = rz_audio.wav_to_mel_spectrogram(x)
        for s in mel_slices:
            mels.append(m[s])
            owners.append(i)
    with torch.no_grad():
        partial = enc(torch.from_numpy(np.stack(mels)).to(enc.device)).cpu().numpy()
    owners = np.asarray(owners)
    out = np.zeros((len(wavs), partial.shape[1]), dtype=np.float32)
    for i in range(len(wavs)):
        e = partial[owners == i].mean(0)
        out[i] = e / np.linalg.norm(e)
    return out


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


def _read_wav(path: Path, sr: int) -> np.ndarray:
    import soundfile as sf

    try:
        wav, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as e:
        raise ClipSkipped(f"audio {path} is unreadable ({e})") from None
    wav = wav.mean(1)
    if file_sr != sr:
        import librosa

        wav = librosa.resample(wav, orig_sr=file_sr, target_sr=sr)
    return wav


def extract_clip(rec: ClipRecord, root: Path, cfg: ProfileConfig, with_speaker: bool = True) -> dict[str, np.ndarray]:
    """All features of one clip (see the module table); :class:`ClipSkipped` if it cannot be used.

    ``with_speaker=False`` leaves ``spk_emb`` out (the batch path embeds many clips at once)."""
    a, k = cfg.audio, cfg.mel_per_frame
    where = f"clip {rec.clip_id}: "
    wav = _read_wav(rec.path(root, "wav"), a.sample_rate)
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
        from emodubber.data.roi import FaceNotFoundError, VideoReadError, extract_mouth_rois

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
    import time

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
        import multiprocessing

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
    import time

    import torch

    from emodubber.data.roi import extract_mouth_rois

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
            wav = _read_wav(rec.path(cfg.corpus_dir, "wav"), cfg.audio.sample_rate)
            mag = stft_magnitude(wav, cfg.audio)
            mel = log_mel(wav, cfg.audio, magnitude=mag)
            t["mel"] = pt() - t0
            t0 = pt()
            if rec.video:
                extract_mouth_rois(rec.path(cfg.corpus_dir, "video"), cfg.video.roi_size)
            t["roi"] = pt() - t0
            t0 = pt()
            T = mel.shape[1]
            f0 = frame_f0(wav, cfg.audio.sample_rate, cfg.audio.hop_length, T)
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
        speaker_embeddings([_read_wav(r.path(cfg.corpus_dir, "wav"), cfg.audio.sample_rate) for r in recs[1:]],
                           cfg.audio.sample_rate)
        batched = (pt() - t0) / len(wavs)
    finally:
        torch.set_num_threads(threads)
    out = {k: 1000 * v / len(wavs) for k, v in acc.items()}
    out["speaker_batched"] = 1000 * batched
    out["total"] = sum(v for k, v in out.items() if k != "speaker")
    out["audio_s"] = float(np.mean(wavs))
    return out
