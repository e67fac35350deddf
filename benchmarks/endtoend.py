"""The whole ``dub()`` call on a rendered 3-s clip with a random-weight ``cpu``-profile checkpoint: where the
time goes outside the model (face detection, speaker embedding, ffmpeg), cold (first call in the process:
imports, CMUdict, resemblyzer weights, numba) and warm (models and libraries loaded)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import profile

TEXT = "place green by d seven again please"


def available() -> str | None:
    """None when the tools are there, else why this part is skipped."""
    missing = [t for t in ("ffmpeg", "ffprobe", "flite") if shutil.which(t) is None]
    return f"missing tools: {', '.join(missing)}" if missing else None


def run(preset: str = "cpu", seconds: float = 3.0, steps: int = 10, log=print) -> dict[str, Any]:
    import soundfile as sf
    import torch

    from emodubber.data.synth.face import mouth_track, render_frames, write_mp4
    from emodubber.data.synth.voices import flite_say
    from emodubber.dub import dub, prepare_models
    from emodubber.models.checkpointing import write_model_file
    from emodubber.models.dubber import EmoDubber
    from emodubber.models.emotion import EmotionExpert

    cfg = profile(preset)
    with tempfile.TemporaryDirectory(prefix="emodubber-bench-") as tmp:
        tmp = Path(tmp)
        torch.manual_seed(0)
        ck = tmp / "checkpoints"
        EmoDubber(cfg.model, cfg.audio).save(ck / "dubber" / "model.pt")
        conf = {"model": dataclasses.asdict(cfg.model), "audio": dataclasses.asdict(cfg.audio)}
        write_model_file(ck / "emotion_expert" / "model.pt", "EmotionExpert",
                         EmotionExpert(cfg.model).state_dict(), conf)
        (ck / "dubber" / "summary.json").write_text(json.dumps({"profile": preset}))
        wav, ph, spans = flite_say("slt", TEXT)
        sf.write(tmp / "ref.wav", wav, 16000)
        n = int(round(seconds * 25))
        write_mp4(render_frames(mouth_track(ph, spans, n), "slt", size=cfg.video.render_size), tmp / "clip.mp4")
        kw = dict(emotion="angry", alpha=3.0, beta=0.75, steps=steps)
        cold = dub(TEXT, tmp / "clip.mp4", tmp / "ref.wav", ck, tmp / "cold.mp4", **kw)
        models = prepare_models(ck, alpha=3.0)
        warm = [dub(TEXT, tmp / "clip.mp4", tmp / "ref.wav", None, tmp / f"warm{k}.mp4", models=models, **kw)
                for k in range(3)]
    keys = list(warm[0].timings)
    med = {k: float(np.median([w.timings[k] for w in warm])) for k in keys}
    log(f"  dub() end to end ({preset}, {seconds:g} s clip): cold {cold.timings['total']:.2f} s, warm "
        f"{med['total']:.2f} s (RTF {med['total'] / warm[0].seconds:.3f})")
    return {"preset": preset, "seconds": warm[0].seconds, "cold": cold.timings, "warm": med,
            "notes": cold.notes}
