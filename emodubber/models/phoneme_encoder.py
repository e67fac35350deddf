"""Style-aware phoneme encoder and the phoneme-level prosody adaptor (docs/paper.md §3.2.1, A.2).

:class:`PhonemeEncoder`: Embedding·√d → ConvReluNorm prenet with a zero-initialised residual → N ×
post-norm RoPE transformer layers whose norms are SALN(·, S_id) → mu_x [B, P, d].

:class:`ProsodyAdaptor`: energy predictor on mu_x (optionally on mu_x attended to the lip embedding, the
stand-in for the official valence-arousal face features), pitch predictor on mu_x + E_e; bucketised
embeddings of the ground-truth values in training and of the predictions at inference give the phone
prosody embedding O_p = mu_x + E_e + E_p [B, P, d].

:class:`DurationPredictor`: log(1 + d) of mel-frame durations from (detached) mu_x, used by the lip-blind
baseline; the EmoDubber itself takes durations from MAS.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from emodubber.config import ModelConfig
from emodubber.modules.attention import MultiHeadAttention
from emodubber.modules.checks import ShapeError, expect_dim, expect_ndim
from emodubber.modules.transformer import SALNTransformerLayer, sinusoidal_positions

__all__ = ["PhonemeEncoder", "VariancePredictor", "ProsodyAdaptor", "DurationPredictor", "resolve_n_vocab"]


def resolve_n_vocab(cfg: ModelConfig) -> int:
    """Phone vocabulary size (pad id 0 included): ``cfg.n_vocab`` or ``emodubber.text.symbols.n_symbols``.

    The CTC blank is the extra index ``n_vocab`` (never a phone).
    """
    if cfg.n_vocab > 0:
        return cfg.n_vocab
    try:
        from emodubber.text.symbols import n_symbols

        return int(n_symbols)
    except ImportError:  # symbol table not written yet: pad, sil, sp + 39 ARPAbet phones
        return 42


class _ConvReluNorm(nn.Module):
    """3 × (Conv1d(k=5) → LayerNorm → ReLU → Dropout) with a zero-initialised 1×1 residual projection."""

    def __init__(self, d: int, n_layers: int = 3, kernel: int = 5, dropout: float = 0.5):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(d, d, kernel, padding=kernel // 2) for _ in range(n_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(d) for _ in range(n_layers))
        self.drop = nn.Dropout(dropout)
        self.proj = nn.Linear(d, d)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x, mask):
        m = mask[..., None].to(x.dtype)
        h = x
        for conv, norm in zip(self.convs, self.norms):
            h = self.drop(norm(conv((h * m).transpose(1, 2)).transpose(1, 2)).relu())
        return (x + self.proj(h)) * m


class PhonemeEncoder(nn.Module):
    """mu_x = PhoEncoder(phonemes, S_id) (docs/paper.md §3.2.1).

    shape: phonemes [B, P] long, phoneme_lengths [B], spk_emb [B, S] -> mu_x [B, P, d], mask [B, P] bool
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_vocab, d = resolve_n_vocab(cfg), cfg.d_model
        self.embed = nn.Embedding(self.n_vocab, d)
        nn.init.normal_(self.embed.weight, 0.0, d**-0.5)
        self.scale = math.sqrt(d)
        self.prenet = _ConvReluNorm(d, dropout=cfg.dropout_strong)
        self.layers = nn.ModuleList(
            SALNTransformerLayer(d, cfg.encoder_heads, cfg.encoder_ffn, cfg.spk_dim, (3, 3), cfg.dropout,
                                 rope_fraction=0.5)
            for _ in range(cfg.encoder_layers)
        )

    def forward(self, phonemes: torch.Tensor, phoneme_lengths: torch.Tensor, spk_emb: torch.Tensor):
        expect_ndim(phonemes, "phonemes", 2, "[B, P] long")
        if phonemes.dtype not in (torch.long, torch.int32, torch.int64):
            raise ShapeError(f"phonemes must hold integer symbol ids, got dtype {phonemes.dtype}")
        if int(phonemes.max()) >= self.n_vocab or int(phonemes.min()) < 0:
            raise ShapeError(
                f"phonemes hold ids in [{int(phonemes.min())}, {int(phonemes.max())}] but the vocabulary has "
                f"{self.n_vocab} symbols (ids 0..{self.n_vocab - 1}; 0 = pad)"
            )
        mask = torch.arange(phonemes.shape[1], device=phonemes.device)[None] < phoneme_lengths[:, None]
        x = self.embed(phonemes) * self.scale * mask[..., None]
        x = self.prenet(x, mask)
        for layer in self.layers:
            x = layer(x, mask, spk_emb)
        return x, mask


