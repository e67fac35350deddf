"""The synthetic voices' guarantees, measured with the suite's own judges (a check of the corpus, not of a model).

For a list of voices (``emodubber.data.synth.voices``) :func:`check_voices` synthesises a few GRID sentences per
voice through the builder's path (:func:`emodubber.data.synth.emotions.speak`) and reports per voice:

- intelligibility: grammar WER of the pocketsphinx judge (:mod:`.wer`) on the neutral clips and on one clip of
  every other emotion;
- the emotion recipes: how many of them synthesised without :class:`SynthError` (and gave non-silent audio);
- speaker embeddings (resemblyzer, :mod:`.secs`; SECS = cosine × 100 averaged over clip pairs that say
  different sentences): each voice's own consistency (SECS between its clips) and its nearest other voice.

:func:`speaker_spread` then places each held-out voice among the training voices: the SECS to its nearest
training voice against the typical (median) nearest-neighbour SECS among training voices. A held-out voice whose
nearest-training SECS is at least that typical value lies *within* the training voices' spread; its own
consistency minus its nearest-training SECS is the margin by which a zero-shot output (docs/paper.md §C.2,
Setting 3) can be told apart from the nearest training voice.

Command line (the run recorded in docs/voices.md)::

    python -m emodubber.metrics.voice_check --set wide --sentences 3 --out docs/voices.md
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import random
import time
from typing import Callable, Sequence

import numpy as np

from emodubber.config import EMOTIONS
from emodubber.data.synth.emotions import speak
from emodubber.data.synth.voices import (DEFAULT_HELDOUT, DEFAULT_VOICES, WIDE_HELDOUT, WIDE_VOICES, SynthError,
                                         Voice, espeak_say, get_voice)
from emodubber.metrics.secs import SpeakerJudge
from emodubber.metrics.wer import PocketsphinxASR, word_errors
from emodubber.text.grid import random_sentence

__all__ = ["check_voices", "speaker_spread", "espeak_wer", "voices_markdown", "main", "VOICE_SETS",
           "ESPEAK_VARIANTS"]

#: Named voice sets: (voices, held-out voices).
VOICE_SETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "default": (DEFAULT_VOICES, DEFAULT_HELDOUT), "wide": (WIDE_VOICES, WIDE_HELDOUT)}
#: espeak-ng English variants measured against the flite voices (no alignment: intelligibility only).
ESPEAK_VARIANTS: tuple[str, ...] = ("en-us", "en-us+m3", "en-us+f2", "en-us+f4", "en-us+klatt", "en-gb")
#: Sentences and seed of :func:`espeak_wer`.
ESPEAK_SENTENCES, ESPEAK_SEED = 8, 7


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _secs(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SECS (cosine × 100) over clip pairs (a_i, b_j) with i ≠ j: clip i of every voice says sentence i,
    so a voice's own SECS and its SECS to another voice both compare different sentences."""
    c = 100 * _unit(a) @ _unit(b).T
    off = ~np.eye(*c.shape, dtype=bool)
    return float(c[off].mean())


def speaker_spread(embeddings: dict[str, np.ndarray], heldout: Sequence[str]) -> dict:
    """Held-out voices against the training voices' spread, on clip-level SECS (:func:`_secs`).

    embeddings: voice → (n_clips ≥ 2, D) clip embeddings, row i the same sentence for every voice; heldout: names
    among its keys (the rest train, at least two). Returns ``self`` (voice → SECS between its own clips),
    ``train_nn`` (training voice → (nearest other training voice, SECS)), ``typical_nn`` (median of those SECS),
    ``min_nn``, ``typical_gap`` (median over training voices of self − nearest SECS: the training grid's spacing
    in units of each voice's own consistency) and ``heldout`` (voice → nearest training voice, secs_nearest,
    within = secs_nearest ≥ typical_nn, margin = self − secs_nearest, within_relative = margin ≤ typical_gap).
    """
    missing = [h for h in heldout if h not in embeddings]
    if missing:
        raise ValueError(f"held-out voice(s) {missing} have no embeddings")
    short = [v for v, e in embeddings.items() if len(e) < 2]
    if short:
        raise ValueError(f"voice(s) {short} have fewer than 2 clip embeddings")
    train = [v for v in embeddings if v not in heldout]
    if len(train) < 2:
        raise ValueError(f"need at least 2 training voices for a spread, got {train}")
    emb = {v: np.asarray(e, np.float64).reshape(len(e), -1) for v, e in embeddings.items()}
    own = {v: _secs(e, e) for v, e in emb.items()}

    def nearest(v: str) -> tuple[str, float]:
        return max(((u, _secs(emb[v], emb[u])) for u in train if u != v), key=lambda us: us[1])

    train_nn = {v: nearest(v) for v in train}
    sims = np.array([s for _, s in train_nn.values()])
    typical = float(np.median(sims))
    gap = float(np.median([own[v] - s for v, (_, s) in train_nn.items()]))
    held = {}
    for h in heldout:
        near, s = nearest(h)
        held[h] = {"nearest": near, "secs_nearest": s, "within": s >= typical, "margin": own[h] - s,
                   "within_relative": own[h] - s <= gap}
    return {"train_nn": train_nn, "typical_nn": typical, "min_nn": float(sims.min()), "typical_gap": gap,
            "self": own, "heldout": held}


