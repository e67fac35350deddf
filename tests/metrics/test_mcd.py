"""MCD: our shared-work wrapper equals pymcd's own three calls; an independent DTW + distance (exact dynamic
programming, our formula) reproduces its numbers; an independent mel-cepstrum (numpy warped cepstrum of the
WORLD envelope) + the same DTW ranks three distortions as pymcd does. (That mel-cepstrum does not reproduce
SPTK's ``mcep(maxiter=0)`` coefficients one for one — its scale differs by about 2-3x — so only the ranking is
compared, not the dB values.)"""

import math

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import needs_tools

K = 10.0 / np.log(10.0) * np.sqrt(2.0)


def exact_dtw_path(a, b):
    """Full dynamic-programming DTW (Euclidean), independent of fastdtw."""
    n, m = len(a), len(b)
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            acc[i, j] = d[i - 1, j - 1] + min(acc[i - 1, j], acc[i, j - 1], acc[i - 1, j - 1])
    i, j, path = n, m, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        k = np.argmin([acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]])
        i, j = (i - 1, j - 1) if k == 0 else (i - 1, j) if k == 1 else (i, j - 1)
    return path[::-1]


def mcd_on_path(x, y, path):
    ix, iy = zip(*path)
    z = x[list(ix)] - y[list(iy)]
    return K * np.sqrt((z * z).sum(-1)).mean()


def warped_cepstrum(sp, order=13, alpha=0.65, n=2048):
    """Independent mel-cepstrum: cosine transform of the log envelope on an all-pass-warped frequency axis."""
    w = np.linspace(0, np.pi, sp.shape[1])
    wt = np.linspace(0, np.pi, n)
    wo = wt + 2 * np.arctan(alpha * np.sin(wt) / (1 - alpha * np.cos(wt)))
    L = np.stack([np.interp(wo, w, row) for row in 0.5 * np.log(sp + 1e-8)])
    c = np.trapezoid(L[:, :, None] * np.cos(np.outer(wt, np.arange(order + 1)))[None], wt, axis=1) / np.pi
    c[:, 1:] *= 2
    return c


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from tests.metrics.conftest import flite_wav

    d = tmp_path_factory.mktemp("mcd")
    a = flite_wav("bin blue at f two now", d / "a.wav", "slt")
    b = flite_wav("bin blue at f two now", d / "b.wav", "slt", stretch=1.15)
    c = flite_wav("bin blue at f two now", d / "c.wav", "rms")
    return a, b, c


@needs_tools
@pytest.mark.slow
def test_mcd_all_equals_pymcd_and_an_independent_dtw(pair):
    from pymcd.mcd import Calculate_MCD

    from emodubber.metrics.mcd import mcd_all

    a, b, _ = pair
    ours = mcd_all(a, b)
    for mode, col in (("plain", "mcd"), ("dtw", "mcd_dtw"), ("dtw_sl", "mcd_dtw_sl")):
        assert ours[col] == pytest.approx(Calculate_MCD(mode).calculate_mcd(str(a), str(b)), rel=1e-9)
    m = Calculate_MCD("dtw")
    x = m.wav2mcep_numpy(m.load_wav(str(a), 22050))
    y = m.wav2mcep_numpy(m.load_wav(str(b), 22050))
    path = exact_dtw_path(x[:, 1:], y[:, 1:])
    exact = mcd_on_path(x, y, path)
    assert exact == pytest.approx(ours["mcd_dtw"], rel=0.1)
    assert ours["mcd_dtw_sl"] == pytest.approx(ours["mcd_dtw"] * max(len(x), len(y)) / min(len(x), len(y)))
    assert ours["mcd"] > ours["mcd_dtw"]  # a 15 % slower copy is misaligned frame by frame


@needs_tools
@pytest.mark.slow
def test_independent_mel_cepstrum_orders_distortions_like_pymcd(pair):
    import librosa
    import pyworld

    from emodubber.metrics.mcd import mcd_all

    a, b, c = pair

    def feats(p):
        x = librosa.load(str(p), sr=22050)[0].astype(np.double)
        f0, t = pyworld.dio(x, 22050, frame_period=5.0)
        f0 = pyworld.stonemask(x, f0, t, 22050)
        return warped_cepstrum(pyworld.cheaptrick(x, f0, t, 22050, fft_size=512))

    x, sr = sf.read(a, dtype="float32")
    rng = np.random.default_rng(0)
    noisy = a.parent / "noisy.wav"
    sf.write(noisy, x + rng.normal(0, 0.3 * x.std(), len(x)).astype(np.float32), sr)
    fa = feats(a)
    independent, ours = [], []
    for other in (noisy, b, c):
        fo = feats(other)
        independent.append(mcd_on_path(fa, fo, exact_dtw_path(fa[:, 1:], fo[:, 1:])))
        ours.append(mcd_all(a, other)["mcd_dtw"])
    assert list(np.argsort(independent)) == list(np.argsort(ours))


def test_identity_is_zero_and_silence_is_nan(tmp_path):
    from emodubber.metrics.mcd import mcd_all

    t = np.arange(16000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    sf.write(tmp_path / "x.wav", x, 16000)
    sf.write(tmp_path / "s.wav", np.zeros(16000, np.float32), 16000)
    d = mcd_all(tmp_path / "x.wav", tmp_path / "x.wav")
    assert d["mcd"] == 0 and d["mcd_dtw"] == 0 and d["error"] == ""
    d = mcd_all(tmp_path / "x.wav", tmp_path / "s.wav")
    assert math.isnan(d["mcd_dtw"]) and "silent" in d["error"]
