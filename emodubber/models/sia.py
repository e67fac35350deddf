"""SIA: speaker identity adapting (docs/paper.md §3.4).

1. :class:`Upsampler` (×4, video rate → mel rate): two weight-normed ConvTranspose2d(1, 1, (3, 4),
   stride (1, 2), padding (1, 1)) on the [B, 1, d, F] "image", each followed by leaky ReLU(0.4): F → 2F → 4F = T.
2. USL (utterance-level style learning): sinusoidal positions + ``usl_layers`` FFT blocks
   (``usl_heads``-head self-attention, conv FFN kernels [usl_kernel, 1]) whose norms are SALN(·, S_id).
3. Projection Linear(d → 80) and a SALN PostNet (5 conv, tanh, BN, one shared SALN after the first 4):
   μ = PostNet(m) + m, the acoustic prior μ [B, 80, T].

:func:`prior_loss`: Matcha's Gaussian NLL Σ 0.5((y − μ)² + log 2π)·mask / (Σmask · 80); it includes
the constant 0.919, so it never reaches 0.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from emodubber.config import ModelConfig
from emodubber.modules.saln import StyleAdaptiveLayerNorm
from emodubber.modules.transformer import SALNTransformerLayer, sinusoidal_positions

__all__ = ["Upsampler", "UtteranceStyleLearner", "PostNet", "SpeakerIdentityAdapter", "prior_loss"]


class Upsampler(nn.Module):
    """×4 temporal up-sampling. shape: h [B, F, d] -> [B, 4F, d]"""

    def __init__(self, n_layers: int = 2):
        super().__init__()
        self.convs = nn.ModuleList()
        for _ in range(n_layers):
            conv = nn.ConvTranspose2d(1, 1, (3, 4), stride=(1, 2), padding=(1, 1))
            nn.init.kaiming_normal_(conv.weight)
            self.convs.append(weight_norm(conv))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = h.transpose(1, 2).unsqueeze(1)  # [B, 1, d, F]
        for conv in self.convs:
            x = nn.functional.leaky_relu(conv(x), 0.4)
        return x.squeeze(1).transpose(1, 2)


class UtteranceStyleLearner(nn.Module):
    """USL(h, S_id). shape: h [B, T, d], mask [B, T], spk [B, S] -> [B, T, d]"""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.d_model
        self.layers = nn.ModuleList(
            SALNTransformerLayer(d, cfg.usl_heads, cfg.usl_ffn, cfg.spk_dim, (cfg.usl_kernel, 1), cfg.dropout)
            for _ in range(cfg.usl_layers)
        )

    def forward(self, h, mask, spk):
        h = (h + sinusoidal_positions(h.shape[1], h.shape[2], h.device)[None]) * mask[..., None].to(h.dtype)
        for layer in self.layers:
            h = layer(h, mask, spk)
        return h


class PostNet(nn.Module):
    """SALN PostNet residual. shape: m [B, 80, T], mask [B, 1, T], spk [B, S] -> [B, 80, T]"""

    def __init__(self, n_mels: int, channels: int, n_layers: int, style_dim: int, kernel: int = 5,
                 dropout: float = 0.5):
        super().__init__()
        dims = [n_mels] + [channels] * (n_layers - 1) + [n_mels]
        self.convs = nn.ModuleList(nn.Conv1d(a, b, kernel, padding=kernel // 2) for a, b in zip(dims[:-1], dims[1:]))
        self.bns = nn.ModuleList(nn.BatchNorm1d(b) for b in dims[1:])
        self.saln = StyleAdaptiveLayerNorm(channels, style_dim)  # shared by the first n_layers - 1 convs
        self.drop = nn.Dropout(dropout)

    def forward(self, m, mask, spk):
        x = m
        last = len(self.convs) - 1
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = bn(conv(x * mask))
            if i < last:
                x = torch.tanh(self.saln(x, spk, channel_first=True))
            x = self.drop(x)
        return x * mask


class SpeakerIdentityAdapter(nn.Module):
    """μ = SIA(H, S_id): USL → Linear → PostNet (the up-sampler is applied by the caller in dubbing mode).

    shape: h [B, T, d] (mel rate), mel_mask [B, T] bool, spk [B, S] -> μ [B, 80, T]
    """

    def __init__(self, cfg: ModelConfig, n_mels: int = 80):
        super().__init__()
        self.upsample = Upsampler()
        self.usl = UtteranceStyleLearner(cfg)
        self.proj = nn.Linear(cfg.d_model, n_mels)
        self.postnet = None
        if cfg.postnet_layers > 0:
            self.postnet = PostNet(n_mels, cfg.postnet_channels, cfg.postnet_layers, cfg.spk_dim,
                                   dropout=cfg.dropout_strong)

    def forward(self, h, mel_mask, spk):
        h = self.usl(h, mel_mask, spk)
        m = self.proj(h).transpose(1, 2)
        mask = mel_mask[:, None, :].to(m.dtype)
        if self.postnet is not None:
            m = m + self.postnet(m, mask, spk)
        return m * mask


def prior_loss(y: torch.Tensor, mu: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_prior (Gaussian NLL of y under N(μ, I), per mel bin and valid frame).

    shape: y, mu [B, 80, T], mask [B, 1, T] -> scalar
    """
    nll = 0.5 * ((y - mu) ** 2 + math.log(2 * math.pi)) * mask
    return nll.sum() / (mask.sum() * y.shape[1]).clamp_min(1)
