"""``python -m benchmarks`` (``make bench``): speed and memory of dubbing and training, against Matcha-TTS.

Everything runs on the CPU with ``--threads`` torch threads (default 2) and random-weight models of the
``cpu`` and ``paper`` presets (a forward pass costs the same whatever the weights are). The peer,
Matcha-TTS's ``synthesise`` at the same mel length and Euler steps, runs in its own environment (it pins
numpy 1.26 and heavy dependencies) through a subprocess: ``--matcha-python`` or ``$MATCHA_PYTHON``
(default ``.venv-matcha/bin/python`` in the repository, which ``make bench`` creates with
``scripts/install_matcha_peer.sh``); skipped with a note when absent. Results go to
``reports/benchmarks.md`` (and ``reports/benchmarks.json``), with the machine and its load.

    python -m benchmarks                 # everything (~10-20 min on 2 busy cores)
    python -m benchmarks --quick         # fewer lengths/repeats, for a smoke check

The batch section (:mod:`benchmarks.batch`) dubs 3-s clips through ``dub_many`` with the trained
``work/cpu/checkpoints`` when they exist, else with random-weight stand-ins (the report says which), and
times a cold ``dub()`` in a fresh process beside the warm model time. The judges section (:mod:`benchmarks.judges`)
scores flite clips with every judge of the tables, Whisper WER and DNSMOS included: seconds per clip per judge.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MATCHA = str(ROOT / ".venv-matcha" / "bin" / "python")


def _log(msg: str) -> None:
    print(msg, flush=True)


def run_memory(preset: str, seconds: float, guided: bool, threads: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.memory", "--preset", preset, "--seconds", str(seconds),
           "--threads", str(threads)] + (["--guided"] if guided else [])
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return {"preset": preset, "seconds": seconds, "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_peer(python: str | None, frames: int, steps: int, repeats: int, threads: int) -> dict:
    """Matcha-TTS in its own interpreter; {"skipped": why} when it cannot run."""
    if not python or not Path(python).exists():
        return {"skipped": f"no Matcha-TTS interpreter at {python!r} (set MATCHA_PYTHON or --matcha-python; "
                           f"make one with scripts/install_matcha_peer.sh)"}
    cmd = [python, str(ROOT / "benchmarks" / "matcha_peer.py"), "--frames", str(frames), "--steps", str(steps),
           "--repeats", str(repeats), "--threads", str(threads)]
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env)
    if proc.returncode != 0:
        return {"skipped": "Matcha-TTS peer failed: " + " | ".join(proc.stderr.strip().splitlines()[-3:])}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="fewer lengths and repeats")
    p.add_argument("--matcha-python", default=os.environ.get("MATCHA_PYTHON", DEFAULT_MATCHA))
    p.add_argument("--out", default=str(ROOT / "reports" / "benchmarks.md"))
    p.add_argument("--work-dir", default=str(ROOT / "work" / "cpu"),
                   help="a cpu work directory (corpus, features, TTS model) for the real-data training throughput")
    p.add_argument("--skip", nargs="*", default=[], choices=["scaling", "paper", "peer", "memory", "training", "e2e",
                                                                   "batch", "judges"])
    a = p.parse_args(argv)

    import torch

    import emodubber  # noqa: F401  (sets OMP_WAIT_POLICY before torch spins threads)
    from benchmarks import batch, endtoend, inference, judges, training
    from benchmarks.report import write_report
    from emodubber.utils import machine_info

    torch.set_num_threads(a.threads)
    repeats = 1 if a.quick else 3
    lengths = (1.5, 3.0) if a.quick else (1.5, 3.0, 6.0, 12.0)
    res: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "threads": a.threads,
                 "steps": a.steps, "quick": a.quick, "machine": machine_info(), "load_start": os.getloadavg(),
                 "sections_s": {}}
    t_all = time.perf_counter()

    def section(name, fn):
        t0 = time.perf_counter()
        _log(f"[{name}] load {os.getloadavg()[0]:.1f}")
        out = fn()
        res["sections_s"][name] = time.perf_counter() - t0
        res.setdefault("load_during", {})[name] = os.getloadavg()
        return out

    if "scaling" not in a.skip:
        res["scaling_cpu"] = section("scaling cpu",
                                     lambda: inference.scaling("cpu", lengths, a.steps, repeats + 2, _log))
    if "paper" not in a.skip:  # ours and the peer, interleaved (the peer alone gives no ratio)
        frames = 300  # 3 s of mel at 100 frames/s
        rounds = []
        for r in range(1 if a.quick else 2):  # interleave ours and the peer's, so both see the same load
            ours = section(f"paper round {r}", lambda: {
                "full_guided": inference.time_dub(*_paper(inference), 3.0, True, a.steps, repeats),
                "full_unguided": inference.time_dub(*_paper(inference), 3.0, False, a.steps, repeats),
                "decoder_guided": inference.decoder_only("paper", 3.0, a.steps, True, repeats + 2),
                "decoder_unguided": inference.decoder_only("paper", 3.0, a.steps, False, repeats + 2)})
            if "peer" in a.skip:
                peer = {"skipped": "--skip peer"}
            else:
                peer = section(f"peer round {r}",
                               lambda: run_peer(a.matcha_python, frames, a.steps, repeats + 2, a.threads))
            rounds.append({"ours": ours, "peer": peer})
            _log(f"  paper decoder guided {ours['decoder_guided']:.3f} s, full guided "
                 f"{ours['full_guided']['times']['total']:.3f} s; Matcha synthesise "
                 f"{peer.get('synthesise_s', float('nan')):.3f} s {peer.get('skipped', '')}")
        res["paper_vs_matcha"] = rounds
    if "memory" not in a.skip:
        res["memory"] = section("memory", lambda: [run_memory(pr, s, True, a.threads) for pr, s in
                                                  ([("cpu", 3.0), ("cpu", 12.0), ("paper", 3.0)] if not a.quick
                                                   else [("cpu", 3.0)])])
    if "training" not in a.skip:
        res["training"] = section("training", lambda: training.throughput("cpu", 1 if a.quick else 2, log=_log))
        why = training.real_data_available(a.work_dir)  # the suite's own data path, right after the random batches
        res["training_real"] = {"skipped": why} if why else {"work_dir": a.work_dir, "rows": section(
            "training (real data)", lambda: training.real_throughput(a.work_dir, 4 if a.quick else 6, log=_log))}
    if "e2e" not in a.skip:
        why = endtoend.available()
        res["e2e"] = {"skipped": why} if why else section("e2e", lambda: endtoend.run("cpu", 3.0, a.steps, _log))
    if "batch" not in a.skip:
        why = batch.available()
        res["batch"] = {"skipped": why} if why else section("batch", lambda: batch.run(
            "cpu", 3.0, 3 if a.quick else 8, a.steps, a.threads, log=_log))
    if "judges" not in a.skip:
        why = judges.available()
        res["judges"] = {"skipped": why} if why else section("judges", lambda: judges.run(
            "cpu", 3 if a.quick else 8, threads=1, log=_log))
    res["load_end"] = os.getloadavg()
    res["wall_s"] = time.perf_counter() - t_all
    out = write_report(res, Path(a.out))
    _log(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


_PAPER_CACHE: dict = {}


def _paper(inference):
    """The paper-size model (built once): (model, expert, vocoder, roi)."""
    if "m" not in _PAPER_CACHE:
        m, e, v, roi, counts = inference.build("paper")
        _PAPER_CACHE["m"] = (m, e, v, roi)
        _PAPER_CACHE["counts"] = counts
    return _PAPER_CACHE["m"]


if __name__ == "__main__":
    sys.exit(main())
