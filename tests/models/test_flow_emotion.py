import pytest
import torch
from torch import nn

from conftest import make_batch, tiny_model_cfg
from emodubber.models.decoder import UNet1DEstimator
from emodubber.models.dubber import EmoDubber
from emodubber.models.emotion import EmotionExpert, PNGMGuidance
from emodubber.models.flow_matching import CFM
from emodubber.modules.checks import ShapeError


def _fixed_loss(cfm, x1, mask, mu, spk):
    with torch.no_grad():
        losses = [cfm.compute_loss(x1, mask, mu, spk, torch.Generator().manual_seed(s))[0] for s in range(4)]
        return sum(float(v) for v in losses) / 4


def test_estimator_handles_odd_lengths_and_masks():
    torch.manual_seed(0)
    est = UNet1DEstimator(tiny_model_cfg()).eval()
    x, mu = torch.randn(2, 80, 13), torch.randn(2, 80, 13)
    mask = torch.ones(2, 1, 13)
    mask[1, :, 9:] = 0
    v = est(x, mask, mu, torch.rand(2), torch.randn(2, 256))
    assert v.shape == (2, 80, 13)
    assert v[1, :, 9:].abs().max() == 0


def test_unpadded_fast_path_gives_the_same_bits():
    """With nothing padded the U-Net skips its multiplications by the all-ones mask: the output must not move."""
    torch.manual_seed(0)
    est = UNet1DEstimator(tiny_model_cfg()).eval()
    x, mu, spk, t = torch.randn(1, 80, 24), torch.randn(1, 80, 24), torch.randn(1, 256), torch.rand(1)
    mask = torch.ones(1, 1, 24)
    with torch.inference_mode():
        fast = est(x, mask, mu, t, spk)
        est.skip_full_mask = False
        slow = est(x, mask, mu, t, spk)
    assert torch.equal(fast, slow)


def test_decoder_dropout_is_the_configured_rate():
    """model.decoder_dropout reaches the U-Net: at 0 a training-mode pass equals the eval pass, at 0.5 not."""
    torch.manual_seed(0)
    x, mu = torch.randn(2, 80, 24), torch.randn(2, 80, 24)
    mask, t, spk = torch.ones(2, 1, 24), torch.rand(2), torch.randn(2, 256)
    for p, same in ((0.0, True), (0.5, False)):
        est = UNet1DEstimator(tiny_model_cfg(decoder_dropout=p))
        train_out = est.train()(x, mask, mu, t, spk)
        eval_out = est.eval()(x, mask, mu, t, spk)
        assert torch.allclose(train_out, eval_out, atol=1e-6) is same


