"""Pieces of the 1-D U-Net flow-matching estimator (Matcha-TTS decoder layout, docs/paper.md §3.5.1).

Deviation: the transformer blocks' feed-forward uses GELU instead of Matcha's snake-beta activation.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from emodubber.modules.attention import MultiHeadAttention

__all__ = [
    "SinusoidalPosEmb",
    "TimestepEmbedding",
    "Block1D",
    "ResnetBlock1D",
    "Downsample1D",
    "Upsample1D",
    "TransformerBlock1D",
    "masked",
]


class SinusoidalPosEmb(nn.Module):
    """Embedding of the flow time t ∈ [0, 1] (scaled by 1000). shape: t [B] -> [B, dim]"""

    def __init__(self, dim: int, scale: float = 1000.0):
        super().__init__()
        if dim % 2:
            raise ValueError(f"time embedding dim must be even, got {dim}")
        self.dim, self.scale = dim, scale

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freq = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32) * -(math.log(10000.0) / (half - 1)))
        arg = self.scale * t.float()[:, None] * freq[None]
        return torch.cat((arg.sin(), arg.cos()), dim=-1)


class TimestepEmbedding(nn.Module):
    """Linear → SiLU → Linear on the sinusoidal time embedding. shape: [B, in] -> [B, out]"""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim))

    def forward(self, x):
        return self.net(x)


def masked(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``x * mask``; ``mask=None`` means no padding anywhere (the multiplication by ones is skipped: same bits)."""
    return x if mask is None else x * mask


class Block1D(nn.Module):
    """Conv1d(k=3) → GroupNorm(8) → Mish, masked. shape: x [B, Cin, T], mask [B, 1, T] or None -> [B, Cout, T]"""

    def __init__(self, c_in: int, c_out: int, groups: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(c_in, c_out, 3, padding=1), nn.GroupNorm(groups, c_out), nn.Mish())

    def forward(self, x, mask):
        return masked(self.net(masked(x, mask)), mask)


class ResnetBlock1D(nn.Module):
    """Block1D → + time MLP → Block1D, plus a 1×1 residual. shape: x [B, Cin, T], t_emb [B, Dt] -> [B, Cout, T]"""

    def __init__(self, c_in: int, c_out: int, time_dim: int, groups: int = 8):
        super().__init__()
        self.block1 = Block1D(c_in, c_out, groups)
        self.time = nn.Sequential(nn.Mish(), nn.Linear(time_dim, c_out))
        self.block2 = Block1D(c_out, c_out, groups)
        self.res = nn.Conv1d(c_in, c_out, 1)

    def forward(self, x, mask, t_emb):
        h = self.block1(x, mask) + self.time(t_emb)[:, :, None]
        h = self.block2(h, mask)
        return h + self.res(masked(x, mask))


class Downsample1D(nn.Module):
    """Conv1d stride 2. shape: [B, C, T] -> [B, C, T/2]"""

    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv1d(c, c, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample1D(nn.Module):
    """ConvTranspose1d(4, 2, 1). shape: [B, C, T] -> [B, C, 2T]"""

    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.ConvTranspose1d(c, c, 4, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class TransformerBlock1D(nn.Module):
    """Pre-norm self-attention + GELU feed-forward over time on channel-first tensors.

    shape: x [B, C, T], mask [B, 1, T] or None (no padding) -> [B, C, T]
    """

    def __init__(self, c: int, n_heads: int, head_dim: int, dropout: float = 0.05, ff_mult: int = 4):
        super().__init__()
        self.norm1 = nn.LayerNorm(c)
        self.attn = MultiHeadAttention(c, n_heads, head_dim=head_dim, dropout=dropout)
        self.norm2 = nn.LayerNorm(c)
        self.ff = nn.Sequential(nn.Linear(c, c * ff_mult), nn.GELU(), nn.Dropout(dropout), nn.Linear(c * ff_mult, c))

    def forward(self, x, mask):
        key_mask = None if mask is None else mask[:, 0].bool()
        h = x.transpose(1, 2)
        a, _ = self.attn(self.norm1(h), key_mask=key_mask)
        h = h + a
        h = h + self.ff(self.norm2(h))
        return masked(h.transpose(1, 2), mask)
