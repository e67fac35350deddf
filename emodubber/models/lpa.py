"""LPA: lip-related prosody aligning (docs/paper.md §3.2.4).

Multi-head cross-attention with the lip embedding 𝓔 as queries and the phone prosody embedding O_p as
keys and values gives the lip-aligned phoneme context C_pho; the head with the highest focus rate
(per sample: Σ_f max_p α[f, p] over valid frames) is returned as the alignment sim(𝓔, O_p) that L_cl
supervises and MAS reads. As in the official code the attention is plain (not stepwise monotonic) and
C_pho = LayerNorm(Dropout(Linear(concat heads))) has no residual; the dropout is ``model.lpa_dropout``
(official 0.2).
"""

from __future__ import annotations

import torch
from torch import nn

from emodubber.config import ModelConfig
from emodubber.modules.attention import MultiHeadAttention
from emodubber.modules.checks import ShapeError, expect_ndim

__all__ = ["LipProsodyAligner", "focus_rate", "duration_contrastive_loss"]


def focus_rate(attn: torch.Tensor, lip_mask: torch.Tensor) -> torch.Tensor:
    """Focus rate of each head: mean over valid lip frames of max_p α. shape: attn [B, H, F, P] -> [B, H]"""
    m = lip_mask[:, None, :].to(attn.dtype)
    return (attn.max(dim=-1).values * m).sum(-1) / m.sum(-1).clamp_min(1)


class LipProsodyAligner(nn.Module):
    """C_pho, sim = LPA(𝓔, O_p).

    shape: lip_emb [B, F, d], lip_mask [B, F], O_p [B, P, d], ph_mask [B, P]
        -> C_pho [B, F, d], attn [B, F, P] (best-focus head), heads [B, H, F, P]
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.d_model
        self.attn = MultiHeadAttention(d, cfg.lpa_heads, head_dim=cfg.lpa_head_dim, dropout=cfg.lpa_dropout)
        self.drop = nn.Dropout(cfg.lpa_dropout)
        self.norm = nn.LayerNorm(d)

    def forward(self, lip_emb, lip_mask, O_p, ph_mask):
        ctx, heads = self.attn(lip_emb, O_p, key_mask=ph_mask, need_weights=True)
        q = lip_mask[:, None, :, None].to(heads.dtype)
        heads = heads * q  # padded query rows zeroed
        C_pho = self.norm(self.drop(ctx)) * lip_mask[..., None].to(ctx.dtype)
        best = focus_rate(heads.detach(), lip_mask).argmax(dim=1)  # [B]
        attn = heads[torch.arange(heads.shape[0], device=heads.device), best]
        return C_pho, attn, heads


def duration_contrastive_loss(
    attn: torch.Tensor,
    gt_sim: torch.Tensor,
    phoneme_lengths: torch.Tensor,
    lip_lengths: torch.Tensor,
    tau: float = 0.1,
) -> torch.Tensor:
    """L_cl, the duration-level contrastive loss (DLCL, docs/paper.md §3.2.4), both directions, unweighted.

    With S = attn^T [B, P, F] and the ground-truth phoneme × frame matrix M:
    E = exp(S / τ); r_p = Σ_f M·E / Σ_f E (each phoneme), r_f = Σ_p M·E / Σ_p E (each lip frame);
    ratios that are 0 (padding, or no positive) count as 1;
    L_cl = (Σ_{b,p} −log(r_p + 1e-8) + Σ_{b,f} −log(r_f + 1e-8)) / B  (the model weighs it by 0.001).
    Deviation: padded cells are removed from the sums (the official code lets exp(0) = 1 into them).

    shape: attn [B, F, P], gt_sim [B, P, F], lengths [B] -> scalar
    """
    expect_ndim(attn, "LPA attention", 3, "[B, F, P]")
    expect_ndim(gt_sim, "gt_sim", 3, "[B, P, F]")
    B, F_, P = attn.shape
    if gt_sim.shape[1] < P or gt_sim.shape[2] < F_ or gt_sim.shape[0] != B:
        raise ShapeError(
            f"gt_sim is {tuple(gt_sim.shape)} but the attention needs [B={B}, P={P}, F={F_}] (phonemes × video frames)"
        )
    M = gt_sim[:, :P, :F_].to(attn.dtype)
    pm = torch.arange(P, device=attn.device)[None] < phoneme_lengths[:, None]
    fm = torch.arange(F_, device=attn.device)[None] < lip_lengths[:, None]
    valid = (pm[:, :, None] & fm[:, None, :]).to(attn.dtype)
    S = attn.transpose(1, 2)
    E = torch.exp(S / tau) * valid
    pos = M * E
    r_p = pos.sum(-1) / E.sum(-1).clamp_min(1e-12)
    r_f = pos.sum(-2) / E.sum(-2).clamp_min(1e-12)
    r_p = torch.where(r_p == 0, torch.ones_like(r_p), r_p)
    r_f = torch.where(r_f == 0, torch.ones_like(r_f), r_f)
    return (-torch.log(r_p + 1e-8).sum() - torch.log(r_f + 1e-8).sum()) / B
