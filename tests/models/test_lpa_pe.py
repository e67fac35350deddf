import pytest
import torch

from conftest import make_batch, tiny_model_cfg
from emodubber.models.lip_encoder import LipEncoder
from emodubber.models.lpa import LipProsodyAligner, duration_contrastive_loss
from emodubber.models.pe import PronunciationEnhancer
from emodubber.modules.checks import ShapeError


def _attn_from(M: torch.Tensor, sharp: float = 4.0) -> torch.Tensor:
    """A soft attention [B, F, P] peaked on the cells of M [B, P, F]."""
    return torch.softmax(sharp * M.transpose(1, 2), dim=-1)


def test_lcl_lower_for_true_alignment_than_shuffled():
    b = make_batch(B=3, F=12)
    M = b.gt_sim
    true = duration_contrastive_loss(_attn_from(M), M, b.phoneme_lengths, b.lip_lengths, 0.1)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        perm = torch.randperm(M.shape[2], generator=g)
        shuffled = duration_contrastive_loss(_attn_from(M[:, :, perm]), M, b.phoneme_lengths, b.lip_lengths, 0.1)
        assert true < shuffled
    assert true >= 0


def test_lcl_gradient_points_towards_the_truth():
    b = make_batch(B=2, F=10)
    logits = torch.zeros(2, 10, b.phonemes.shape[1], requires_grad=True)
    loss = duration_contrastive_loss(torch.softmax(logits, -1), b.gt_sim, b.phoneme_lengths, b.lip_lengths)
    loss.backward()
    M = b.gt_sim.transpose(1, 2)
    valid = (torch.arange(10)[None, :, None] < b.lip_lengths[:, None, None]) & \
            (torch.arange(M.shape[2])[None, None] < b.phoneme_lengths[:, None, None])
    # descending the loss raises the logits of positive cells relative to negative ones
    assert (-logits.grad)[(M > 0) & valid].mean() > (-logits.grad)[(M == 0) & valid].mean()


def test_lcl_names_a_wrong_gt_sim():
    b = make_batch(B=2, F=8)
    with pytest.raises(ShapeError, match="gt_sim"):
        duration_contrastive_loss(torch.rand(2, 8, b.phonemes.shape[1]), b.gt_sim[:, :, :3], b.phoneme_lengths,
                                  b.lip_lengths)


@pytest.mark.parametrize("lip_input", ["roi", "features"])
def test_lip_encoder_lpa_pe_shapes(lip_input):
    torch.manual_seed(0)
    cfg = tiny_model_cfg(lip_input=lip_input)
    b = make_batch(B=2, F=8, lip_input=lip_input)
    enc, lpa, pe = LipEncoder(cfg).eval(), LipProsodyAligner(cfg).eval(), PronunciationEnhancer(cfg).eval()
    lip_mask = torch.arange(8)[None] < b.lip_lengths[:, None]
    E = enc(b.lip, lip_mask)
    assert E.shape == (2, 8, 32)
    assert E[1, 6:].abs().max() == 0
    P = b.phonemes.shape[1]
    ph_mask = torch.arange(P)[None] < b.phoneme_lengths[:, None]
    O_p = torch.randn(2, P, 32)
    C_pho, attn, heads = lpa(E, lip_mask, O_p, ph_mask)
    assert C_pho.shape == (2, 8, 32) and attn.shape == (2, 8, P) and heads.shape == (2, 2, 8, P)
    assert torch.allclose(attn[0].sum(-1), torch.ones(8), atol=1e-5)
    out = pe(C_pho, attn, torch.randn(2, P, 32), b.phoneme_lengths, b.lip_lengths, lip_mask)
    assert out["V_f"].shape == (2, 8, 32)
    assert out["durations"].sum(-1).tolist() == b.lip_lengths.tolist()


def test_lip_encoder_names_the_wrong_input():
    enc = LipEncoder(tiny_model_cfg(lip_input="roi"))
    with pytest.raises(ShapeError, match=r"\[B, F, 1, H, W\]"):
        enc(torch.rand(2, 8, 512))
    enc = LipEncoder(tiny_model_cfg(lip_input="features"))
    with pytest.raises(ShapeError, match="features"):
        enc(torch.rand(2, 8, 1, 16, 16))
