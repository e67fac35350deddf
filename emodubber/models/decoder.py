"""The flow-matching estimator v_θ(φ_t | μ, S_id, t): a 1-D U-Net (Matcha-TTS decoder, docs/paper.md §3.5.1).

Input pack([φ_t, μ]) (160 channels). Each level: ResnetBlock1D (time-conditioned) → SALN(·, S_id)
(one SALN shared by all down blocks, one by the mid blocks, one by the up blocks, as in the official
code) → ``decoder_blocks`` transformer blocks → down/up-sampling. Channels ``decoder_channels``; the
last down level does not down-sample. Frames are padded internally to a multiple of 2^(levels-1) and
cropped back, so any T works. This module is swappable: :class:`~emodubber.models.flow_matching.CFM`
only needs ``estimator(x, mask, mu, t, spk) -> v``.
"""

from __future__ import annotations

import torch
from torch import nn

from emodubber.config import ModelConfig
from emodubber.modules.saln import StyleAdaptiveLayerNorm
from emodubber.modules.unet1d import (
    Downsample1D,
    ResnetBlock1D,
    SinusoidalPosEmb,
    TimestepEmbedding,
    TransformerBlock1D,
    Upsample1D,
    masked,
)

__all__ = ["UNet1DEstimator"]


class UNet1DEstimator(nn.Module):
    """v_θ(φ_t, t | μ, S_id).

    shape: x [B, 80, T], mask [B, 1, T], mu [B, 80, T], t [B], spk [B, S] -> v [B, 80, T]
    """

    def __init__(self, cfg: ModelConfig, n_mels: int = 80):
        super().__init__()
        ch = list(cfg.decoder_channels)
        if not ch or any(c % 8 for c in ch):
            raise ValueError(f"model.decoder_channels must be non-empty multiples of 8 (GroupNorm(8)), got {ch}")
        c_in = 2 * n_mels
        time_dim = 4 * ch[0]
        self.n_down = len(ch) - 1
        self.time_pos = SinusoidalPosEmb(c_in)
        self.time_mlp = TimestepEmbedding(c_in, time_dim)

        def tblocks(c):
            return nn.ModuleList(
                TransformerBlock1D(c, cfg.decoder_heads, cfg.decoder_head_dim, cfg.decoder_dropout) for _ in range(cfg.decoder_blocks)
            )

        self.down = nn.ModuleList()
        prev = c_in
        for i, c in enumerate(ch):
            last = i == len(ch) - 1
            self.down.append(
                nn.ModuleList([
                    ResnetBlock1D(prev, c, time_dim),
                    tblocks(c),
                    Downsample1D(c) if not last else nn.Conv1d(c, c, 3, padding=1),
                ])
            )
            prev = c
        self.mid = nn.ModuleList(
            nn.ModuleList([ResnetBlock1D(ch[-1], ch[-1], time_dim), tblocks(ch[-1])])
            for _ in range(cfg.decoder_mid_blocks)
        )
        self.up = nn.ModuleList()
        rev = ch[::-1] + [ch[0]]
        for i in range(len(ch)):
            c_skip, c_out = rev[i], rev[i + 1]
            last = i == len(ch) - 1
            self.up.append(
                nn.ModuleList([
                    ResnetBlock1D(2 * rev[i], c_out, time_dim),
                    tblocks(c_out),
                    Upsample1D(c_out) if not last else nn.Conv1d(c_out, c_out, 3, padding=1),
                ])
            )
        self.saln_down = StyleAdaptiveLayerNorm(ch[0], cfg.spk_dim) if len(set(ch)) == 1 else None
        self.saln_mid = StyleAdaptiveLayerNorm(ch[-1], cfg.spk_dim)
        self.saln_up = StyleAdaptiveLayerNorm(ch[0], cfg.spk_dim) if len(set(ch)) == 1 else None
        self.final = nn.Sequential(nn.Conv1d(ch[0], ch[0], 3, padding=1), nn.GroupNorm(8, ch[0]), nn.Mish())
        self.out = nn.Conv1d(ch[0], n_mels, 1)
        self.skip_full_mask = True  # inference fast path when nothing is padded (see forward)
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x, mask, mu, t, spk):
        T = x.shape[-1]
        mult = 2**self.n_down
        pad = (-T) % mult
        if pad:
            x, mu, mask = (nn.functional.pad(a, (0, pad)) for a in (x, mu, mask))
        if t.dim() == 0:
            t = t.expand(x.shape[0])
        # no padding anywhere (one clip at inference, T a multiple of 2^levels): skip the ~60 multiplications by
        # ones per pass (same bits; SDPA without a key mask equals SDPA with an all-true one)
        if self.skip_full_mask and not self.training and not pad and bool(mask.all()):
            mask = None
        t_emb = self.time_mlp(self.time_pos(t))
        h = torch.cat([x, mu], dim=1)
        masks, skips = [mask], []
        for res, blocks, down in self.down:
            m = masks[-1]
            h = res(h, m, t_emb)
            if self.saln_down is not None:
                h = masked(self.saln_down(h, spk, channel_first=True), m)
            for blk in blocks:
                h = blk(h, m)
            skips.append(h)
            h = down(masked(h, m))
            masks.append(m[:, :, ::2] if isinstance(down, Downsample1D) and m is not None else m)
        masks.pop()
        m = masks[-1]
        for res, blocks in self.mid:
            h = res(h, m, t_emb)
            h = masked(self.saln_mid(h, spk, channel_first=True), m)
            for blk in blocks:
                h = blk(h, m)
        for res, blocks, up in self.up:
            m = masks.pop()
            h = res(torch.cat([h[:, :, : skips[-1].shape[-1]], skips.pop()], dim=1), m, t_emb)
            if self.saln_up is not None:
                h = masked(self.saln_up(h, spk, channel_first=True), m)
            for blk in blocks:
                h = blk(h, m)
            h = up(masked(h, m))
        h = masked(self.final(masked(h, mask)), mask)
        v = masked(self.out(h), mask)
        return v[..., :T] if pad else v
