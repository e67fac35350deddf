"""Sanity checks of a prepared corpus: do the phones line up with the audio, does the mouth move with it?

Per clip, from the cached features (no re-extraction):

- :func:`silence_contrast_db` — mean frame energy of speech phones minus that of ``sil`` phones (dB);
  true alignments put the quiet frames under ``sil``;
- :func:`onset_offset_errors_ms` — where the audio's energy first / last stays 50 ms above 30 % of the
  way (in dB) from the silence floor to the speech level, against the first / last non-silence phone of
  the alignment (ms; a good alignment is within one video frame, 40 ms);
- :func:`mouth_audio_correlation` — Pearson correlation, over video frames, of mouth opening (the
  intensity spread of the ROI's central region: an open mouth shows dark cavity and bright teeth) with
  the log audio envelope over the frame's 4 mel frames.

:func:`run_checks` runs them on a corpus split and returns per-clip rows plus a summary.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from emodubber.data.features import MANIFESTS, feature_path, load_index
from emodubber.data.manifest import read_manifest
from emodubber.text.symbols import SILENCES

__all__ = ["frame_db", "silence_contrast_db", "onset_offset_errors_ms", "mouth_opening", "mouth_audio_correlation",
           "run_checks", "WEAK_EDGE_PHONES", "corpus_frame"]


def frame_db(mel: np.ndarray) -> np.ndarray:
    """Frame energy in dB ``[T]`` from a natural-log mel ``[n_mels, T]`` (power of the summed mel magnitudes)."""
    return 20 * np.log10(np.exp(mel).sum(0) + 1e-8)


def _phone_frames(durations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ends = np.cumsum(durations)
    return ends - durations, ends


def silence_contrast_db(mel: np.ndarray, durations: np.ndarray, phonemes: list[str]) -> float:
    """Mean dB of frames under speech phones minus mean dB under ``sil`` phones (NaN if either is absent)."""
    db = frame_db(mel)
    starts, ends = _phone_frames(durations)
    sil = np.concatenate([db[s:e] for s, e, p in zip(starts, ends, phonemes) if p == "sil"] or [np.empty(0)])
    sp = np.concatenate([db[s:e] for s, e, p in zip(starts, ends, phonemes) if p not in SILENCES] or [np.empty(0)])
    if not len(sil) or not len(sp):
        return float("nan")
    return float(sp.mean() - sil.mean())


#: Phones whose start or end is quiet by nature (stop closures, weak fricatives, h): an energy onset anywhere
#: inside such a first phone (an offset inside such a last phone) is on time.
WEAK_EDGE_PHONES = frozenset({"P", "B", "T", "D", "K", "G", "CH", "JH", "F", "V", "TH", "DH", "S", "Z", "SH", "ZH",
                              "HH"})


def _runs(mask: np.ndarray, min_len: int) -> np.ndarray:
    """Indices i where mask[i : i + min_len] is all True."""
    if len(mask) < min_len:
        return np.empty(0, int)
    win = np.lib.stride_tricks.sliding_window_view(mask, min_len).all(1)
    return np.flatnonzero(win)


def onset_offset_errors_ms(mel: np.ndarray, durations: np.ndarray, phonemes: list[str],
                           hop_ms: float = 10.0, frac: float = 0.3, min_run: int = 5) -> tuple[float, float]:
    """(onset error, offset error) in ms of the alignment against the audio (NaN without leading / trailing ``sil``).

    The audio's speech starts at the first run of ``min_run`` frames (50 ms; a click in the silence is not
    speech) above ``frac`` of the way (dB) from the silence floor to the speech level, and ends at the last
    such run. The error is the distance from that frame to the aligned edge — to the aligned first phone as
    a whole when it is a stop / weak fricative (its closure or frication is quiet by nature); 0 inside."""
    db = frame_db(mel)
    starts, ends = _phone_frames(durations)
    speech = [i for i, p in enumerate(phonemes) if p not in SILENCES]
    sil_frames = [np.arange(starts[i], ends[i]) for i, p in enumerate(phonemes) if p == "sil"]
    if not speech or not sil_frames:
        return float("nan"), float("nan")
    first, last = speech[0], speech[-1]
    floor = np.median(db[np.concatenate(sil_frames).astype(int)])
    level = np.median(db[int(starts[first]):int(ends[last])])
    runs = _runs(db >= floor + frac * (level - floor), min_run)
    if not len(runs):
        return float("nan"), float("nan")
    on_audio, off_audio = int(runs[0]), int(runs[-1] + min_run)

    def err(x: int, lo: int, hi: int) -> float:
        return 0.0 if lo <= x <= hi else float((x - lo) if x < lo else (x - hi)) * hop_ms

    weak_first = phonemes[first] in WEAK_EDGE_PHONES
    weak_last = phonemes[last] in WEAK_EDGE_PHONES
    on = err(on_audio, int(starts[first]), int(ends[first] if weak_first else starts[first])) \
        if first > 0 and phonemes[0] == "sil" else float("nan")
    off = err(off_audio, int(starts[last] if weak_last else ends[last]), int(ends[last])) \
        if last < len(phonemes) - 1 and phonemes[-1] == "sil" else float("nan")
    return on, off


def mouth_opening(rois: np.ndarray) -> np.ndarray:
    """Mouth opening per frame ``[F]``: intensity standard deviation of the ROI's central region."""
    F, H, W = rois.shape
    c = rois[:, H // 4: 3 * H // 4, W // 5: 4 * W // 5].astype(np.float32)
    return c.reshape(F, -1).std(1)


def mouth_audio_correlation(rois: np.ndarray, mel: np.ndarray, mel_per_frame: int = 4) -> float:
    """Pearson r over frames between :func:`mouth_opening` and the log envelope of the frame's mel frames."""
    F = rois.shape[0]
    env = np.log(np.exp(mel[:, : mel_per_frame * F]).sum(0).reshape(F, mel_per_frame).mean(1) + 1e-8)
    m = mouth_opening(rois)
    if m.std() < 1e-6 or env.std() < 1e-6:
        return float("nan")
    return float(np.corrcoef(m, env)[0, 1])


def run_checks(cfg, corpus: str = "dubbing", split: str = "all", max_clips: int | None = None) -> dict[str, Any]:
    """Run every check on a prepared corpus split: ``{"rows": [per clip], "summary": {...}}``."""
    index = load_index(cfg, corpus)["clips"]
    rows = []
    for rec in read_manifest(cfg.corpus_dir / f"{corpus}.jsonl"):
        if (split != "all" and rec.split != split) or rec.clip_id not in index:
            continue
        if max_clips is not None and len(rows) >= max_clips:
            break
        with np.load(feature_path(cfg, index[rec.clip_id])) as z:
            mel, dur = z["mel"], z["durations"]
            row = {"clip_id": rec.clip_id, "speaker": rec.speaker, "emotion": rec.emotion,
                   "silence_contrast_db": silence_contrast_db(mel, dur, rec.phonemes)}
            row["onset_err_ms"], row["offset_err_ms"] = onset_offset_errors_ms(mel, dur, rec.phonemes)
            if "lip" in z.files and z["lip"].dtype == np.uint8:
                row["mouth_audio_r"] = mouth_audio_correlation(z["lip"], mel, cfg.mel_per_frame)
        rows.append(row)

    def agg(key, fn):
        v = np.array([r[key] for r in rows if key in r], dtype=float)
        v = v[np.isfinite(v)]
        return float(fn(v)) if len(v) else float("nan")

    summary = {
        "clips": len(rows),
        "silence_contrast_db_median": agg("silence_contrast_db", np.median),
        "silence_contrast_db_min": agg("silence_contrast_db", np.min),
        "onset_abs_err_ms_median": agg("onset_err_ms", lambda v: np.median(np.abs(v))),
        "onset_within_40ms": agg("onset_err_ms", lambda v: np.mean(np.abs(v) <= 40)),
        "offset_abs_err_ms_median": agg("offset_err_ms", lambda v: np.median(np.abs(v))),
        "offset_within_40ms": agg("offset_err_ms", lambda v: np.mean(np.abs(v) <= 40)),
        "mouth_audio_r_mean": agg("mouth_audio_r", np.mean),
        "mouth_audio_r_min": agg("mouth_audio_r", np.min),
    }
    return {"rows": rows, "summary": summary}


def corpus_frame(cfg):
    """One row per manifest clip (``part`` = dubbing / emotion): speaker, emotion, intensity, split,
    duration, whether it has features and, if skipped, why (a ``pandas.DataFrame``)."""
    import pandas as pd

    rows = []
    for part in MANIFESTS:
        p = cfg.corpus_dir / f"{part}.jsonl"
        if not p.exists():
            continue
        ipath = cfg.features_dir / f"{part}.index.json"
        index = json.loads(ipath.read_text()) if ipath.exists() else {"clips": {}, "skipped": {}}
        for r in read_manifest(p):
            rows.append({"part": part, "clip_id": r.clip_id, "speaker": r.speaker, "emotion": r.emotion,
                         "intensity": r.intensity, "split": r.split, "duration_s": r.duration_s,
                         "n_phones": len(r.phonemes), "has_video": bool(r.video or r.extra.get("lip_features")),
                         "features": r.clip_id in index["clips"], "skipped": index["skipped"].get(r.clip_id, "")})
    if not rows:
        raise FileNotFoundError(f"no manifest in {cfg.corpus_dir}: build the corpus first (emodubber prepare)")
    return pd.DataFrame(rows)
