import json
import logging

import numpy as np
import pytest

from emodubber.config import AudioConfig, load_profile
from emodubber.data import acoustics as ac
from emodubber.data import features as ft
from emodubber.data.manifest import read_manifest, write_manifest
from tests.conftest import needs_tools


def test_log_mel_matches_librosa_reference():
    librosa = pytest.importorskip("librosa")
    a = AudioConfig()
    rng = np.random.default_rng(0)
    wav = (0.1 * rng.standard_normal(16000 + 123)).astype(np.float32)
    mel = ac.log_mel(wav, a)
    assert mel.shape == (80, len(wav) // 160) and mel.dtype == np.float32
    # an independent route: numpy reflect pad + librosa STFT (center=False) + slaney mel
    x = np.pad(wav, (240, 240), mode="reflect")
    S = np.abs(librosa.stft(x, n_fft=640, hop_length=160, win_length=640, window="hann", center=False))
    basis = librosa.filters.mel(sr=16000, n_fft=640, n_mels=80, fmin=0, fmax=8000, norm="slaney")
    ref = np.log(np.maximum(basis @ np.sqrt(S ** 2 + 1e-9), 1e-5))
    assert np.abs(mel - ref).max() < 1e-3


def test_log_mel_of_a_tone_peaks_at_its_frequency():
    librosa = pytest.importorskip("librosa")
    a = AudioConfig()
    t = np.arange(8000) / 16000
    mel = ac.log_mel(0.5 * np.sin(2 * np.pi * 1000 * t), a)
    centres = librosa.mel_frequencies(n_mels=82, fmin=0, fmax=8000)[1:-1]
    assert abs(centres[mel[:, 10:-10].mean(1).argmax()] - 1000) < 80


@pytest.mark.parametrize("seed", range(5))
def test_durations_tile_the_clip_and_m_covers_every_frame(seed):
    rng = np.random.default_rng(seed)
    P = int(rng.integers(5, 30))
    ends = np.cumsum(rng.uniform(0.005, 0.2, P))  # some phones shorter than one frame
    spans = [[float(s), float(e)] for s, e in zip(np.concatenate([[0], ends[:-1]]), ends)]
    F = int(ends[-1] * 25) + int(rng.integers(-2, 3))
    F = max(F, P // 4 + 1)
    T = 4 * F
    d = ft.spans_to_durations(spans, T, 100.0)
    assert d.sum() == T and d.min() >= 1 and len(d) == P
    M = ft.gt_sim_matrix(d, F)
    assert M.shape == (P, F) and M.sum(0).min() >= 1  # every frame has a positive
    assert M.sum(1).min() >= 1  # every phone touches a frame
    # frame f is positive for phone p iff their mel ranges overlap
    ends_f = np.cumsum(d)
    for p in range(P):
        frames = np.flatnonzero(M[p])
        assert frames[0] == (ends_f[p] - d[p]) // 4 and frames[-1] == (ends_f[p] - 1) // 4


def test_durations_follow_the_spans_when_they_fit():
    spans = [[0, 0.1], [0.1, 0.25], [0.25, 0.4]]
    assert ft.spans_to_durations(spans, 40, 100.0).tolist() == [10, 15, 15]
    with pytest.raises(ac.ClipSkipped, match="3 phones"):
        ft.spans_to_durations(spans, 2, 100.0)


def test_phone_pitch_of_a_tone():
    pytest.importorskip("pyworld")
    t = np.arange(16000) / 16000
    wav = 0.3 * np.sin(2 * np.pi * 180 * t) + 0.05 * np.sin(2 * np.pi * 360 * t)
    f0 = ac.frame_f0(wav, 16000, 160, 100)
    voiced = f0 > 0
    assert voiced.mean() > 0.8 and np.median(f0[voiced]) == pytest.approx(180, rel=0.03)
    p = ac.phone_means(f0, np.array([50, 50]), valid=voiced, fallback=f0)
    assert p == pytest.approx([180, 180], rel=0.05)


@pytest.mark.slow
@needs_tools
def test_speaker_embeddings_batched_equal_single_and_separate_voices(tmp_path):
    rz = pytest.importorskip("resemblyzer")
    import soundfile as sf

    from tests.fixtures.tiny_corpus import flite_clip

    wavs = []
    for voice, text in [("slt", "bin blue at f two now"), ("slt", "set red by a one soon"),
                        ("awb", "lay green in c six please")]:
        flite_clip(text, voice, tmp_path / "x.wav")
        wavs.append(sf.read(tmp_path / "x.wav", dtype="float32")[0])
    E = ac.speaker_embeddings(wavs, 16000)
    assert E.shape == (3, 256) and np.allclose(np.linalg.norm(E, axis=1), 1, atol=1e-4)
    enc = ac._voice_encoder()
    single = enc.embed_utterance(rz.preprocess_wav(wavs[2], source_sr=16000))
    assert np.abs(E[2] - single).max() < 1e-4
    assert E[0] @ E[1] > E[0] @ E[2]


@pytest.mark.slow
@needs_tools
def test_extraction_contract_and_cache(tmp_path_factory):
    from tests.fixtures.tiny_corpus import tiny_cfg

    cfg = tiny_cfg(tmp_path_factory)
    index = ft.load_index(cfg, "dubbing")
    recs = {r.clip_id: r for r in read_manifest(cfg.corpus_dir / "dubbing.jsonl")}
    assert set(index["clips"]) == set(recs) and not index["skipped"]
    for cid, key in index["clips"].items():
        with np.load(ft.feature_path(cfg, key)) as z:
            F, S, _ = z["lip"].shape
            T = z["mel"].shape[1]
            assert T == 4 * F and S == cfg.video.roi_size and z["lip"].dtype == np.uint8
            assert z["durations"].sum() == T and len(z["durations"]) == len(recs[cid].phonemes)
            assert z["gt_sim"].shape == (len(recs[cid].phonemes), F) and z["gt_sim"].sum(0).min() >= 1
            assert z["spk_emb"].shape == (256,)
            # the video is at most one frame shorter/longer than the audio: little is cut
            assert abs(T - int(recs[cid].duration_s * 100)) <= 8
    emo = ft.load_index(cfg, "emotion")["clips"]
    with np.load(ft.feature_path(cfg, next(iter(emo.values())))) as z:
        assert "lip" not in z.files and z["gt_sim"].shape[1] == -(-z["mel"].shape[1] // 4)
    # idempotent: a second run extracts nothing and leaves the files alone
    mtimes = {k: ft.feature_path(cfg, k).stat().st_mtime_ns for k in index["clips"].values()}
    reps = ft.extract_features(cfg, show_progress=False)
    assert all(r.n_extracted == 0 and r.n_cached == r.n_clips for r in reps)
    assert mtimes == {k: ft.feature_path(cfg, k).stat().st_mtime_ns for k in index["clips"].values()}
    # any change of a setting the features depend on changes the key
    rec = next(iter(recs.values()))
    other = load_profile("smoke", overrides={"paths.work_dir": str(cfg.work_dir), "video.roi_size": 40}, local=None)
    assert ft.clip_key(rec, cfg.corpus_dir, other) != ft.clip_key(rec, cfg.corpus_dir, cfg)
    stats = ft.load_stats(cfg)
    assert 60 < stats["pitch"]["mean"] < 300 and stats["energy"]["std"] > 0


@pytest.mark.slow
@needs_tools
def test_bad_clips_are_skipped_counted_and_logged(tmp_path, caplog):
    from tests.fixtures.tiny_corpus import build_tiny_corpus

    root = build_tiny_corpus(tmp_path / "corpus", n_clips=3, n_emotion=0)
    recs = read_manifest(root / "dubbing.jsonl")
    (root / recs[0].wav).write_bytes(b"garbage")  # unreadable audio
    recs[1].video = "video/missing.mp4"  # missing file
    for r in recs:
        r.split = "train"
    write_manifest(root / "dubbing.jsonl", recs)
    cfg = load_profile("smoke", overrides={"paths.work_dir": str(tmp_path)}, local=None)
    with caplog.at_level(logging.WARNING):
        (rep,) = ft.extract_features(cfg, n_workers=1, show_progress=False)
    assert rep.n_extracted == 1 and set(rep.skipped) == {recs[0].clip_id, recs[1].clip_id}
    assert "unreadable" in rep.skipped[recs[0].clip_id] and "missing.mp4" in rep.skipped[recs[1].clip_id]
    assert recs[0].clip_id in caplog.text
    saved = json.loads((cfg.features_dir / "dubbing.index.json").read_text())
    assert set(saved["skipped"]) == set(rep.skipped)


def test_no_manifest_is_a_clear_error(smoke_cfg):
    with pytest.raises(FileNotFoundError, match="emodubber prepare"):
        ft.extract_features(smoke_cfg)


@pytest.mark.slow
@needs_tools
@pytest.mark.parametrize("extra_frames", [-10, +10])
def test_extract_window_cuts_the_longer_stream(tmp_path, extra_frames):
    """Paper's extract_window: video longer than audio → video cut to floor(T/4); shorter → mel cut to 4F."""
    import soundfile as sf

    from tests.fixtures.tiny_corpus import build_tiny_corpus, envelope_per_frame, face_frames, write_mp4

    root = build_tiny_corpus(tmp_path / "corpus", n_clips=1, n_emotion=0)
    rec = read_manifest(root / "dubbing.jsonl")[0]
    wav, sr = sf.read(root / rec.wav, dtype="float32")
    env = envelope_per_frame(wav, sr)
    n = len(env) + extra_frames
    write_mp4(face_frames(n, 96, np.resize(env, n)), root / rec.video)
    cfg = load_profile("smoke", overrides={"paths.work_dir": str(tmp_path)}, local=None)
    z = ft.extract_clip(rec, root, cfg)
    T_raw = len(wav) // 160
    F = z["lip"].shape[0]
    assert F == min(n, T_raw // 4) and z["mel"].shape[1] == 4 * F == z["durations"].sum()
