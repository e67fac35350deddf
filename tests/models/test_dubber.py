import dataclasses

import pytest
import torch

from conftest import make_batch, tiny_model_cfg
from emodubber.models.baselines import ABLATIONS, VARIANTS, build_variant, synthesis_kwargs, variant_config
from emodubber.models.checkpointing import ModelFileError
from emodubber.models.dubber import EmoDubber, script_to_ids
from emodubber.modules.checks import ShapeError


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return EmoDubber(tiny_model_cfg())


def test_dubbing_loss_has_every_term_and_backpropagates(model):
    b = make_batch(B=2, F=8)
    losses = model.compute_loss(b, generator=torch.Generator().manual_seed(0))
    assert set(losses) == {"prior", "cfm", "pitch", "energy", "lcl", "ctc", "loss"}
    w = model.loss_weights
    total = sum(w[k] * v for k, v in losses.items() if k != "loss")
    assert torch.allclose(losses["loss"], total)
    assert all(torch.isfinite(v) for v in losses.values())
    model.zero_grad()
    losses["loss"].backward()
    for name in ("lip_encoder", "lpa", "pe", "sia", "decoder", "phoneme_encoder"):
        grads = [p.grad for p in getattr(model, name).parameters() if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), name


def test_tts_mode_on_speech_only_clips_with_crop(model):
    b = make_batch(B=2, F=8, speech_only=True)
    losses = model.compute_loss(b, mode="tts", crop_frames=16)
    assert set(losses) == {"prior", "cfm", "pitch", "energy", "duration", "loss"}
    with pytest.raises(ShapeError, match="mode='tts'"):
        model.compute_loss(b, mode="dubber")
    with pytest.raises(ValueError, match="multiple of 4"):
        model.compute_loss(b, mode="tts", crop_frames=10)


def test_t_equals_4f_contract_is_enforced_with_a_clear_error(model):
    b = make_batch(B=2, F=8)
    bad = dataclasses.replace(b, mel=b.mel[..., :-3])
    with pytest.raises(ShapeError, match=r"T = 4F"):
        model.compute_loss(bad)
    bad = dataclasses.replace(b, mel_lengths=b.mel_lengths + torch.tensor([0, 1]))
    with pytest.raises(ShapeError, match=r"clip1.*T = 4F"):
        model.compute_loss(bad)
    with pytest.raises(ShapeError, match="spk_emb"):
        model.compute_loss(dataclasses.replace(b, spk_emb=b.spk_emb[:, :100]))


def test_forward_shapes(model):
    b = make_batch(B=2, F=8)
    model.eval()
    out = model(b.phonemes, b.phoneme_lengths, b.spk_emb, lip=b.lip, lip_lengths=b.lip_lengths)
    P = b.phonemes.shape[1]
    assert out["mu"].shape == (2, 80, 32)
    assert out["attn"].shape == (2, 8, P) and out["path"].shape == (2, P, 8)
    assert out["durations"].sum(-1).tolist() == b.lip_lengths.tolist()
    assert out["mel_lengths"].tolist() == (4 * b.lip_lengths).tolist()
    assert out["mu"][1, :, 24:].abs().max() == 0
    assert out["ctc_log_probs"].shape == (2, 32, model.n_vocab + 1)


def test_synthesise_unbatched_and_durations(model):
    b = make_batch(B=1, F=8)
    r = model.synthesise(b.phonemes[0], b.lip[0], b.spk_emb[0], n_steps=2)
    assert r["mel"].shape == (1, 80, 32)
    assert int(r["durations"].sum()) == 32


def test_synthesise_reads_a_script_as_text_or_phones(model):
    from emodubber.text.g2p import text_to_phonemes

    b = make_batch(B=1, F=16)
    text = "bin blue at f two now"
    ids = script_to_ids(text)
    assert ids.tolist() == script_to_ids(text_to_phonemes(text)).tolist()
    assert ids[0] == ids[-1] != 0 and ids.dim() == 1
    by_text = model.synthesise(text, b.lip[0], b.spk_emb[0], n_steps=2)
    by_ids = model.synthesise(ids, b.lip[0], b.spk_emb[0], n_steps=2)
    assert torch.equal(by_text["mel"], by_ids["mel"])
    with pytest.raises(ValueError, match="zzyzxq"):
        model.synthesise("bin zzyzxq now", b.lip[0], b.spk_emb[0], n_steps=2)
    with pytest.raises(ValueError, match="QQ"):
        model.synthesise(["sil", "QQ", "sil"], b.lip[0], b.spk_emb[0], n_steps=2)


