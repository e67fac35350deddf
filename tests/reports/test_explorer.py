"""The α/β explorer with stand-in synthesiser and judge: headless run, widgets, contracts."""

import numpy as np
import pytest

from emodubber.config import EMOTIONS
from emodubber.reports.explorer import Exploration, build_widgets, explore, posterior_series, run_explorer

PNG = b"\x89PNG\r\n\x1a\n"


class StandIn:
    """Mel brightens with α·γ; the judge's posterior of the asked emotion grows with the wav's amplitude."""

    def __init__(self):
        self.calls = []

    def synth(self, clip, emotion, alpha, beta, gamma, n_steps, seed=None):
        self.calls.append(dict(clip=clip, emotion=emotion, alpha=alpha, beta=beta, gamma=gamma, n_steps=n_steps,
                               seed=seed))
        rng = np.random.default_rng(seed)
        mel = rng.normal(-5, 1, (80, 120)) + alpha * gamma * 0.1
        k = EMOTIONS.index(emotion)
        wav = (0.05 * (1 + alpha) * np.sin(np.arange(8000) * 2 * np.pi * (100 + 50 * k) / 16000)).astype(np.float32)
        return {"mel": mel, "wav": wav}

    @staticmethod
    def judge(wav):
        f = int(np.abs(np.fft.rfft(wav)).argmax() * 16000 / len(wav))
        k = int(round((f - 100) / 50))
        logits = np.zeros(len(EMOTIONS))
        logits[k] = 10 * np.abs(wav).max()
        p = np.exp(logits - logits.max())
        return p / p.sum()


def test_explore_headless(tmp_path):
    s = StandIn()
    res = explore(s.synth, s.judge, "clip7", "sad", 3.0, 0.75, 2.0, 8, seed=11, path=tmp_path / "x.png")
    fig, wav, post = res  # unpackable as (Figure, audio, posterior)
    assert isinstance(res, Exploration)
    assert s.calls == [dict(clip="clip7", emotion="sad", alpha=3.0, beta=0.75, gamma=2.0, n_steps=8, seed=11)]
    assert list(post.index) == list(EMOTIONS) and post.sum() == pytest.approx(1.0)
    assert res.intensity == post["sad"] == post.max()
    assert wav.ndim == 1 and len(wav) == 8000
    titles = [ax.get_title() for ax in fig.axes]
    assert any("α = 3" in t and "β = 0.75" in t and "γ = 2" in t and "8 steps" in t for t in titles)
    assert any("IS(sad)" in t for t in titles)
    assert (tmp_path / "x.png").read_bytes()[:8] == PNG
    # a stronger α gives a higher IS with this stand-in: the explorer reports what the judge says
    assert explore(s.synth, s.judge, "clip7", "sad", 5.0, 0.0, 1.0, 8).intensity > res.intensity


def test_explore_contracts():
    s = StandIn()

    def synth_no_seed(clip, emotion, alpha, beta, gamma, n_steps):
        out = s.synth(clip, emotion, alpha, beta, gamma, n_steps, seed=0)
        return out["mel"][None], out["wav"]  # tuple with a batch axis on the mel

    r = explore(synth_no_seed, s.judge, 0, "angry", 1.0, 0.0, 1.0, 4, seed=5)
    assert r.posterior.attrs["emotion"] == "angry"
    with pytest.raises(ValueError):
        explore(s.synth, s.judge, 0, "bored", 1.0, 0.0, 1.0, 4)
    with pytest.raises(ValueError):
        explore(s.synth, lambda w: np.ones(len(EMOTIONS)), 0, "sad", 1.0, 0.0, 1.0, 4)  # not a distribution
    with pytest.raises(TypeError):
        explore(lambda **k: 3, s.judge, 0, "sad", 1.0, 0.0, 1.0, 4)
    assert posterior_series({"sad": 0.25, "happy": 0.75})["happy"] == 0.75


def test_widgets_drive_the_same_function(tmp_path):
    pytest.importorskip("ipywidgets")
    s = StandIn()
    ui, out, controls = build_widgets(s.synth, s.judge, ["a", "b"], emotion="happy", alpha=1.0, n_steps=5,
                                      path=tmp_path / "w.png")
    assert set(controls) == {"clip", "emotion", "alpha", "beta", "gamma", "n_steps"}
    assert out.state["calls"] == 1 and s.calls[-1]["alpha"] == 1.0  # interactive_output runs once at build
    assert all(not c.continuous_update for k, c in controls.items() if k in ("alpha", "beta", "gamma", "n_steps"))
    controls["alpha"].value = 4.0
    controls["clip"].value = "b"
    assert out.state["calls"] == 3
    assert s.calls[-1]["alpha"] == 4.0 and s.calls[-1]["clip"] == "b" and s.calls[-1]["n_steps"] == 5
    assert out.state["last"].posterior.attrs["emotion"] == "happy"
    assert (tmp_path / "w.png").exists()
    assert out in ui.children


def test_run_explorer_headless_is_one_call(tmp_path):
    s = StandIn()
    res = run_explorer(False, s.synth, s.judge, ["a", "b"], emotion="surprised", alpha=2.5, beta=0.6, gamma=1.0,
                       n_steps=3, path=tmp_path / "e.png", seed=2)
    assert isinstance(res, Exploration) and len(s.calls) == 1
    assert s.calls[0]["clip"] == "a" and s.calls[0]["seed"] == 2
    assert (tmp_path / "e.png").exists()


def test_adapters_for_model_and_judge(tmp_path):
    torch = pytest.importorskip("torch")
    from emodubber.reports.explorer_app import judge_fn_from, model_synth_fn

    seen = {}

    class FakeModel:
        def synthesise(self, phonemes, lip=None, spk_emb=None, emotion=None, alpha=0.0, beta=0.0, gamma=1.0,
                       n_steps=10, temperature=0.667, seed=1234, expert=None):
            seen.update(phonemes=phonemes, emotion=emotion, alpha=alpha, seed=seed, expert=expert, temperature=temperature)
            g = torch.Generator().manual_seed(seed)
            return {"mel": torch.randn(1, 80, 40, generator=g), "mel_lengths": torch.tensor([32])}

    class FakeJudge:
        def predict(self, audios):
            assert isinstance(audios, list) and audios[0].dtype == np.float32
            p = np.full((1, len(EMOTIONS)), 0.5 / (len(EMOTIONS) - 1), np.float32)
            p[0, EMOTIONS.index("sad")] = 0.5
            return p, [""]

    synth = model_synth_fn(FakeModel(), lambda mel: torch.zeros(1, mel.shape[-1] * 160),
                           lambda clip: {"phonemes": torch.tensor([1, 2, 3]), "spk_emb": torch.zeros(256)},
                           expert="EXPERT", temperature=0.5)
    res = explore(synth, judge_fn_from(FakeJudge()), "c", "sad", 2.0, 0.5, 1.0, 4, seed=9)
    assert seen["emotion"] == "sad" and seen["alpha"] == 2.0 and seen["seed"] == 9 and seen["expert"] == "EXPERT"
    assert len(res.audio) == 32 * 160  # the mel was cut to its length before vocoding
    assert res.intensity == pytest.approx(0.5)

    # an audio the judge cannot score gives a NaN posterior shown as such, not a crash
    nan_judge = type("J", (), {"predict": lambda self, a: (np.full((1, len(EMOTIONS)), np.nan), ["silent"])})()
    res = explore(synth, judge_fn_from(nan_judge), "c", "sad", 2.0, 0.5, 1.0, 4)
    assert res.posterior.isna().all()
    assert any("could not score" in ax.get_title() for ax in res.figure.axes)
