"""emodubber.reports.experiments on the tiny flite corpus with tiny random-weight checkpoints.

The models are untrained, so the tests check plumbing and properties that hold for any weights: the
settings condition on the right speaker embedding, generated audio has the video's length (T = 4F),
outputs are cached and reused, a changed setting regenerates, guidance changes the output, the GT rows
share everything but SECS across settings, and the sweep has one row per (emotion, curve, α, clip).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tests.fixtures.tiny_corpus import tiny_cfg

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def write_random_checkpoints(cfg, model_cfg=None, seed: int = 0, judge: bool = True) -> dict:
    """Random-weight checkpoints where the stages and judges would write them; returns their paths."""
    from emodubber.metrics.emotion_judge import EmotionJudgeNet, emotion_judge_path
    from emodubber.models.checkpointing import write_model_file
    from emodubber.models.dubber import EmoDubber
    from emodubber.models.emotion import EmotionExpert

    torch.manual_seed(seed)
    mcfg = model_cfg or cfg.model
    paths = {}
    for stage, variant, over in (("dubber", "", {}), ("baselines", "lip_blind", {"lip_blind": True}),
                                 ("baselines", "no_lcl", {"use_lpa_loss": False}),
                                 ("baselines", "no_pe", {"use_pe": False})):
        m = EmoDubber(dataclasses.replace(mcfg, **over), cfg.audio)
        d = cfg.checkpoint_dir(stage) / variant if variant else cfg.checkpoint_dir(stage)
        paths[(stage, variant)] = m.save(d / "model.pt")
    expert = EmotionExpert(mcfg)
    paths["expert"] = write_model_file(cfg.checkpoint_dir("emotion_expert") / "model.pt", "EmotionExpert",
                                       expert.state_dict(), {"model": dataclasses.asdict(mcfg),
                                                             "audio": dataclasses.asdict(cfg.audio)})
    if judge:
        net = EmotionJudgeNet(channels=16, embed_dim=8)
        p = emotion_judge_path(cfg)
        p.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": net.eval().state_dict(), "hparams": net.hparams, "mel_mean": np.zeros(80, np.float32),
                    "mel_std": np.ones(80, np.float32), "emotions": ["neutral", "happy", "sad", "surprised", "angry",
                                                                     "fearful", "disgusted"],
                    "audio": dataclasses.asdict(cfg.audio), "steps": 0, "seed": seed}, p)
        paths["judge"] = p
    return paths


@pytest.fixture(scope="module")
def exp_cfg(tmp_path_factory):
    """The tiny corpus (features extracted) in its own work dir, with references.tsv and random checkpoints."""
    import shutil

    from emodubber.config import load_profile
    from emodubber.data.manifest import read_manifest, setting2_references, write_references
    from tests.models.conftest import tiny_model_cfg

    base = tiny_cfg(tmp_path_factory)
    work = tmp_path_factory.mktemp("exp")
    shutil.copytree(base.corpus_dir, work / "corpus")
    shutil.copytree(base.features_dir, work / "features")
    cfg = load_profile("smoke", overrides={"paths.work_dir": str(work), "paths.reports_dir": str(work / "rep"),
                                           "eval.n_steps": 2, "eval.n_alpha": 3, "eval.n_intensity_clips": 2},
                       local=None)
    recs = read_manifest(cfg.corpus_dir / "dubbing.jsonl")
    for r in recs:  # the tiny corpus puts 2 clips in test; put every clip there so each has a reference
        r.split = "test"
    from emodubber.data.manifest import write_manifest

    write_manifest(cfg.corpus_dir / "dubbing.jsonl", recs)
    write_references(cfg.corpus_dir / "references.tsv", setting2_references(recs, seed=0))
    mcfg = tiny_model_cfg(lip_channels=[8, 16])
    cfg = dataclasses.replace(cfg, model=mcfg)
    write_random_checkpoints(cfg, mcfg)
    return cfg


@pytest.fixture(scope="module")
def ex(exp_cfg):
    from emodubber.reports.experiments import Experiment

    torch.set_num_threads(1)
    return Experiment(exp_cfg, show_progress=False, log=lambda s: None, sweep_batch_size=2)


def test_test_clips_have_video_features_and_references(ex):
    clips = ex.test_clips(4)
    assert 1 <= len(clips) <= 4 and clips == sorted(clips)
    for c in clips:
        assert ex.records[c].video and c in ex.index
        assert ex.references[c] != c and ex.references[c] in ex.index


def test_settings_condition_on_the_right_speaker(ex):
    c = ex.test_clips(1)[0]
    ref = ex.references[c]
    s1, s2 = ex.inputs(c, 1), ex.inputs(c, 2)
    np.testing.assert_array_equal(s1["spk_emb"].numpy(), ex.features(c)["spk_emb"])
    np.testing.assert_array_equal(s2["spk_emb"].numpy(), ex.features(ref)["spk_emb"])
    assert torch.equal(s1["phonemes"], s2["phonemes"]) and torch.equal(s1["lip"], s2["lip"])
    assert s1["lip"].dim() == 4 and s1["lip"].shape[1] == 1


def test_generated_audio_matches_the_video_length_and_is_cached(ex):
    import soundfile as sf

    clips = ex.test_clips(3)
    for system in ("EmoDubber", "lip-blind TTS", "EmoDubber w/o PE"):
        wavs = ex.generate(system, 2, clips)
        for c, p in wavs.items():
            x, sr = sf.read(p)
            F = ex.features(c)["lip"].shape[0]
            assert sr == 16000 and len(x) == 640 * F, (system, c)  # T = 4F mel frames x 160 samples
            assert np.load(p.with_suffix(".npy")).shape == (80, 4 * F)
    before = {p: p.stat().st_mtime_ns for p in wavs.values()}
    again = ex.generate("EmoDubber w/o PE", 2, clips)
    assert {p: p.stat().st_mtime_ns for p in again.values()} == before  # reused, not regenerated


def test_a_changed_generation_key_clears_the_cache(ex, exp_cfg):
    from emodubber.reports.experiments import Experiment

    clips = ex.test_clips(2)
    p = ex.generate("EmoDubber", 1, clips)[clips[0]]
    m1 = np.load(p.with_suffix(".npy"))
    other = Experiment(exp_cfg, seed=99, show_progress=False, log=lambda s: None)
    p2 = other.generate("EmoDubber", 1, clips)[clips[0]]
    assert p2 == p  # same directory, new key: regenerated under the new seed
    assert not np.allclose(np.load(p2.with_suffix(".npy")), m1)
    ex.generate("EmoDubber", 1, clips)  # restore for the other tests


def test_a_clip_output_does_not_depend_on_what_else_was_generated(ex, exp_cfg):
    from emodubber.reports.experiments import Experiment

    clips = ex.test_clips(3)
    together = ex.generate("EmoDubber w/o L_cl", 2, clips)
    alone = Experiment(exp_cfg, show_progress=False, log=lambda s: None)
    alone.root = exp_cfg.work_dir / "generated_alone"
    single = alone.generate("EmoDubber w/o L_cl", 2, [clips[-1]])
    np.testing.assert_allclose(np.load(single[clips[-1]].with_suffix(".npy")),
                               np.load(together[clips[-1]].with_suffix(".npy")), atol=1e-5)


def test_guidance_changes_the_output(ex):
    # (settings differ only through S_id, which an untrained SALN ignores: checked on the inputs above)
    c = ex.test_clips(1)
    m2 = ex.mel("EmoDubber", c[0], 2)
    g = ex.mel("EmoDubber", c[0], 2, emotion="angry", alpha=5.0, beta=1.0)
    assert g.shape == m2.shape and not np.allclose(g, m2)
    assert ex.gen_dir("EmoDubber", 2, "angry_a5_b1").is_dir()


def test_gt_rows_and_setting_independence(ex):
    from emodubber.metrics.evaluate import Judges

    clips = ex.test_clips(2)
    gt = ex.generate("GT", 1, clips)
    assert all(p == ex.records[c].path(ex.corpus_dir, "wav") for c, p in gt.items())
    vm = ex.generate("GT mel + vocoder", 2, clips)
    assert vm[clips[0]].parent == ex.gen_dir("GT mel + vocoder", 1)  # one copy for both settings
    judges = Judges(mcd=True)  # MCD only: fast and judge-free
    t1, p1 = ex.evaluate("GT mel + vocoder", 1, clips, judges, metrics=("mcd",))
    t2, p2 = ex.evaluate("GT mel + vocoder", 2, clips, judges, metrics=("mcd",))
    assert list(t1["clip_id"]) == clips and (t2["setting"] == 2).all()
    np.testing.assert_allclose(t1["mcd_dtw"], t2["mcd_dtw"])
    assert (t1["mcd_dtw"] > 0).all()
    tg, _ = ex.evaluate("GT", 1, clips, judges, metrics=("mcd",))
    np.testing.assert_allclose(tg["mcd_dtw"], 0.0, atol=1e-6)  # GT against itself


def test_evaluate_is_cached(ex):
    from emodubber.metrics.evaluate import Judges

    clips = ex.test_clips(2)
    t, prov = ex.evaluate("lip-blind TTS", 2, clips, Judges(mcd=True), metrics=("mcd",))
    assert prov["setting"] == 2 and prov["generation"]["system"] == "lip-blind TTS"
    caches = list(ex.gen_dir("lip-blind TTS", 2).glob("eval_S2_*.pkl"))
    assert len(caches) == 1
    t_again, _ = ex.evaluate("lip-blind TTS", 2, clips, Judges(mcd=True), metrics=("mcd",))
    assert t_again.equals(t)


def test_subset_judges_keeps_only_the_asked_ones():
    from emodubber.metrics.evaluate import Judges
    from emodubber.reports.generation import subset_judges

    j = Judges(asr="A", phones="P", speaker="S", mcd=True, missing={"lse": "no weights", "emotion": "x"})
    s = subset_judges(j, ("secs", "lse"))
    assert s.speaker == "S" and s.asr is None and s.phones is None and s.mcd is False
    assert s.missing == {"lse": "no weights"}
    assert j.asr == "A"  # the original is untouched


def test_intensity_sweep_rows_and_dedup(ex):
    from emodubber.metrics.emotion_judge import EmotionJudge, emotion_judge_path
    from emodubber.reports.intensity import alpha_grid

    judge = EmotionJudge(emotion_judge_path(ex.cfg))
    clips = ex.test_clips(2)
    df = ex.intensity_sweep(judge, emotions=["happy", "sad"], clips=clips, n_steps=1)
    alphas = alpha_grid(ex.cfg.eval.alpha_max, ex.cfg.eval.n_alpha)
    assert len(df) == 2 * 3 * len(alphas) * len(clips)
    assert set(df["curve"]) == {"beta=alpha/4", "beta=0.6", "beta=0"}
    assert df["IS"].between(0, 1).all()
    b = df[df["curve"] == "beta=alpha/4"]
    np.testing.assert_allclose(b["beta"], b["alpha"] / 4, atol=1e-6)
    # α = β = 0 is one unguided sample shared by every emotion and curve: identical audio, same posterior
    z = df[(df["alpha"] == 0) & (df["beta"] == 0)]
    assert z.groupby("clip_id")["pred"].nunique().eq(1).all()
    assert df.attrs["n_generated_points"] == 1 + 2 * (3 * (len(alphas) - 1) + 1)
    again = ex.intensity_sweep(judge, emotions=["happy", "sad"], clips=clips, n_steps=1)  # from the CSV
    np.testing.assert_allclose(again["IS"].to_numpy(), df["IS"].to_numpy(), atol=1e-6)


def test_emotion_outputs_unguided_seeds_differ_per_emotion(ex):
    clips = ex.test_clips(1)
    out = ex.emotion_outputs(clips, ["happy", "sad"], system="lip-blind TTS", guided=False)
    a = np.load(out["happy"][clips[0]].with_suffix(".npy"))
    b = np.load(out["sad"][clips[0]].with_suffix(".npy"))
    assert a.shape == b.shape and not np.allclose(a, b)
    g = ex.emotion_outputs(clips, ["happy"], alpha=1.0, beta=0.25)
    assert g["happy"][clips[0]].parent.name == "happy_a1_b0.25"


def test_synth_fn_drives_the_explorer_headless(ex, tmp_path):
    from emodubber.metrics.emotion_judge import EmotionJudge, emotion_judge_path
    from emodubber.reports.explorer import run_explorer
    from emodubber.reports.explorer_app import judge_fn_from

    clips = ex.test_clips(2)
    res = run_explorer(False, ex.synth_fn(), judge_fn_from(EmotionJudge(emotion_judge_path(ex.cfg))), clips,
                       emotion="sad", alpha=3.0, beta=0.75, gamma=1.0, n_steps=2, path=tmp_path / "x.png")
    assert (tmp_path / "x.png").exists()
    assert len(res.audio) == 640 * ex.features(clips[0])["lip"].shape[0]
    assert abs(float(res.posterior.sum()) - 1) < 1e-4 and 0 <= res.intensity <= 1


def test_equal_steps_control_is_the_dubbers_training_checkpoint_nearest_the_ablations_steps(ex, exp_cfg):
    """The ablations train for a few minutes under the cpu profile, the full model for ~18: the control row
    is EmoDubber's own numbered training checkpoint nearest to the ablations' median step count."""
    import soundfile as sf

    from emodubber.models.dubber import EmoDubber
    from emodubber.reports.systems import EQUAL_STEPS, matched_step_checkpoint, system_spec
    from emodubber.train.checkpoint import save_checkpoint

    assert ex.available([EQUAL_STEPS])[EQUAL_STEPS].startswith("missing checkpoint")  # nothing to match yet
    cfg = exp_cfg
    d = cfg.checkpoint_dir("dubber")
    config = {"stage": "dubber", "model": dataclasses.asdict(cfg.model), "audio": dataclasses.asdict(cfg.audio)}
    for step in (150, 300, 450):
        torch.manual_seed(step)
        save_checkpoint(d / f"step_{step:07d}.pt", model=EmoDubber(cfg.model, cfg.audio), step=step, seed=0,
                        config=config, stage="dubber")
    for variant, step, over in (("no_lcl", 172, {"use_lpa_loss": False}), ("no_pe", 162, {"use_pe": False})):
        EmoDubber(dataclasses.replace(cfg.model, **over), cfg.audio).save(
            cfg.checkpoint_dir("baselines") / variant / "model.pt", extra={"step": step})
    path, info = matched_step_checkpoint(cfg, "dubber", ("no_lcl", "no_pe"))
    assert path == d / "step_0000150.pt" and info["target_step"] == 167 and info["step"] == 150
    assert system_spec(EQUAL_STEPS).checkpoint(cfg) == path and ex.available([EQUAL_STEPS])[EQUAL_STEPS] == ""
    clip = ex.test_clips(1)
    wav = ex.generate(EQUAL_STEPS, 2, clip)[clip[0]]
    assert len(sf.read(wav)[0]) == 640 * ex.features(clip[0])["lip"].shape[0]
    full = np.load(ex.generate("EmoDubber", 2, clip)[clip[0]].with_suffix(".npy"))
    assert not np.allclose(np.load(wav.with_suffix(".npy")), full)  # other weights, other speech
    with pytest.raises(KeyError, match="unknown system"):
        system_spec("EmoDubber v2")
    (d / "step_0000150.pt").unlink()  # the nearest left, 300, is too far from 167 to be a control
    path, info = matched_step_checkpoint(cfg, "dubber", ("no_lcl", "no_pe"))
    assert not path.exists() and info["step"] is None and info["nearest"] == 300


class _SpyJudge:
    """A stand-in field judge (Whisper or DNSMOS): fixed columns, counts the clips it scores."""

    def __init__(self, columns):
        self.columns, self.calls = columns, 0

    @property
    def settings(self):
        return {"judge": "spy", "columns": sorted(self.columns)}

    def score(self, audio, *reference):
        self.calls += 1
        return {**self.columns, "error": ""}


def _spies():
    return (_SpyJudge({"hyp_whisper": "bin blue", "word_errors_whisper": 1, "ref_words_whisper": 4,
                       "wer_whisper": 0.25}),
            _SpyJudge({"dnsmos_sig": 3.0, "dnsmos_bak": 4.0, "dnsmos_ovrl": 2.5, "dnsmos_p808": 3.5}))


def test_field_judges_are_scored_and_cached_apart_reusing_the_other_judges_cache(ex, monkeypatch):
    """Adding Whisper / DNSMOS to a table scores only them: the other judges' cached evaluation is reused as it is."""
    from emodubber.metrics import evaluate as ev
    from emodubber.metrics.evaluate import Judges

    monkeypatch.setattr(ex.cfg.eval, "field_judges", ["whisper", "dnsmos"])  # the smoke profile leaves them out
    clips = ex.test_clips(2)
    base, _ = ex.evaluate("EmoDubber w/o PE", 1, clips, Judges(mcd=True), metrics=("mcd",))
    d = ex.gen_dir("EmoDubber w/o PE", 1)
    before = {p: p.stat().st_mtime_ns for p in d.glob("eval_S1_*.pkl")}
    assert len(before) == 1
    mcd_calls = []
    monkeypatch.setattr(ev, "mcd_all", lambda *a: mcd_calls.append(a) or {"error": ""})
    whisper, dnsmos = _spies()
    judges = Judges(mcd=True, whisper=whisper, dnsmos=dnsmos)
    t, prov = ex.evaluate("EmoDubber w/o PE", 1, clips, judges, metrics=("mcd", "whisper", "dnsmos"))
    assert mcd_calls == [] and whisper.calls == dnsmos.calls == len(clips)  # only the field judges ran
    after = {p: p.stat().st_mtime_ns for p in d.glob("eval_S1_*.pkl")}
    assert {p: after[p] for p in before} == before and len(after) == 2  # base cache untouched, one of their own
    assert list(t["clip_id"]) == clips
    np.testing.assert_allclose(t["mcd_dtw"], base["mcd_dtw"])
    assert (t["wer_whisper"] == 0.25).all() and (t["dnsmos_ovrl"] == 2.5).all() and (t["error"] == "").all()
    assert {"whisper", "dnsmos"} <= set(prov["judges"]) and prov["generation"]["system"] == "EmoDubber w/o PE"
    again, _ = ex.evaluate("EmoDubber w/o PE", 1, clips, judges, metrics=("mcd", "whisper", "dnsmos"))
    assert whisper.calls == len(clips) and again.equals(t)  # both parts from their caches


