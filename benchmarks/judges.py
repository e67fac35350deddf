"""What scoring costs, judge by judge: every judge of ``emodubber.metrics.evaluate`` on the same clips, the field
judges (Whisper WER, DNSMOS) included, in seconds per clip and projected to 100 clips.

The clips are GRID sentences spoken by flite's voices with a rendered mouth video, scored as if generated
(``evaluate``'s own per-judge timing). The learned judges (LSE, emotion) are timed with the trained weights of the
profile's work directory (``work/cpu/judges``) when they exist, else they are listed as not timed. Each judge loads
once and is warmed up on one clip first (its model load timed apart), as a table's ``Judges`` is.

Peers measured in the same process, on the same clips:

- Whisper against pocketsphinx with the GRID grammar (the tables' main WER judge): their time ratio;
- DNSMOS against itself with speechmos's tiling of short clips (``short_clip="speechmos"``: a clip doubled
  until it fills 9.01 s, every 1-s hop scored; same sessions, one thread) and against ``speechmos.dnsmos.run``
  (the package's own entry, its default onnxruntime threads): time ratios, and the largest OVRL difference
  between one window and speechmos's tiling.

    python -m benchmarks.judges --clips 8          # or as the "judges" section of python -m benchmarks
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import profile
from benchmarks.report import judges_section

SENTENCES = ("bin blue at f two now", "place red by g nine soon", "set white with p four please",
             "lay green in z seven again", "bin green by d one now", "place white at k three soon")
VOICES = ("slt", "rms", "awb", "kal")


def available() -> str | None:
    """None when the tools and the field judges' packages are there, else why this part is skipped."""
    missing = [t for t in ("ffmpeg", "flite") if shutil.which(t) is None]
    if missing:
        return f"missing tools: {', '.join(missing)}"
    try:
        from emodubber.metrics.dnsmos import DNSMOS
        from emodubber.metrics.whisper_wer import WhisperWER

        WhisperWER(), DNSMOS()
    except Exception as e:  # noqa: BLE001 - a missing package is a skipped section with its reason
        return f"field judges not available: {str(e)[:200]}"
    return None


def write_clips(root: Path, n_clips: int, render_size: int = 96) -> Path:
    """``n_clips`` flite clips (wav + rendered mouth mp4) with their ``dubbing.jsonl``; returns the manifest."""
    import soundfile as sf

    from emodubber.data.manifest import ClipRecord, write_manifest
    from emodubber.data.synth.face import mouth_track, render_frames, write_mp4
    from emodubber.data.synth.voices import flite_say

    (root / "wav").mkdir(parents=True, exist_ok=True)
    (root / "video").mkdir(exist_ok=True)
    recs = []
    for k in range(n_clips):
        voice, text = VOICES[k % len(VOICES)], SENTENCES[k % len(SENTENCES)]
        wav, phones, spans = flite_say(voice, text)
        cid = f"{voice}_{k:03d}"
        sf.write(root / "wav" / f"{cid}.wav", wav, 16000)
        n = int(len(wav) / 16000 * 25)
        write_mp4(render_frames(mouth_track(phones, spans, n), voice, size=render_size, seed=k),
                  root / "video" / f"{cid}.mp4")
        recs.append(ClipRecord(clip_id=cid, corpus="synthetic-dubbing", speaker=voice, text=text, phonemes=phones,
                               phone_spans=spans, wav=f"wav/{cid}.wav", video=f"video/{cid}.mp4", split="test",
                               duration_s=len(wav) / 16000))
    write_manifest(root / "dubbing.jsonl", recs)
    return root / "dubbing.jsonl"


def _per_clip(timing: dict[str, float], n: int) -> dict[str, float]:
    return {k: v / n for k, v in timing.items() if v}


