"""Tiny configs and synthetic batches that keep the DubBatch contract (T = 4F)."""

from __future__ import annotations

import pytest
import torch

from emodubber.batch import DubBatch
from emodubber.config import ModelConfig


def tiny_model_cfg(**over) -> ModelConfig:
    base = dict(
        d_model=32, encoder_layers=1, encoder_heads=2, encoder_ffn=64, lpa_heads=2, lpa_head_dim=16,
        conformer_blocks=1, conformer_heads=2, conformer_kernel=5, usl_layers=1, usl_heads=1, usl_ffn=64,
        usl_kernel=3, postnet_channels=32, postnet_layers=2, decoder_channels=[32, 32], decoder_heads=2,
        decoder_head_dim=16, decoder_mid_blocks=1, lip_channels=[8, 16], expert_channels=16, expert_layers=2,
        dropout=0.0,
    )
    base.update(over)
    return ModelConfig(**base)


def make_batch(B: int = 2, F: int = 8, roi: int = 16, lip_input: str = "roi", seed: int = 0, speech_only: bool = False,
               n_vocab: int = 42) -> DubBatch:
    """Random phonemes with true durations (mel frames) summing to 4·F_i, gt_sim derived from them."""
    g = torch.Generator().manual_seed(seed)
    F_lens = torch.tensor([F - (i % 2) * 2 for i in range(B)])
    T_lens = 4 * F_lens
    durs, phs = [], []
    for i in range(B):
        T = int(T_lens[i])
        P = max(2, T // 6)
        cuts = torch.sort(torch.randperm(T - 1, generator=g)[: P - 1] + 1).values
        bounds = torch.cat([torch.tensor([0]), cuts, torch.tensor([T])])
        durs.append(bounds[1:] - bounds[:-1])
        phs.append(torch.randint(1, n_vocab, (P,), generator=g))
    P_max = max(len(p) for p in phs)
    phonemes = torch.zeros(B, P_max, dtype=torch.long)
    durations = torch.zeros(B, P_max, dtype=torch.long)
    gt_sim = torch.zeros(B, P_max, F)
    for i in range(B):
        P = len(phs[i])
        phonemes[i, :P], durations[i, :P] = phs[i], durs[i]
        ends = durs[i].cumsum(0)
        starts = ends - durs[i]
        for p in range(P):
            f0, f1 = int(starts[p]) // 4, (int(ends[p]) - 1) // 4
            gt_sim[i, p, f0 : f1 + 1] = 1
    T_max = 4 * F
    mel = torch.randn(B, 80, T_max, generator=g)
    for i in range(B):
        mel[i, :, int(T_lens[i]):] = 0
    if lip_input == "roi":
        lip = torch.rand(B, F, 1, roi, roi, generator=g)
    else:
        lip = torch.randn(B, F, 512, generator=g)
    return DubBatch(
        clip_ids=[f"clip{i}" for i in range(B)],
        phonemes=phonemes,
        phoneme_lengths=torch.tensor([len(p) for p in phs]),
        mel=mel,
        mel_lengths=T_lens,
        spk_emb=torch.nn.functional.normalize(torch.randn(B, 256, generator=g), dim=-1),
        speaker_ids=torch.arange(B),
        emotion_ids=torch.randint(0, 7, (B,), generator=g),
        intensity=torch.zeros(B),
        durations=durations,
        pitch=torch.randn(B, P_max, generator=g),
        energy=torch.randn(B, P_max, generator=g),
        lip=None if speech_only else lip,
        lip_lengths=F_lens if not speech_only else (T_lens + 3) // 4,
        gt_sim=None if speech_only else gt_sim,
    )


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    yield
