"""The live explorer's page without a browser: messages instead of tracebacks, a reused figure, the bars."""

import numpy as np
import pytest

from emodubber.config import EMOTIONS
from emodubber.reports.explorer import (ClipUnreadable, ExplorerFigure, GuidanceError, LiveExplorer, audio_html,
                                        explore, posterior_html)

pytest.importorskip("ipywidgets")


def synth(clip, emotion, alpha, beta, gamma, n_steps, seed=None):
    rng = np.random.default_rng(int(alpha * 10) + EMOTIONS.index(emotion))
    return {"mel": rng.normal(-5, 1, (80, 60)), "wav": (0.1 * rng.standard_normal(9600)).astype(np.float32)}


def judge(wav):
    p = np.abs(wav[: len(EMOTIONS)]) + 1e-3
    return p / p.sum()


def page_text(live):
    return " ".join(w.value for w in (live.header, live.status, live.message, live.posterior))


def test_live_page_shows_audio_mel_and_bars_and_reuses_its_figure():
    live = LiveExplorer(synth, judge, ["c1", "c2"], emotion="sad", alpha=1.0, n_steps=4)
    fig, image = live.view.fig, live.view.image
    first = (live.audio.value, live.mel.value, live.posterior.value)
    assert 'src="data:audio/wav;base64,' in first[0] and 'src="data:image/png;base64,' in first[1]
    assert 'data-emotion="sad"' in first[2] and 'data-asked="true"' in first[2] and "IS(sad)" in first[2]
    live.controls["alpha"].value = 3.0
    assert live.state["calls"] == 2 and live.view.fig is fig and live.view.image is image  # redrawn in place
    assert live.audio.value != first[0] and live.mel.value != first[1]
    assert 'data-state="done"' in live.status.value and live.message.value == ""


def test_negative_guidance_is_named_in_the_page_not_synthesised():
    calls = []

    def counting(**kw):
        calls.append(kw)
        return synth(**kw)

    live = LiveExplorer(counting, judge, ["c1"], alpha=-1.0, gamma=2.0)
    assert calls == [] and live.state["calls"] == 0
    assert "α = -1 is out of range" in live.message.value and "≥ 0" in live.message.value
    assert "Traceback" not in page_text(live)
    live.controls["alpha"].value = 0.5  # a valid value: synthesised, the message goes
    assert len(calls) == 1 and live.message.value == ""
    with pytest.raises(GuidanceError):  # headless: a ValueError naming the value
        explore(synth, judge, "c1", "sad", 1.0, 0.0, -3.0, 4)


def test_unreadable_clip_and_other_errors_become_one_line_messages():
    def broken(clip, emotion, alpha, beta, gamma, n_steps):
        if clip == "bad":
            raise ClipUnreadable("clip bad cannot be read: BadZipFile",
                                 "rebuild it with `make reproduce PROFILE=smoke`")
        raise RuntimeError("boom\nsecond line")

    live = LiveExplorer(broken, judge, ["bad", "worse"])
    assert "clip bad cannot be read" in live.message.value
    assert "<code>make reproduce PROFILE=smoke</code>" in live.message.value
    live.controls["clip"].value = "worse"
    assert "synthesis failed: RuntimeError: boom" in live.message.value and "second line" not in live.message.value
    assert "Traceback" not in page_text(live)


def test_no_models_gives_a_page_naming_what_to_run(tmp_path):
    from emodubber.reports.explorer_app import open_session

    session = open_session("smoke", tmp_path / "empty")
    assert not session.ok
    assert "No trained models" in session.problem and "make reproduce PROFILE=smoke" in session.todo
    box = session.page()
    html = box.children[0].value
    assert "emx-error" in html and "make reproduce PROFILE=smoke" in html and "Traceback" not in html
    with pytest.raises(Exception, match="No trained models"):
        session.headless()


def test_figure_and_html_helpers():
    view = ExplorerFigure(posterior=False, pyplot=False)
    mel = np.zeros((80, 50))
    png1 = view.draw(mel, np.full(50, 150.0), "t").png()
    png2 = view.draw(mel + 1, None, "t").png()
    assert png1[:8] == b"\x89PNG\r\n\x1a\n" and png1 != png2
    import pandas as pd

    post = pd.Series(np.full(len(EMOTIONS), np.nan), index=list(EMOTIONS))
    assert "could not score" in posterior_html(post, "sad")
    assert 'data-seconds="0.50"' in audio_html(np.zeros(8000, np.float32), 16000)  # silence: no division by 0