def _dnsmos_peers(manifest: Path, log) -> dict[str, Any]:
    """DNSMOS one window vs speechmos's tiling (same sessions) vs ``speechmos.dnsmos.run``: seconds and OVRL."""
    from emodubber.data.manifest import read_manifest
    from emodubber.metrics.audio_io import load_audio
    from emodubber.metrics.dnsmos import DNSMOS
    from emodubber.tools import require_module

    run = require_module("speechmos.dnsmos", "DNSMOS").run
    clips = [load_audio(r.path(manifest.parent, "wav"), 16000, warn=False).wav for r in read_manifest(manifest)]
    ours, tiled = DNSMOS(), DNSMOS(short_clip="speechmos")
    ours.score((clips[0], 16000)), run(clips[0], 16000)  # sessions built before timing
    out: dict[str, Any] = {}
    ovrl: dict[str, list[float]] = {}
    for name, fn in (("one_window", lambda x: ours.score((x, 16000))["dnsmos_ovrl"]),
                     ("speechmos_tiling", lambda x: tiled.score((x, 16000))["dnsmos_ovrl"]),
                     ("speechmos_run", lambda x: float(run(x, 16000)["ovrl_mos"]))):
        t0 = time.perf_counter()
        ovrl[name] = [fn(x) for x in clips]
        out[f"{name}_s_per_clip"] = (time.perf_counter() - t0) / len(clips)
    out["tiling_over_one_window"] = out["speechmos_tiling_s_per_clip"] / out["one_window_s_per_clip"]
    out["run_over_one_window"] = out["speechmos_run_s_per_clip"] / out["one_window_s_per_clip"]
    out["max_abs_ovrl_diff"] = max(abs(a - b) for a, b in zip(ovrl["one_window"], ovrl["speechmos_tiling"]))
    out["run_equals_tiling"] = max(abs(a - b) for a, b in zip(ovrl["speechmos_run"], ovrl["speechmos_tiling"])) < 1e-4
    log(f"  DNSMOS one window {out['one_window_s_per_clip']:.2f} s/clip, speechmos tiling "
        f"{out['speechmos_tiling_s_per_clip']:.2f}, speechmos.run {out['speechmos_run_s_per_clip']:.2f}; "
        f"max |ΔOVRL| {out['max_abs_ovrl_diff']:.3f}")
    return out


def run(preset: str = "cpu", n_clips: int = 8, threads: int = 1, log=print, work: str | Path | None = None
        ) -> dict[str, Any]:
    """Score ``n_clips`` with every judge (learned ones when trained in ``work``, default the profile's work dir)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _run(preset, n_clips, threads, log, work)
    finally:
        torch.set_num_threads(before)


def _run(preset: str, n_clips: int, threads: int, log, work) -> dict[str, Any]:
    from emodubber.data.manifest import read_manifest
    from emodubber.metrics.evaluate import ALL_METRICS, OPTIONAL_METRICS, Judges, evaluate

    cfg = profile(preset)
    if work is not None:
        from emodubber.config import load_profile

        cfg = load_profile(preset, overrides={"paths.work_dir": str(work), "corpus.kind": "synthetic"}, local=None)
    with tempfile.TemporaryDirectory(prefix="emodubber-bench-judges-") as tmp:
        manifest = write_clips(Path(tmp), n_clips + 1, cfg.video.render_size)
        recs = read_manifest(manifest)
        gen = {r.clip_id: r.path(manifest.parent, "wav") for r in recs}
        warm_id = recs[0].clip_id
        t0 = time.perf_counter()
        judges = Judges.from_config(cfg, ALL_METRICS + OPTIONAL_METRICS)
        build_s = time.perf_counter() - t0
        _, warm = evaluate({warm_id: gen.pop(warm_id)}, manifest, judges=judges, show_progress=False)
        t0 = time.perf_counter()
        table, prov = evaluate(gen, manifest, judges=judges, show_progress=False)
        wall = time.perf_counter() - t0
        per = _per_clip(prov["timing_s"], len(gen))
        seconds = sum(r.duration_s for r in recs[1:]) / len(gen)
        peers = {"dnsmos": _dnsmos_peers(manifest, log)}
    total = wall / len(gen)
    field = sum(per.get(k, 0.0) for k in OPTIONAL_METRICS)
    out = {"preset": preset, "clips": len(gen), "clip_seconds": seconds, "threads": threads, "build_s": build_s,
           "first_clip_s": warm.get("timing_s", {}), "missing": dict(judges.missing), "s_per_clip": per,
           "total_s_per_clip": total, "projected_100_clips_s": 100 * total,
           "field_s_per_clip": field, "field_share": field / total if total else None,
           "projected_100_clips_without_field_s": 100 * (total - field),
           "whisper_over_grammar_asr": per["whisper"] / per["asr"] if per.get("asr") and per.get("whisper") else None,
           "n_with_error": int((table["error"].fillna("") != "").sum()), "peers": peers}
    log(f"  judges on {len(gen)} clips of {seconds:.1f} s: {total:.2f} s/clip, 100 clips {100 * total:.0f} s "
        f"(Whisper + DNSMOS {field:.2f} s/clip); not timed: {', '.join(judges.missing) or 'none'}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.judges", description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=8)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    import emodubber  # noqa: F401  (sets OMP_WAIT_POLICY before torch spins threads)

    why = available()
    res = {"skipped": why} if why else run(a.preset, a.clips, a.threads)
    print("\n".join(judges_section(res)))
    print(json.dumps(res, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
