"""The dubber that starts where the TTS ends (model.dub_fusion = "residual") and the pieces around it."""

from __future__ import annotations


import pytest
import torch

from conftest import make_batch, tiny_model_cfg
from emodubber.config import ConfigError, load_profile
from emodubber.models.dubber import EmoDubber
from emodubber.models.lip_encoder import LipEncoder
from emodubber.modules.alignment import fit_durations, sequence_mask, snap_to_video


def _tts_and_dubber(tmp_path, fusion="residual"):
    torch.manual_seed(0)
    tts = EmoDubber(tiny_model_cfg(lip_blind=True, dropout_strong=0.0, lpa_dropout=0.0))
    # move the TTS away from its initialisation so that equality is not a coincidence of fresh weights
    with torch.no_grad():
        for p in tts.parameters():
            p.add_(0.05 * torch.randn_like(p))
    path = tts.save(tmp_path / "tts.pt")
    torch.manual_seed(1)
    dub = EmoDubber(tiny_model_cfg(dub_fusion=fusion, dropout_strong=0.0, lpa_dropout=0.0))
    missing, _ = dub.load_partial(path)
    return tts.eval(), dub.eval(), missing


def _video_durations(b):
    """True mel-frame durations snapped to the 40-ms video grid (sum = F per clip)."""
    return snap_to_video(b.durations, b.phoneme_lengths, b.lip_lengths)


@pytest.mark.parametrize("alignment", ["mas", "true"])
def test_training_alignment_is_mas_or_the_snapped_true_durations(alignment, monkeypatch):
    torch.manual_seed(0)
    dub = EmoDubber(tiny_model_cfg(dub_fusion="residual", dub_train_alignment=alignment))
    b = make_batch(B=2, F=10)
    seen = {}
    forward = dub.forward

    def spy(*args, **kw):
        out = forward(*args, **kw)
        seen.update(given=kw.get("video_durations"), used=out["durations"])
        return out

    monkeypatch.setattr(dub, "forward", spy)
    loss = dub.compute_loss(b, mode="dubber")["loss"]
    assert torch.isfinite(loss)
    vd = _video_durations(b)
    assert torch.equal(vd.sum(-1), b.lip_lengths)
    assert torch.equal(vd, fit_durations(b.durations.float() / 4, sequence_mask(b.phoneme_lengths, vd.shape[1]).float(),
                                         b.lip_lengths))  # each boundary on the nearest video frame
    if alignment == "true":
        assert torch.equal(seen["given"], vd) and torch.equal(seen["used"], vd)
    else:
        assert seen["given"] is None  # MAS on the attention (a random model: not the true durations)
    with torch.no_grad():  # inference: MAS whatever the training alignment
        out = dub(b.phonemes, b.phoneme_lengths, b.spk_emb, lip=b.lip, lip_lengths=b.lip_lengths)
    assert torch.equal(out["durations"].sum(-1), b.lip_lengths)


def test_unknown_training_alignment_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match="model.dub_train_alignment"):
        load_profile("smoke", overrides={"model.dub_train_alignment": "gt"}, local=None)


def test_untrained_residual_dubber_reproduces_the_tts_prior(tmp_path):
    tts, dub, _ = _tts_and_dubber(tmp_path)
    b = make_batch(B=2, F=10)
    vd = _video_durations(b)
    with torch.no_grad():
        mu_tts = tts(b.phonemes, b.phoneme_lengths, b.spk_emb, pitch=b.pitch, energy=b.energy,
                     durations=vd * 4, mode="tts")["mu"]
        out = dub(b.phonemes, b.phoneme_lengths, b.spk_emb, lip=b.lip, lip_lengths=b.lip_lengths, pitch=b.pitch,
                  energy=b.energy, video_durations=vd)
    T = mu_tts.shape[-1]
    assert torch.equal(out["durations"], vd)
    assert torch.allclose(out["mu"][..., :T], mu_tts, atol=1e-5)
    assert out["mu"].shape == mu_tts.shape


def test_paper_fusion_does_not_reproduce_the_tts_prior(tmp_path):
    """The control: the published fusion starts from new weights, so its μ differs from the TTS's."""
    tts, dub, _ = _tts_and_dubber(tmp_path, fusion="paper")
    b = make_batch(B=2, F=10)
    vd = _video_durations(b)
    with torch.no_grad():
        mu_tts = tts(b.phonemes, b.phoneme_lengths, b.spk_emb, pitch=b.pitch, energy=b.energy,
                     durations=vd * 4, mode="tts")["mu"]
        mu = dub(b.phonemes, b.phoneme_lengths, b.spk_emb, lip=b.lip, lip_lengths=b.lip_lengths, pitch=b.pitch,
                 energy=b.energy, video_durations=vd)["mu"]
    assert not torch.allclose(mu[..., : mu_tts.shape[-1]], mu_tts, atol=1e-3)


