"""Display helpers: mel axis, players, frame strip with phones."""

import numpy as np
import pandas as pd
import pytest

from emodubber import viz


def test_mel_bin_frequencies_match_librosa():
    librosa = pytest.importorskip("librosa")
    assert np.allclose(viz.mel_hz(80, 0, 8000), librosa.mel_frequencies(82, fmin=0, fmax=8000)[1:-1])


def test_draw_mel_axes_in_seconds_and_khz():
    fig = viz.show_mel(np.zeros((80, 250)), title="m")
    ax = fig.axes[0]
    assert ax.get_xlim() == pytest.approx((0, 2.5))  # 250 frames at 100 frames/s
    assert "kHz" in ax.get_ylabel() and ax.get_xlabel() == "time (s)"
    assert float(ax.get_yticklabels()[-1].get_text()) == pytest.approx(viz.mel_hz()[-1] / 1000, abs=0.05)
    with pytest.raises(ValueError):
        viz.show_mel(np.zeros(10))


def test_players():
    pytest.importorskip("IPython")
    a = viz.audio(np.zeros(1600, dtype=np.float32) + 0.1, sr=16000)
    assert a.data[:4] == b"RIFF" and int.from_bytes(a.data[24:28], "little") == 16000  # WAV header rate
    with pytest.raises(FileNotFoundError):
        viz.video("/nonexistent.mp4")


def test_frame_strip_shares_time_with_phones():
    frames = np.random.default_rng(0).integers(0, 255, (50, 16, 24), dtype=np.uint8)
    phones = pd.DataFrame({"phone": ["sil", "B", "IH", "N"], "start": [0, 0.5, 0.8, 1.2], "end": [0.5, 0.8, 1.2, 2.0]})
    fig = viz.frame_strip(frames, phones, fps=25, max_frames=10)
    top, bottom = fig.axes
    assert len(top.images) == 10  # every 5th of 50 frames
    assert top.get_xlim() == pytest.approx((0, 2.0))  # 10 shown x 5 frames / 25 fps
    assert [t.get_text() for t in bottom.texts] == ["sil", "B", "IH", "N"]
    assert bottom.get_xlabel() == "time (s)"
    assert viz.phone_segments([("a", 0, 1)]) == [("a", 0.0, 1.0)]
    with pytest.raises(ValueError):
        viz.frame_strip(np.zeros((5, 5)))
