"""Peak memory of one dubbing synthesis, measured in a fresh process (``python -m benchmarks.memory``).

Prints one JSON line: resident set size (``resource.getrusage`` maxrss) after the imports, after building
the model and after synthesising, and the peak of Python-level allocations (``tracemalloc``; tensors
live outside it, so this is the interpreter's share only).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tracemalloc


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="cpu")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--guided", action="store_true")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    import torch

    import emodubber  # noqa: F401
    from benchmarks.common import random_clip
    from benchmarks.inference import build
    from emodubber.dub.engine import synthesise_timed, vocode

    torch.set_num_threads(a.threads)
    after_import = _rss_mib()
    model, expert, voc, roi, _ = build(a.preset)
    after_build = _rss_mib()
    ph, lip, spk = random_clip(a.seconds, roi)
    tracemalloc.start()
    kw = dict(emotion="angry", alpha=3.0, beta=0.75) if a.guided else {}
    res, _ = synthesise_timed(model, ph, lip, spk, expert if a.guided else None, n_steps=a.steps, **kw)
    vocode(voc, res["mel"])
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"preset": a.preset, "seconds": a.seconds, "guided": a.guided,
                      "rss_after_import_mib": after_import, "rss_after_build_mib": after_build,
                      "rss_peak_mib": _rss_mib(), "python_peak_mib": py_peak / 2**20}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
