"""The stages on in-memory fake clips (tests/train/fakes.py) with the smoke model: wiring, files, reports."""

from __future__ import annotations

import json

import pytest
import torch

from emodubber.config import load_profile
from emodubber.models.dubber import EmoDubber
from emodubber.train import stages
from emodubber.train.validate import TrainInputError

from .fakes import fake_items


def _cfg(tmp_path, **over):
    base = {"paths.work_dir": str(tmp_path / "work"), "paths.reports_dir": str(tmp_path / "rep"),
            "train.threads": 1}
    for s in ("tts", "dubber", "baselines"):
        base.update({f"train.{s}.steps": 2, f"train.{s}.val_every": 1, f"train.{s}.ckpt_every": 2,
                     f"train.{s}.batch_size": 4})
    base.update(over)
    return load_profile("smoke", overrides=base, local=None)


@pytest.fixture(scope="module")
def data():
    return fake_items(8), fake_items(3, seed=1, prefix="v")


@pytest.mark.slow
def test_tts_then_dubber_partial_load(tmp_path, data):
    from emodubber.models.dubber import EmoDubber

    cfg = _cfg(tmp_path)
    tts = stages.train_tts(cfg, datasets=data)
    assert tts.model_path.exists() and tts.result.step == 2
    assert {"loss", "prior", "cfm", "duration", "mu_mse"} <= set(tts.metrics)
    summary = json.loads((tts.out_dir / "summary.json").read_text())
    assert summary["result"]["samples_per_s"] > 0
    m = EmoDubber.from_pretrained(tts.model_path)
    assert m.cfg.lip_blind  # TTS stage = the lip-free parts
    out = stages.synthesise_tts(m, __import__("emodubber.data.dataset", fromlist=["collate"]).collate(data[1]),
                                n_steps=2)
    assert out["mel"].shape[-1] == int(out["mel_lengths"].max())

    dub = stages.train_dubber(cfg, datasets=data)
    roots = {k.split(".")[0] for k in dub.info["missing_keys"]}
    # what the TTS does not have, and the ×4 up-sampler it holds but never trains (TTS mode expands at mel rate)
    assert roots == {"lip_encoder", "lpa", "pe", "ctc_head", "sia"}
    assert {k for k in dub.info["missing_keys"] if k.startswith("sia.")} == {
        k for k in dub.info["missing_keys"] if k.startswith("sia.upsample.")}
    assert dub.info["unexpected_keys"] == []
    assert 0 <= dub.metrics["dur_within_1"] <= 1 and 0 <= dub.metrics["attn_on_truth"] <= 1
    snaps = sorted((dub.out_dir / "attn").glob("step_*.npz"))
    assert [p.name for p in snaps] == ["step_0000001.npz", "step_0000002.npz"]
    z = dict(__import__("numpy").load(snaps[-1]))
    key = next(k for k in z if k.endswith("/attn"))
    assert z[key].shape == z[key.replace("/attn", "/gt")].shape  # [F, P] beside the truth
    assert torch.allclose(torch.from_numpy(z[key]).sum(-1), torch.ones(z[key].shape[0]), atol=1e-4)
    dubbed = EmoDubber.from_pretrained(dub.model_path)
    assert not dubbed.cfg.lip_blind


def test_dubber_refuses_missing_tts_and_speech_only_data(tmp_path, data):
    cfg = _cfg(tmp_path)
    with pytest.raises(TrainInputError, match="TTS model .* does not exist"):
        stages.train_dubber(cfg, datasets=data)
    with pytest.raises(TrainInputError, match="no video"):
        stages.train_dubber(cfg, datasets=(fake_items(4, video=False), None), init_from=None)


def test_bad_inputs_refused_before_training(tmp_path, data):
    cfg = _cfg(tmp_path, **{"train.tts.crop_frames": 30})
    with pytest.raises(TrainInputError, match="crop_frames = 30 must be a multiple of 4"):
        stages.train_tts(cfg, datasets=data)
    bad = fake_items(4)
    bad[2]["speaker_id"] = 7
    with pytest.raises(TrainInputError, match=r"clip c2: speaker id 7 is out of range \[0, 2\)"):
        stages.train_tts(_cfg(tmp_path), datasets=(bad, None))
    broken = fake_items(4)
    broken[1]["mel"] = broken[1]["mel"][:, :-2]  # mel no longer 4 × video frames (durations kept consistent)
    broken[1]["durations"][-1] -= 2
    with pytest.raises(TrainInputError, match=r"T = .* mel frames for F = .* video frames \(clip c1\)"):
        stages.train_dubber(_cfg(tmp_path), datasets=(broken, None), init_from=None)
    with pytest.raises(TrainInputError, match="training set is empty"):
        stages.train_emotion_expert(_cfg(tmp_path), datasets=(fake_items(0, video=False), None))
    assert not (tmp_path / "work" / "checkpoints").exists() or not list((tmp_path / "work" / "checkpoints").rglob("*.pt"))


