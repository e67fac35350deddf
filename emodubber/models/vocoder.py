"""Vocoders: Griffin-Lim (default, no training) and a 16 kHz HiFi-GAN to train (docs/paper.md §B.3, A.10).

:class:`MelSpectrogram` is the official front end in torch (center=False with a reflect pad of
(n_fft − hop)/2, magnitude √(re² + im² + 1e-9), Slaney mel 0–8 kHz, log(clamp(·, 1e-5)), then the
dataset normalisation (x − mel_mean) / mel_std); HiFi-GAN's mel loss uses it.

:class:`GriffinLimVocoder` inverts it: de-normalise, exp, pseudo-inverse of the mel filterbank (one
matrix product; much faster than torchaudio's least-squares ``InverseMelScale`` and librosa's NNLS),
then torchaudio's ``GriffinLim`` (power 1, 32 iterations, momentum 0.99, zero initial phase so the
same mel always gives the same waveform).

HiFi-GAN (V1 layout): :class:`HiFiGANGenerator` (up-sampling 8·5·2·2 = 160 = hop, kernels 16·10·4·4,
resblock "1" kernels 3·7·11, dilations 1·3·5), :class:`MultiPeriodDiscriminator` (periods 2·3·5·7·11),
:class:`MultiScaleDiscriminator` (3 scales) and the least-squares GAN / feature-matching losses.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from pathlib import Path

from emodubber.config import AudioConfig, ProfileConfig
from emodubber.models.checkpointing import read_model_file
from emodubber.modules.checks import ShapeError

__all__ = [
    "HiFiGAN",
    "load_vocoder",
    "mel_filterbank",
    "MelSpectrogram",
    "GriffinLimVocoder",
    "HiFiGANGenerator",
    "MultiPeriodDiscriminator",
    "MultiScaleDiscriminator",
    "discriminator_loss",
    "generator_loss",
    "feature_loss",
    "mel_loss",
]


def mel_filterbank(audio: AudioConfig) -> torch.Tensor:
    """Slaney mel filterbank (librosa's default). shape: -> [n_fft // 2 + 1, n_mels]"""
    import torchaudio

    return torchaudio.functional.melscale_fbanks(
        audio.n_fft // 2 + 1, audio.f_min, audio.f_max, audio.n_mels, audio.sample_rate,
        norm="slaney", mel_scale="slaney",
    )


class MelSpectrogram(nn.Module):
    """Normalised log-mel of a waveform. shape: wav [B, N] -> mel [B, 80, N // hop]"""

    def __init__(self, audio: AudioConfig | None = None):
        super().__init__()
        self.audio = audio or AudioConfig()
        self.register_buffer("fb", mel_filterbank(self.audio), persistent=False)
        self.register_buffer("window", torch.hann_window(self.audio.win_length), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        a = self.audio
        pad = (a.n_fft - a.hop_length) // 2
        x = nn.functional.pad(wav.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        spec = torch.stft(x, a.n_fft, a.hop_length, a.win_length, self.window, center=False, return_complex=True)
        mag = torch.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
        mel = torch.log(torch.clamp(self.fb.T @ mag, min=1e-5))
        return (mel - a.mel_mean) / a.mel_std


class GriffinLimVocoder(nn.Module):
    """wav = GL(pinv(fb) · exp(mel)).

    shape: mel [B, 80, T] or [80, T] (normalised log-mel) -> wav [B, 160·T] or [160·T]
    """

    def __init__(self, audio: AudioConfig | None = None, n_iter: int = 32, momentum: float = 0.99):
        super().__init__()
        import torchaudio

        self.audio = a = audio or AudioConfig()
        self.register_buffer("inv_fb", torch.linalg.pinv(mel_filterbank(a).T), persistent=False)  # [F, 80]
        self.gl = torchaudio.transforms.GriffinLim(
            n_fft=a.n_fft, win_length=a.win_length, hop_length=a.hop_length, power=1.0, n_iter=n_iter,
            momentum=momentum,
            rand_init=False,
        )

    def mel_to_linear(self, mel: torch.Tensor) -> torch.Tensor:
        """Magnitude spectrogram from a normalised log-mel. shape: [B, 80, T] -> [B, n_fft/2+1, T]"""
        amp = torch.exp(mel * self.audio.mel_std + self.audio.mel_mean)
        return (self.inv_fb @ amp).clamp_min(1e-5)

    @torch.no_grad()
    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        squeeze = mel.dim() == 2
        mel = mel.unsqueeze(0) if squeeze else mel
        if mel.dim() != 3 or mel.shape[1] != self.audio.n_mels:
            n = self.audio.n_mels
            raise ShapeError(f"mel must be shaped [B, {n}, T] or [{n}, T], got {tuple(mel.shape)}")
        wav = self.gl(self.mel_to_linear(mel.float()))
        n = mel.shape[-1] * self.audio.hop_length
        wav = nn.functional.pad(wav, (0, max(0, n - wav.shape[-1])))[..., :n]
        return wav[0] if squeeze else wav


# --------------------------------------------------------------------------------------------------
# HiFi-GAN
# --------------------------------------------------------------------------------------------------

LRELU = 0.1


class _ResBlock(nn.Module):
    def __init__(self, c: int, kernel: int, dilations=(1, 3, 5)):
        super().__init__()
        self.convs1 = nn.ModuleList(
            weight_norm(nn.Conv1d(c, c, kernel, dilation=d, padding=d * (kernel - 1) // 2)) for d in dilations
        )
        self.convs2 = nn.ModuleList(weight_norm(nn.Conv1d(c, c, kernel, padding=(kernel - 1) // 2)) for _ in dilations)
        for conv in [*self.convs1, *self.convs2]:
            nn.init.normal_(conv.parametrizations.weight.original1, 0.0, 0.01)

    def forward(self, x):
        for c1, c2 in zip(self.convs1, self.convs2):
            h = c2(nn.functional.leaky_relu(c1(nn.functional.leaky_relu(x, LRELU)), LRELU))
            x = x + h
        return x


class HiFiGANGenerator(nn.Module):
    """HiFi-GAN V1 generator at 16 kHz. shape: mel [B, 80, T] (normalised log-mel) -> wav [B, 160·T]"""

    def __init__(
        self,
        n_mels: int = 80,
        channels: int = 512,
        upsample_rates=(8, 5, 2, 2),
        upsample_kernels=(16, 10, 4, 4),
        resblock_kernels=(3, 7, 11),
        resblock_dilations=((1, 3, 5), (1, 3, 5), (1, 3, 5)),
    ):
        super().__init__()
        self.hop = 1
        for r in upsample_rates:
            self.hop *= r
        self.pre = weight_norm(nn.Conv1d(n_mels, channels, 7, padding=3))
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        c = channels
        for r, k in zip(upsample_rates, upsample_kernels):
            self.ups.append(weight_norm(nn.ConvTranspose1d(c, c // 2, k, r, padding=(k - r) // 2)))
            c //= 2
            for rk, rd in zip(resblock_kernels, resblock_dilations):
                self.resblocks.append(_ResBlock(c, rk, rd))
        self.n_kernels = len(resblock_kernels)
        self.post = weight_norm(nn.Conv1d(c, 1, 7, padding=3))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.pre(mel)
        for i, up in enumerate(self.ups):
            x = up(nn.functional.leaky_relu(x, LRELU))
            xs = sum(self.resblocks[i * self.n_kernels + j](x) for j in range(self.n_kernels))
            x = xs / self.n_kernels
        wav = torch.tanh(self.post(nn.functional.leaky_relu(x))).squeeze(1)
        return wav[..., : mel.shape[-1] * self.hop]


def _w(c: int, width: float) -> int:
    return c if c == 1 else max(8, int(round(c * width)))


def _conv_stack(convs: nn.ModuleList, post: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A discriminator's body: each conv then leaky ReLU, the last conv without; (flattened score, feature maps)."""
    fmaps = []
    for conv in convs:
        x = nn.functional.leaky_relu(conv(x), LRELU)
        fmaps.append(x)
    x = post(x)
    fmaps.append(x)
    return x.flatten(1), fmaps


class _PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, width: float = 1.0):
        super().__init__()
        self.period = period
        chans = [_w(c, width) for c in (1, 32, 128, 512, 1024)]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(a, b, (5, 1), (3, 1), padding=(2, 0))) for a, b in zip(chans[:-1], chans[1:])
        )
        self.convs.append(weight_norm(nn.Conv2d(chans[-1], chans[-1], (5, 1), 1, padding=(2, 0))))
        self.post = weight_norm(nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x):
        B, T = x.shape
        if T % self.period:
            x = nn.functional.pad(x, (0, self.period - T % self.period), mode="reflect")
        return _conv_stack(self.convs, self.post, x.view(B, 1, -1, self.period))


class MultiPeriodDiscriminator(nn.Module):
    """MPD. shape: wav [B, N] -> (list of scores [B, *], list of feature-map lists)

    ``width`` scales every channel count (1.0 = HiFi-GAN's; 1/8 trains on a CPU).
    """

    def __init__(self, periods=(2, 3, 5, 7, 11), width: float = 1.0):
        super().__init__()
        self.discs = nn.ModuleList(_PeriodDiscriminator(p, width) for p in periods)

    def forward(self, wav):
        outs = [d(wav) for d in self.discs]
        return [o[0] for o in outs], [o[1] for o in outs]


class _ScaleDiscriminator(nn.Module):
    def __init__(self, norm=weight_norm, width: float = 1.0):
        super().__init__()
        spec = [(1, 128, 15, 1, 1, 7), (128, 128, 41, 2, 4, 20), (128, 256, 41, 2, 16, 20), (256, 512, 41, 4, 16, 20),
                (512, 1024, 41, 4, 16, 20), (1024, 1024, 41, 1, 16, 20), (1024, 1024, 5, 1, 1, 2)]
        layers = []
        for a, b, k, s, g, p in spec:
            a, b = _w(a, width), _w(b, width)
            g = min(g, a, b)
            while a % g or b % g:
                g //= 2
            layers.append(norm(nn.Conv1d(a, b, k, s, groups=g, padding=p)))
        self.convs = nn.ModuleList(layers)
        self.post = norm(nn.Conv1d(_w(1024, width), 1, 3, 1, padding=1))

    def forward(self, x):
        return _conv_stack(self.convs, self.post, x.unsqueeze(1))


class MultiScaleDiscriminator(nn.Module):
    """MSD (raw, ×2 and ×4 average-pooled waveform). shape: wav [B, N] -> (scores, feature maps)

    ``width`` scales every channel count (1.0 = HiFi-GAN's).
    """

    def __init__(self, width: float = 1.0):
        super().__init__()
        self.discs = nn.ModuleList([_ScaleDiscriminator(spectral_norm, width), _ScaleDiscriminator(width=width),
                                    _ScaleDiscriminator(width=width)])
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    def forward(self, wav):
        scores, fmaps = [], []
        x = wav
        for i, d in enumerate(self.discs):
            if i > 0:
                x = self.pool(x.unsqueeze(1)).squeeze(1)
            s, f = d(x)
            scores.append(s)
            fmaps.append(f)
        return scores, fmaps


def discriminator_loss(real_scores, fake_scores) -> torch.Tensor:
    """LSGAN discriminator loss Σ_k E[(1 − D(y))²] + E[D(ŷ)²]."""
    return sum(torch.mean((1 - r) ** 2) + torch.mean(f**2) for r, f in zip(real_scores, fake_scores))


def generator_loss(fake_scores) -> torch.Tensor:
    """LSGAN generator loss Σ_k E[(1 − D(ŷ))²]."""
    return sum(torch.mean((1 - f) ** 2) for f in fake_scores)


def feature_loss(real_fmaps, fake_fmaps) -> torch.Tensor:
    """Feature matching 2 · Σ |D_l(y) − D_l(ŷ)|₁ (real maps detached)."""
    return 2 * sum(
        torch.mean(torch.abs(r.detach() - f)) for rs, fs in zip(real_fmaps, fake_fmaps) for r, f in zip(rs, fs)
    )


def mel_loss(mel_fn: MelSpectrogram, wav_real: torch.Tensor, wav_fake: torch.Tensor) -> torch.Tensor:
    """L1 between log-mels of real and generated audio (HiFi-GAN weighs it by 45)."""
    n = min(wav_real.shape[-1], wav_fake.shape[-1])
    return nn.functional.l1_loss(mel_fn(wav_fake[..., :n]), mel_fn(wav_real[..., :n]))


class HiFiGAN(nn.Module):
    """Generator + MPD + MSD + the mel front end, trained with one optimiser (see :func:`emodubber.train.vocoder.train_vocoder`)."""

    def __init__(self, cfg: ProfileConfig, adversarial: bool = True):
        super().__init__()
        self.generator = HiFiGANGenerator(cfg.audio.n_mels, cfg.model.hifigan_channels)
        self.adversarial = adversarial
        if adversarial:
            self.mpd = MultiPeriodDiscriminator()
            self.msd = MultiScaleDiscriminator()
        self.mel = MelSpectrogram(cfg.audio)

    def discriminators(self) -> list[nn.Module]:
        return [self.mpd, self.msd] if self.adversarial else []

    def loss(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """HiFi-GAN losses on waveform segments. shape: wav [B, N] (N a multiple of the hop)"""
        with torch.no_grad():
            mel = self.mel(wav)
        fake = self.generator(mel)[..., : wav.shape[-1]]
        l_mel = mel_loss(self.mel, wav, fake)
        out = {"mel_l1": l_mel.detach()}
        if not self.adversarial:
            out["loss"] = 45.0 * l_mel
            return out
        # generator terms: the discriminators act as fixed functions (no gradient into them)
        discs = self.discriminators()
        for d in discs:
            d.requires_grad_(False)
        try:
            adv = fm = 0.0
            for d in discs:
                _, f_real = d(wav)
                s_fake, f_fake = d(fake)
                adv = adv + generator_loss(s_fake)
                fm = fm + feature_loss(f_real, f_fake)
        finally:
            for d in discs:
                d.requires_grad_(True)
        # discriminator terms: the generated audio is a fixed input (no gradient into the generator)
        l_d = 0.0
        for d in discs:
            s_real, _ = d(wav)
            s_fake, _ = d(fake.detach())
            l_d = l_d + discriminator_loss(s_real, s_fake)
        out.update(gen_adv=adv.detach(), feat=fm.detach(), disc=l_d.detach())
        out["loss"] = adv + fm + 45.0 * l_mel + l_d
        return out


def load_vocoder(path: str | Path, map_location: str = "cpu") -> nn.Module:
    """The HiFi-GAN generator saved by :func:`emodubber.train.vocoder.train_vocoder` (mel [B, 80, T] -> wav [B, 160 T])."""
    payload = read_model_file(path, "HiFiGANGenerator")
    c = payload["config"]
    gen = HiFiGANGenerator(c["n_mels"], c["channels"])
    gen.load_state_dict(payload["state_dict"])
    return gen.to(map_location).eval()
