"""Where the phones are lost: the dubber against the lip-blind TTS, one stage swapped at a time.

The dubber's μ path (lip encoder → LPA → MAS durations D_p → fusion → ×4 up-sampling → SIA) and its flow decoder
both differ from the TTS's (text durations → length regulator at mel rate → SIA). Each condition below keeps
everything but one of them, on the same clips with the same sampler noise, and the GRID-grammar WER and the
all-phone PER of each condition say which stage costs intelligibility (docs/paper.md §3.3 and §C.3):

==================  =================================================================================
condition           mel that is judged
==================  =================================================================================
``dubber``          the dubber's decoder on the dubber's μ (LPA + MAS durations): the system
``tts``             the TTS's decoder on its μ with text-predicted durations fitted to 4F: the system
``dubber_mu_gl``    Griffin-Lim on the dubber's μ alone, no decoder                              (a)
``tts_mu_gl``       Griffin-Lim on the TTS's μ alone                                             (a)
``dubber_mu_tts_dec``  the dubber's μ through the TTS's flow decoder                             (b)
``tts_mu_dubber_dec``  the TTS's μ through the dubber's flow decoder                             (b)
``tts_dubber_dp``   the TTS driven by the dubber's D_p (× 4 mel frames)                          (c)
``tts_true_snap``   the TTS driven by the true durations snapped to the 40-ms video grid        (c)
``dubber_true``     the dubber with the true alignment (snapped) in place of MAS                (d)
==================  =================================================================================

:func:`breakdown_mels` makes the mels of one clip (tested on tiny models); :func:`intelligibility_breakdown`
vocodes them with Griffin-Lim, judges them and returns the per-clip errors and a summary by condition.
matplotlib is imported inside :func:`plot_breakdown` (a heavy third-party backend).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from emodubber.data.dataset import DubbingDataset, collate
from emodubber.metrics.audio_io import load_audio, sha256_file
from emodubber.metrics.per import PhoneRecognizer, phone_errors, reference_phones
from emodubber.metrics.wer import PocketsphinxASR, corpus_rate, word_errors
from emodubber.models.dubber import EmoDubber
from emodubber.models.vocoder import GriffinLimVocoder
from emodubber.modules.alignment import snap_to_video
from emodubber.modules.checks import MEL_PER_FRAME
from emodubber.utils import atomic_path, atomic_write_json, progress

__all__ = ["CONDITIONS", "breakdown_mels", "intelligibility_breakdown", "summarise_breakdown", "breakdown_reading",
           "plot_breakdown"]

#: condition → (what it is, the question it answers)
CONDITIONS: dict[str, tuple[str, str]] = {
    "dubber": ("EmoDubber (its μ, its decoder)", "the system"),
    "tts": ("lip-blind TTS (its μ, its decoder)", "the system"),
    "dubber_mu_gl": ("Griffin-Lim on the dubber's μ", "(a) does μ itself carry the phones?"),
    "tts_mu_gl": ("Griffin-Lim on the TTS's μ", "(a) does μ itself carry the phones?"),
    "dubber_mu_tts_dec": ("dubber's μ → TTS's decoder", "(b) is it the μ or the decoder?"),
    "tts_mu_dubber_dec": ("TTS's μ → dubber's decoder", "(b) is it the μ or the decoder?"),
    "tts_dubber_dp": ("TTS with the dubber's D_p", "(c) do the video-rate durations cost words?"),
    "tts_true_snap": ("TTS with true durations on the 40-ms grid", "(c) does the 40-ms grid cost words?"),
    "dubber_true": ("dubber with the true alignment", "(d) does MAS on the LPA attention cost words?"),
}


def _snapped_true(batch: Any) -> torch.Tensor:
    """The true mel-frame durations snapped to whole video frames (sum F). shape: -> [B, P] video frames"""
    return snap_to_video(batch.durations, batch.phoneme_lengths, batch.lip_lengths, MEL_PER_FRAME)


@torch.no_grad()
def breakdown_mels(dubber: EmoDubber, tts: EmoDubber, batch: Any, n_steps: int = 10, temperature: float = 0.3,
                   seed: int = 1234) -> dict[str, torch.Tensor]:
    """Every condition's mel for a batch of one clip (same noise seed everywhere).

    ``tts``: a TTS-mode model (the lip-blind baseline or the stage-1 TTS).
    shape: batch of B = 1 with lip [1, F, ...] -> {condition: mel [80, 4F]} (plus ``"_durations"`` of the dubber,
    ``"_true_video"``: the snapped true durations, both [P] video frames)
    """
    if batch.phonemes.shape[0] != 1:
        raise ValueError(f"breakdown_mels takes one clip at a time, got a batch of {batch.phonemes.shape[0]}")
    dubber.eval()
    tts.eval()
    ph, pl, spk = batch.phonemes, batch.phoneme_lengths, batch.spk_emb
    F = int(batch.lip_lengths[0])
    n_mel = torch.tensor([MEL_PER_FRAME * F])

    def decode(model: EmoDubber, mu: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        gen = torch.Generator().manual_seed(int(seed))
        return model.decoder(mu, mask, spk, n_steps, temperature, gen)[0]

    def tts_mu(durations: torch.Tensor | None) -> dict[str, Any]:
        return tts(ph, pl, spk, mode="tts", durations=durations, mel_frames=None if durations is not None else n_mel)

    true_v = _snapped_true(batch)
    d = dubber(ph, pl, spk, lip=batch.lip, lip_lengths=batch.lip_lengths, mode="dubber")
    d_true = dubber(ph, pl, spk, lip=batch.lip, lip_lengths=batch.lip_lengths, mode="dubber", video_durations=true_v)
    t = tts_mu(None)
    t_dp = tts_mu(d["durations"] * MEL_PER_FRAME)
    t_snap = tts_mu(true_v * MEL_PER_FRAME)
    if t["mu"].shape != d["mu"].shape:
        raise ValueError(f"the TTS made μ {tuple(t['mu'].shape)} for the dubber's {tuple(d['mu'].shape)}")
    return {
        "dubber": decode(dubber, d["mu"], d["mel_mask"]),
        "tts": decode(tts, t["mu"], t["mel_mask"]),
        "dubber_mu_gl": d["mu"][0],
        "tts_mu_gl": t["mu"][0],
        "dubber_mu_tts_dec": decode(tts, d["mu"], d["mel_mask"]),
        "tts_mu_dubber_dec": decode(dubber, t["mu"], t["mel_mask"]),
        "tts_dubber_dp": decode(tts, t_dp["mu"], t_dp["mel_mask"]),
        "tts_true_snap": decode(tts, t_snap["mu"], t_snap["mel_mask"]),
        "dubber_true": decode(dubber, d_true["mu"], d_true["mel_mask"]),
        "_durations": d["durations"][0],
        "_true_video": true_v[0],
    }


def intelligibility_breakdown(cfg: Any, dubber: EmoDubber, tts: EmoDubber, n_clips: int = 50, split: str = "test",
                              conditions: Sequence[str] = tuple(CONDITIONS), show_progress: bool = True,
                              cache: str | Path | None = None, checkpoints: Sequence[str | Path] = ()
                              ) -> pd.DataFrame:
    """Per clip and condition: word and phone errors of the Griffin-Lim audio (GRID grammar; all-phone PER).

    Clips: ``n_clips`` spread evenly over the ``split`` of the dubbing corpus (every speaker represented).
    Returns one row per (clip, condition) with ``word_errors``, ``ref_words``, ``phone_errors``, ``ref_phones``,
    ``wer``, ``per`` and ``dur_exact`` (share of phonemes whose D_p equals the snapped truth, dubber rows).
    ``cache``: a CSV reused when its key (clips, conditions, sampler settings, seed and the SHA-256 of the
    ``checkpoints`` the models came from) matches, written atomically otherwise.
    """
    unknown = sorted(set(conditions) - set(CONDITIONS))
    if unknown:
        raise ValueError(f"unknown conditions {unknown}; known: {list(CONDITIONS)}")
    key = None
    if cache is not None:
        cache = Path(cache)
        key = {"n_clips": n_clips, "split": split, "conditions": list(conditions), "seed": cfg.seed,
               "n_steps": cfg.eval.n_steps, "temperature": cfg.eval.temperature,
               "checkpoints": [sha256_file(p) for p in checkpoints]}
        key_file = cache.with_suffix(".key.json")
        if cache.exists() and key_file.exists() and json.loads(key_file.read_text()) == key:
            return pd.read_csv(cache)
    df = _breakdown(cfg, dubber, tts, n_clips, split, conditions, show_progress)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            df.to_csv(tmp, index=False)
        atomic_write_json(cache.with_suffix(".key.json"), key)
    return df


def _breakdown(cfg: Any, dubber: EmoDubber, tts: EmoDubber, n_clips: int, split: str, conditions: Sequence[str],
               show_progress: bool) -> pd.DataFrame:
    ds = DubbingDataset(cfg, split, "dubbing")
    idx = sorted({int(i) for i in np.linspace(0, len(ds) - 1, min(n_clips, len(ds))).round()})
    asr, phones = PocketsphinxASR("grammar"), PhoneRecognizer()
    gl = GriffinLimVocoder(cfg.audio)
    rows = []
    for i in progress(idx, desc="where the phones are lost", disable=not show_progress):
        rec, batch = ds.records[i], collate([ds[i]])
        mels = breakdown_mels(dubber, tts, batch, cfg.eval.n_steps, cfg.eval.temperature, cfg.seed)
        P = int(batch.phoneme_lengths[0])
        exact = float((mels["_durations"][:P] == mels["_true_video"][:P]).float().mean())
        ref_ph = reference_phones(rec.phonemes)
        for c in conditions:
            with torch.no_grad():
                wav = load_audio(gl(mels[c]).numpy(), 16000, warn=False)
            we = word_errors(rec.text, asr.transcribe(wav))
            pe, n_ph = phone_errors(ref_ph, phones.phones(wav))
            rows.append({"clip_id": rec.clip_id, "speaker": rec.speaker, "condition": c,
                         "word_errors": we.errors, "ref_words": we.ref_words, "wer": we.wer,
                         "phone_errors": pe, "ref_phones": n_ph, "per": pe / max(n_ph, 1),
                         "dur_exact": exact if c.startswith("dubber") else np.nan})
    return pd.DataFrame(rows)


def summarise_breakdown(per_clip: pd.DataFrame) -> pd.DataFrame:
    """Corpus WER and PER in % (Σ errors / Σ reference units) per condition, in :data:`CONDITIONS` order, with
    what each condition is and the question it answers."""
    out = []
    for c, g in per_clip.groupby("condition", sort=False):
        what, question = CONDITIONS[c]
        out.append({"condition": c, "what": what, "question": question, "clips": len(g),
                    "WER": 100 * corpus_rate(g["word_errors"], g["ref_words"]),
                    "PER": 100 * corpus_rate(g["phone_errors"], g["ref_phones"])})
    df = pd.DataFrame(out)
    order = {c: k for k, c in enumerate(CONDITIONS)}
    return df.sort_values("condition", key=lambda s: s.map(order)).set_index("condition")


def breakdown_reading(summary: pd.DataFrame, metric: str = "WER") -> str:
    """A few sentences computed from :func:`summarise_breakdown` (one block per dubber when ``summary`` has a
    ``dubber`` index level): the gap to the TTS and what each swap says about where it comes from."""
    blocks = {k: g.droplevel(0) for k, g in summary.groupby(level=0, sort=False)} \
        if summary.index.nlevels > 1 else {"dubber": summary}
    out = []
    for name, s in blocks.items():
        v = s[metric].to_dict()
        if not {"dubber", "tts"} <= set(v):
            continue
        gap = v["dubber"] - v["tts"]
        lines = [f"**{name}**: {metric} {v['dubber']:.1f} % against the TTS's {v['tts']:.1f} % "
                 f"(gap {gap:+.1f} points)."]
        if {"dubber_mu_gl", "tts_mu_gl"} <= set(v):
            lines.append(f"(a) μ alone: {v['dubber_mu_gl']:.1f} vs {v['tts_mu_gl']:.1f} % "
                         f"({v['dubber_mu_gl'] - v['tts_mu_gl']:+.1f}).")
        if "dubber_mu_tts_dec" in v:
            lines.append(f"(b) the dubber's μ through the TTS's decoder: {v['dubber_mu_tts_dec']:.1f} % "
                         f"({v['dubber_mu_tts_dec'] - v['dubber']:+.1f} against the dubber): the "
                         f"{'decoder' if v['dubber_mu_tts_dec'] < v['dubber'] - 1 else 'μ'} carries the loss.")
        if {"tts_dubber_dp", "tts_true_snap"} <= set(v):
            lines.append(f"(c) the TTS on the dubber's D_p: {v['tts_dubber_dp']:.1f} %, on true durations on the "
                         f"40-ms grid: {v['tts_true_snap']:.1f} %.")
        if "dubber_true" in v:
            lines.append(f"(d) the dubber with the true alignment: {v['dubber_true']:.1f} % "
                         f"({v['dubber_true'] - v['dubber']:+.1f} against MAS on its own attention).")
        out.append(" ".join(lines))
    return "\n\n".join(out) or "no dubber/TTS pair in the summary"


def plot_breakdown(summary: pd.DataFrame, metrics: Sequence[str] = ("WER", "PER")):
    """Horizontal bars per condition (one colour per dubber), one panel per metric."""
    import matplotlib.pyplot as plt

    s = summary if summary.index.nlevels > 1 else pd.concat({"dubber": summary}, names=["dubber"])
    conds = [c for c in CONDITIONS if c in set(s.index.get_level_values(1))]
    names = list(dict.fromkeys(s.index.get_level_values(0)))
    fig, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 0.45 * len(conds) + 1.5),
                             constrained_layout=True, squeeze=False)
    h = 0.8 / max(len(names), 1)
    for ax, m in zip(axes[0], metrics):
        for k, n in enumerate(names):
            vals = [s[m].get((n, c), np.nan) for c in conds]
            ax.barh(np.arange(len(conds)) + k * h, vals, height=h, label=n)
        ax.set_yticks(np.arange(len(conds)) + h * (len(names) - 1) / 2, [CONDITIONS[c][0] for c in conds],
                      fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"{m} (%)")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Where the phones are lost — ours, synthetic corpus")
    return fig
