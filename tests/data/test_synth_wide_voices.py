"""The wide voice set: its size, names, place of the held-out voices, the untouched defaults, config selection."""

from __future__ import annotations

import pytest

from emodubber.config import ConfigError, load_profile
from emodubber.data.synth.builder import corpus_voices, plan_corpus
from emodubber.data.synth.voices import (DEFAULT_HELDOUT, DEFAULT_VOICES, VOICES, WIDE_HELDOUT, WIDE_VOICES, Voice,
                                         get_voice)
from tests.conftest import needs_tools

#: The ten speakers as they were before the wide set (the smoke and cpu corpora are built from these specs).
ORIGINAL = {
    "slt": Voice("slt", "slt", 170.0, 22.0, 1.00),
    "awb": Voice("awb", "awb", 115.0, 15.0, 1.00),
    "rms": Voice("rms", "rms", 105.0, 14.0, 1.00, flite_f0=False),
    "kal": Voice("kal", "kal16", 110.0, 14.0, 1.02),
    "slt-lo": Voice("slt-lo", "slt", 140.0, 18.0, 1.03, vtl=0.92, derived=True),
    "slt-hi": Voice("slt-hi", "slt", 215.0, 28.0, 0.97, vtl=1.06, derived=True),
    "rms-hi": Voice("rms-hi", "rms", 160.0, 21.0, 1.00, vtl=1.12, derived=True, flite_f0=False),
    "awb-lo": Voice("awb-lo", "awb", 92.0, 12.0, 1.03, vtl=0.94, derived=True),
    "kal-hi": Voice("kal-hi", "kal16", 195.0, 25.0, 0.98, vtl=1.12, derived=True),
    "rms-lo": Voice("rms-lo", "rms", 88.0, 11.5, 1.03, vtl=0.94, derived=True, flite_f0=False),
}


def _cfg(tmp_path, **over):
    return load_profile("smoke", overrides={"paths.work_dir": str(tmp_path / "work"), **over}, local=None)


def test_the_original_ten_are_unchanged_and_stay_the_default():
    assert DEFAULT_VOICES == tuple(ORIGINAL)
    assert DEFAULT_HELDOUT == ("rms-hi",)
    for name, spec in ORIGINAL.items():
        assert VOICES[name] == spec
        assert VOICES[name].to_dict() == spec.to_dict()  # what corpus_info.json records


def test_wide_set_size_and_unique_names():
    train = [v for v in WIDE_VOICES if v not in WIDE_HELDOUT]
    assert len(train) >= 30 and len(WIDE_HELDOUT) >= 3
    assert len(set(WIDE_VOICES)) == len(WIDE_VOICES) and len(set(WIDE_HELDOUT)) == len(WIDE_HELDOUT)
    assert set(WIDE_HELDOUT) < set(WIDE_VOICES) <= set(VOICES)
    assert all(VOICES[n].name == n for n in VOICES)
    assert set(ORIGINAL) <= set(WIDE_VOICES)
    for base in ("slt", "awb", "rms", "kal16"):  # every flite voice has training speakers beyond the defaults
        assert sum(get_voice(v).base == base and v not in ORIGINAL for v in train) >= 4


def test_heldout_voices_lie_inside_their_flite_voice_range():
    """Each held-out voice has training voices of its flite voice on both sides in vtl and in F0 level."""
    train = [get_voice(v) for v in WIDE_VOICES if v not in WIDE_HELDOUT]
    for h in map(get_voice, WIDE_HELDOUT):
        same = [v for v in train if v.base == h.base]
        assert min(v.vtl for v in same) < h.vtl < max(v.vtl for v in same), h.name
        assert min(v.f0_mean for v in same) < h.f0_mean < max(v.f0_mean for v in same), h.name


def test_wide_voices_keep_the_prosody_rules():
    """Derived speakers: pitch range ~0.13 × level, F0 by WORLD exactly for rms, rate within ±3 %."""
    for v in (get_voice(n) for n in WIDE_VOICES if n not in ORIGINAL):
        assert v.derived and v.flite_f0 == (v.base != "rms")
        assert 0.125 <= v.f0_std / v.f0_mean <= 0.133, v.name
        assert 0.97 <= v.rate <= 1.03 and 0.85 <= v.vtl <= 1.2, v.name


def test_a_profile_selects_the_wide_set(tmp_path):
    cfg = _cfg(tmp_path, **{"corpus.voices": list(WIDE_VOICES), "corpus.heldout_voices": list(WIDE_HELDOUT),
                            "corpus.n_dubbing_clips": len(WIDE_VOICES), "corpus.n_emotion_clips": 0})
    assert corpus_voices(cfg) == (list(WIDE_VOICES), list(WIDE_HELDOUT))
    assert sorted({j["voice"] for j in plan_corpus(cfg)}) == sorted(WIDE_VOICES)
    with pytest.raises(ConfigError, match=r"corpus.voices: unknown voice\(s\) \['slt-w99'\]"):
        corpus_voices(_cfg(tmp_path, **{"corpus.voices": [*WIDE_VOICES, "slt-w99"]}))
    with pytest.raises(ConfigError, match="corpus.heldout_voices"):
        corpus_voices(_cfg(tmp_path, **{"corpus.voices": list(DEFAULT_VOICES),
                                        "corpus.heldout_voices": list(WIDE_HELDOUT)}))
    assert corpus_voices(_cfg(tmp_path)) == (list(DEFAULT_VOICES), list(DEFAULT_HELDOUT))


def test_the_example_snippet_selects_the_wide_set_in_its_own_work_dir():
    from emodubber.config import repo_root

    cfg = load_profile("cpu", local=repo_root() / "nbconfig" / "wide_voices.example.yaml")
    assert corpus_voices(cfg) == (list(WIDE_VOICES), list(WIDE_HELDOUT))
    assert cfg.work_dir.name == "cpu-wide-voices"
    assert load_profile("cpu", local=None).corpus.voices == []  # the cpu profile itself keeps the default ten


@needs_tools
@pytest.mark.slow
def test_two_wide_voices_build_through_the_corpus_builder(tmp_path):
    """One dubbing clip (wav + mp4) each for two new voices, through plan_corpus → make_clip."""
    import numpy as np
    import soundfile as sf

    from emodubber.data.synth.builder import make_clip
    from emodubber.data.synth.voices import PHONE_SET

    voices = ["slt-w1", "kal-w4"]
    cfg = _cfg(tmp_path, **{"corpus.voices": voices, "corpus.heldout_voices": ["kal-w4"],
                            "corpus.n_dubbing_clips": 2, "corpus.n_emotion_clips": 0,
                            "corpus.dubbing_emotional_fraction": 1.0})
    jobs = plan_corpus(cfg)
    assert [j["voice"] for j in jobs] == voices
    rms = {}
    for job in jobs:
        out = make_clip(job, tmp_path / "corpus")
        assert out["status"] == "built", out.get("error")
        rec = out["record"]
        assert rec["speaker"] == job["voice"] and rec["emotion"] != "neutral"
        assert rec["extra"]["vtl"] == get_voice(job["voice"]).vtl
        assert set(rec["phonemes"]) <= PHONE_SET and rec["phonemes"][0] == "sil"
        wav, sr = sf.read(tmp_path / "corpus" / rec["wav"], dtype="float32")
        assert sr == 16000 and rec["phone_spans"][-1][1] == pytest.approx(len(wav) / sr, abs=1e-4)
        assert (tmp_path / "corpus" / rec["video"]).stat().st_size > 0
        rms[job["voice"]] = float(np.sqrt(np.mean(wav ** 2)))
    assert all(r > 1e-3 for r in rms.values())
