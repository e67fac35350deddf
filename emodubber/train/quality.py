"""Held-out quality of a trained stage, measured for the ``cpu`` profile's targets
(:data:`emodubber.reports.training.TARGETS`, checked and written as claims there).

On clips of a held-out split (test by default), one at a time:

- **WER**: the stage's mel → Griffin-Lim → the GRID-grammar pocketsphinx judge (corpus WER, Σ errors / Σ words),
  beside the WER of Griffin-Lim on the *true* mel of the same clips (what the vocoder alone costs);
- **voice**: resemblyzer SECS of the generated speech against another clip of the same speaker
  (``references.tsv``) and against one clip of every other speaker: the true voice must stand clearly above;
- **durations** (dubber only): the share of phonemes whose LPA + MAS duration D_p is within ±1 video frame of
  the truth (the validation metric ``dur_within_1``, on held-out clips).

The TTS stage speaks with the **true durations** (its check isolates the acoustic model); the dubber speaks
from the **video** (its durations come from LPA), both with their own clip's speaker embedding S_id.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from emodubber.data.dataset import DubbingDataset, collate
from emodubber.data.manifest import read_manifest, read_references
from emodubber.metrics.audio_io import load_audio
from emodubber.metrics.secs import SpeakerJudge
from emodubber.metrics.wer import PocketsphinxASR, corpus_rate, word_errors
from emodubber.models.dubber import EmoDubber
from emodubber.train.common import model_path as stage_model_path
from emodubber.train.dubbing import duration_accuracy
from emodubber.train.report import dubber_example, tts_example, vocode
from emodubber.utils import progress

__all__ = ["STAGES", "held_out_quality"]

#: the stages whose held-out quality is measured
STAGES = ("tts", "dubber")

def _pick(n_items: int, n: int) -> list[int]:
    """``n`` indices spread evenly over ``range(n_items)`` (deterministic, every speaker represented)."""
    if n_items <= 0:
        return []
    return sorted({int(i) for i in np.linspace(0, n_items - 1, min(n, n_items)).round()})


def held_out_quality(cfg: Any, stage: str = "dubber", n_clips: int = 30, split: str = "test",
                     model_path: str | Path | None = None, show_progress: bool = True) -> tuple[Any, dict[str, Any]]:
    """Score ``n_clips`` clips of ``split`` with the ``stage`` (``"tts"`` or ``"dubber"``) model.

    Returns ``(per_clip DataFrame, summary dict)``; the summary holds ``WER``, ``WER_gl_true``,
    ``SECS_same``, ``SECS_other`` (mean over the other speakers), ``SECS_gap`` (same − other),
    ``SECS_margin`` (same − highest other, mean over clips),
    ``SECS_same_wins`` (share of clips whose own speaker is the most similar) and, for the dubber,
    ``dur_within_1``.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {sorted(STAGES)}, not {stage!r}")
    path = Path(model_path) if model_path else stage_model_path(cfg, stage)
    if not path.exists():
        raise FileNotFoundError(f"no {stage} model at {path}: train the stage first (notebook "
                                f"{'02_pretrain_tts' if stage == 'tts' else '03_train_dubber'})")
    ds = DubbingDataset(cfg, split, "dubbing")
    if len(ds) == 0:
        raise ValueError(f"the {split!r} split of the dubbing corpus is empty")
    model = EmoDubber.from_pretrained(path).eval()
    asr, spk = PocketsphinxASR("grammar"), SpeakerJudge()
    corpus_dir = Path(cfg.corpus_dir)
    refs_tsv = corpus_dir / "references.tsv"
    refs = read_references(refs_tsv) if refs_tsv.exists() else {}
    pool = read_manifest(corpus_dir / "dubbing.jsonl")  # voices to compare against: every split
    by_id = {r.clip_id: r for r in pool}
    one_per_speaker: dict[str, Any] = {}
    for r in pool:
        one_per_speaker.setdefault(r.speaker, r)

    rows = []
    ok_d = tot_d = 0
    idx = _pick(len(ds), n_clips)
    for i in progress(idx, desc=f"{stage} held-out quality", disable=not show_progress):
        rec = ds.records[i]
        item = ds[i]
        batch = collate([{**item, "lip": None}] if stage == "tts" else [item])
        with torch.no_grad():
            ex = (tts_example(cfg, model, batch, true_durations=True) if stage == "tts"
                  else dubber_example(cfg, model, batch))
        if stage == "dubber":  # D_p of the synthesis itself (mel frames = video frames × 4)
            a, c = duration_accuracy(torch.as_tensor(ex["durations"])[None] / cfg.mel_per_frame, batch.durations,
                                     batch.phoneme_lengths, cfg.mel_per_frame)
            ok_d, tot_d = ok_d + a, tot_d + c
        T, Tp = ex["true"].shape[1], ex["pred"].shape[1]
        wav = load_audio(vocode(cfg, ex["pred"]), 16000, warn=False)
        wav_true = load_audio(vocode(cfg, ex["true"]), 16000, warn=False)
        e = word_errors(rec.text, asr.transcribe(wav))
        e_true = word_errors(rec.text, asr.transcribe(wav_true))
        row: dict[str, Any] = {"clip_id": rec.clip_id, "speaker": rec.speaker, "emotion": rec.emotion,
                               "text": rec.text, "wer": e.wer, "word_errors": e.errors, "ref_words": e.ref_words,
                               "word_errors_gl_true": e_true.errors, "mel_frames": Tp, "true_frames": T,
                               "warnings": "; ".join(wav.issues)}
        same_id = refs.get(rec.clip_id)
        same = by_id.get(same_id) if same_id else None
        if same is None:  # no reference listed: any other clip of the speaker
            same = next((r for r in pool if r.speaker == rec.speaker and r.clip_id != rec.clip_id), None)
        emb, why = spk.embed(wav)
        if emb is None or same is None:
            row.update(secs_same=math.nan, secs_other=math.nan, secs_other_max=math.nan,
                       error=why or "no other clip of this speaker")
        else:
            def cos(r):
                o, _ = spk.embed(r.path(corpus_dir, "wav"))  # the corpus side is cached by path
                return math.nan if o is None else spk.cosine(emb, o)

            others = [cos(r) for name, r in one_per_speaker.items() if name != rec.speaker]
            others = [o for o in others if np.isfinite(o)]
            row.update(secs_same=cos(same), secs_other=float(np.mean(others)) if others else math.nan,
                       secs_other_max=float(np.max(others)) if others else math.nan, error="")
        rows.append(row)
    df = pd.DataFrame(rows)
    margin = df["secs_same"] - df["secs_other_max"]
    summary: dict[str, Any] = {
        "stage": stage, "split": split, "n_clips": int(len(df)), "model": str(path),
        "durations": "true" if stage == "tts" else "LPA + MAS from the video",
        "WER": corpus_rate(df["word_errors"], df["ref_words"]),
        "WER_gl_true": corpus_rate(df["word_errors_gl_true"], df["ref_words"]),
        "SECS_same": float(np.nanmean(df["secs_same"])) if df["secs_same"].notna().any() else math.nan,
        "SECS_other": float(np.nanmean(df["secs_other"])) if df["secs_other"].notna().any() else math.nan,
        "SECS_margin": float(np.nanmean(margin)) if margin.notna().any() else math.nan,
        "SECS_gap": float(np.nanmean(df["secs_same"] - df["secs_other"])) if margin.notna().any() else math.nan,
        "SECS_same_wins": float((margin[margin.notna()] > 0).mean()) if margin.notna().any() else math.nan,
        "n_steps": cfg.eval.n_steps, "temperature": cfg.eval.temperature, "vocoder": "griffin-lim",
    }
    if stage == "dubber":
        summary["dur_within_1"] = ok_d / max(tot_d, 1)
    return df, summary
