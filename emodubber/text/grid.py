"""The GRID sentence grammar (Cooke et al., 2006): command colour preposition letter digit adverb.

51 words; every sentence has exactly six. Used by the synthetic corpus (sentences), the ASR judge
(a JSGF grammar) and text normalisation (digits and letters as GRID words).
"""

from __future__ import annotations

import random

__all__ = ["SLOTS", "GRID_WORDS", "LETTER_NAMES", "DIGIT_NAMES", "random_sentence", "all_words", "normalise",
           "jsgf", "grid_clip_name"]

#: The six slots in order; letters exclude "w" (as in GRID).
SLOTS: dict[str, tuple[str, ...]] = {
    "command": ("bin", "lay", "place", "set"),
    "colour": ("blue", "green", "red", "white"),
    "preposition": ("at", "by", "in", "with"),
    "letter": tuple("abcdefghijklmnopqrstuvxyz"),
    "digit": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "adverb": ("again", "now", "please", "soon"),
}
DIGIT_NAMES = {str(i): w for i, w in enumerate(SLOTS["digit"])}
#: How GRID letters are written as words (what a recogniser outputs and what G2P reads).
LETTER_NAMES = {
    "a": "a", "b": "bee", "c": "see", "d": "dee", "e": "e", "f": "eff", "g": "gee", "h": "aitch", "i": "i",
    "j": "jay", "k": "kay", "l": "el", "m": "em", "n": "en", "o": "o", "p": "pee", "q": "cue", "r": "ar",
    "s": "ess", "t": "tee", "u": "you", "v": "vee", "x": "ex", "y": "why", "z": "zee",
}
GRID_WORDS: tuple[str, ...] = tuple(w for ws in SLOTS.values() for w in ws)


def all_words() -> list[str]:
    return list(GRID_WORDS)


def random_sentence(rng: random.Random) -> str:
    """One GRID sentence, e.g. ``"bin blue at f two now"``."""
    return " ".join(rng.choice(SLOTS[s]) for s in SLOTS)


def grid_clip_name(sentence: str) -> str:
    """GRID's 6-character clip code (``"bin blue at f two now"`` → ``"bbaf2n"``)."""
    words = sentence.split()
    digit = {w: k for k, w in DIGIT_NAMES.items()}
    return "".join(digit.get(w, w[0]) for w in words)


def normalise(text: str) -> str:
    """Lower case, punctuation stripped, digits as words (``"Bin BLUE at F 2 now."`` → ``"bin blue at f two now"``)."""
    out = []
    for tok in "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split():
        if tok.isdigit():
            out.extend(DIGIT_NAMES[d] for d in tok)
        else:
            out.append(tok)
    return " ".join(out)


def jsgf(letter_as_word: bool = False) -> str:
    """A JSGF grammar accepting exactly the GRID sentences (for pocketsphinx).

    ``letter_as_word=True`` writes letters as their spelled names (``bee``) when the dictionary needs it.
    """
    def alt(words):
        return " | ".join(words)

    letters = [LETTER_NAMES[c] for c in SLOTS["letter"]] if letter_as_word else list(SLOTS["letter"])
    return (
        "#JSGF V1.0;\ngrammar grid;\n"
        f"<cmd> = {alt(SLOTS['command'])};\n<col> = {alt(SLOTS['colour'])};\n"
        f"<prep> = {alt(SLOTS['preposition'])};\n<let> = {alt(letters)};\n"
        f"<dig> = {alt(SLOTS['digit'])};\n<adv> = {alt(SLOTS['adverb'])};\n"
        "public <utt> = <cmd> <col> <prep> <let> <dig> <adv>;\n"
    )