def test_cfm_loss_falls_on_a_fixed_batch_within_50_steps():
    torch.manual_seed(0)
    cfm = CFM(UNet1DEstimator(tiny_model_cfg()), 80, 1e-4)
    t = torch.linspace(0, 6.28, 16)
    x1 = torch.stack([torch.sin(t * (1 + k / 20)) for k in range(80)])[None].repeat(2, 1, 1)
    mu = x1 + 0.3 * torch.randn_like(x1)
    mask, spk = torch.ones(2, 1, 16), torch.randn(2, 256)
    before = _fixed_loss(cfm, x1, mask, mu, spk)
    opt = torch.optim.Adam(cfm.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(1)
    for _ in range(50):
        loss, _ = cfm.compute_loss(x1, mask, mu, spk, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = _fixed_loss(cfm, x1, mask, mu, spk)
    assert after < 0.7 * before


def test_sampler_is_seeded():
    torch.manual_seed(0)
    cfm = CFM(UNet1DEstimator(tiny_model_cfg()).eval())
    mu, mask, spk = torch.randn(1, 80, 16), torch.ones(1, 1, 16), torch.randn(1, 256)
    a = cfm(mu, mask, spk, 3, 0.667, torch.Generator().manual_seed(5))
    b = cfm(mu, mask, spk, 3, 0.667, torch.Generator().manual_seed(5))
    c = cfm(mu, mask, spk, 3, 0.667, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


class ToyClassifier(nn.Module):
    """A fixed linear classifier on the time-averaged mel (ignores t)."""

    def __init__(self, n=7):
        super().__init__()
        g = torch.Generator().manual_seed(123)
        self.w = nn.Parameter(torch.randn(n, 80, generator=g) * 0.5, requires_grad=False)

    def forward(self, phi, t, mask=None):
        m = torch.ones_like(phi[:, :1]) if mask is None else mask
        return (phi * m).sum(-1) / m.sum(-1) @ self.w.T


def _dubber_and_batch():
    torch.manual_seed(0)
    model = EmoDubber(tiny_model_cfg()).eval()
    return model, make_batch(B=2, F=8)


def _synth(model, b, **kw):
    return model.synthesise(b.phonemes, b.lip, b.spk_emb, phoneme_lengths=b.phoneme_lengths, lip_lengths=b.lip_lengths,
                            n_steps=4, seed=7, **kw)


def test_zero_guidance_is_bit_for_bit_unguided():
    model, b = _dubber_and_batch()
    plain = _synth(model, b)["mel"]
    zero = _synth(model, b, emotion="happy", alpha=0.0, beta=0.0, gamma=15.0, expert=ToyClassifier())["mel"]
    assert torch.equal(plain, zero)
    guided = _synth(model, b, emotion="happy", alpha=1.0, expert=ToyClassifier())["mel"]
    assert not torch.equal(plain, guided)


def test_positive_and_negative_guidance_raise_the_target_log_probability():
    model, b = _dubber_and_batch()
    clf = ToyClassifier()
    target = 2  # "sad"

    def logp(mel):
        return torch.log_softmax(clf(mel, 1.0, (mel.abs().sum(1, keepdim=True) > 0).float()), -1)[:, target]

    base = logp(_synth(model, b)["mel"])
    pos = logp(_synth(model, b, emotion=target, alpha=2.0, expert=clf)["mel"])
    neg = logp(_synth(model, b, emotion=target, beta=2.0, expert=clf)["mel"])
    assert (pos > base).all()
    assert (neg > base).all()


def test_pngm_negative_weights_are_renormalised_posteriors():
    clf = ToyClassifier()
    phi = torch.randn(1, 80, 10)
    mask = torch.ones(1, 1, 10)
    g = PNGMGuidance(clf, torch.tensor([0]), alpha=0.0, beta=1.0)
    v = torch.zeros_like(phi)
    out = g(phi, torch.tensor(0.5), mask, v)
    # reference: gradient of -log Σ_{j≠0} l_j p_j with l_j = sg(p_j) / Σ_{k≠0} sg(p_k)
    x = phi.clone().requires_grad_(True)
    p = torch.softmax(clf(x, 0.5, mask), -1)[0]
    l = p.detach()[1:] / p.detach()[1:].sum()
    (-torch.log((l * p[1:]).sum())).backward()
    assert torch.allclose(out, x.grad, atol=1e-6)


def test_emotion_expert_learns_a_separable_toy_task():
    torch.manual_seed(0)
    expert = EmotionExpert(tiny_model_cfg(expert_channels=16, expert_layers=2))
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(8) % 2
    mel = torch.randn(8, 80, 24, generator=g) * 0.3 + (labels.float() * 2 - 1)[:, None, None]
    lengths = torch.full((8,), 24)
    opt = torch.optim.Adam(expert.parameters(), lr=3e-3)
    for _ in range(40):
        loss, acc = expert.loss(mel, lengths, labels, generator=g, t=torch.full((8,), 1.0))
        opt.zero_grad()
        loss.backward()
        opt.step()
    expert.eval()
    logits = expert(mel, torch.ones(8))
    assert (logits.argmax(-1) == labels).float().mean() == 1.0
    assert logits.shape == (8, 7)


def test_guidance_works_under_inference_mode():
    model, b = _dubber_and_batch()
    clf = ToyClassifier()
    ref = _synth(model, b, emotion=1, alpha=1.0, beta=0.5, expert=clf)["mel"]
    with torch.inference_mode():
        mel = _synth(model, b, emotion=1, alpha=1.0, beta=0.5, expert=clf)["mel"]
    assert torch.allclose(mel, ref, atol=1e-5)


# ---- the expert that sees what the sampler sees (issue: emotion control for every emotion) --------------------


def _mu_expert(**over):
    torch.manual_seed(0)
    return EmotionExpert(tiny_model_cfg(expert_channels=16, expert_layers=2, expert_condition="mu", **over))


def test_mu_conditioned_expert_reads_mu_and_refuses_to_guess_it():
    expert = _mu_expert()
    phi, mu = torch.randn(2, 80, 24), torch.randn(2, 80, 24)
    a, b = expert(phi, 0.5, mu=mu), expert(phi, 0.5, mu=mu + 1)
    assert a.shape == (2, 7) and not torch.allclose(a, b)
    with pytest.raises(ShapeError, match="conditioned on the prior"):
        expert(phi, 0.5)
    with pytest.raises(ValueError, match="mu="):
        PNGMGuidance(expert, torch.tensor([0, 1]), alpha=1.0)


def test_expert_trains_on_noise_at_the_samplers_temperature():
    seen = []
    expert = EmotionExpert(tiny_model_cfg(expert_channels=16, expert_layers=2, expert_noise_scale=0.3))
    expert.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
    mel = torch.zeros(4, 80, 400)
    expert.loss(mel, torch.full((4,), 400), torch.zeros(4, dtype=torch.long), t=torch.zeros(4))
    assert seen[0].std().item() == pytest.approx(0.3, rel=0.05)


def test_guidance_waits_for_t_min_and_clips_its_step():
    expert = _mu_expert()
    phi, mu, v = torch.randn(1, 80, 24), torch.randn(1, 80, 24), torch.randn(1, 80, 24)
    mask = torch.ones(1, 1, 24)
    g = PNGMGuidance(expert, torch.tensor([3]), alpha=5.0, gamma=1000.0, mu=mu, t_min=0.4)
    assert g(phi, torch.tensor(0.2), mask, v) is v and g.history == []  # before t_min: v itself
    unclipped = g(phi, torch.tensor(0.6), mask, v)
    assert (unclipped - v).norm() > 0.5 * v.norm()
    g2 = PNGMGuidance(expert, torch.tensor([3]), alpha=5.0, gamma=1000.0, mu=mu, t_min=0.4, clip=0.5)
    step = g2(phi, torch.tensor(0.6), mask, v) - v
    assert step.norm() <= 0.5 * v.norm() * (1 + 1e-5)
    # same direction as the unclipped step
    assert torch.nn.functional.cosine_similarity(step.flatten(), (unclipped - v).flatten(), dim=0) > 0.999


def test_the_schedule_travels_with_the_expert():
    expert = _mu_expert(guidance_t_min=0.3, guidance_clip=0.25)
    g = PNGMGuidance(expert, torch.tensor([0]), alpha=1.0, mu=torch.zeros(1, 80, 8))
    assert (g.t_min, g.clip) == (0.3, 0.25)
    with pytest.raises(ValueError, match="gamma"):
        PNGMGuidance(expert, torch.tensor([0]), alpha=1.0, gamma=-1.0, mu=torch.zeros(1, 80, 8))


# ---- the expert that hears emotion relative to the speaker's neutral voice ("mu_ref") -------------------------


def _ref_expert(**over):
    torch.manual_seed(0)
    return EmotionExpert(tiny_model_cfg(expert_channels=16, expert_layers=2, expert_condition="mu_ref", **over))


@pytest.mark.parametrize("pooling", ["mean", "stats"])
def test_ref_expert_reads_speech_relative_to_the_speakers_neutral_voice(pooling):
    """φ_t − t r̄ and μ − r̄: a voice whose whole spectrum is shifted by c, with its reference shifted by c, is the
    same input (φ_t carries t·c of it); without the matching reference shift the logits move."""
    expert = _ref_expert(expert_pooling=pooling).eval()
    phi, mu, ref = torch.randn(2, 80, 24), torch.randn(2, 80, 24), torch.randn(2, 80)
    c, t = torch.randn(2, 80), torch.tensor([0.3, 0.8])
    base = expert(phi, t, mu=mu, ref=ref)
    moved = expert(phi + t[:, None, None] * c[:, :, None], t, mu=mu + c[:, :, None], ref=ref + c)
    assert base.shape == (2, 7)
    assert torch.allclose(base, moved, atol=1e-5)
    assert not torch.allclose(base, expert(phi, t, mu=mu, ref=ref + c), atol=1e-3)


def test_ref_expert_refuses_to_guess_its_reference():
    expert = _ref_expert()
    phi, mu = torch.randn(2, 80, 24), torch.randn(2, 80, 24)
    with pytest.raises(ShapeError, match="neutral reference"):
        expert(phi, 0.5, mu=mu)
    with pytest.raises(ShapeError, match=r"\[B, 80\]"):
        expert(phi, 0.5, mu=mu, ref=torch.zeros(3, 80))
    with pytest.raises(ValueError, match="ref="):
        PNGMGuidance(expert, torch.tensor([0, 1]), alpha=1.0, mu=mu)


def test_stats_pooling_hears_the_spread_that_mean_pooling_averages_away():
    """Statistics pooling (mean and std, the judge's) feeds the head twice the channels, and its std half tells a
    flat input from an alternating one with the same time-mean."""
    torch.manual_seed(0)
    cfg = dict(expert_channels=16, expert_layers=1)
    flat = torch.zeros(1, 80, 16)
    wavy = torch.zeros(1, 80, 16)
    wavy[..., ::2], wavy[..., 1::2] = 1.0, -1.0
    for pooling in ("mean", "stats"):
        e = EmotionExpert(tiny_model_cfg(expert_pooling=pooling, **cfg)).eval()
        feats = []
        e.head.register_forward_hook(lambda m, a, o: feats.append(a[0]))
        e(flat, 1.0), e(wavy, 1.0)
        assert feats[0].shape[-1] == (32 if pooling == "stats" else 16)
    assert not torch.allclose(feats[0][:, 16:], feats[1][:, 16:])  # the std half differs


def test_guided_dubbing_with_a_ref_expert_takes_the_reference_clip():
    from emodubber.models.emotion import reference_mel
    model, b = _dubber_and_batch()
    expert = _ref_expert().eval()
    kw = dict(expert=expert, emotion="sad", alpha=2.0, gamma=50.0)
    with pytest.raises(ValueError, match="neutral reference"):
        _synth(model, b, **kw)
    ref = reference_mel(b.mel, b.mel_lengths)
    assert ref.shape == (b.mel.shape[0], 80)
    a = _synth(model, b, **kw, expert_ref=ref)["mel"]
    other = _synth(model, b, **kw, expert_ref=ref + 1.0)["mel"]
    plain = _synth(model, b)["mel"]
    assert not torch.allclose(a, plain) and not torch.allclose(a, other)


def test_reference_mel_ignores_padding():
    from emodubber.models.emotion import reference_mel
    mel = torch.randn(2, 80, 10)
    mel[1, :, 6:] = 100.0
    r = reference_mel(mel, torch.tensor([10, 6]))
    assert torch.allclose(r[1], mel[1, :, :6].mean(-1)) and torch.allclose(r[0], mel[0].mean(-1))