def test_save_load_round_trip_gives_identical_outputs(model, tmp_path):
    b = make_batch(B=2, F=8)
    model.eval()
    path = model.save(tmp_path / "m.pt")
    again = EmoDubber.from_pretrained(path)
    kw = dict(phoneme_lengths=b.phoneme_lengths, lip_lengths=b.lip_lengths, n_steps=3, seed=3)
    assert torch.equal(model.synthesise(b.phonemes, b.lip, b.spk_emb, **kw)["mel"],
                       again.synthesise(b.phonemes, b.lip, b.spk_emb, **kw)["mel"])
    assert again.cfg == model.cfg


def test_bad_model_files_are_named(model, tmp_path):
    path = model.save(tmp_path / "m.pt")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelFileError, match="cut.pt"):
        EmoDubber.from_pretrained(cut)
    payload = torch.load(path, weights_only=True)
    payload["emodubber_version"] = "99.0.0"
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(ModelFileError, match="99.0.0"):
        EmoDubber.from_pretrained(tmp_path / "old.pt")
    with pytest.raises(ModelFileError, match="no such"):
        EmoDubber.from_pretrained(tmp_path / "nothing.pt")


def test_load_partial_from_the_tts_stage(tmp_path):
    torch.manual_seed(1)
    tts = build_variant("lip_blind", tiny_model_cfg())
    dub = EmoDubber(tiny_model_cfg())
    tts.save(tmp_path / "tts.pt")
    missing, unexpected = dub.load_partial(tmp_path / "tts.pt")
    assert unexpected == []
    assert any(k.startswith("lip_encoder.") for k in missing)
    assert not any(k.startswith("decoder.") for k in missing)
    assert torch.equal(dub.decoder.estimator.out.weight, tts.decoder.estimator.out.weight)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_trains_and_synthesises(name):
    torch.manual_seed(0)
    m = build_variant(name, tiny_model_cfg())
    if m.loss_weights["content"] > 0:  # content consistency needs its TTS teacher
        m.set_content_teacher(build_variant("lip_blind", tiny_model_cfg()))
    b = make_batch(B=2, F=8)
    losses = m.compute_loss(b)
    losses["loss"].backward()
    if name == "no_lcl":
        assert "lcl" not in losses
    if name == "lip_blind":
        assert "duration" in losses and not hasattr(m, "lip_encoder")
    if name == "content":
        assert losses["content"] > 0
    kw = synthesis_kwargs(name, phoneme_lengths=b.phoneme_lengths, lip_lengths=b.lip_lengths, n_steps=2)
    r = m.synthesise(b.phonemes, b.lip, b.spk_emb, **kw)
    assert r["mel"].shape == (2, 80, 32)
    assert r["durations"].sum(-1).tolist() == (4 * b.lip_lengths).tolist()


def test_a_variant_sets_its_loss_weights_over_the_profiles():
    cfg = dataclasses.replace(tiny_model_cfg(), loss_weights={"lcl": 0.1, "ctc": 0.5})
    w = variant_config(cfg, "paper_lcl").loss_weights
    assert w == {"lcl": 0.001, "ctc": 0.5}  # its own L_cl weight, the profile's CTC weight kept
    assert cfg.loss_weights == {"lcl": 0.1, "ctc": 0.5}  # the profile is not changed
    assert all(a.recipe in ("baselines", "dubber") for a in ABLATIONS.values())


def test_tts_mode_accepts_mels_padded_beyond_the_longest_clip(model):
    b = make_batch(B=2, F=8, speech_only=True)
    padded = dataclasses.replace(b, mel=torch.nn.functional.pad(b.mel, (0, 5)))
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    a = model.compute_loss(b, mode="tts", generator=g())
    c = model.compute_loss(padded, mode="tts", generator=g())
    assert torch.allclose(a["prior"], c["prior"])


@pytest.mark.parametrize("name", ["smoke", "cpu", pytest.param("paper", marks=pytest.mark.slow)])
def test_presets_build_and_grow(name):
    from emodubber.config import load_profile

    sizes = {}
    for p in ("smoke", "cpu", name):
        cfg = load_profile(p, local=None, overrides={"corpus.root": "/x"} if p == "paper" else None)
        sizes[p] = EmoDubber(cfg.model, cfg.audio).count_parameters()["total"]
    assert sizes["smoke"] < sizes["cpu"] <= sizes[name] or name == "smoke"


def test_feature_input_dubber_and_too_many_phonemes_error():
    torch.manual_seed(0)
    m = EmoDubber(tiny_model_cfg(lip_input="features"))
    b = make_batch(B=2, F=8, lip_input="features")
    assert torch.isfinite(m.compute_loss(b)["loss"])
    few_frames = dataclasses.replace(b, lip=b.lip[:, :2], lip_lengths=torch.tensor([2, 2]))
    with pytest.raises(ShapeError, match="phonemes"):
        m(few_frames.phonemes, few_frames.phoneme_lengths, few_frames.spk_emb, lip=few_frames.lip,
          lip_lengths=few_frames.lip_lengths)
