"""Where the phones are lost: every condition of the breakdown on tiny models."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from emodubber.models.dubber import EmoDubber
from emodubber.reports.intelligibility import CONDITIONS, breakdown_mels, summarise_breakdown
from tests.models.conftest import make_batch, tiny_model_cfg


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return EmoDubber(tiny_model_cfg(dropout_strong=0.0)), EmoDubber(tiny_model_cfg(lip_blind=True, dropout_strong=0.0))


def _one(b):
    F = int(b.lip_lengths[0])
    P = int(b.phoneme_lengths[0])
    return type(b)(**{**b.__dict__, "clip_ids": b.clip_ids[:1], **{
        k: getattr(b, k)[:1] for k in ("phonemes", "phoneme_lengths", "mel", "mel_lengths", "spk_emb", "speaker_ids",
                                       "emotion_ids", "intensity", "durations", "pitch", "energy", "lip",
                                       "lip_lengths", "gt_sim")}}), F, P


def test_every_condition_is_a_mel_of_the_videos_length(models):
    dubber, tts = models
    b, F, P = _one(make_batch(B=1, F=10))
    mels = breakdown_mels(dubber, tts, b, n_steps=2)
    assert set(CONDITIONS) <= set(mels)
    for c in CONDITIONS:
        assert mels[c].shape == (80, 4 * F), c
    assert int(mels["_true_video"].sum()) == F


def test_the_swaps_change_only_what_they_name(models):
    dubber, tts = models
    b, _, _ = _one(make_batch(B=1, F=10, seed=3))
    m = breakdown_mels(dubber, tts, b, n_steps=2, seed=7)
    again = breakdown_mels(dubber, tts, b, n_steps=2, seed=7)
    assert all(torch.equal(m[c], again[c]) for c in CONDITIONS)  # same seed, same mels
    # the dubber's μ is the one Griffin-Lim reads and the TTS's decoder decodes
    out = dubber(b.phonemes, b.phoneme_lengths, b.spk_emb, lip=b.lip, lip_lengths=b.lip_lengths)
    assert torch.equal(m["dubber_mu_gl"], out["mu"][0])
    # with the true alignment the dubber's durations are the snapped truth
    out_true = dubber(b.phonemes, b.phoneme_lengths, b.spk_emb, lip=b.lip, lip_lengths=b.lip_lengths,
                      video_durations=m["_true_video"][None])
    assert torch.equal(out_true["durations"][0], m["_true_video"])
    assert not torch.equal(m["dubber"], m["dubber_mu_tts_dec"])  # another decoder, another mel


def test_a_batch_of_two_is_refused(models):
    with pytest.raises(ValueError, match="one clip"):
        breakdown_mels(*models, make_batch(B=2, F=8), n_steps=1)


def test_summary_is_corpus_rates_in_condition_order():
    per_clip = pd.DataFrame([
        {"condition": "tts", "word_errors": 1, "ref_words": 6, "phone_errors": 3, "ref_phones": 20},
        {"condition": "dubber", "word_errors": 2, "ref_words": 6, "phone_errors": 5, "ref_phones": 20},
        {"condition": "dubber", "word_errors": 0, "ref_words": 6, "phone_errors": 1, "ref_phones": 10},
    ])
    s = summarise_breakdown(per_clip)
    assert list(s.index) == ["dubber", "tts"]
    assert s.loc["dubber", "WER"] == pytest.approx(100 * 2 / 12) and s.loc["dubber", "PER"] == pytest.approx(100 * 6 / 30)
    assert s.loc["dubber", "clips"] == 2


def test_reading_names_the_gap_and_each_swap():
    from emodubber.reports.intelligibility import breakdown_reading

    per_clip = pd.DataFrame([{"condition": c, "word_errors": e, "ref_words": 100, "phone_errors": e, "ref_phones": 100}
                             for c, e in (("dubber", 15), ("tts", 7), ("dubber_mu_gl", 40), ("tts_mu_gl", 30),
                                          ("dubber_mu_tts_dec", 9), ("dubber_true", 12))])
    text = breakdown_reading(pd.concat({"EmoDubber": summarise_breakdown(per_clip)}, names=["dubber"]))
    assert "gap +8.0 points" in text and "the decoder carries the loss" in text and "(d)" in text
