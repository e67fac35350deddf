"""Lip encoder: mouth-ROI frames (or pre-extracted lip features) → one vector per video frame, 𝓔.

ROI path (``model.lip_input = "roi"``), a small version of the LRW lip-reading front end (docs/paper.md §3.2.2, F.1):
Conv3d(1→c0, kernel (3, 5, 5), stride (1, 2, 2)) + BN + ReLU + MaxPool(1, 2, 2) → per-frame 2-D ResNet
(one stride-2 stage of two basic blocks per further entry of ``lip_channels``) → global average pool →
Linear → temporal Conv1d(``lip_temporal_kernel``) with a residual → 𝓔 [B, F, d]. Only the valid frames of
``lip_mask`` enter the per-frame network, so padding never reaches the BatchNorm statistics (nor costs compute).

Feature path (``"features"``): Conv1d(512 → d, kernel 1) on pre-extracted per-frame lip features, as the
official code does.
"""

from __future__ import annotations

import torch
from torch import nn

from emodubber.config import ModelConfig
from emodubber.modules.checks import ShapeError, expect_dim, expect_ndim

__all__ = ["LipEncoder"]


class _BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
            if stride != 1 or c_in != c_out
            else nn.Identity()
        )

    def forward(self, x):
        h = self.bn1(self.conv1(x)).relu()
        return (self.bn2(self.conv2(h)) + self.skip(x)).relu()


class LipEncoder(nn.Module):
    """𝓔 = LipEncoder(lip): per-video-frame lip embedding.

    shape: lip [B, F, 1, H, W] grey ROIs in [0, 1] ("roi") or [B, F, 512] ("features"), lip_mask [B, F] bool
        -> 𝓔 [B, F, d_model]
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.kind, d = cfg.lip_input, cfg.d_model
        if self.kind == "features":
            self.proj = nn.Conv1d(cfg.lip_feature_dim, d, 1)
            self.feature_dim = cfg.lip_feature_dim
        elif self.kind == "roi":
            ch = list(cfg.lip_channels)
            if len(ch) < 1:
                raise ValueError("model.lip_channels needs at least one entry (the 3-D front-end width)")
            self.front = nn.Sequential(
                nn.Conv3d(1, ch[0], (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2), bias=False),
                nn.BatchNorm3d(ch[0]),
                nn.ReLU(),
                nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            )
            stages = []
            for c_in, c_out in zip(ch[:-1], ch[1:]):
                stages += [_BasicBlock(c_in, c_out, 2), _BasicBlock(c_out, c_out, 1)]
            self.resnet = nn.Sequential(*stages)
            self.proj = nn.Linear(ch[-1], d)
        else:
            raise ValueError(f"model.lip_input must be 'roi' or 'features', not {self.kind!r}")
        k = cfg.lip_temporal_kernel
        self.temporal = nn.Sequential(nn.Conv1d(d, d, k, padding=k // 2), nn.GELU(), nn.Conv1d(d, d, 1))
        self.norm = nn.LayerNorm(d)

    def forward(self, lip: torch.Tensor, lip_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.kind == "features":
            expect_ndim(lip, "lip", 3, "[B, F, 512] features (model.lip_input='features')")
            expect_dim(lip, "lip", 2, self.feature_dim, "feature size")
            x = self.proj(lip.transpose(1, 2)).transpose(1, 2)
        else:
            if lip.dim() == 4:  # [B, F, H, W] without the channel axis
                lip = lip.unsqueeze(2)
            if lip.dim() != 5 or lip.shape[2] != 1:
                raise ShapeError(
                    f"lip must be grey ROIs shaped [B, F, 1, H, W] (model.lip_input='roi'), got {tuple(lip.shape)}"
                )
            B, F, _, H, W = lip.shape
            if H < 8 or W < 8:
                raise ShapeError(f"lip ROI is {H}x{W}; the ROI encoder needs at least 8x8 pixels")
            conv3d, bn, relu, pool = self.front
            h = conv3d(lip.transpose(1, 2)).transpose(1, 2)  # [B, F, c0, H', W'] (the 3-D kernel sees padding as 0)
            valid = (torch.ones(B, F, dtype=torch.bool, device=lip.device) if lip_mask is None
                     else lip_mask.to(torch.bool))
            h = h[valid]  # [N valid frames, c0, H', W']: BatchNorm statistics over real frames only
            h = nn.functional.batch_norm(
                h, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                training=bn.training or not bn.track_running_stats, momentum=bn.momentum or 0.0, eps=bn.eps)
            h = pool(relu(h).unsqueeze(2)).squeeze(2)  # the (1, 3, 3) pool acts frame by frame
            h = self.resnet(h).mean(dim=(-1, -2))  # [N, c]
            x = h.new_zeros(B, F, self.proj.out_features)
            x[valid] = self.proj(h)
        m = None if lip_mask is None else lip_mask[..., None].to(x.dtype)
        if m is not None:
            x = x * m
        x = x + self.temporal(x.transpose(1, 2)).transpose(1, 2)
        x = self.norm(x)
        return x if m is None else x * m
