"""Lips that cannot be read are said to be: :mod:`emodubber.dub.lipcheck`, ``dub(alignment=…)``, ``--alignment``.

Tiny random-weight stand-in models (``tests.models.conftest.tiny_model_cfg``) and synthetic mouth ROIs: a
still face is one frame repeated, a moving mouth a dark ellipse that opens and closes. The ``dub`` tests write
a tiny video and a synthetic reference and replace only the face detector and the speaker encoder, so they
need ffmpeg but no flite, no corpus and no trained model.
"""

from __future__ import annotations

import json
from pathlib import Path

import emodubber  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch starts its threads)
import numpy as np
import pytest
import torch

from emodubber.config import load_profile
from emodubber.dub.engine import synthesise_aligned
from emodubber.dub.inputs import DubInputError
from emodubber.dub.lipcheck import MIN_LIP_MOTION, check_alignment, choose_alignment, lip_motion
from tests.models.conftest import tiny_model_cfg

F, S = 50, 32  # 2 s at 25 fps, the smoke profile's ROI side
TEXT = "bin blue at f two now"


def mouth_rois(n: int = F, amp: float = 1.0, seed: int = 0, noise: float = 1.0) -> np.ndarray:
    """uint8 [n, S, S]: a grey face with a dark mouth opening ``amp`` × (0 … 1) over ~3 syllables a second, plus
    camera noise of ``noise`` grey levels (standard deviation)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:S, :S]
    out = np.empty((n, S, S), np.uint8)
    for k in range(n):
        h = 1 + amp * 7 * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * k / 25))
        inside = ((xx - S / 2) / 10) ** 2 + ((yy - S / 2) / h) ** 2 <= 1
        img = np.where(inside, 50.0, 170.0) + rng.normal(0, noise, (S, S))
        out[k] = np.clip(img, 0, 255)
    return out


def still_rois(n: int = F) -> np.ndarray:
    """One frame repeated: a photograph."""
    return np.repeat(mouth_rois(1, seed=3), n, axis=0)


@pytest.fixture(scope="module")
def model():
    from emodubber.models.dubber import EmoDubber

    torch.manual_seed(0)
    return EmoDubber(tiny_model_cfg(), load_profile("smoke", local=None).audio).eval()


def _ids():
    from emodubber.dub.inputs import text_phonemes
    from emodubber.text.symbols import phonemes_to_ids

    return torch.tensor(phonemes_to_ids(text_phonemes(TEXT)), dtype=torch.long)


# ------------------------------------------------------------------------------------------------
# the measure
# ------------------------------------------------------------------------------------------------


def test_motion_energy_is_mean_absolute_frame_difference_in_grey_units():
    assert lip_motion(still_rois()) == 0.0
    flicker = np.zeros((6, 4, 4), np.uint8)
    flicker[1::2] = 255
    assert lip_motion(flicker) == pytest.approx(1.0)  # black and white swapping every frame
    ramp = np.linspace(0, 1, 5, dtype=np.float32)[:, None, None] * np.ones((5, 3, 3), np.float32)
    assert lip_motion(ramp) == pytest.approx(0.25)  # floats are already grey in [0, 1]
    assert lip_motion((ramp * 255).round().astype(np.uint8)) == pytest.approx(0.25, abs=1e-3)
    assert lip_motion(flicker[:1]) == 0.0
    with pytest.raises(ValueError, match=r"\[F, S, S\]"):
        lip_motion(np.zeros((4, 4)))


def test_threshold_separates_a_still_face_from_a_moving_mouth():
    assert lip_motion(still_rois()) < MIN_LIP_MOTION < lip_motion(mouth_rois())
    assert lip_motion(mouth_rois(amp=0.0, noise=0.3)) < MIN_LIP_MOTION  # a closed mouth, little noise
    # what the measure cannot tell (module docstring): noise of σ = 1 grey level alone adds ≈ 1.13/255 ≈ 0.0044
    assert lip_motion(mouth_rois(amp=0.0, noise=1.0)) == pytest.approx(1.13 / 255, rel=0.1)


def test_bad_alignment_value_is_one_line_naming_the_choices():
    for bad in ("lipz", "", "LIPS ", None):
        with pytest.raises(DubInputError) as e:
            check_alignment(bad)
        assert e.value.kind == "bad-option" and "\n" not in str(e.value)
        assert all(w in str(e.value) for w in ("auto", "lips", "text", repr(bad)))
    assert [check_alignment(a) for a in ("auto", "lips", "text")] == ["auto", "lips", "text"]


def test_choice_and_its_note():
    still, moving = still_rois(), mouth_rois()
    c = choose_alignment(still)
    assert (c.alignment, c.fell_back, c.motion) == ("text", True, 0.0)
    assert c.note.startswith("lips unreadable:") and "\n" not in c.note and f"{MIN_LIP_MOTION:g}" in c.note
    c = choose_alignment(moving)
    assert (c.alignment, c.fell_back) == ("lips", False) and c.motion >= MIN_LIP_MOTION
    assert choose_alignment(still, "lips").alignment == "lips" and "forced" in choose_alignment(still, "lips").note
    forced = choose_alignment(moving, "text")
    assert forced.alignment == "text" and not forced.fell_back and "forced" in forced.note


# ------------------------------------------------------------------------------------------------
# synthesis on either path (stand-in model)
# ------------------------------------------------------------------------------------------------


def _synth(model, rois, alignment):
    spk = torch.nn.functional.normalize(torch.randn(256, generator=torch.Generator().manual_seed(0)), dim=0)
    return synthesise_aligned(model, _ids(), rois, spk, alignment, n_steps=1, seed=1)


def test_still_face_falls_back_to_text_durations_fitted_to_the_clip(model):
    res, tm, check = _synth(model, still_rois(), "auto")
    assert check.alignment == "text" and check.fell_back and "lips unreadable" in check.note
    assert res["attn"] is None and tm["lip_encoder"] == 0.0  # the lips were not read
    assert res["mel"].shape == (1, 80, 4 * F) and int(res["durations"].sum()) == 4 * F  # T = 4F still holds
    assert (res["durations"] > 0).all()


def test_lips_forced_on_a_still_face_and_text_forced_on_a_moving_mouth(model):
    res, tm, check = _synth(model, still_rois(), "lips")
    assert check.alignment == "lips" and not check.fell_back
    assert res["attn"] is not None and res["attn"].shape[1] == F and tm["lip_encoder"] > 0
    res, _, check = _synth(model, mouth_rois(), "text")
    assert check.alignment == "text" and not check.fell_back and res["attn"] is None
    assert int(res["durations"].sum()) == 4 * F


def test_moving_mouth_stays_on_the_lips(model):
    res, _, check = _synth(model, mouth_rois(), "auto")
    assert check.alignment == "lips" and res["attn"] is not None
    assert res["mel"].shape == (1, 80, 4 * F) and int(res["durations"].sum()) == 4 * F
    assert (res["durations"] % 4 == 0).all()  # MAS durations are whole video frames


# ------------------------------------------------------------------------------------------------
# dub(), dub_many() and the CLI (ffmpeg; face detector and speaker encoder replaced)
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def clip_kit(tmp_path, monkeypatch):
    import shutil

    import soundfile as sf

    from emodubber.data.roi import RoiResult
    from emodubber.data.synth.face import write_mp4
    from emodubber.models.dubber import EmoDubber

    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg not installed")
    cfg = load_profile("smoke", local=None)
    torch.manual_seed(0)
    EmoDubber(tiny_model_cfg(), cfg.audio).save(tmp_path / "ck" / "dubber" / "model.pt")
    (tmp_path / "ck" / "dubber" / "summary.json").write_text(json.dumps({"stage": "dubber", "profile": "smoke"}))
    t = np.arange(int(1.5 * 16000)) / 16000
    voice = 0.3 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    sf.write(tmp_path / "ref.wav", voice.astype(np.float32), 16000)
    videos = {}
    for name, rois in (("still", still_rois()), ("moving", mouth_rois())):
        frames = np.repeat(np.kron(rois, np.ones((2, 2), np.uint8))[..., None], 3, axis=-1)  # [F, 64, 64, 3]
        videos[name] = write_mp4(frames, tmp_path / f"{name}.mp4")
        videos[name + "_rois"] = rois

    def rois_of(path, size):  # stands in for the face detector: the ROIs the clip was drawn from
        r = videos["still_rois" if Path(path).stem.startswith("still") else "moving_rois"]
        return RoiResult(r, np.zeros((F, 4)), np.zeros((F, 4)), np.ones(F, bool), 25.0)

    monkeypatch.setattr("emodubber.dub.pipeline.extract_mouth_rois", rois_of)
    monkeypatch.setattr("emodubber.dub.pipeline.speaker_embeddings",
                        lambda wavs, sr: np.full((len(wavs), 256), 1 / 16, np.float32))
    return {"ck": tmp_path / "ck", "ref": tmp_path / "ref.wav", **videos}


def test_dub_says_when_the_lips_cannot_be_read(clip_kit, tmp_path):
    from emodubber.dub import dub

    res = dub(TEXT, clip_kit["still"], clip_kit["ref"], clip_kit["ck"], tmp_path / "a.mp4", steps=1)
    assert res.alignment == "text" and res.fell_back and res.lip_motion < MIN_LIP_MOTION
    assert sum(n.startswith("lips unreadable") for n in res.notes) == 1 and res.video.is_file()
    assert "timed by text (lips unreadable)" in res.summary() and int(res.durations.sum()) == 4 * F
    res = dub(TEXT, clip_kit["moving"], clip_kit["ref"], clip_kit["ck"], tmp_path / "c.mp4", steps=1)
    assert res.alignment == "lips" and not res.fell_back and res.lip_motion >= MIN_LIP_MOTION
    with pytest.raises(DubInputError, match="alignment must be one of auto, lips, text") as e:
        dub(TEXT, clip_kit["moving"], clip_kit["ref"], clip_kit["ck"], tmp_path / "d.mp4", alignment="face")
    assert e.value.kind == "bad-option" and not (tmp_path / "d.mp4").exists()


def test_batch_rows_choose_on_their_own_and_the_summary_counts_fallbacks(clip_kit, tmp_path):
    from emodubber.dub.batch import dub_many, summary_table
    from emodubber.dub.jobs import read_jobs

    jobs = tmp_path / "jobs.csv"
    jobs.write_text("text,video,reference,output,alignment\n"
                    f"{TEXT},{clip_kit['still']},{clip_kit['ref']},o1.mp4,\n"
                    f"{TEXT},{clip_kit['still']},{clip_kit['ref']},o2.mp4,LIPS\n"
                    f"{TEXT},{clip_kit['moving']},{clip_kit['ref']},o3.mp4,lipz\n")
    rows = read_jobs(jobs)
    assert [j.alignment for j in rows] == [None, "lips", "lipz"]
    logged: list[str] = []
    res = dub_many(rows, clip_kit["ck"], steps=1, show_progress=False, log=logged.append)
    assert [r.ok for r in res] == [True, True, False] and res[2].kind == "bad-option" and "lipz" in res[2].error
    assert [r.result.alignment for r in res[:2]] == ["text", "lips"]
    assert [r.result.fell_back for r in res[:2]] == [True, False]  # a forced path is not a fallback
    assert any(m.startswith("line 2: note: lips unreadable") for m in logged)
    table = summary_table(res).splitlines()
    assert "fell back" in table[0] and table[1].split()[:4] == ["3", "2", "1", "1"]
    assert any(line.startswith("fell back line 2: lips too still") for line in table)


def test_cli_prints_the_fallback_and_refuses_a_bad_flag_in_one_line(clip_kit, tmp_path, capsys):
    from emodubber.cli import main

    base = ["dub", "--text", TEXT, "--video", str(clip_kit["still"]), "--reference", str(clip_kit["ref"]),
            "--checkpoint", str(clip_kit["ck"]), "--steps", "1"]
    assert main(base + ["--out", str(tmp_path / "a.mp4")]) == 0
    cap = capsys.readouterr()
    assert sum(line.startswith("note: lips unreadable") for line in cap.err.splitlines()) == 1
    assert "timed by text (lips unreadable)" in cap.out
    assert main(base + ["--out", str(tmp_path / "b.mp4"), "--alignment", "mouth"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("emodubber dub: alignment must be one of auto, lips, text")
    assert not (tmp_path / "b.mp4").exists()
