import numpy as np
import pytest
import soundfile as sf

from emodubber.metrics.audio_io import load_audio, sha256_file


def _tone(sr=16000, s=1.0, amp=0.3):
    t = np.arange(int(sr * s)) / sr
    return (amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_silent_empty_missing_give_reasons(tmp_path):
    sf.write(tmp_path / "silent.wav", np.zeros(16000, np.float32), 16000)
    sf.write(tmp_path / "empty.wav", np.zeros(10, np.float32), 16000)
    assert load_audio(tmp_path / "silent.wav").reason == "silent"
    assert load_audio(tmp_path / "empty.wav").reason.startswith("empty")
    assert load_audio(tmp_path / "nope.wav").reason.startswith("missing")
    (tmp_path / "junk.wav").write_bytes(b"not audio")
    assert load_audio(tmp_path / "junk.wav").reason.startswith("unreadable")
    assert load_audio(_tone()).ok


def test_wrong_rate_is_resampled_with_a_warning(tmp_path):
    sf.write(tmp_path / "x.wav", _tone(22050, 1.0), 22050)
    with pytest.warns(UserWarning, match="resampled 22050->16000"):
        a = load_audio(tmp_path / "x.wav", 16000)
    assert a.ok and a.sr == 16000 and abs(len(a.wav) - 16000) <= 1
    # the 220 Hz tone survives resampling
    spec = np.abs(np.fft.rfft(a.wav))
    assert abs(np.argmax(spec) * 16000 / len(a.wav) - 220) < 3


def test_clipped_and_stereo_are_scored_with_warnings(tmp_path):
    x = np.clip(_tone(amp=3.0), -1, 1)
    sf.write(tmp_path / "st.wav", np.stack([x, x], 1), 16000)
    a = load_audio(tmp_path / "st.wav", warn=False)
    assert a.ok and a.wav.ndim == 1
    assert any("clipped" in i for i in a.issues) and any("channels" in i for i in a.issues)


def test_sha256_matches_hashlib(tmp_path):
    import hashlib

    p = tmp_path / "w.bin"
    p.write_bytes(b"abc" * 1000)
    assert sha256_file(p) == hashlib.sha256(b"abc" * 1000).hexdigest()
