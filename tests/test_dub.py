"""``emodubber dub`` / ``emodubber.dub.dub``: the end-to-end path and every bad input (a one-line error, nothing half-written).

A tiny random-weight EmoDubber (smoke model config) and emotion expert are saved with their own
writers into a checkpoint folder laid out as the training stages write it; the clip is a rendered face
(the corpus renderer) and the reference a flite voice, so no training and no corpus are needed.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import emodubber  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch starts its threads)
import numpy as np
import pytest
import torch

from emodubber.config import load_profile
from emodubber.dub.inputs import (DubInputError, check_fits, find_checkpoints, load_reference, min_speech_seconds,
                                  text_phonemes)
from tests.conftest import needs_tools

TEXT = "bin blue at f two now"


def _cfg():
    return load_profile("smoke", local=None)


def _write_checkpoints(root: Path, seed: int = 0) -> Path:
    from emodubber.models.checkpointing import write_model_file
    from emodubber.models.dubber import EmoDubber
    from emodubber.models.emotion import EmotionExpert

    cfg = _cfg()
    torch.manual_seed(seed)
    EmoDubber(cfg.model, cfg.audio).save(root / "dubber" / "model.pt", extra={"stage": "dubber", "step": 0})
    expert = EmotionExpert(cfg.model, n_mels=cfg.audio.n_mels)
    conf = {"model": dataclasses.asdict(cfg.model), "audio": dataclasses.asdict(cfg.audio)}
    write_model_file(root / "emotion_expert" / "model.pt", "EmotionExpert", expert.state_dict(), conf)
    (root / "dubber" / "summary.json").write_text(json.dumps({"stage": "dubber", "profile": "smoke"}))
    return root


def _render(path: Path, n_frames: int, fps: int = 25, speaker: str = "slt") -> Path:
    from emodubber.data.synth.face import render_frames, write_mp4

    track = np.zeros((n_frames, 4), np.float32)
    track[:, 0] = 0.5 + 0.5 * np.sin(np.arange(n_frames) / 2.0)  # the mouth opens and closes
    track[:, 1] = 0.5
    write_mp4(render_frames(track, speaker, size=96, seed=1), path, fps=fps)
    return path


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """Checkpoints, a 2-s 25-fps clip and a flite reference, shared by the module's tests."""
    if not all(shutil.which(t) for t in ("flite", "ffmpeg", "ffprobe")):
        pytest.skip("flite/ffmpeg not installed")
    import soundfile as sf

    from emodubber.data.synth.voices import flite_say

    root = tmp_path_factory.mktemp("dubkit")
    ck = _write_checkpoints(root / "checkpoints")
    wav, _, _ = flite_say("awb", "lay green with b nine again please")
    sf.write(root / "ref.wav", wav, 16000)
    _render(root / "clip.mp4", 50)
    return {"root": root, "ck": ck, "ref": root / "ref.wav", "video": root / "clip.mp4", "wav": wav}


def _leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------------------------------------
# pieces that need no tools
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_timed_synthesis_is_the_models_synthesise_split_into_stages():
    from emodubber.dub.engine import MODEL_STAGES, synthesise_timed
    from emodubber.models.dubber import EmoDubber
    from emodubber.models.emotion import EmotionExpert

    cfg = _cfg()
    torch.manual_seed(0)
    model, expert = EmoDubber(cfg.model, cfg.audio), EmotionExpert(cfg.model)
    g = torch.Generator().manual_seed(0)
    ph = torch.randint(3, 42, (9,), generator=g)
    lip = torch.rand(20, 1, 32, 32, generator=g)
    spk = torch.nn.functional.normalize(torch.randn(256, generator=g), dim=0)
    for kw in ({}, {"emotion": "angry", "alpha": 3.0, "beta": 0.75}):
        ref = model.synthesise(ph, lip=lip, spk_emb=spk, expert=expert, n_steps=4, seed=7, **kw)
        res, t = synthesise_timed(model, ph, lip, spk, expert, n_steps=4, seed=7, **kw)
        assert torch.equal(res["mel"], ref["mel"])
        assert res["mel"].shape == (1, 80, 80) and int(res["durations"].sum()) == 80
        assert set(MODEL_STAGES) - {"vocoder"} <= set(t) and all(v >= 0 for v in t.values())
        assert (t["guidance"] > 0) == bool(kw) and len(res["guidance_logp"]) == (4 if kw else 0)


def test_text_checks():
    assert text_phonemes("Bin BLUE at F 2 now.")[:4] == ["sil", "B", "IH", "N"]
    for bad in ("", "   ", "?!,"):
        with pytest.raises(DubInputError, match="empty") as e:
            text_phonemes(bad)
        assert e.value.kind == "text-empty"
    with pytest.raises(DubInputError, match="qxzzyv") as e:
        text_phonemes("bin blue qxzzyv now")
    assert e.value.kind == "text-oov"


