"""Multi-head attention with optional rotary position embedding (RoPE) on part of each head."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["RotaryEmbedding", "MultiHeadAttention"]


class RotaryEmbedding(nn.Module):
    """RoPE (Su et al.) on the first ``dim`` channels of each head; the rest pass unchanged.

    The official phoneme encoder rotates half of each head's channels (docs/paper.md §3.2.1).
    """

    def __init__(self, dim: int, base: float = 10000.0):
        super().__init__()
        if dim % 2:
            raise ValueError(f"rotary dim must be even, got {dim}")
        self.dim = dim
        self.register_buffer("inv_freq", 1.0 / base ** (torch.arange(0, dim, 2).float() / dim), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        shape: x [B, H, L, Dh] -> [B, H, L, Dh]
        """
        L = x.shape[-2]
        pos = torch.arange(L, device=x.device, dtype=self.inv_freq.dtype)
        freqs = torch.outer(pos, self.inv_freq)  # [L, dim/2]
        cos, sin = freqs.cos().to(x.dtype), freqs.sin().to(x.dtype)
        rot, rest = x[..., : self.dim], x[..., self.dim :]
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
        out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)
        return torch.cat((out, rest), dim=-1)


class MultiHeadAttention(nn.Module):
    """Scaled dot-product multi-head attention, self- or cross-, with key padding and optional RoPE.

    ``need_weights=True`` also returns every head's attention map (the LPA reads them).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        head_dim: int | None = None,
        d_kv: int | None = None,
        dropout: float = 0.0,
        rope_fraction: float = 0.0,
    ):
        super().__init__()
        head_dim = head_dim or d_model // n_heads
        d_kv = d_kv or d_model
        self.n_heads, self.head_dim, self.dropout = n_heads, head_dim, dropout
        inner = n_heads * head_dim
        self.q = nn.Linear(d_model, inner)
        self.k = nn.Linear(d_kv, inner)
        self.v = nn.Linear(d_kv, inner)
        self.out = nn.Linear(inner, d_model)
        rot = int(head_dim * rope_fraction) // 2 * 2
        self.rope = RotaryEmbedding(rot) if rot > 0 else None

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        B, L, _ = x.shape
        return x.view(B, L, self.n_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        q: torch.Tensor,
        kv: torch.Tensor | None = None,
        key_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """
        shape: q [B, Lq, d_model], kv [B, Lk, d_kv] (None: self-attention), key_mask [B, Lk] bool (True = valid)
            -> out [B, Lq, d_model], weights [B, H, Lq, Lk] (or None unless ``need_weights``)
        """
        kv = q if kv is None else kv
        Q, K, V = self._split(self.q(q)), self._split(self.k(kv)), self._split(self.v(kv))
        if self.rope is not None:
            Q, K = self.rope(Q), self.rope(K)
        mask = None if key_mask is None else key_mask[:, None, None, :]
        p = self.dropout if self.training else 0.0
        if not need_weights:
            out = F.scaled_dot_product_attention(Q, K, V, attn_mask=mask, dropout_p=p)
            weights = None
        else:
            scores = Q @ K.transpose(-1, -2) / math.sqrt(self.head_dim)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            weights = scores.softmax(dim=-1)
            out = F.dropout(weights, p, self.training) @ V
        B, H, L, D = out.shape
        return self.out(out.transpose(1, 2).reshape(B, L, H * D)), weights
