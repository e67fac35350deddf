import math

import torch

from emodubber.config import AudioConfig
from emodubber.models.vocoder import (
    GriffinLimVocoder,
    HiFiGANGenerator,
    MelSpectrogram,
    MultiPeriodDiscriminator,
    MultiScaleDiscriminator,
    discriminator_loss,
    feature_loss,
    generator_loss,
    mel_loss,
)


def test_griffin_lim_recovers_a_tone():
    a = AudioConfig()
    t = torch.arange(16000) / 16000
    wav = 0.5 * torch.sin(2 * math.pi * 440 * t)
    mel = MelSpectrogram(a)(wav[None])
    assert mel.shape == (1, 80, 100)
    gl = GriffinLimVocoder(a, n_iter=16)
    out = gl(mel[0])
    assert out.shape == (16000,)
    assert torch.equal(out, gl(mel[0]))  # deterministic
    spec = torch.fft.rfft(out[2000:14000]).abs()
    peak_hz = float(spec.argmax()) * 16000 / 12000
    assert abs(peak_hz - 440) < 40


def test_hifigan_shapes_and_losses_backpropagate():
    torch.manual_seed(0)
    g = HiFiGANGenerator(channels=32)
    mel = torch.randn(2, 80, 10)
    wav = g(mel)
    assert wav.shape == (2, 1600)
    real = torch.randn(2, 1600) * 0.1
    mpd, msd = MultiPeriodDiscriminator(width=1 / 16), MultiScaleDiscriminator(width=1 / 16)
    (r1, f1), (r2, f2) = mpd(real), msd(real)
    (s1, h1), (s2, h2) = mpd(wav), msd(wav)
    d_loss = discriminator_loss(r1 + r2, [s.detach() for s in s1 + s2])
    g_loss = generator_loss(s1 + s2) + feature_loss(f1 + f2, h1 + h2) + 45 * mel_loss(MelSpectrogram(), real, wav)
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    g_loss.backward()
    assert g.pre.parametrizations.weight.original1.grad is not None


def test_full_size_discriminators_build():
    mpd, msd = MultiPeriodDiscriminator(), MultiScaleDiscriminator()
    assert sum(p.numel() for p in mpd.parameters()) > 4e7 and sum(p.numel() for p in msd.parameters()) > 2e7
