"""The symbol table shared by every corpus and model: id 0 = pad, then ``sil``, ``sp`` and 39 ARPAbet phones.

Phones are upper-case ARPAbet **without stress** (CMUdict's 39-phone set); ``sil`` marks leading and
trailing silence and ``sp`` a short pause between words. Id 0 is padding and never a phone. The model's
CTC head reserves its own blank **after** this table (blank = :data:`n_symbols`), so the blank never
collides with a phone or with padding (docs/paper.md §F.4).
"""

from __future__ import annotations

from typing import Iterable, Sequence

__all__ = ["PAD", "PAD_ID", "SIL", "SP", "PHONES", "SYMBOLS", "SILENCES", "n_symbols", "SymbolError",
           "phonemes_to_ids", "ids_to_phonemes", "strip_stress", "is_silence"]

PAD = "<pad>"
SIL = "sil"
SP = "sp"
#: The 39 CMUdict phones (ARPAbet without stress), alphabetical.
PHONES: tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
    "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z",
    "ZH",
)
SILENCES: frozenset[str] = frozenset({SIL, SP})
#: Every symbol in id order: ``SYMBOLS[0]`` is padding.
SYMBOLS: tuple[str, ...] = (PAD, SIL, SP) + PHONES
PAD_ID = 0
#: Number of symbols including pad (42). A CTC head uses blank id ``n_symbols`` (an extra class).
n_symbols = len(SYMBOLS)

_TO_ID = {s: i for i, s in enumerate(SYMBOLS)}


class SymbolError(ValueError):
    """A phoneme that is not in the symbol table; the message names it."""


def strip_stress(phone: str) -> str:
    """``"UW1"`` → ``"UW"`` (CMUdict stress digits removed)."""
    return phone.rstrip("012")


def is_silence(phone: str) -> bool:
    return phone in SILENCES


def phonemes_to_ids(phonemes: Iterable[str]) -> list[int]:
    """Symbol ids of ARPAbet phones (stress digits tolerated) and ``sil`` / ``sp``; pad is refused."""
    out = []
    for k, p in enumerate(phonemes):
        q = p if p in SILENCES else strip_stress(p).upper()
        i = _TO_ID.get(q)
        if i is None or i == PAD_ID:
            raise SymbolError(f"unknown phoneme {p!r} at position {k} (known: sil, sp and the 39 ARPAbet phones)")
        out.append(i)
    return out


def ids_to_phonemes(ids: Sequence[int], drop_pad: bool = True) -> list[str]:
    """Inverse of :func:`phonemes_to_ids` (pad ids dropped unless ``drop_pad=False``)."""
    out = []
    for i in ids:
        i = int(i)
        if not 0 <= i < n_symbols:
            raise SymbolError(f"symbol id {i} is outside the table (0..{n_symbols - 1})")
        if i == PAD_ID and drop_pad:
            continue
        out.append(SYMBOLS[i])
    return out