def test_field_judges_follow_the_profile_switch_and_the_setting_independent_rows(ex, monkeypatch):
    from emodubber.metrics.evaluate import Judges

    assert ex.cfg.eval.field_judges == []  # the smoke profile: no field judges, their columns absent
    clips = ex.test_clips(2)
    whisper, dnsmos = _spies()
    judges = Judges(mcd=True, whisper=whisper, dnsmos=dnsmos)
    off, _ = ex.evaluate("GT mel + vocoder", 1, clips, judges, metrics=("mcd", "whisper", "dnsmos"))
    assert "wer_whisper" not in off and "dnsmos_ovrl" not in off and whisper.calls == 0
    monkeypatch.setattr(ex.cfg.eval, "field_judges", ["whisper", "dnsmos"])
    t1, _ = ex.evaluate("GT mel + vocoder", 1, clips, judges, metrics=("mcd", "whisper", "dnsmos"))
    t2, _ = ex.evaluate("GT mel + vocoder", 2, clips, judges, metrics=("mcd", "whisper", "dnsmos"))
    assert whisper.calls == len(clips)  # the same audio in both settings: scored once
    np.testing.assert_allclose(t2["dnsmos_ovrl"], t1["dnsmos_ovrl"])
    assert (t2["setting"] == 2).all()
    monkeypatch.setattr(ex.cfg.eval, "field_judges", ["dnsmos"])
    assert ex.profile_metrics(("wer", "whisper", "dnsmos")) == ("wer", "dnsmos")
    t, _ = ex.evaluate("EmoDubber", 2, clips, judges, metrics=("mcd", "whisper", "dnsmos"))
    assert "dnsmos_ovrl" in t and "wer_whisper" not in t and whisper.calls == len(clips)
    with pytest.raises(ValueError, match="hold no dnsmos judge"):
        ex.evaluate("EmoDubber", 2, clips, Judges(mcd=True), metrics=("mcd", "dnsmos"))