def test_residual_branch_learns_from_the_first_step(tmp_path):
    _, dub, _ = _tts_and_dubber(tmp_path)
    dub.train()
    losses = dub.compute_loss(make_batch(B=2, F=8), generator=torch.Generator().manual_seed(0))
    losses["loss"].backward()
    assert dub.lip_residual.weight.grad.abs().sum() > 0


def test_partial_load_names_the_upsampler_the_tts_never_trained(tmp_path):
    _, _, missing = _tts_and_dubber(tmp_path)
    assert any(k.startswith("sia.upsample.") for k in missing)
    assert any(k.startswith("lip_residual.") for k in missing) and any(k.startswith("lpa.") for k in missing)
    assert not any(k.startswith("sia.usl.") for k in missing)


def test_fit_durations_snaps_to_the_video_grid():
    d = torch.tensor([[6.0, 5.0, 9.0, 0.0]])
    out = fit_durations(d / 4, torch.tensor([[1.0, 1.0, 1.0, 0.0]]), torch.tensor([5]))
    assert out.tolist() == [[2, 1, 2, 0]] and int(out.sum()) == 5


def test_lip_encoder_ignores_padded_frames():
    """Padding never reaches the BatchNorm statistics: a clip encodes the same alone or padded in a batch."""
    torch.manual_seed(0)
    enc = LipEncoder(tiny_model_cfg())
    enc.train()
    x = torch.rand(1, 6, 1, 16, 16)
    padded = torch.cat([x, torch.zeros(1, 4, 1, 16, 16)], dim=1)
    a = enc(x, torch.ones(1, 6, dtype=torch.bool))
    b = enc(padded, torch.tensor([[True] * 6 + [False] * 4]))
    assert torch.allclose(a, b[:, :6], atol=1e-5)
    assert b[:, 6:].abs().max() == 0


def test_lpa_dropout_comes_from_the_config():
    m = EmoDubber(tiny_model_cfg(lpa_dropout=0.0))
    assert m.lpa.drop.p == 0.0
    assert EmoDubber(tiny_model_cfg()).lpa.drop.p == 0.2


def test_bad_fusion_name_is_refused_by_the_config():
    with pytest.raises(ConfigError, match="model.dub_fusion"):
        load_profile("smoke", overrides={"model.dub_fusion": "sideways"}, local=None)


def test_content_term_pulls_the_prior_towards_the_frozen_tts(tmp_path):
    tts, dub, _ = _tts_and_dubber(tmp_path)
    dub.cfg.loss_weights = {}
    dub.loss_weights["content"] = 1.0
    b = make_batch(B=2, F=8)
    with pytest.raises(Exception, match="teacher"):
        dub.compute_loss(b)
    dub.set_content_teacher(tts)
    assert all(not p.requires_grad for p in tts.parameters())
    assert not any(k.startswith("_teacher") for k in dub.state_dict())  # the teacher is not saved with the dubber
    dub.train()
    losses = dub.compute_loss(b, generator=torch.Generator().manual_seed(0))
    assert "content" in losses and losses["content"] > 0
    losses["content"].backward()
    assert dub.lip_residual.weight.grad.abs().sum() > 0 and tts.sia.proj.weight.grad is None


def _lpa_grad_without_lcl(tmp_path, align_grad):
    torch.manual_seed(0)
    tts = EmoDubber(tiny_model_cfg(lip_blind=True, dropout_strong=0.0, lpa_dropout=0.0))
    path = tts.save(tmp_path / f"tts_{align_grad}.pt")
    torch.manual_seed(1)
    dub = EmoDubber(tiny_model_cfg(dub_fusion="residual", dub_align_grad=align_grad, use_lpa_loss=False,
                                   dropout_strong=0.0, lpa_dropout=0.0))
    dub.load_partial(path)
    dub.train()
    losses = dub.compute_loss(make_batch(B=2, F=8), generator=torch.Generator().manual_seed(0))
    losses["loss"].backward()
    g = sum(p.grad.abs().sum() for n, p in dub.named_parameters() if n.startswith("lpa.") and p.grad is not None)
    return float(g), losses


def test_straight_through_alignment_lets_reconstruction_train_the_attention(tmp_path):
    """Residual fusion at step 0 (Z = 0, no L_cl): the hard path A* gives the LPA no gradient; A* + sim − sg(sim)
    does, with the same losses forward."""
    g_none, l_none = _lpa_grad_without_lcl(tmp_path, "none")
    g_st, l_st = _lpa_grad_without_lcl(tmp_path, "straight_through")
    assert g_none == 0.0 and g_st > 0.0
    assert torch.allclose(l_none["prior"], l_st["prior"]) and torch.allclose(l_none["ctc"], l_st["ctc"])


def test_unknown_alignment_gradient_is_refused_with_its_key():
    cfg = load_profile("smoke")
    cfg.model.dub_align_grad = "soft"
    with pytest.raises(ConfigError, match="model.dub_align_grad"):
        cfg.validate()
