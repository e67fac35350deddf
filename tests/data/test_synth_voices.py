"""Speakers of the embedded corpus: flite alignment, the phone set, speaker separability, intelligibility."""

from __future__ import annotations

import random

import numpy as np
import pytest

from emodubber.data.synth.voices import (ARPABET, DEFAULT_HELDOUT, DEFAULT_VOICES, PHONE_SET, SynthError, VOICES,
                                         flite_say, get_voice, map_flite_phone)
from tests.conftest import needs_tools


def test_phone_set_is_the_text_symbol_table():
    from emodubber.text import symbols

    assert set(ARPABET) == set(symbols.PHONES)
    assert PHONE_SET == set(symbols.PHONES) | symbols.SILENCES


def test_flite_phone_mapping():
    assert map_flite_phone("pau") == "sil"
    assert map_flite_phone("ax") == "AH"
    assert map_flite_phone("iy") == "IY"
    with pytest.raises(SynthError, match="qq"):
        map_flite_phone("qq")


def test_voice_list():
    assert len(DEFAULT_VOICES) >= 8
    assert set(DEFAULT_HELDOUT) < set(DEFAULT_VOICES)
    with pytest.raises(SynthError, match="unknown voice 'nobody'"):
        get_voice("nobody")


def test_speakers_differ_less_in_range_and_rate_than_the_emotions_do():
    """Pitch range and rate are emotion cues: a speaker's own must not look like another's emotion."""
    from emodubber.data.synth.emotions import RECIPES

    rel_range = [v.f0_std / v.f0_mean for v in VOICES.values() if v.flite_f0]
    rates = [v.rate for v in VOICES.values()]
    assert max(rel_range) / min(rel_range) < 1.1
    assert max(rates) / min(rates) < 1.07
    emotion_rates = sorted(abs(np.log(r.rate)) for e, r in RECIPES.items() if e != "neutral")
    assert np.log(max(rates) / min(rates)) < emotion_rates[1]  # smaller than all but the smallest emotion's change


@needs_tools
@pytest.mark.parametrize("voice", ["slt", "kal"])
def test_flite_alignment_covers_the_wav(voice):
    wav, phones, spans = flite_say(voice, "bin blue at f two now")
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert phones[0] == "sil" and phones[-1] == "sil"
    assert set(phones) <= PHONE_SET
    assert spans[0][0] == 0.0 and spans[-1][1] == pytest.approx(len(wav) / 16000, abs=1e-4)
    for (s0, e0), (s1, _) in zip(spans, spans[1:]):
        assert e0 == pytest.approx(s1) and e0 > s0
    # "bin" starts with B, "now" ends with AW
    speech = [p for p in phones if p not in ("sil", "sp")]
    assert speech[:3] == ["B", "IH", "N"] and speech[-2:] == ["N", "AW"]
    # silences are quiet, vowels are loud: the alignment lines up with the audio
    def rms(s, e):
        seg = wav[int(s * 16000):int(e * 16000)]
        return float(np.sqrt(np.mean(seg ** 2)))
    sil = np.mean([rms(s, e) for p, (s, e) in zip(phones, spans) if p == "sil"])
    vow = np.mean([rms(s, e) for p, (s, e) in zip(phones, spans) if p in ("IH", "UW", "AE", "EH", "AW")])
    assert vow > 10 * sil


@needs_tools
def test_flite_rate_and_pitch_controls_move_the_output():
    v = get_voice("slt")
    w0, _, s0 = flite_say(v, "set red by g three soon")
    w1, _, s1 = flite_say(v, "set red by g three soon", rate=1.4)
    assert len(w1) > 1.25 * len(w0)
    assert s1[-2][1] > 1.25 * s0[-2][1]  # alignment scales with the rate


@needs_tools
@pytest.mark.slow
def test_resemblyzer_tells_the_speakers_apart():
    """Same-speaker cosine above different-speaker cosine; nearest centroid identifies every clip."""
    enc_mod = pytest.importorskip("resemblyzer")
    from emodubber.data.synth.emotions import speak

    enc = enc_mod.VoiceEncoder("cpu", verbose=False)
    rng = random.Random(3)
    from emodubber.text.grid import random_sentence

    emb = {v: np.stack([enc.embed_utterance(enc_mod.preprocess_wav(
        speak(v, random_sentence(rng), rng=np.random.default_rng(i))[0], source_sr=16000)) for i in range(3)])
        for v in DEFAULT_VOICES}
    same, diff = [], []
    for a in DEFAULT_VOICES:
        for b in DEFAULT_VOICES:
            sim = emb[a] @ emb[b].T
            (same if a == b else diff).extend(sim[np.triu_indices(3, 1)] if a == b else sim.ravel())
    assert np.mean(same) > np.mean(diff) + 0.15
    cents = {v: e.mean(0) for v, e in emb.items()}
    hits = sum(max(cents, key=lambda c: cents[c] @ x) == v for v, e in emb.items() for x in e)
    assert hits >= 0.9 * 3 * len(DEFAULT_VOICES)


@needs_tools
@pytest.mark.slow
def test_grid_grammar_asr_understands_every_voice():
    """pocketsphinx with the GRID JSGF grammar on neutral speech: a small sample (2 sentences per voice)."""
    ps = pytest.importorskip("pocketsphinx")
    import os
    import tempfile

    from emodubber.data.synth.emotions import speak
    from emodubber.text.grid import jsgf, random_sentence

    with tempfile.NamedTemporaryFile("w", suffix=".gram", delete=False) as f:
        f.write(jsgf())
    mp = ps.get_model_path()
    dec = ps.Decoder(hmm=os.path.join(mp, "en-us", "en-us"), dict=os.path.join(mp, "en-us", "cmudict-en-us.dict"),
                     jsgf=f.name, samprate=16000, loglevel="FATAL")
    rng = random.Random(5)
    errors = words = 0
    for v in VOICES:
        for i in range(2):
            text = random_sentence(rng)
            wav = speak(v, text, rng=np.random.default_rng(i))[0]
            dec.start_utt()
            dec.process_raw((np.clip(wav, -1, 1) * 32767).astype(np.int16).tobytes(), full_utt=True)
            dec.end_utt()
            hyp = (dec.hyp().hypstr if dec.hyp() else "").split()
            errors += sum(a != b for a, b in zip(text.split(), hyp)) + abs(len(hyp) - 6)
            words += 6
    os.unlink(f.name)
    assert errors / words <= 0.10
