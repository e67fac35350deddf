import pytest

from emodubber.text import symbols
from emodubber.text.g2p import OOVError, text_to_phonemes, word_to_phonemes
from emodubber.text.grid import GRID_WORDS
from emodubber.text.symbols import PAD_ID, SYMBOLS, SymbolError, ids_to_phonemes, n_symbols, phonemes_to_ids


def test_table_layout():
    assert PAD_ID == 0 and SYMBOLS[0] not in symbols.PHONES and SYMBOLS[0] not in ("sil", "sp")
    assert len(symbols.PHONES) == 39 and len(set(SYMBOLS)) == n_symbols == 42
    assert SYMBOLS[1:3] == ("sil", "sp")


def test_roundtrip_and_stress():
    ph = ["sil", "B", "IH1", "N", "sp", "sil"]
    ids = phonemes_to_ids(ph)
    assert PAD_ID not in ids and all(0 < i < n_symbols for i in ids)
    assert ids_to_phonemes(ids) == ["sil", "B", "IH", "N", "sp", "sil"]


@pytest.mark.parametrize("bad", ["XX", "<pad>", "ax"])
def test_unknown_symbol_named(bad):
    with pytest.raises(SymbolError, match=bad.replace("<", "").replace(">", "")):
        phonemes_to_ids(["sil", bad])


def test_g2p_grid_words_all_known():
    for w in GRID_WORDS:
        assert all(p in symbols.PHONES for p in word_to_phonemes(w))
    assert word_to_phonemes("a") == ["EY"]  # the letter, not the article


def test_text_to_phonemes_normalises():
    ph = text_to_phonemes("Bin BLUE at F 2 now.")
    assert ph[0] == ph[-1] == "sil"
    assert ph[1:4] == ["B", "IH", "N"] and ["T", "UW"] == ph[-5:-3]
    sp = text_to_phonemes("bin blue", word_sep=True)
    assert sp == ["sil", "B", "IH", "N", "sp", "B", "L", "UW", "sil"]
    phonemes_to_ids(ph)


def test_oov_named():
    with pytest.raises(OOVError, match="zzqxv"):
        text_to_phonemes("bin zzqxv now")
