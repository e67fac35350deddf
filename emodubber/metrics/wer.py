"""WER judge: pocketsphinx (en-us model shipped in its wheel) + jiwer.

Two decoders: ``"grammar"`` (a GRID JSGF grammar, six slots — what the tables report; it saturates near
0 on intelligible synthetic speech) and ``"lm"`` (the open en-us trigram LM; unusable on synthetic speech,
measured: WER 0.56 on flite, kept as a second column). Text on both sides is normalised by
:func:`normalise_words`: lower case, punctuation stripped, digits as words, spelled letter names as the
GRID letter (``"bee"`` → ``"b"``).

Three aggregate figures, all named (see :func:`wer_summary`):

- ``wer_corpus``   — total word errors / total reference words (jiwer with the reference first);
- ``wer_mean``     — mean of per-clip WER (what the sister repo averages);
- ``wer_swapped_mean`` — the sister repo's quirk (docs/paper.md §F.14): ``jiwer.wer(predicted, reference)`` per clip,
  i.e. errors normalised by the *hypothesis* length; reported only for comparability with published numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from emodubber.metrics.audio_io import AudioInput, load_audio
from emodubber.text.grid import LETTER_NAMES, jsgf, normalise
from emodubber.tools import require_module

__all__ = ["PocketsphinxASR", "normalise_words", "word_errors", "wer_summary", "clip_wer", "corpus_rate", "WordErrors"]

#: spelled letter → GRID letter (``"bee"`` → ``"b"``); single letters map to themselves
_LETTER_OF = {name: letter for letter, name in LETTER_NAMES.items()}


def normalise_words(text: str) -> list[str]:
    """GRID-normalised words: lower case, no punctuation, digits as words, letter names as letters."""
    return [_LETTER_OF.get(w, w) for w in normalise(text).split()]


def _model_dir() -> str:
    ps = require_module("pocketsphinx", "WER/PER")
    return ps.get_model_path()



def decode_utterance(decoder, wav: np.ndarray) -> None:
    """Run a pocketsphinx ``Decoder`` over one whole utterance of float audio in [-1, 1] (16-bit PCM)."""
    pcm = (np.clip(wav, -1.0, 1.0) * 32767).astype(np.int16)
    decoder.start_utt()
    decoder.process_raw(pcm.tobytes(), full_utt=True)
    decoder.end_utt()

class PocketsphinxASR:
    """One pocketsphinx decoder (``mode="grammar"`` or ``"lm"``) reused for every clip.

    ``transcribe(audio)`` returns the normalised hypothesis (``""`` when no grammar path completed).
    """

    def __init__(self, mode: str = "grammar", sample_rate: int = 16000):
        if mode not in ("grammar", "lm"):
            raise ValueError(f"mode must be 'grammar' or 'lm', not {mode!r}")
        ps = require_module("pocketsphinx", "WER")
        self.mode = mode
        self.sample_rate = sample_rate
        self.version = getattr(ps, "__version__", "unknown")
        if mode == "grammar":
            self.decoder = ps.Decoder(samprate=sample_rate, loglevel="FATAL")
            self.decoder.add_jsgf_string("grid", jsgf())
            self.decoder.activate_search("grid")
        else:
            self.decoder = ps.Decoder(samprate=sample_rate, loglevel="FATAL")  # default: en-us.lm.bin

    @property
    def settings(self) -> dict:
        return {"judge": f"pocketsphinx {self.version}", "mode": self.mode,
                "model": "en-us (wheel)", "grammar": "GRID JSGF (emodubber.text.grid.jsgf)"
                if self.mode == "grammar" else "en-us.lm.bin (open LM)"}

    def transcribe(self, audio: AudioInput | np.ndarray) -> str:
        if not isinstance(audio, AudioInput):
            audio = load_audio(audio, self.sample_rate)
        decode_utterance(self.decoder, audio.wav)
        hyp = self.decoder.hyp()
        return " ".join(normalise_words(hyp.hypstr)) if hyp is not None else ""


@dataclass
class WordErrors:
    """Edit operations of one hypothesis against its reference (words)."""

    errors: int  # substitutions + deletions + insertions
    ref_words: int
    hyp_words: int

    @property
    def wer(self) -> float:
        return self.errors / self.ref_words if self.ref_words else math.nan

    @property
    def wer_swapped(self) -> float:
        """The sister repo's ``jiwer.wer(predicted, reference)``: errors / hypothesis length (NaN if empty)."""
        return self.errors / self.hyp_words if self.hyp_words else math.nan


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    """Word-level edit distance with jiwer, the reference first (both normalised first)."""
    jiwer = require_module("jiwer", "WER")
    ref = " ".join(normalise_words(reference))
    hyp = " ".join(normalise_words(hypothesis))
    n_ref, n_hyp = len(ref.split()), len(hyp.split())
    if n_ref == 0:
        return WordErrors(n_hyp, 0, n_hyp)
    if n_hyp == 0:
        return WordErrors(n_ref, n_ref, 0)  # all deletions
    out = jiwer.process_words(ref, hyp)
    return WordErrors(out.substitutions + out.deletions + out.insertions, n_ref, n_hyp)


def clip_wer(reference: str, hypothesis: str) -> dict[str, float]:
    e = word_errors(reference, hypothesis)
    return {"errors": e.errors, "ref_words": e.ref_words, "hyp_words": e.hyp_words, "wer": e.wer,
            "wer_swapped": e.wer_swapped}


def wer_summary(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """Corpus WER, mean per-clip WER and the swapped-argument quirk, as fractions (×100 for %).

    The swapped figure skips clips with an empty hypothesis (jiwer would refuse an empty reference) and
    says how many it skipped.
    """
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    errs = [word_errors(r, h) for r, h in zip(references, hypotheses)]
    n_ref = sum(e.ref_words for e in errs)
    per_clip = [e.wer for e in errs if e.ref_words]
    swapped = [e.wer_swapped for e in errs if e.hyp_words]
    return {
        "wer_corpus": sum(e.errors for e in errs) / n_ref if n_ref else math.nan,
        "wer_mean": float(np.mean(per_clip)) if per_clip else math.nan,
        "wer_swapped_mean": float(np.mean(swapped)) if swapped else math.nan,
        "n_clips": len(errs),
        "n_empty_hypotheses": sum(1 for e in errs if e.hyp_words == 0),
    }


def corpus_rate(errors: Iterable[float], ref_units: Iterable[float]) -> float:
    """Σ errors / Σ reference units over the rows that have both (NaN rows skipped)."""
    e = np.asarray(list(errors), float)
    n = np.asarray(list(ref_units), float)
    ok = np.isfinite(e) & np.isfinite(n)
    return float(e[ok].sum() / n[ok].sum()) if ok.any() and n[ok].sum() > 0 else math.nan
