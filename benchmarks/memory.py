"""Peak memory of one dubbing synthesis, measured in a fresh process (``python -m benchmarks.memory``).

Prints one JSON line: the resident set size (VmRSS) after the imports and after building the model, the
peak during synthesis (VmHWM, reset just before it through ``/proc/self/clear_refs``), the process's
overall peak (``resource.getrusage`` maxrss: importing the CUDA build of torch alone pages in ~1.5 GiB for a
moment) and the peak of Python-level allocations (``tracemalloc``; tensors live outside it, so this is the
interpreter's share only).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tracemalloc


def _rss_mib() -> float:
    """Peak resident set size of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _status(key: str) -> float | None:
    """VmRSS / VmHWM from /proc/self/status (MiB), None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


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
    from benchmarks.common import guidance_kwargs, random_clip
    from benchmarks.inference import build
    from emodubber.dub.engine import synthesise_timed, vocode

    torch.set_num_threads(a.threads)
    after_import = _status("VmRSS")
    model, expert, voc, roi, _ = build(a.preset)
    after_build = _status("VmRSS")
    ph, lip, spk = random_clip(a.seconds, roi)
    rss_before = _status("VmRSS")
    reset = _reset_peak()
    tracemalloc.start()
    kw = guidance_kwargs(expert) if a.guided else {}
    res, _ = synthesise_timed(model, ph, lip, spk, expert if a.guided else None, n_steps=a.steps, **kw)
    vocode(voc, res["mel"])
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    hwm = _status("VmHWM")
    print(json.dumps({"preset": a.preset, "seconds": a.seconds, "guided": a.guided,
                      "rss_after_import_mib": after_import, "rss_after_build_mib": after_build,
                      "rss_before_synthesis_mib": rss_before,
                      "synthesis_peak_mib": hwm if reset else None,
                      "synthesis_extra_mib": (hwm - rss_before) if reset and hwm and rss_before else None,
                      "rss_peak_mib": _rss_mib(), "python_peak_mib": py_peak / 2**20}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
