"""Style-adaptive layer norm (SALN), the way speaker identity S_id enters every block."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["StyleAdaptiveLayerNorm"]


class StyleAdaptiveLayerNorm(nn.Module):
    """SALN(x, S_id) = γ(S_id) · LN(x) + β(S_id), LN without affine, (γ, β) = Linear(S_id) (docs/paper.md §3.2.1).

    The projection's bias starts at γ = 1, β = 0 and its weight at 0, so an untrained SALN is a plain
    LayerNorm and the speaker's influence is learned.
    """

    def __init__(self, channels: int, style_dim: int, eps: float = 1e-5):
        super().__init__()
        self.channels = channels
        self.norm = nn.LayerNorm(channels, eps=eps, elementwise_affine=False)
        self.affine = nn.Linear(style_dim, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        with torch.no_grad():
            self.affine.bias[:channels].fill_(1.0)
            self.affine.bias[channels:].zero_()

    def forward(self, x: torch.Tensor, style: torch.Tensor, channel_first: bool = False) -> torch.Tensor:
        """
        shape: x [B, L, C] (or [B, C, L] with ``channel_first``), style [B, S] -> same as x
        """
        if channel_first:
            return self.forward(x.transpose(1, 2), style).transpose(1, 2)
        gamma, beta = self.affine(style).unsqueeze(1).chunk(2, dim=-1)
        return gamma * self.norm(x) + beta
