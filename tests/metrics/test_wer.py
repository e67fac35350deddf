import math

import pytest

from emodubber.metrics.wer import normalise_words, wer_summary, word_errors
from tests.conftest import needs_tools


def test_normalisation_lower_case_digits_letters():
    assert normalise_words("Bin BLUE at F 2 now.") == ["bin", "blue", "at", "f", "two", "now"]
    assert normalise_words("set red by bee nine again") == ["set", "red", "by", "b", "nine", "again"]


def test_reference_first_and_the_swapped_quirk():
    e = word_errors("bin blue at f two now", "bin blue at f two now please")  # one insertion
    assert e.errors == 1 and e.wer == pytest.approx(1 / 6) and e.wer_swapped == pytest.approx(1 / 7)
    assert word_errors("bin blue at f two now", "").wer == 1.0  # all deletions
    assert math.isnan(word_errors("bin blue at f two now", "").wer_swapped)


def test_corpus_and_mean_wer_differ_as_defined():
    refs = ["bin blue at f two now", "set red"]
    hyps = ["bin blue at f two now", "set green"]
    s = wer_summary(refs, hyps)
    assert s["wer_corpus"] == pytest.approx(1 / 8)
    assert s["wer_mean"] == pytest.approx((0 + 0.5) / 2)


@needs_tools
def test_grammar_asr_on_flite_speech(flite_clips):
    from emodubber.metrics.wer import PocketsphinxASR
    from tests.metrics.conftest import SENTENCES

    asr = PocketsphinxASR("grammar")
    refs, hyps = [], []
    for (v, i), p in flite_clips.items():
        refs.append(SENTENCES[i])
        hyps.append(asr.transcribe(p))
    assert all(len(h.split()) == 6 for h in hyps)  # grammar: six GRID words or nothing
    assert wer_summary(refs, hyps)["wer_corpus"] <= 0.1
