"""PE: pronunciation enhancing (docs/paper.md §3.3.1, A.6).

1. MAS on the LPA alignment gives the hard monotonic path A* [B, P, F] and the phoneme durations D_p
   (video frames; the same at training and inference, no ground-truth durations).
2. The length regulator expands the phoneme encoder output: O_s^v = A*^T · mu_x [B, F, d].
3. Fusion EF: MLP([O_s^v; C_pho]) 2d → 4d → d, then the audio-visual conformer (AVEC) → V_f [B, F, d].
4. :class:`CTCHead`: Linear(d → n_vocab + 1) with its **own blank = n_vocab** (the official head lets
   blank 0 collide with a phone); the dubber applies it at mel rate, after SIA's ×4 up-sampling, as
   the official code does.

``use_pe = False`` (ablation "w/o PE") keeps only C_pho: no MAS-expanded phoneme stream enters the fusion.
"""

from __future__ import annotations

import torch
from torch import nn

from emodubber.config import ModelConfig
from emodubber.modules.alignment import durations_from_path, length_regulate, maximum_path
from emodubber.modules.conformer import ConformerBlock

__all__ = ["PronunciationEnhancer", "CTCHead", "ctc_loss"]


class PronunciationEnhancer(nn.Module):
    """V_f, A*, D_p = PE(C_pho, sim, mu_x).

    shape: C_pho [B, F, d], attn [B, F, P], mu_x [B, P, d], phoneme_lengths [B], lip_lengths [B],
        path [B, P, F] (optional: a given alignment in place of MAS)
        -> dict(V_f [B, F, d], path [B, P, F], durations D_p [B, P] (video frames))

    ``mu_x`` is the phoneme stream the length regulator expands: the encoder output (paper) or, with
    ``model.dub_fusion = "residual"``, the prosody embedding O_p the TTS path expands.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.d_model
        self.use_pe, self.mas_on = cfg.use_pe, cfg.mas_on
        if self.mas_on not in ("prob", "log"):
            raise ValueError(f"model.mas_on must be 'prob' or 'log', not {self.mas_on!r}")
        self.fusion = nn.Sequential(nn.Linear(2 * d if cfg.use_pe else d, 4 * d), nn.SiLU(), nn.Linear(4 * d, d))
        self.blocks = nn.ModuleList(
            ConformerBlock(d, cfg.conformer_heads, cfg.conformer_kernel, 4, cfg.dropout)
            for _ in range(cfg.conformer_blocks)
        )

    def align(self, attn, phoneme_lengths, lip_lengths):
        """MAS on the (transposed) LPA attention. shape: attn [B, F, P] -> path [B, P, F]"""
        v = attn.detach().transpose(1, 2)
        if self.mas_on == "log":
            v = torch.log(v.clamp_min(1e-8))
        return maximum_path(v, phoneme_lengths, lip_lengths)

    def forward(self, C_pho, attn, mu_x, phoneme_lengths, lip_lengths, lip_mask, path=None):
        if path is None:
            path = self.align(attn, phoneme_lengths, lip_lengths)
        if self.use_pe:
            O_sv = length_regulate(mu_x, path)
            h = self.fusion(torch.cat([O_sv, C_pho], dim=-1))
        else:
            h = self.fusion(C_pho)
        h = h * lip_mask[..., None].to(h.dtype)
        for block in self.blocks:
            h = block(h, lip_mask)
        return {"V_f": h, "path": path, "durations": durations_from_path(path)}


class CTCHead(nn.Module):
    """Phone posteriors for the CTC loss; index ``n_vocab`` is the blank.

    shape: [B, L, d] -> log-probs [B, L, n_vocab + 1]
    """

    def __init__(self, d: int, n_vocab: int):
        super().__init__()
        self.blank = n_vocab
        self.proj = nn.Linear(d, n_vocab + 1)

    def forward(self, h):
        return self.proj(h).log_softmax(-1)


def ctc_loss(log_probs, input_lengths, phonemes, phoneme_lengths, blank: int) -> torch.Tensor:
    """L_CTC summed over the batch / B (official reduction), infinite losses zeroed.

    shape: log_probs [B, L, V+1], phonemes [B, P] -> scalar
    """
    lp = log_probs.transpose(0, 1).float()  # [L, B, V+1]
    loss = nn.functional.ctc_loss(lp, phonemes, input_lengths, phoneme_lengths, blank=blank, reduction="sum",
                                  zero_infinity=True)
    return loss / log_probs.shape[0]