class VariancePredictor(nn.Module):
    """Predictor (official ``Predictor``): α·PE + 2 × (Conv1d(k) → ReLU → LN → Dropout) → Linear → 1.

    shape: x [B, P, d], mask [B, P] -> [B, P]
    """

    def __init__(self, d: int, kernel: int = 5, dropout: float = 0.5):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1))
        self.convs = nn.ModuleList(nn.Conv1d(d, d, kernel, padding=kernel // 2) for _ in range(2))
        self.norms = nn.ModuleList([nn.LayerNorm(d), nn.LayerNorm(d)])
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(d, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask[..., None].to(x.dtype)
        h = x + self.alpha * sinusoidal_positions(x.shape[1], x.shape[2], x.device)[None]
        for conv, norm in zip(self.convs, self.norms):
            h = self.drop(norm(conv((h * m).transpose(1, 2)).transpose(1, 2).relu()))
        return self.out(h).squeeze(-1) * mask.to(x.dtype)


class DurationPredictor(VariancePredictor):
    """log(1 + D) of per-phoneme mel-frame durations (lip-blind baseline; FastSpeech-style).

    shape: mu_x [B, P, d], mask [B, P] -> log_duration [B, P]
    """


class ProsodyAdaptor(nn.Module):
    """O_p = mu_x + E_e(e) + E_p(p): phoneme-level energy then pitch (docs/paper.md §3.2.3).

    shape: mu_x [B, P, d], mask [B, P], pitch/energy [B, P] (z-normalised, or None at inference),
        face [B, F, d] + face_mask [B, F] (optional) -> dict(O_p [B, P, d], pitch_pred [B, P], energy_pred [B, P])
    ``pitch_shift`` / ``energy_shift`` (z units) are added to the predictions when no ground truth is given.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.d_model
        self.face_attention = cfg.prosody_face_attention
        if self.face_attention:
            self.face_proj = nn.Conv1d(d, d, 1)
            self.face_attn = MultiHeadAttention(d, 1, dropout=0.2)
        self.energy_predictor = VariancePredictor(d, cfg.predictor_kernel, cfg.dropout_strong)
        self.pitch_predictor = VariancePredictor(d, cfg.predictor_kernel, cfg.dropout_strong)
        lo, hi = cfg.prosody_range
        self.register_buffer("bins", torch.linspace(lo, hi, cfg.prosody_bins - 1), persistent=False)
        self.energy_embed = nn.Embedding(cfg.prosody_bins, d)
        self.pitch_embed = nn.Embedding(cfg.prosody_bins, d)

    def forward(self, mu_x, mask, pitch=None, energy=None, face=None, face_mask=None,
                pitch_shift: float = 0.0, energy_shift: float = 0.0):
        m = mask[..., None].to(mu_x.dtype)
        h = mu_x
        if self.face_attention and face is not None:
            f = self.face_proj(face.transpose(1, 2)).transpose(1, 2)
            ctx, _ = self.face_attn(mu_x, f, key_mask=face_mask)
            h = mu_x + ctx * m
        energy_pred = self.energy_predictor(h, mask)
        for name, v in (("energy", energy), ("pitch", pitch)):
            if v is not None:
                expect_ndim(v, name, 2, "[B, P]")
                expect_dim(v, name, 1, mu_x.shape[1], "phonemes P")
        e = energy if energy is not None else energy_pred.detach() + energy_shift
        x1 = mu_x + self.energy_embed(torch.bucketize(e.contiguous(), self.bins)) * m
        pitch_pred = self.pitch_predictor(x1, mask)
        p = pitch if pitch is not None else pitch_pred.detach() + pitch_shift
        O_p = x1 + self.pitch_embed(torch.bucketize(p.contiguous(), self.bins)) * m
        return {"O_p": O_p, "pitch_pred": pitch_pred, "energy_pred": energy_pred}
