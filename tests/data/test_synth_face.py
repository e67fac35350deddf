"""The rendered face: visemes with coarticulation, Haar-cascade detectability, mouth–audio agreement, mp4."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest

from emodubber.data.synth.face import (EXPRESSIONS, VISEMES, VideoError, appearance_for, mouth_track, render_frames,
                                       write_mp4)
from emodubber.data.synth.voices import PHONE_SET

cv2 = pytest.importorskip("cv2")


def test_every_phone_has_a_viseme():
    assert PHONE_SET <= set(VISEMES)
    assert set(EXPRESSIONS) >= {"neutral", "happy", "sad", "angry", "surprised", "fearful", "disgusted"}


def test_mouth_track_follows_the_phones_with_coarticulation():
    phones = ["sil", "M", "AA", "AA", "P", "UW", "IY", "sil"]
    spans = [[0.0, 0.2], [0.2, 0.28], [0.28, 0.4], [0.4, 0.52], [0.52, 0.6], [0.6, 0.8], [0.8, 1.0], [1.0, 1.2]]
    tr = mouth_track(phones, spans, n_frames=30)
    assert tr.shape == (30, 4)
    opening, width, rounding = tr[:, 0], tr[:, 1], tr[:, 2]
    assert opening[:3].max() < 0.05 and opening[-2:].max() < 0.05  # closed in silence
    assert opening[9:12].max() > 0.7  # AA at 0.28-0.52 s = frames 7-12
    assert rounding[16:19].max() > 0.6 and width[21:24].max() > 0.7  # UW rounds, IY spreads
    # coarticulation: the frame before AA already opens a little, no jump from 0 to full in one frame
    assert 0.02 < opening[6] < opening[9]
    assert np.abs(np.diff(opening)).max() < 0.6


def test_appearance_is_stable_and_speaker_specific():
    assert appearance_for("slt") == appearance_for("slt")
    assert appearance_for("slt") != appearance_for("awb")


def _detect_rate(frames):
    casc = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    hits = sum(len(casc.detectMultiScale(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), 1.1, 3)) > 0 for f in frames)
    return hits / len(frames)


@pytest.mark.parametrize("size", [96, 128])
def test_haar_face_cascade_finds_the_rendered_face(size):
    from emodubber.data.synth.voices import DEFAULT_VOICES

    rng = np.random.default_rng(0)
    track = np.clip(rng.uniform(0, 1, (12, 4)), 0, 1).astype(np.float32)
    frames = [f for k, spk in enumerate(DEFAULT_VOICES) for emo in ("neutral", "surprised", "disgusted")
              for f in render_frames(track, spk, emo, 1.0, size=size, seed=k)[::3]]
    assert _detect_rate(frames) >= 0.95


def test_pixels_change_with_the_mouth_and_not_only_by_noise():
    track = np.zeros((20, 4), np.float32)
    track[:, 1] = 0.5
    track[10:, 0] = 1.0  # open the mouth halfway through
    a = render_frames(track, "kal", size=96, seed=3).astype(np.float32)
    b = render_frames(track, "kal", size=96, seed=4).astype(np.float32)
    assert not np.array_equal(a[0], a[1])  # noise and head motion: no two frames identical
    assert np.abs(a[0] - b[0]).mean() > 1.0  # another clip of the same speaker is not pixel-identical
    lower = slice(60, 85), slice(30, 66)
    dark_closed = (a[:10][:, lower[0], lower[1]].mean(-1) < 60).mean()
    dark_open = (a[10:][:, lower[0], lower[1]].mean(-1) < 60).mean()
    assert dark_open > dark_closed + 0.03


@pytest.mark.skipif(not shutil.which("flite"), reason="flite not installed")
def test_mouth_opening_follows_the_audio_envelope():
    """Per-frame mouth opening (track and rendered dark mouth pixels) correlates with the audio's RMS."""
    from emodubber.data.synth.emotions import speak

    rs = []
    for voice, text in (("slt", "bin blue at f two now"), ("awb", "place red with a seven soon"),
                        ("rms", "set green by q four again"), ("kal-hi", "lay white in z nine please")):
        wav, phones, spans, _ = speak(voice, text, rng=np.random.default_rng(0))
        n = len(wav) // 640
        env_db = 10 * np.log10((wav[: n * 640].reshape(n, 640) ** 2).mean(1) + 1e-10)
        tr = mouth_track(phones, spans, n)
        rs.append(np.corrcoef(tr[:, 0], env_db)[0, 1])
    assert min(rs) > 0.45 and np.mean(rs) > 0.6


def _av_or_pipe(backend, monkeypatch):
    """Run write_mp4 through PyAV or, with ``av`` hidden, through the ffmpeg pipe."""
    if backend == "av":
        pytest.importorskip("av")
    else:
        if not shutil.which("ffmpeg"):
            pytest.skip("ffmpeg not installed")
        monkeypatch.setitem(sys.modules, "av", None)  # import av -> ImportError


@pytest.mark.parametrize("backend", ["av", "ffmpeg"])
def test_write_mp4_round_trip(tmp_path, backend, monkeypatch):
    _av_or_pipe(backend, monkeypatch)
    track = np.full((13, 4), 0.5, np.float32)
    frames = render_frames(track, "slt", size=96, seed=0)
    path = write_mp4(frames, tmp_path / "c.mp4")
    cap = cv2.VideoCapture(str(path))
    n, fps = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), cap.get(cv2.CAP_PROP_FPS)
    ok, fr = cap.read()
    cap.release()
    assert (n, round(fps)) == (13, 25) and ok and fr.shape == (96, 96, 3)
    assert np.abs(fr.astype(np.float32) - frames[0]).mean() < 6  # H.264 at crf 18 keeps the picture
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4"]  # no temporary file left behind
    with pytest.raises(VideoError, match="even"):
        write_mp4(np.zeros((2, 95, 95, 3), np.uint8), tmp_path / "odd.mp4")


def test_both_encoders_give_the_same_picture(tmp_path, monkeypatch):
    pytest.importorskip("av")
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg not installed")
    track = np.linspace(0, 1, 20 * 4, dtype=np.float32).reshape(20, 4)
    frames = render_frames(track, "awb", size=96, seed=3)
    a = write_mp4(frames, tmp_path / "a.mp4")
    monkeypatch.setitem(sys.modules, "av", None)
    b = write_mp4(frames, tmp_path / "b.mp4")

    def read(p):
        cap, out = cv2.VideoCapture(str(p)), []
        while True:
            ok, fr = cap.read()
            if not ok:
                break
            out.append(fr.astype(np.float32))
        cap.release()
        return np.stack(out)

    fa, fb = read(a), read(b)
    assert fa.shape == fb.shape == frames.shape
    assert np.abs(fa - fb).mean() < 2  # same codec, preset and crf: the same picture up to encoder noise