def test_text_too_long_says_by_how_much():
    ph = text_phonemes(TEXT)  # 14 spoken phones + 2 silences
    assert min_speech_seconds(ph) == pytest.approx(14 * 0.05 + 2 * 0.04)
    assert check_fits(ph, 50, 25) == pytest.approx(2.0 - 0.78)
    with pytest.raises(DubInputError, match=r"0\.38 s too long") as e:
        check_fits(ph, 10, 25, "short.mp4")  # 0.40 s of video for 0.78 s of speech
    assert e.value.kind == "text-too-long" and "short.mp4" in str(e.value) and "drop about 8 phonemes" in str(e.value)


def test_reference_checks(tmp_path):
    import soundfile as sf

    sr = 16000
    t = np.arange(int(1.5 * sr)) / sr
    voice = (0.3 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    cases = {
        "missing.wav": ("reference-missing", None),
        "garbage.wav": ("reference-unreadable", b"RIFF not really a wave file"),
        "silent.wav": ("reference-silent", np.zeros(2 * sr, np.float32)),
        "short.wav": ("reference-short", voice[: sr // 2]),
    }
    for name, (kind, data) in cases.items():
        p = tmp_path / name
        if isinstance(data, bytes):
            p.write_bytes(data)
        elif data is not None:
            sf.write(p, data, sr)
        with pytest.raises(DubInputError) as e:
            load_reference(p)
        assert e.value.kind == kind and name in str(e.value) and "\n" not in str(e.value)
    # stereo at 22.05 kHz: converted, with a note for each repair
    t2 = np.arange(int(1.5 * 22050)) / 22050
    st = np.stack([np.sin(2 * np.pi * 140 * t2), 0.5 * np.sin(2 * np.pi * 140 * t2)], 1).astype(np.float32) * 0.3
    sf.write(tmp_path / "stereo.wav", st, 22050)
    ref = load_reference(tmp_path / "stereo.wav")
    assert ref.sample_rate == sr and ref.wav.ndim == 1 and abs(len(ref.wav) - 1.5 * sr) <= 2
    assert any("mono" in n for n in ref.notes) and any("22050 Hz to 16000 Hz" in n for n in ref.notes)


def test_checkpoint_layout(tmp_path):
    with pytest.raises(DubInputError, match="does not exist") as e:
        find_checkpoints(tmp_path / "nowhere")
    assert e.value.kind == "checkpoint-missing"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DubInputError, match="dubber/model.pt"):
        find_checkpoints(tmp_path / "empty")
    ck = _write_checkpoints(tmp_path / "ck")
    lay = find_checkpoints(ck)
    assert lay.dubber == ck / "dubber" / "model.pt" and lay.emotion_expert == ck / "emotion_expert" / "model.pt"
    assert lay.vocoder is None and lay.profile == "smoke"
    assert find_checkpoints(ck / "dubber").dubber == lay.dubber  # the stage folder works too
    assert find_checkpoints(ck / "dubber").emotion_expert == lay.emotion_expert


# ------------------------------------------------------------------------------------------------
# end to end (ffmpeg, flite)
# ------------------------------------------------------------------------------------------------


def _probe(path: Path) -> dict[str, float]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,duration,avg_frame_rate",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    return {s["codec_type"]: float(s["duration"]) for s in json.loads(out)["streams"]}


@pytest.mark.slow
@needs_tools
def test_dub_end_to_end_writes_a_muxed_video_of_the_clips_length(kit, tmp_path):
    from emodubber.dub import dub
    from emodubber.dub.engine import MODEL_STAGES

    out = tmp_path / "dubbed.mp4"
    res = dub(TEXT, kit["video"], kit["ref"], kit["ck"], out, emotion="angry", alpha=3.0, beta=0.75, steps=4,
              audio_out=tmp_path / "dubbed.wav")
    assert res.video == out and out.is_file() and (tmp_path / "dubbed.wav").is_file()
    assert _leftovers(tmp_path) == []
    streams = _probe(out)
    assert set(streams) == {"video", "audio"}
    assert res.n_frames == 50 and res.seconds == pytest.approx(2.0)
    assert streams["audio"] == pytest.approx(2.0, abs=0.05) and streams["video"] == pytest.approx(2.0, abs=0.05)
    assert res.wav.shape == (50 * 640,) and res.mel.shape == (80, 200) and int(res.durations.sum()) == 200
    assert len(res.durations) == len(res.phonemes) == 16 and (res.durations >= 4).all()  # ≥ 1 video frame each
    assert np.abs(res.wav).max() <= 0.9 and np.isfinite(res.wav).all()
    assert set(MODEL_STAGES) | {"roi", "speaker", "mux", "total"} <= set(res.timings)
    assert res.timings["guidance"] > 0 and res.settings["vocoder"] == "griffinlim" and res.settings["roi_size"] == 32
    assert any("Griffin-Lim" in n for n in res.notes)
    assert len(res.settings["guidance_logp"]) == 4


@pytest.mark.slow
@needs_tools
def test_same_seed_same_speech_and_guidance_changes_it(kit, tmp_path):
    from emodubber.dub import dub, prepare_models

    models = prepare_models(kit["ck"], alpha=1.0)

    def run(name, **kw):
        return dub(TEXT, kit["video"], kit["ref"], None, tmp_path / name, steps=3, models=models, **kw)

    a, b = run("a.mp4", seed=5), run("b.mp4", seed=5)
    assert np.array_equal(a.mel, b.mel)
    assert not np.array_equal(a.mel, run("c.mp4", seed=6).mel)
    g = run("d.mp4", seed=5, emotion="sad", alpha=5.0, beta=1.0)
    assert not np.allclose(g.mel, a.mel) and g.timings["guidance"] > 0 and a.timings["guidance"] == 0


@pytest.mark.slow
@needs_tools
def test_other_frame_rate_is_converted_with_a_note(kit, tmp_path):
    from emodubber.dub import dub

    v30 = _render(tmp_path / "clip30.mp4", 60, fps=30)  # 2 s at 30 fps
    res = dub(TEXT, v30, kit["ref"], kit["ck"], tmp_path / "o.mp4", steps=2)
    assert any("30 fps converted to 25 fps" in n for n in res.notes)
    assert res.n_frames == 50 and _probe(tmp_path / "o.mp4")["audio"] == pytest.approx(2.0, abs=0.05)


@pytest.mark.slow
@needs_tools
def test_stereo_reference_at_another_rate_is_converted_with_a_note(kit, tmp_path):
    import soundfile as sf
    import torchaudio

    from emodubber.dub import dub

    x = torchaudio.functional.resample(torch.from_numpy(kit["wav"]), 16000, 44100).numpy()
    sf.write(tmp_path / "ref44.wav", np.stack([x, 0.8 * x], 1), 44100)
    res = dub(TEXT, kit["video"], tmp_path / "ref44.wav", kit["ck"], tmp_path / "o.mp4", steps=2)
    assert any("mono" in n for n in res.notes) and any("44100 Hz to 16000 Hz" in n for n in res.notes)


def _bad_cases(kit, tmp: Path) -> dict[str, tuple[str, dict, str]]:
    import soundfile as sf

    from emodubber.models.checkpointing import MODEL_FORMAT
    from tests.fixtures.tiny_corpus import write_mp4

    (tmp / "garbage.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    sf.write(tmp / "silent.wav", np.zeros(32000, np.float32), 16000)
    sf.write(tmp / "short.wav", kit["wav"][:8000], 16000)
    (tmp / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    write_mp4(np.random.default_rng(0).integers(0, 255, (50, 96, 96), dtype=np.uint8), tmp / "noface.mp4")
    short_video = _render(tmp / "short.mp4", 12)
    trunc = shutil.copytree(kit["ck"], tmp / "ck_trunc")
    data = (trunc / "dubber" / "model.pt").read_bytes()
    (trunc / "dubber" / "model.pt").write_bytes(data[: len(data) // 2])
    old = shutil.copytree(kit["ck"], tmp / "ck_old")
    payload = torch.load(old / "dubber" / "model.pt", weights_only=True)
    assert payload["format"] == MODEL_FORMAT
    payload["emodubber_version"] = "0.0.1"
    torch.save(payload, old / "dubber" / "model.pt")
    no_expert = shutil.copytree(kit["ck"], tmp / "ck_noexpert")
    shutil.rmtree(no_expert / "emotion_expert")
    bad_expert = shutil.copytree(kit["ck"], tmp / "ck_badexpert")
    data = (bad_expert / "emotion_expert" / "model.pt").read_bytes()
    (bad_expert / "emotion_expert" / "model.pt").write_bytes(data[: len(data) // 2])
    return {  # name -> (kind, overrides, a word the message must contain)
        "empty text": ("text-empty", {"text": "  "}, "empty"),
        "oov word": ("text-oov", {"text": "bin blue zorbluxian now"}, "zorbluxian"),
        "reference missing": ("reference-missing", {"reference": tmp / "nope.wav"}, "nope.wav"),
        "reference unreadable": ("reference-unreadable", {"reference": tmp / "garbage.wav"}, "garbage.wav"),
        "reference silent": ("reference-silent", {"reference": tmp / "silent.wav"}, "silent.wav"),
        "reference short": ("reference-short", {"reference": tmp / "short.wav"}, "short.wav"),
        "video missing": ("video-missing", {"video": tmp / "nope.mp4"}, "nope.mp4"),
        "video corrupt": ("video-corrupt", {"video": tmp / "corrupt.mp4"}, "corrupt.mp4"),
        "video without a face": ("video-no-face", {"video": tmp / "noface.mp4"}, "noface.mp4"),
        "text too long": ("text-too-long", {"video": short_video}, "s too long"),
        "checkpoint missing": ("checkpoint-missing", {"checkpoint": tmp / "no_ck"}, "no_ck"),
        "checkpoint truncated": ("checkpoint-bad", {"checkpoint": trunc}, "truncated"),
        "checkpoint of another version": ("checkpoint-bad", {"checkpoint": old}, "0.0.1"),
        "expert missing for guidance": ("checkpoint-missing", {"checkpoint": no_expert}, "emotion_expert"),
        "expert truncated": ("checkpoint-bad", {"checkpoint": bad_expert}, "expert"),
        "out without a video extension": ("bad-option", {"out": tmp / "dubbed"}, "dubbed"),
        "audio-out not a wav": ("bad-option", {"audio_out": tmp / "dubbed.mp3"}, "dubbed.mp3"),
        "unknown emotion": ("bad-option", {"emotion": "bored"}, "bored"),
        "negative gamma": ("bad-option", {"gamma": -1.0}, "gamma"),
        "guidance without emotion": ("bad-option", {"emotion": None}, "--emotion"),
    }


@pytest.mark.slow
@needs_tools
def test_every_bad_input_is_one_named_line_and_writes_nothing(kit, tmp_path):
    from emodubber.dub import dub

    bad = tmp_path / "bad"
    bad.mkdir()
    outdir = tmp_path / "out"
    outdir.mkdir()
    for name, (kind, over, word) in _bad_cases(kit, bad).items():
        args = dict(text=TEXT, video=kit["video"], reference=kit["ref"], checkpoint=kit["ck"],
                    out=outdir / "dubbed.mp4", emotion="angry", alpha=2.0, beta=0.5, steps=2,
                    audio_out=outdir / "dubbed.wav")
        args.update(over)
        with pytest.raises(DubInputError) as e:
            dub(**args)
        msg = str(e.value)
        assert e.value.kind == kind, f"{name}: {kind} expected, got {e.value.kind}: {msg}"
        assert "\n" not in msg and len(msg) < 400 and word in msg, f"{name}: {msg}"
        assert list(outdir.iterdir()) == [], f"{name} left {list(outdir.iterdir())}"
    with pytest.raises(DubInputError, match="overwrite the input video"):
        dub(TEXT, kit["video"], kit["ref"], kit["ck"], kit["video"])
    # unguided dubbing does not read the expert: a broken expert file does not stop it
    res = dub(TEXT, kit["video"], kit["ref"], bad / "ck_badexpert", outdir / "plain.mp4", steps=2)
    assert res.video.is_file()


@pytest.mark.slow
@needs_tools
def test_a_failing_mux_leaves_no_file(kit, tmp_path, monkeypatch):
    import emodubber.tools as tools
    from emodubber.dub import dub

    real = tools.require_binary
    monkeypatch.setattr(tools, "require_binary", lambda n: shutil.which("false") if n == "ffmpeg" else real(n))
    with pytest.raises(DubInputError, match="could not mux") as e:
        dub(TEXT, kit["video"], kit["ref"], kit["ck"], tmp_path / "o.mp4", steps=2, audio_out=tmp_path / "o.wav")
    assert e.value.kind == "mux-failed" and "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []  # neither the video nor the wav


@pytest.mark.slow
@needs_tools
def test_cli_dubs_and_refuses_bad_input_in_one_line(kit, tmp_path, capsys):
    from emodubber.cli import main

    base = ["dub", "--text", TEXT, "--video", str(kit["video"]), "--reference", str(kit["ref"]),
            "--checkpoint", str(kit["ck"]), "--steps", "2"]
    assert main(base + ["--emotion", "angry", "--alpha", "3", "--beta", "0.75", "--out", str(tmp_path / "o.mp4")]) == 0
    assert (tmp_path / "o.mp4").is_file() and "RTF" in capsys.readouterr().out
    assert main(base[:2] + ["bin blue qxzzyv now"] + base[3:] + ["--out", str(tmp_path / "p.mp4")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("emodubber dub:") and "qxzzyv" in err
    assert not (tmp_path / "p.mp4").exists()
