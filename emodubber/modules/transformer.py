"""Transformer pieces: sinusoidal positions, conv feed-forward, and the post-norm SALN layer.

The same :class:`SALNTransformerLayer` serves the style-aware phoneme encoder (RoPE, docs/paper.md §3.2.1) and
the utterance-level style learner USL of SIA (sinusoidal positions at its input, docs/paper.md §3.4).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from emodubber.modules.attention import MultiHeadAttention
from emodubber.modules.saln import StyleAdaptiveLayerNorm

__all__ = ["sinusoidal_positions", "ConvFFN", "SALNTransformerLayer"]


def sinusoidal_positions(length: int, dim: int, device=None) -> torch.Tensor:
    """Transformer sinusoidal position table. shape: -> [length, dim]"""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div[: dim // 2])
    return pe


class ConvFFN(nn.Module):
    """Position-wise conv feed-forward: Conv1d(k1) → ReLU → Dropout → Conv1d(k2) (FastSpeech / Matcha)."""

    def __init__(self, d_model: int, d_ffn: int, kernels: tuple[int, int] = (3, 3), dropout: float = 0.1):
        super().__init__()
        self.conv1 = nn.Conv1d(d_model, d_ffn, kernels[0], padding=kernels[0] // 2)
        self.conv2 = nn.Conv1d(d_ffn, d_model, kernels[1], padding=kernels[1] // 2)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """
        shape: x [B, L, C], mask [B, L] bool -> [B, L, C]
        """
        m = mask[:, None, :].to(x.dtype)
        h = self.conv1(x.transpose(1, 2) * m).relu()
        h = self.conv2(self.drop(h) * m)
        return (h * m).transpose(1, 2)


class SALNTransformerLayer(nn.Module):
    """Post-norm layer: x ← SALN(x + MHA(x)); x ← SALN(x + FFN(x)); padded positions zeroed.

    With ``rope_fraction > 0`` the attention rotates that fraction of each head (phoneme encoder).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ffn: int,
        style_dim: int,
        kernels: tuple[int, int] = (3, 3),
        dropout: float = 0.1,
        rope_fraction: float = 0.0,
    ):
        super().__init__()
        self.attn = MultiHeadAttention(d_model, n_heads, dropout=dropout, rope_fraction=rope_fraction)
        self.norm1 = StyleAdaptiveLayerNorm(d_model, style_dim)
        self.ffn = ConvFFN(d_model, d_ffn, kernels, dropout)
        self.norm2 = StyleAdaptiveLayerNorm(d_model, style_dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """
        shape: x [B, L, C], mask [B, L] bool, style [B, S] -> [B, L, C]
        """
        m = mask[..., None].to(x.dtype)
        a, _ = self.attn(x, key_mask=mask)
        x = self.norm1(x + self.drop(a), style) * m
        x = self.norm2(x + self.drop(self.ffn(x, mask)), style) * m
        return x