def check_voices(voices: Sequence[str | Voice], heldout: Sequence[str], n_sentences: int = 3,
                 emotions: Sequence[str] = EMOTIONS, seed: int = 0, asr=None, judge=None,
                 progress: Callable[[str], None] | None = None) -> dict:
    """Synthesise, judge and embed every voice: ``rows`` (per-voice dicts), ``spread`` (:func:`speaker_spread`),
    ``embeddings`` (voice → (n_sentences, 256) neutral clip embeddings), ``sentences``, ``emotions``, ``seed``.

    The same ``n_sentences`` GRID sentences for every voice (``random.Random(seed)``); emotion ``k`` of
    ``emotions`` (neutral excluded) says sentence ``k mod n_sentences`` at intensity 1. ``voices`` are names or
    :class:`Voice` specs (candidates not yet in the registry); ``asr``/``judge`` default to the suite's grammar
    pocketsphinx and resemblyzer judges.
    """
    if n_sentences < 2:
        raise ValueError(f"n_sentences must be at least 2 (a voice's own SECS needs two clips), got {n_sentences}")
    specs = [v if isinstance(v, Voice) else get_voice(v) for v in voices]  # unknown names fail before synthesis
    bad = [v for v in heldout if v not in [s.name for s in specs]]
    if bad:
        raise ValueError(f"held-out voice(s) {bad} not among the voices")
    unknown = [e for e in emotions if e not in EMOTIONS]
    if unknown:
        raise ValueError(f"unknown emotion(s) {unknown}; known: {', '.join(EMOTIONS)}")
    asr = asr or PocketsphinxASR("grammar")
    judge = judge or SpeakerJudge()
    rng = random.Random(seed)
    sentences = [random_sentence(rng) for _ in range(n_sentences)]
    others = [e for e in emotions if e != "neutral"]
    rows, embeddings = [], {}
    for vi, v in enumerate(specs):
        name = v.name
        err = {"neutral": [0, 0], "emotional": [0, 0]}
        embs, failed = [], []
        jobs = [("neutral", s) for s in sentences] + [(e, sentences[k % n_sentences]) for k, e in enumerate(others)]
        for k, (emo, text) in enumerate(jobs):
            try:
                wav = speak(v, text, emo, 1.0, rng=np.random.default_rng(seed * 1000 + k))[0]
            except SynthError as e:
                failed.append(f"{emo}: {e}")
                continue
            if not np.isfinite(wav).all() or float(np.abs(wav).max()) < 1e-3:
                failed.append(f"{emo}: silent or non-finite audio")
                continue
            we = word_errors(text, asr.transcribe(wav))
            key = "neutral" if emo == "neutral" else "emotional"
            err[key][0] += we.errors
            err[key][1] += we.ref_words
            if emo == "neutral":
                e, reason = judge.embed(wav)
                if e is None:
                    failed.append(f"embedding: {reason}")
                else:
                    embs.append(e)
        if len(embs) == n_sentences:  # row i = sentence i for every voice (speaker_spread pairs i ≠ j)
            embeddings[name] = np.stack(embs)
        else:
            failed.append(f"embedding: {len(embs)}/{n_sentences} neutral clips, left out of the spread")
        n_emo_ok = len(others) + 1 - len({f.split(":")[0] for f in failed if not f.startswith("embedding")})
        rows.append({"voice": name, "base": v.base, "f0_mean": v.f0_mean, "vtl": v.vtl, "rate": v.rate,
                     "role": "held out" if name in heldout else "train",
                     "wer_neutral": err["neutral"][0] / err["neutral"][1] if err["neutral"][1] else math.nan,
                     "wer_emotional": err["emotional"][0] / err["emotional"][1] if err["emotional"][1] else math.nan,
                     "words": err["neutral"][1] + err["emotional"][1],
                     "emotions_ok": n_emo_ok, "emotions_total": len(others) + 1, "failures": failed})
        if progress:
            progress(f"{vi + 1}/{len(specs)} {name}: WER {rows[-1]['wer_neutral']:.3f} / "
                     f"{rows[-1]['wer_emotional']:.3f}, emotions {n_emo_ok}/{len(others) + 1}")
    spread = speaker_spread(embeddings, [h for h in heldout if h in embeddings])
    return {"rows": rows, "spread": spread, "sentences": sentences, "emotions": list(emotions), "seed": seed,
            "embeddings": embeddings}