@pytest.mark.slow
def test_emotion_expert_learns_fake_emotions(tmp_path):
    cfg = _cfg(tmp_path, **{"train.emotion_expert.steps": 60, "train.emotion_expert.batch_size": 16,
                            "train.emotion_expert.lr": 3e-3, "train.emotion_expert.val_every": 30,
                            "train.emotion_expert.warmup_steps": 5, "model.guidance_t_min_from_val": True})
    tr = fake_items(64, video=False)
    out = stages.train_emotion_expert(cfg, datasets=(tr, fake_items(14, video=False, seed=1)),
                                      test_set=fake_items(28, video=False, seed=2))
    assert out.metrics["test_accuracy_clean"] > 3 / 7  # chance is 1/7
    conf = out.metrics["test_t1"]["confusion"]
    assert sum(map(sum, conf)) == 28
    expert = stages.load_emotion_expert(out.model_path)
    assert expert(torch.zeros(2, 80, 40), torch.ones(2)).shape == (2, 7)
    # the guidance schedule was chosen on the validation curve and travels with the saved expert
    assert set(out.metrics["val_accuracy_curve"]) >= {"0", "1"}
    assert expert.guidance_t_min == out.metrics["guidance_t_min"] and 0.0 <= expert.guidance_t_min < 1.0


def test_choose_t_min_starts_where_the_expert_is_halfway_to_its_clean_accuracy():
    from emodubber.train.expert import choose_t_min

    curve = [{"t": 0.0, "accuracy": 0.15}, {"t": 0.2, "accuracy": 0.3}, {"t": 0.4, "accuracy": 0.55},
             {"t": 0.6, "accuracy": 0.8}, {"t": 1.0, "accuracy": 0.9}]
    # halfway from chance (1/7) to 0.9 is ~0.52: first reached, and kept, at t = 0.4
    assert choose_t_min(curve) == 0.4
    assert choose_t_min([{"t": 0.0, "accuracy": 0.9}, {"t": 1.0, "accuracy": 0.9}]) == 0.0
    # a dip after the bar was crossed moves t_min past it
    dip = curve[:2] + [{"t": 0.4, "accuracy": 0.6}, {"t": 0.6, "accuracy": 0.4}, {"t": 1.0, "accuracy": 0.9}]
    assert choose_t_min(dip) == 0.99


def test_vocoder_generator_only_and_compare(tmp_path):
    cfg = _cfg(tmp_path, **{"train.vocoder.steps": 2, "train.vocoder.val_every": 2, "train.vocoder.batch_size": 2,
                            "model.hifigan_channels": 16, "train.vocoder_segment": 1600,
                            "train.vocoder_adversarial": False})
    g = torch.Generator().manual_seed(0)
    wavs = [0.1 * torch.randn(4800, generator=g) for _ in range(4)]
    out = stages.train_vocoder(cfg, datasets=(wavs, wavs[:1]))
    assert out.result.step == 2 and {"mel_l1_hifigan", "mel_l1_griffinlim"} <= set(out.metrics)
    gen = stages.load_vocoder(out.model_path)
    assert gen(torch.zeros(1, 80, 7)).shape == (1, 7 * 160)


def test_hifigan_loss_sends_each_gradient_to_its_own_net(tmp_path):
    cfg = _cfg(tmp_path, **{"model.hifigan_channels": 16})
    m = stages.HiFiGAN(cfg, adversarial=True)
    wav = 0.1 * torch.randn(1, 1600, generator=torch.Generator().manual_seed(0))
    # the discriminator loss alone must not move the generator, and the generator terms not the discriminators
    out = m.loss(wav)
    assert {"gen_adv", "feat", "disc", "mel_l1", "loss"} <= set(out)
    out["loss"].backward()
    assert all(p.grad is not None for p in m.generator.parameters())
    assert all(p.requires_grad for p in m.mpd.parameters())  # restored after the generator terms
    # isolate: gradient of the generator terms w.r.t. the discriminator is zero
    m.zero_grad()
    with torch.no_grad():
        mel = m.mel(wav)
    fake = m.generator(mel)
    for d in m.discriminators():
        d.requires_grad_(False)
    s, _ = m.mpd(fake)
    sum(x.mean() for x in s).backward()
    for d in m.discriminators():
        d.requires_grad_(True)
    assert all(p.grad is None for p in m.mpd.parameters())


@pytest.mark.slow
def test_baselines_by_the_same_loop(tmp_path, data):
    cfg = _cfg(tmp_path, **{"train.baselines.steps": 1, "train.baselines.val_every": 1,
                            "train.dubber.steps": 2, "train.dubber.val_every": 1})
    with pytest.raises(TrainInputError, match="teacher"):  # content consistency needs the TTS it keeps close to
        stages.train_baselines(cfg, datasets=data, variants=["content"], init_from=None)
    outs = stages.train_baselines(cfg, datasets=data, init_from=None,
                                  variants=[v for v in stages.BASELINES if v != "content"])
    assert set(outs) == {"lip_blind", "no_lcl", "no_pe", "paper_fusion", "paper_lcl"}
    # trained by its own recipe (train.dubber: as long as EmoDubber), from a TTS-mode model as init and teacher
    content = stages.train_baselines(cfg, datasets=data, variants=["content"],
                                     init_from=outs["lip_blind"].model_path)["content"]
    assert "content" in content.metrics
    assert EmoDubber.from_pretrained(content.model_path).cfg.loss_weights["content"] == 10.0
    assert torch.load(content.model_path, weights_only=False)["extra"]["step"] == 2
    assert "lcl" not in outs["no_lcl"].metrics and "lcl" in outs["no_pe"].metrics
    assert "lcl" in outs["paper_fusion"].metrics
    assert "dur_within_1" not in outs["lip_blind"].metrics
    for v, o in outs.items():
        assert o.out_dir.name == v and o.model_path.exists()
    with pytest.raises(TrainInputError, match="unknown baseline"):
        stages.train_baselines(cfg, datasets=data, variants=["nope"])
