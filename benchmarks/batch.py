"""Batch dubbing throughput and the cold start: ``dub_many`` on 3-s clips, and one ``dub()`` in a fresh process.

- **Batch**: ``n_clips`` rendered clips of ``seconds`` through :func:`emodubber.dub.batch.dub_many` with the
  models loaded once (their load timed apart): clips per minute and the real-time factor. Guided (PNGM α = 3,
  β = 0.75) when the checkpoints hold an emotion expert, else unguided; the result says which.
- **Cold vs warm**: one ``dub()`` in a new interpreter (``python -m benchmarks.batch --cold``: imports, CMUdict,
  resemblyzer's weights, checkpoint loading, all inside), its process wall time and the call's own total,
  against the warm call's model stages (lip encoder → vocoder) and total (models passed in, median of 3).

Checkpoints: ``checkpoints`` when given, else ``work/cpu/checkpoints`` of the repository when its
``dubber/model.pt`` exists (trained), else random-weight stand-ins of the ``preset`` written to a temporary
folder (the cost of a forward pass does not depend on the weights); ``checkpoints_used`` names it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import profile

ROOT = Path(__file__).resolve().parents[1]
TEXT = "place green by d seven again please"
TRAINED = ROOT / "work" / "cpu" / "checkpoints"


def available() -> str | None:
    """None when the tools are there, else why this part is skipped."""
    missing = [t for t in ("ffmpeg", "ffprobe", "flite") if shutil.which(t) is None]
    return f"missing tools: {', '.join(missing)}" if missing else None


def write_standins(root: Path, preset: str) -> Path:
    """Random-weight dubber and emotion expert of ``preset`` in the layout the training stages write."""
    import torch

    from emodubber.models.checkpointing import write_model_file
    from emodubber.models.dubber import EmoDubber
    from emodubber.models.emotion import EmotionExpert

    cfg = profile(preset)
    torch.manual_seed(0)
    EmoDubber(cfg.model, cfg.audio).save(root / "dubber" / "model.pt")
    conf = {"model": dataclasses.asdict(cfg.model), "audio": dataclasses.asdict(cfg.audio)}
    write_model_file(root / "emotion_expert" / "model.pt", "EmotionExpert", EmotionExpert(cfg.model).state_dict(),
                     conf)
    (root / "dubber" / "summary.json").write_text(json.dumps({"profile": preset}))
    return root


def _inputs(tmp: Path, seconds: float, n_clips: int, render_size: int) -> tuple[list[Path], Path]:
    import soundfile as sf

    from emodubber.data.synth.face import mouth_track, render_frames, write_mp4
    from emodubber.data.synth.voices import flite_say

    wav, ph, spans = flite_say("slt", TEXT)
    sf.write(tmp / "ref.wav", wav, 16000)
    n = int(round(seconds * 25))
    clips = []
    for k in range(n_clips):  # different head motion and noise per clip, the same words
        clips.append(write_mp4(render_frames(mouth_track(ph, spans, n), "slt", size=render_size, seed=k),
                               tmp / f"clip{k}.mp4"))
    return clips, tmp / "ref.wav"


def _cold(ck: Path, clip: Path, ref: Path, out: Path, guided: bool, steps: int, threads: int) -> dict[str, Any]:
    """One ``dub()`` in a fresh interpreter: its process wall time and the call's own timings."""
    cmd = [sys.executable, "-m", "benchmarks.batch", "--cold", str(ck), str(clip), str(ref), str(out),
           "--steps", str(steps), "--threads", str(threads)] + (["--guided"] if guided else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return {"process_s": wall, "timings": json.loads(proc.stdout.strip().splitlines()[-1])}


def _guidance(guided: bool) -> dict[str, Any]:
    return dict(emotion="angry", alpha=3.0, beta=0.75) if guided else {}


def run(preset: str = "cpu", seconds: float = 3.0, n_clips: int = 8, steps: int = 10, threads: int = 2,
        checkpoints: str | Path | None = None, log=print) -> dict[str, Any]:
    import torch

    from emodubber.dub import prepare_models
    from emodubber.dub.batch import dub_many, models_for
    from emodubber.dub.engine import MODEL_STAGES
    from emodubber.dub.inputs import find_checkpoints
    from emodubber.dub.jobs import as_job
    from emodubber.dub.pipeline import dub

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="emodubber-bench-batch-") as tmp:
        tmp = Path(tmp)
        if checkpoints is not None:
            ck, used = Path(checkpoints), f"the checkpoints given, {checkpoints}"
        elif (TRAINED / "dubber" / "model.pt").is_file():
            ck, used = TRAINED, f"trained checkpoints in {TRAINED.relative_to(ROOT)}"
        else:
            ck, used = write_standins(tmp / "checkpoints", preset), f"random-weight stand-ins of the {preset!r} preset"
        guided = find_checkpoints(ck).emotion_expert is not None
        clips, ref = _inputs(tmp, seconds, n_clips, profile(preset).video.render_size)
        g = _guidance(guided)
        jobs = [as_job({"text": TEXT, "video": c, "reference": ref, "output": tmp / "out" / f"{c.stem}.mp4",
                 "emotion": g.get("emotion"), "alpha": g.get("alpha"), "beta": g.get("beta")}) for c in clips]
        cold = _cold(ck, clips[0], ref, tmp / "cold.mp4", guided, steps, threads)
        t0 = time.perf_counter()
        models = models_for(jobs, ck)
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = dub_many(jobs, models=models, steps=steps, show_progress=False, log=lambda m: None)
        wall = time.perf_counter() - t0
        failed = [f"{r.job.label}: {r.error}" for r in res if not r.ok]
        warm_models = prepare_models(ck, alpha=g.get("alpha", 0.0))
        warm = [dub(TEXT, clips[0], ref, None, tmp / f"warm{k}.mp4", models=warm_models, steps=steps, **g)
                for k in range(3)]
    done = [r.result for r in res if r.ok]
    dubbed = sum(r.seconds for r in done)
    warm_total = statistics.median(w.timings["total"] for w in warm)
    warm_model = statistics.median(sum(w.timings.get(k, 0.0) for k in MODEL_STAGES) for w in warm)
    out = {"preset": preset, "checkpoints_used": used, "guided": guided, "seconds": seconds, "steps": steps,
           "clips": len(jobs), "done": len(done), "failed": failed, "load_s": load_s, "wall_s": wall,
           "clips_per_min": 60.0 * len(done) / wall if wall else None, "rtf": wall / dubbed if dubbed else None,
           "fell_back": sum(r.fell_back for r in done), "cold": cold, "warm_total_s": warm_total,
           "warm_model_s": warm_model}
    ct = cold.get("timings", {}).get("total")
    if ct:
        out["cold_over_warm_total"] = ct / warm_total
        out["cold_over_warm_model"] = ct / warm_model
        out["process_over_warm_model"] = cold["process_s"] / warm_model
    log(f"  batch ({used}, {'guided' if guided else 'unguided'}): {len(done)}/{len(jobs)} clips of {seconds:g} s in "
        f"{wall:.1f} s = {out['clips_per_min'] or 0:.1f} clips/min; cold dub() {ct or float('nan'):.2f} s vs warm "
        f"model {warm_model:.2f} s")
    return out


def _cold_main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmarks.batch --cold")
    p.add_argument("--cold", nargs=4, metavar=("CHECKPOINTS", "VIDEO", "REFERENCE", "OUT"), required=True)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--guided", action="store_true")
    a = p.parse_args(argv)
    import emodubber  # noqa: F401  (sets OMP_WAIT_POLICY before torch spins threads)
    from emodubber.dub import dub

    ck, video, ref, out = a.cold
    res = dub(TEXT, video, ref, ck, out, steps=a.steps, threads=a.threads, **_guidance(a.guided))
    print(json.dumps(res.timings))
    return 0


if __name__ == "__main__":
    sys.exit(_cold_main(sys.argv[1:]))