def espeak_wer(variants: Sequence[str] = ESPEAK_VARIANTS, n_sentences: int = ESPEAK_SENTENCES,
               seed: int = ESPEAK_SEED, asr=None) -> dict[str, float]:
    """Grammar WER of espeak-ng voice variants on ``n_sentences`` GRID sentences (variant → WER, NaN on failure)."""
    asr = asr or PocketsphinxASR("grammar")
    out = {}
    for var in variants:
        rng = random.Random(seed)
        errors = words = 0
        try:
            for _ in range(n_sentences):
                text = random_sentence(rng)
                wav = espeak_say(var, " ".join("ay" if w == "a" else w for w in text.split()))
                we = word_errors(text, asr.transcribe(wav))
                errors, words = errors + we.errors, words + we.ref_words
            out[var] = errors / words
        except SynthError:
            out[var] = math.nan
    return out


def _pct(x: float) -> str:
    return "–" if x != x else f"{100 * x:.1f}"


def voices_markdown(result: dict, command: str, espeak: dict[str, float] | None = None, seconds: float = 0.0) -> str:
    """docs/voices.md: per-voice table, held-out placement, espeak-ng's WER; labelled as a corpus measurement."""
    rows, sp = result["rows"], result["spread"]
    train = [r for r in rows if r["role"] == "train"]

    def total(rs, key):
        w = [r[key] for r in rs if r[key] == r[key]]
        return sum(w) / len(w) if w else math.nan

    lines = [
        "# The synthetic corpus's voices, measured",
        "",
        "A measurement of the **synthetic voices** (the corpus the models learn from), not a model result: "
        "every clip is synthesised by the corpus builder's own path (`emotions.speak`) and scored by the suite's "
        "judges (pocketsphinx GRID-grammar WER, resemblyzer SECS = cosine × 100).",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, 1 thread; {seconds / 60:.1f} min",
        f"- command: `{command}`",
        f"- sentences (seed {result['seed']}): " + "; ".join(f"\"{s}\"" for s in result["sentences"]),
        f"- per voice: {len(result['sentences'])} neutral clips (WER, embeddings) + one clip of each other emotion "
        f"({', '.join(e for e in result['emotions'] if e != 'neutral')}) at intensity 1 (WER, recipe runs)",
        "",
        f"Mean per-voice grammar WER: neutral {_pct(total(rows, 'wer_neutral'))} %, emotional "
        f"{_pct(total(rows, 'wer_emotional'))} % ({len(rows)} voices); emotion recipes that ran: "
        f"{sum(r['emotions_ok'] for r in rows)}/{sum(r['emotions_total'] for r in rows)}.",
        "",
        "| voice | flite | F0 (Hz) | vtl | rate | role | WER neutral % | WER emotional % | emotions ok | "
        "own SECS | nearest training voice (SECS) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        v = r["voice"]
        near = sp["train_nn"].get(v)
        if v in sp["heldout"]:
            near = sp["heldout"][v]["nearest"], sp["heldout"][v]["secs_nearest"]
        lines.append(f"| {v} | {r['base']} | {r['f0_mean']:.0f} | {r['vtl']:.2f} | {r['rate']:.2f} | {r['role']} | "
                     f"{_pct(r['wer_neutral'])} | {_pct(r['wer_emotional'])} | {r['emotions_ok']}/{r['emotions_total']}"
                     f" | {sp['self'].get(v, math.nan):.1f} | "
                     + (f"{near[0]} ({near[1]:.1f})" if near else "–") + " |")
    lines += [
        "",
        f"Training voices ({len(train)}): nearest-neighbour SECS median {sp['typical_nn']:.2f}, minimum "
        f"{sp['min_nn']:.1f}; own SECS − nearest-neighbour SECS median {sp['typical_gap']:.1f} (the gap). "
        "SECS here is the mean over clip pairs saying different sentences (the same for a voice's own SECS). A held-out voice lies "
        "within the training voices' spread when its nearest-training SECS is at least their median nearest-neighbour "
        "SECS; *within, relative* when its margin (own SECS − nearest-training SECS) is at most the training voices' "
        "gap — the same test in units of the voice's own consistency, which differs by flite voice. Margin > 0: its "
        "clips resemble each other more than the nearest training voice, so a zero-shot output (Setting 3) can be "
        "told from that voice.",
        "",
        "| held-out voice | nearest training voice | SECS to it | within spread | own SECS | margin | "
        "within, relative |",
        "|---|---|---|---|---|---|---|",
    ]
    for h, d in sp["heldout"].items():
        lines.append(f"| {h} | {d['nearest']} | {d['secs_nearest']:.2f} | {'yes' if d['within'] else 'no'} | "
                     f"{sp['self'][h]:.1f} | {d['margin']:+.1f} | {'yes' if d['within_relative'] else 'no'} |")
    hd = sp["heldout"].values()
    if hd:
        lines += ["", f"Held-out voices within the spread: {sum(d['within'] for d in hd)}/{len(hd)}; within, relative: "
                  f"{sum(d['within_relative'] for d in hd)}/{len(hd)}; margins {min(d['margin'] for d in hd):+.1f} to "
                  f"{max(d['margin'] for d in hd):+.1f} SECS."]
    fails = [f"{r['voice']}: {f}" for r in rows for f in r["failures"]]
    if fails:
        lines += ["", "Failures:", ""] + [f"- {f}" for f in fails]
    if espeak:
        lines += ["", "espeak-ng English variants (`espeak_say`, 150 wpm, no WORLD pass; "
                  f"{ESPEAK_SENTENCES} GRID sentences, seed {ESPEAK_SEED}): "
                  "grammar WER " + ", ".join(f"{k} {_pct(x)} %" for k, x in espeak.items())
                  + ". espeak-ng also gives no phone alignment without MBROLA (not installed), so the wide set is "
                  "flite-derived."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m emodubber.metrics.voice_check", description=__doc__.split("\n")[0])
    ap.add_argument("--set", choices=sorted(VOICE_SETS), default="wide")
    ap.add_argument("--sentences", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-espeak", action="store_true", help="skip the espeak-ng comparison")
    ap.add_argument("--emotions", nargs="+", default=list(EMOTIONS), help="neutral plus the recipes to run")
    ap.add_argument("--out", help="write the markdown here (default: print it)")
    ap.add_argument("--embeddings", help="save the neutral clip embeddings here (.npz, one array per voice)")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    voices, heldout = VOICE_SETS[a.set]
    t0 = time.time()
    res = check_voices(voices, heldout, a.sentences, a.emotions, seed=a.seed, progress=lambda m: print(m, flush=True))
    if a.embeddings:
        np.savez(a.embeddings, **res["embeddings"])
    esp = None if a.no_espeak else espeak_wer()
    cmd = "OMP_NUM_THREADS=1 python -m emodubber.metrics.voice_check " + " ".join(argv if argv is not None else
                                                                                  __import__("sys").argv[1:])
    md = voices_markdown(res, cmd, esp, time.time() - t0)
    if a.out:
        with open(a.out, "w") as f:
            f.write(md)
    else:
        print(md)
    return res


if __name__ == "__main__":
    main()
