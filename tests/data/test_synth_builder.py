"""The corpus builder: manifests, the T = 4F contract, splits, resumability, seeding, failure accounting."""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pytest

from emodubber.config import EMOTIONS, ConfigError, load_profile
from emodubber.data.manifest import read_manifest, read_references
from emodubber.data.synth import builder
from emodubber.data.synth.builder import build_synthetic_corpus, corpus_voices, plan_corpus
from tests.conftest import needs_tools


def _cfg(tmp_path, **over):
    base = {"paths.work_dir": str(tmp_path / "work"), "corpus.n_dubbing_clips": 5, "corpus.n_emotion_clips": 7,
            "corpus.n_workers": 1, "corpus.dubbing_emotional_fraction": 0.4}
    return load_profile("smoke", overrides={**base, **over}, local=None)


def test_plan_is_seeded_and_balanced(tmp_path):
    cfg = _cfg(tmp_path, **{"corpus.n_dubbing_clips": 40, "corpus.n_emotion_clips": 140,
                            "corpus.intensities": [0.5, 1.0]})
    a, b = plan_corpus(cfg), plan_corpus(cfg)
    assert a == b
    other = plan_corpus(_cfg(tmp_path, seed=99, **{"corpus.n_dubbing_clips": 40}))
    assert [j["text"] for j in a[:40]] != [j["text"] for j in other[:40]]
    emo = [j for j in a if j["part"] == "emotion"]
    assert set(Counter(j["emotion"] for j in emo).values()) == {20}  # 7 emotions × 20
    assert Counter((j["emotion"], j["intensity"]) for j in emo)[("happy", 0.5)] == 10
    # ESD-like parallel data: a block of one voice says one sentence in every class
    block = emo[:14]
    assert len({j["voice"] for j in block}) == 1 and len({j["text"] for j in block}) == 1
    assert len({j["clip_id"] for j in a}) == len(a)
    dub = [j for j in a if j["part"] == "dubbing"]
    assert 0 < sum(j["emotion"] != "neutral" for j in dub) < len(dub)


def test_bad_voice_settings_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="corpus.voices"):
        corpus_voices(_cfg(tmp_path, **{"corpus.voices": ["slt", "hal9000"]}))
    with pytest.raises(ConfigError, match="corpus.heldout_voices"):
        corpus_voices(_cfg(tmp_path, **{"corpus.voices": ["slt", "awb"], "corpus.heldout_voices": ["rms"]}))
    with pytest.raises(ConfigError, match="intensities"):
        plan_corpus(_cfg(tmp_path, **{"corpus.intensities": [0.0]}))


@needs_tools
def test_build_writes_a_valid_corpus_and_resumes(tmp_path, caplog):
    import cv2
    import soundfile as sf

    cfg = _cfg(tmp_path, **{"corpus.voices": ["slt", "awb", "kal"], "corpus.heldout_voices": ["kal"]})
    summary = build_synthetic_corpus(cfg, show_progress=False)
    assert (summary["n_dubbing"], summary["n_emotion"], summary["n_failed"]) == (5, 7, 0)
    root = cfg.corpus_dir
    dub, emo = read_manifest(root / "dubbing.jsonl"), read_manifest(root / "emotion.jsonl")
    assert len(dub) == 5 and len(emo) == 7
    assert {r.emotion for r in emo} == set(EMOTIONS)
    for r in dub:
        wav, sr = sf.read(r.path(root, "wav"))
        cap = cv2.VideoCapture(str(r.path(root, "video")))
        n_frames, size = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        cap.release()
        assert sr == 16000 and wav.ndim == 1
        assert len(wav) == 640 * n_frames == 640 * r.extra["n_frames"]  # T = 4F exactly
        assert size == cfg.video.render_size
        assert r.phone_spans[-1][1] == pytest.approx(len(wav) / 16000, abs=1e-4)
    assert all(r.split == "test" for r in dub + emo if r.speaker == "kal")
    assert all(not r.video for r in emo)
    refs = read_references(root / "references.tsv")
    by_id = {r.clip_id: r for r in dub}
    n_spk = Counter(r.speaker for r in dub)
    assert set(refs) == {c for c, r in by_id.items() if n_spk[r.speaker] > 1}  # a lone clip has no reference
    assert all(by_id[k].speaker == by_id[v].speaker and k != v for k, v in refs.items())
    # resume: nothing rebuilt, files untouched
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*.wav")}
    again = build_synthetic_corpus(cfg, show_progress=False)
    assert again["n_reused"] == 12 and again["n_built"] == 0
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.wav")} == mtimes
    assert read_manifest(root / "dubbing.jsonl") == dub
    # a missing clip is rebuilt, identically (seeded)
    victim = dub[0].path(root, "wav")
    before = sf.read(victim)[0]
    victim.unlink()
    third = build_synthetic_corpus(cfg, show_progress=False)
    assert third["n_built"] == 1
    assert np.array_equal(sf.read(victim)[0], before)


@needs_tools
def test_a_failing_clip_is_skipped_logged_and_counted(tmp_path, monkeypatch, caplog):
    from emodubber.data.synth import emotions

    real = emotions.speak

    def flaky(voice, text, emotion="neutral", *a, **k):
        if emotion == "sad":
            raise RuntimeError("simulated synthesiser crash")
        return real(voice, text, emotion, *a, **k)

    monkeypatch.setattr(emotions, "speak", flaky)
    cfg = _cfg(tmp_path, **{"corpus.n_dubbing_clips": 2, "corpus.voices": ["slt", "awb"],
                            "corpus.heldout_voices": ["awb"]})
    with caplog.at_level(logging.WARNING, logger=builder.__name__):
        s = build_synthetic_corpus(cfg, show_progress=False)
    assert s["n_failed"] == 1 and "simulated synthesiser crash" in s["failures"][0][1]
    assert "sad" in s["failures"][0][0] and "simulated" in caplog.text
    assert s["n_emotion"] == 6
    assert all(r.emotion != "sad" for r in read_manifest(cfg.corpus_dir / "emotion.jsonl"))


@needs_tools
@pytest.mark.slow
def test_parallel_build_equals_serial(tmp_path):
    import soundfile as sf

    over = {"corpus.n_dubbing_clips": 4, "corpus.n_emotion_clips": 4, "corpus.voices": ["slt", "rms"],
            "corpus.heldout_voices": ["rms"]}
    a = _cfg(tmp_path / "a", **over)
    b = _cfg(tmp_path / "b", **{**over, "corpus.n_workers": 2})
    build_synthetic_corpus(a, show_progress=False)
    build_synthetic_corpus(b, show_progress=False)
    ra, rb = read_manifest(a.corpus_dir / "dubbing.jsonl"), read_manifest(b.corpus_dir / "dubbing.jsonl")
    assert ra == rb
    for x, y in zip(ra, rb):
        assert np.array_equal(sf.read(x.path(a.corpus_dir))[0], sf.read(y.path(b.corpus_dir))[0])
