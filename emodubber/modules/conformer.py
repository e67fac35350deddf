"""Macaron conformer block of the audio-visual conformer (AVEC, docs/paper.md §3.3.2).

½FFN → MHSA → Conv → ½FFN → LayerNorm, each with a residual. Two documented deviations from the
official Efficient-Conformer copy: relative positions come from RoPE (on all head channels) instead of
Transformer-XL relative attention, and the conv module normalises with a LayerNorm over channels instead
of BatchNorm, so padded frames never enter the statistics.
"""

from __future__ import annotations

import torch
from torch import nn

from emodubber.modules.attention import MultiHeadAttention

__all__ = ["ConformerBlock"]


class _FeedForward(nn.Module):
    def __init__(self, d: int, ratio: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(d), nn.Linear(d, d * ratio), nn.SiLU(), nn.Dropout(dropout),
            nn.Linear(d * ratio, d), nn.Dropout(dropout),
        )

    def forward(self, x):
        return self.net(x)


class _ConvModule(nn.Module):
    """LN → pointwise (2d) + GLU → depthwise Conv1d(kernel) → LN → Swish → pointwise → dropout."""

    def __init__(self, d: int, kernel: int, dropout: float):
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"conformer kernel must be odd ('same' padding), got {kernel}")
        self.norm = nn.LayerNorm(d)
        self.pw1 = nn.Conv1d(d, 2 * d, 1)
        self.dw = nn.Conv1d(d, d, kernel, padding=kernel // 2, groups=d)
        self.norm2 = nn.LayerNorm(d)
        self.pw2 = nn.Conv1d(d, d, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask[:, None, :].to(x.dtype)
        h = nn.functional.glu(self.pw1(self.norm(x).transpose(1, 2)), dim=1) * m
        h = self.dw(h)
        h = nn.functional.silu(self.norm2(h.transpose(1, 2))).transpose(1, 2)
        return self.drop(self.pw2(h) * m).transpose(1, 2)


class ConformerBlock(nn.Module):
    """One conformer block (no down-sampling): the AVEC stacks ``conformer_blocks`` of these."""

    def __init__(self, d_model: int, n_heads: int, kernel: int, ff_ratio: int = 4, dropout: float = 0.1):
        super().__init__()
        self.ff1 = _FeedForward(d_model, ff_ratio, dropout)
        self.attn_norm = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads, dropout=0.0, rope_fraction=1.0)
        self.attn_drop = nn.Dropout(dropout)
        self.conv = _ConvModule(d_model, kernel, dropout)
        self.ff2 = _FeedForward(d_model, ff_ratio, dropout)
        self.out_norm = nn.LayerNorm(d_model, eps=1e-6)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """
        shape: x [B, F, d], mask [B, F] bool -> [B, F, d]
        """
        x = x + 0.5 * self.ff1(x)
        a, _ = self.attn(self.attn_norm(x), key_mask=mask)
        x = x + self.attn_drop(a)
        x = x + self.conv(x, mask)
        x = x + 0.5 * self.ff2(x)
        return self.out_norm(x) * mask[..., None].to(x.dtype)
