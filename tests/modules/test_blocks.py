import pytest
import torch

from emodubber.modules.attention import MultiHeadAttention, RotaryEmbedding
from emodubber.modules.conformer import ConformerBlock
from emodubber.modules.saln import StyleAdaptiveLayerNorm
from emodubber.modules.transformer import SALNTransformerLayer
from emodubber.modules.unet1d import ResnetBlock1D, TransformerBlock1D


def test_rope_is_relative():
    """RoPE scores depend on the offset between positions only."""
    rope = RotaryEmbedding(8)
    q = torch.randn(1, 1, 1, 8).expand(1, 1, 6, 8)
    k = torch.randn(1, 1, 1, 8).expand(1, 1, 6, 8)
    s = rope(q) @ rope(k).transpose(-1, -2)
    assert torch.allclose(s[0, 0, 1, 0], s[0, 0, 4, 3], atol=1e-5)
    assert torch.allclose(s[0, 0, 2, 2], s[0, 0, 5, 5], atol=1e-5)


def test_attention_ignores_padded_keys_and_returns_weights():
    attn = MultiHeadAttention(16, 2, head_dim=8, d_kv=12).eval()
    q, kv = torch.randn(2, 5, 16), torch.randn(2, 7, 12)
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    out, w = attn(q, kv, key_mask=mask, need_weights=True)
    assert out.shape == (2, 5, 16) and w.shape == (2, 2, 5, 7)
    assert torch.allclose(w.sum(-1), torch.ones(2, 2, 5), atol=1e-5)
    assert w[1, :, :, 4:].abs().max() == 0
    kv2 = kv.clone()
    kv2[1, 4:] = 100.0
    out2, _ = attn(q, kv2, key_mask=mask)
    assert torch.allclose(out[1], out2[1], atol=1e-5)


def test_saln_starts_as_layer_norm_and_depends_on_speaker_after_training():
    saln = StyleAdaptiveLayerNorm(8, 4)
    x, s = torch.randn(2, 3, 8), torch.randn(2, 4)
    assert torch.allclose(saln(x, s), torch.nn.functional.layer_norm(x, (8,)), atol=1e-5)
    torch.nn.init.normal_(saln.affine.weight)
    y = saln(x, s)
    y_swapped = saln(x, s.flip(0))
    assert not torch.allclose(y, y_swapped)
    assert torch.allclose(saln(x.transpose(1, 2), s, channel_first=True), y.transpose(1, 2), atol=1e-6)


@pytest.mark.parametrize("block", ["saln", "conformer"])
def test_sequence_blocks_keep_shape_and_ignore_padding(block):
    torch.manual_seed(0)
    m = (SALNTransformerLayer(16, 2, 32, 4, (3, 1), 0.0, rope_fraction=0.5) if block == "saln"
         else ConformerBlock(16, 2, 5, dropout=0.0)).eval()
    x = torch.randn(2, 9, 16)
    mask = torch.tensor([[True] * 9, [True] * 6 + [False] * 3])
    args = (mask, torch.randn(2, 4)) if block == "saln" else (mask,)
    y = m(x, *args)
    assert y.shape == x.shape
    assert y[1, 6:].abs().max() == 0
    x2 = x.clone()
    x2[1, 6:] = 50.0
    assert torch.allclose(m(x2, *args)[1, :6], y[1, :6], atol=1e-4)


def test_unet_pieces_shapes():
    res = ResnetBlock1D(10, 16, 12)
    tb = TransformerBlock1D(16, 2, 8)
    x, mask = torch.randn(2, 10, 7), torch.ones(2, 1, 7)
    h = res(x, mask, torch.randn(2, 12))
    assert h.shape == (2, 16, 7)
    assert tb(h, mask).shape == (2, 16, 7)
