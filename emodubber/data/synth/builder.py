"""Build the embedded synthetic corpus: a GRID-like dubbing corpus and an ESD-like emotional corpus.

Layout of ``cfg.corpus_dir`` (paths in the manifests are relative to it)::

    dubbing.jsonl             ClipRecords with video, mostly neutral (GRID-like)
    emotion.jsonl             ClipRecords, speech only: voices × 7 emotions × intensities (ESD-like)
    references.tsv            Setting 2: clip → another dubbing clip of the same speaker
    corpus_info.json          voices, held-out voices, recipes, counts, failures, timing
    dubbing/<voice>/<clip>.wav|.mp4|.json
    emotion/<voice>/<clip>.wav|.json

Every clip is a pure function of (cfg.seed, corpus part, index): the same seed gives the same
sentences, voices, emotions and noise whatever the worker count. Each clip's files are written
atomically with a ``.json`` sidecar (its ClipRecord) last, so a re-run skips finished clips
(resumable); the manifests are written at the very end. A clip that fails is skipped, its reason
logged and counted in the summary.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from emodubber.config import EMOTIONS, ConfigError, ProfileConfig
from emodubber.data.manifest import ClipRecord, assign_splits, setting2_references, write_manifest, write_references
from emodubber.data.synth import emotions, face
from emodubber.data.synth.voices import DEFAULT_HELDOUT, DEFAULT_VOICES, PHONE_SET, VOICES
from emodubber.text.grid import grid_clip_name, random_sentence
from emodubber.utils import atomic_path, atomic_write_json, progress

__all__ = ["build_synthetic_corpus", "plan_corpus", "make_clip", "corpus_voices", "BuildError"]

log = logging.getLogger(__name__)


class BuildError(RuntimeError):
    """The corpus could not be built at all (not a single clip's failure)."""


def corpus_voices(cfg: ProfileConfig) -> tuple[list[str], list[str]]:
    """(voices, held-out voices) of the profile, validated; defaults from :mod:`.voices`."""
    voices = list(cfg.corpus.voices) or list(DEFAULT_VOICES)
    unknown = [v for v in voices if v not in VOICES]
    if unknown:
        raise ConfigError(f"corpus.voices: unknown voice(s) {unknown}; known: {', '.join(VOICES)}")
    heldout = list(cfg.corpus.heldout_voices) or [v for v in DEFAULT_HELDOUT if v in voices] or voices[-1:]
    bad = [v for v in heldout if v not in voices]
    if bad:
        raise ConfigError(f"corpus.heldout_voices: {bad} not among corpus.voices {voices}")
    if len(heldout) >= len(voices):
        raise ConfigError("corpus.heldout_voices: at least one voice must stay in training")
    return voices, heldout


def _clip_rng(seed: int, part: str, k: int) -> random.Random:
    return random.Random(f"{seed}/{part}/{k}")


def plan_corpus(cfg: ProfileConfig) -> list[dict[str, Any]]:
    """The job list: one dict per clip (id, part, voice, text, emotion, intensity, seed, paths)."""
    voices, _ = corpus_voices(cfg)
    c = cfg.corpus
    if c.n_dubbing_clips < 0 or c.n_emotion_clips < 0:
        raise ConfigError("corpus.n_dubbing_clips / n_emotion_clips must be >= 0")
    if not 0 <= c.dubbing_emotional_fraction <= 1:
        raise ConfigError(f"corpus.dubbing_emotional_fraction must be in [0, 1], got {c.dubbing_emotional_fraction}")
    if not c.intensities or any(not 0 < i <= 2 for i in c.intensities):
        raise ConfigError(f"corpus.intensities must be a non-empty list of values in (0, 2], got {c.intensities}")
    acted = [e for e in EMOTIONS if e != "neutral"]
    jobs = []
    for k in range(c.n_dubbing_clips):
        r = _clip_rng(cfg.seed, "dubbing", k)
        voice = voices[k % len(voices)]
        text = random_sentence(r)
        emotion, intensity = "neutral", 0.0
        if r.random() < c.dubbing_emotional_fraction:
            emotion, intensity = r.choice(acted), r.choice(list(c.intensities))
        cid = f"d{k:05d}_{voice}_{grid_clip_name(text)}"
        jobs.append(dict(part="dubbing", clip_id=cid, voice=voice, text=text, emotion=emotion,
                         intensity=float(intensity), seed=r.getrandbits(32), video=True))
    # ESD-like: classes (emotion, intensity), neutral repeated so every emotion has the same count;
    # consecutive blocks of one voice share the sentence (parallel data across emotions)
    classes = [(e, 0.0 if e == "neutral" else float(i)) for e in EMOTIONS for i in c.intensities]
    for k in range(c.n_emotion_clips):
        block = k // len(classes)
        emotion, intensity = classes[k % len(classes)]
        voice = voices[block % len(voices)]
        text = random_sentence(_clip_rng(cfg.seed, "emotion-text", block))
        r = _clip_rng(cfg.seed, "emotion", k)
        cid = f"e{k:05d}_{voice}_{emotion}{int(round(intensity * 100)):03d}"
        jobs.append(dict(part="emotion", clip_id=cid, voice=voice, text=text, emotion=emotion,
                         intensity=intensity, seed=r.getrandbits(32), video=False))
    for j in jobs:
        j.update(render_size=cfg.video.render_size, fps=cfg.video.fps, sample_rate=cfg.audio.sample_rate)
    return jobs


def _paths(root: Path, job: dict) -> dict[str, Path]:
    base = root / job["part"] / job["voice"] / job["clip_id"]
    return {"wav": base.with_suffix(".wav"), "mp4": base.with_suffix(".mp4"), "json": base.with_suffix(".json")}


def make_clip(job: dict, root: str | Path) -> dict[str, Any]:
    """Synthesise one clip (wav, mp4 when asked, json sidecar); never raises: returns status + record/error."""
    root = Path(root)
    p = _paths(root, job)
    if p["json"].exists() and p["wav"].exists() and (not job["video"] or p["mp4"].exists()):
        try:
            record = json.loads(p["json"].read_text())
            ex = record.get("extra", {})
            if (record.get("text"), ex.get("seed"), ex.get("render_size")) == (
                    job["text"], job["seed"], job["render_size"] if job["video"] else None):
                return {"status": "reused", "record": record}
        except (OSError, json.JSONDecodeError, AttributeError):
            pass  # a damaged or outdated sidecar: rebuild the clip
    try:
        import soundfile as sf

        if job["sample_rate"] != 16000:
            raise ConfigError(f"audio.sample_rate must be 16000 for the synthetic corpus, got {job['sample_rate']}")
        rng = np.random.default_rng(job["seed"])
        frame_s = 1.0 / job["fps"]
        wav, phones, spans, info = emotions.speak(job["voice"], job["text"], job["emotion"], job["intensity"],
                                                  rng, pad_to=frame_s)
        bad = sorted(set(phones) - PHONE_SET)
        if bad:
            raise ValueError(f"phones outside the symbol set: {bad}")
        n_frames = int(round(len(wav) / (16000 * frame_s)))
        p["wav"].parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(p["wav"]) as tmp:
            sf.write(tmp, wav, 16000, subtype="PCM_16", format="WAV")
        if job["video"]:
            with atomic_path(p["mp4"]) as tmp:
                face.render_clip(tmp, phones, spans, n_frames, job["voice"], job["emotion"], job["intensity"],
                            size=job["render_size"], seed=job["seed"], fps=job["fps"])
        rec = ClipRecord(
            clip_id=job["clip_id"], corpus=f"synthetic-{job['part']}", speaker=job["voice"], text=job["text"],
            phonemes=phones, phone_spans=spans, wav=str(p["wav"].relative_to(root)),
            video=str(p["mp4"].relative_to(root)) if job["video"] else "", emotion=job["emotion"],
            intensity=float(job["intensity"]), duration_s=round(len(wav) / 16000, 5),
            extra={**info, "n_frames": n_frames, "seed": job["seed"],
                   "render_size": job["render_size"] if job["video"] else None},
        ).validate()
        record = asdict(rec)
        atomic_write_json(p["json"], record)
        return {"status": "built", "record": record}
    except Exception as e:  # noqa: BLE001 - one bad clip must not stop the corpus; reported, never silent
        return {"status": "failed", "clip_id": job["clip_id"], "error": f"{type(e).__name__}: {e}"}


def _worker_init() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        pass


def _run_pool(jobs: list[dict], root: Path, n_workers: int, bar) -> list[dict]:
    """Run ``jobs`` in ``n_workers`` spawned processes; returns what finished (a broken pool stops early)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    out = []
    # spawn: no torch / OpenMP / OpenCV thread state is forked from the parent (a forked pool deadlocked
    # in pytest); a caller that cannot be re-imported (``python -``) breaks the pool: we fall back
    try:
        with ProcessPoolExecutor(n_workers, mp_context=mp.get_context("spawn"), initializer=_worker_init) as ex:
            futures = [ex.submit(make_clip, j, str(root)) for j in jobs]
            for f in as_completed(futures):
                out.append(f.result())
                bar.update()
    except BrokenProcessPool as e:
        log.warning("worker pool broke (%s)", e)
    return out


def build_synthetic_corpus(cfg: ProfileConfig, force: bool = False, show_progress: bool = True) -> dict[str, Any]:
    """Build (or finish) the synthetic corpus of ``cfg`` in ``cfg.corpus_dir``; returns a summary dict.

    ``force=True`` rebuilds every clip. Keys of the summary: ``corpus_dir``, ``n_dubbing``,
    ``n_emotion``, ``n_built``, ``n_reused``, ``n_failed``, ``failures`` ([clip_id, reason]),
    ``seconds``, ``voices``, ``heldout_voices``, ``per_speaker``, ``per_emotion``, ``per_split``.
    """
    t0 = time.time()
    voices, heldout = corpus_voices(cfg)
    jobs = plan_corpus(cfg)
    root = cfg.corpus_dir
    root.mkdir(parents=True, exist_ok=True)
    if force:
        for j in jobs:
            for path in _paths(root, j).values():
                path.unlink(missing_ok=True)
    for manifest in ("dubbing.jsonl", "emotion.jsonl"):
        (root / manifest).unlink(missing_ok=True)  # stale manifests never describe a half-rebuilt corpus
    results: list[dict] = []
    n_workers = max(1, int(cfg.corpus.n_workers))
    bar = progress(total=len(jobs), desc="synthetic corpus", unit="clip", disable=not show_progress)
    try:
        pending = list(jobs)
        if n_workers > 1:
            results.extend(_run_pool(pending, root, n_workers, bar))
            done = {r["record"]["clip_id"] if "record" in r else r["clip_id"] for r in results}
            pending = [j for j in jobs if j["clip_id"] not in done]
            if pending:
                log.warning("the worker pool stopped early; building the %d remaining clips in-process", len(pending))
        for j in pending:
            results.append(make_clip(j, str(root)))
            bar.update()
    finally:
        bar.close()
    failures = sorted([r["clip_id"], r["error"]] for r in results if r["status"] == "failed")
    for cid, err in failures:
        log.warning("skipped clip %s: %s", cid, err)
    records = {"dubbing": [], "emotion": []}
    for r in results:
        if r["status"] != "failed":
            rec = ClipRecord(**r["record"])
            records[rec.corpus.split("-", 1)[1]].append(rec)
    if not records["dubbing"] and cfg.corpus.n_dubbing_clips:
        raise BuildError(f"no dubbing clip could be built; first failures: {failures[:3]}")
    for part, recs in records.items():
        recs.sort(key=lambda r: r.clip_id)
        assign_splits(recs, cfg.corpus.val_fraction, cfg.corpus.test_fraction, cfg.seed, heldout_speakers=heldout)
    refs = setting2_references(records["dubbing"], cfg.seed)
    all_recs = records["dubbing"] + records["emotion"]
    summary = {
        "corpus_dir": str(root),
        "seed": cfg.seed,
        "n_dubbing": len(records["dubbing"]),
        "n_emotion": len(records["emotion"]),
        "n_built": sum(r["status"] == "built" for r in results),
        "n_reused": sum(r["status"] == "reused" for r in results),
        "n_failed": len(failures),
        "failures": failures,
        "seconds": round(time.time() - t0, 2),
        "n_workers": n_workers,
        "voices": voices,
        "heldout_voices": heldout,
        "per_speaker": {p: dict(sorted(Counter(r.speaker for r in recs).items())) for p, recs in records.items()},
        "per_emotion": {p: dict(sorted(Counter(r.emotion for r in recs).items())) for p, recs in records.items()},
        "per_split": {p: dict(sorted(Counter(r.split for r in recs).items())) for p, recs in records.items()},
        "hours": round(sum(r.duration_s for r in all_recs) / 3600, 4),
    }
    info = {**summary, "voice_specs": {v: VOICES[v].to_dict() for v in voices},
            "recipes": {e: r.to_dict() for e, r in emotions.RECIPES.items()}}
    atomic_write_json(root / "corpus_info.json", info)
    write_references(root / "references.tsv", refs)
    write_manifest(root / "emotion.jsonl", records["emotion"])
    write_manifest(root / "dubbing.jsonl", records["dubbing"])
    return summary
