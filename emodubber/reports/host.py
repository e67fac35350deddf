"""How fast the host is, for the run record: a reader can tell a slow run from a different one.

Two measures: a fixed torch workload timed on this process's threads (matrix products and a 1-D convolution of
the sizes the ``cpu`` model runs, GFLOP/s), and, when the suite built the corpus, the corpus and feature
throughput (clips per second) read from notebook 01's ``data_prep.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

__all__ = ["torch_gflops", "host_speed"]


def torch_gflops(repeats: int = 20) -> float:
    """GFLOP/s of a fixed float32 workload (batch 16 × 96 channels × 512 frames: a k = 3 Conv1d and a 512² matmul)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 96, 512, generator=g)
    w = torch.randn(96, 96, 3, generator=g)
    a, b = torch.randn(512, 512, generator=g), torch.randn(512, 512, generator=g)
    flops = 2 * 16 * 96 * 96 * 3 * 512 + 2 * 512 ** 3
    with torch.no_grad():
        torch.nn.functional.conv1d(x, w, padding=1)  # warm-up
        t0 = time.perf_counter()
        for _ in range(repeats):
            torch.nn.functional.conv1d(x, w, padding=1)
            a @ b
        dt = time.perf_counter() - t0
    return flops * repeats / dt / 1e9


def host_speed(reports_dir: str | Path | None = None) -> dict[str, Any]:
    """``{"torch_gflops", "threads", "corpus_clips_per_s", "features_clips_per_s"}`` (the last two when known)."""
    out: dict[str, Any] = {"torch_gflops": round(torch_gflops(), 2), "threads": torch.get_num_threads()}
    prep = Path(reports_dir) / "data_prep.json" if reports_dir else None
    if prep is not None and prep.exists():
        try:
            p = json.loads(prep.read_text()).get("extra", {}).get("prepare", {})
            c = p.get("corpus", {})
            if c.get("n_built") and c.get("seconds"):
                out["corpus_clips_per_s"] = round(c["n_built"] / c["seconds"], 2)
            n_feat = sum(v.get("extracted", 0) for v in (p.get("features") or {}).values())
            if n_feat and p.get("features_seconds"):
                out["features_clips_per_s"] = round(n_feat / p["features_seconds"], 2)
        except (ValueError, AttributeError, TypeError):
            pass
    return out
