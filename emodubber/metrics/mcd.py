"""MCD judge through pymcd (what the dubbing papers run): plain, DTW and DTW-SL modes.

``pymcd.mcd.Calculate_MCD(MCD_mode).calculate_mcd(ref, syn)`` reloads and re-analyses both wavs in every
mode. :func:`mcd_all` calls the *same* pymcd methods (``load_wav``, ``wav2mcep_numpy``, its DTW and its
distance) but shares the work across the three modes: one load per file, one WORLD analysis per signal
(plus one for the zero-padded shorter signal of the plain mode) and one DTW for ``dtw``/``dtw_sl``. A test
checks that it returns exactly what the three ``calculate_mcd`` calls return.

Columns: ``mcd`` (plain, frame by frame after zero-padding), ``mcd_dtw`` (MCD after DTW), ``mcd_dtw_sl``
(MCD-SL: MCD-DTW × the length ratio ≥ 1, penalising duration mismatch). Units: dB.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from emodubber.metrics.audio_io import load_audio, package_version
from emodubber.tools import require_module

__all__ = ["mcd_all", "MCD_MODES", "mcd_settings"]

MCD_MODES = ("plain", "dtw", "dtw_sl")
COLUMNS = {"plain": "mcd", "dtw": "mcd_dtw", "dtw_sl": "mcd_dtw_sl"}


def mcd_settings() -> dict:
    v = package_version("pymcd")
    return {"judge": f"pymcd {v}", "modes": list(MCD_MODES), "sr": 22050, "mcep_order": 13, "alpha": 0.65,
            "frame_period_ms": 5.0}


def _check(path: str | Path) -> str:
    a = load_audio(path, 16000, warn=False)
    return a.reason


def mcd_all(reference: str | Path, synthesized: str | Path) -> dict[str, float]:
    """``{"mcd", "mcd_dtw", "mcd_dtw_sl", "error"}`` for one pair of wav files (NaN + error if unusable)."""
    out = {c: math.nan for c in COLUMNS.values()}
    out["error"] = ""
    for name, p in (("reference", reference), ("generated", synthesized)):
        r = _check(p)
        if r:
            out["error"] = f"{name}: {r}"
            return out
    mcd_mod = require_module("pymcd.mcd", "MCD")
    fastdtw = require_module("fastdtw", "MCD").fastdtw
    from scipy.spatial.distance import euclidean

    m = mcd_mod.Calculate_MCD(MCD_mode="dtw")
    ref = m.load_wav(str(reference), sample_rate=m.SAMPLING_RATE)
    syn = m.load_wav(str(synthesized), sample_rate=m.SAMPLING_RATE)
    ref_mc = m.wav2mcep_numpy(ref)
    syn_mc = m.wav2mcep_numpy(syn)

    # plain: pymcd zero-pads the shorter waveform before analysis, then pairs frames one to one
    if len(ref) < len(syn):
        ref_p, syn_p = m.wav2mcep_numpy(np.pad(ref, (0, len(syn) - len(ref)))), syn_mc
    elif len(syn) < len(ref):
        ref_p, syn_p = ref_mc, m.wav2mcep_numpy(np.pad(syn, (0, len(ref) - len(syn))))
    else:
        ref_p, syn_p = ref_mc, syn_mc
    path = [(i, i) for i in range(len(ref_p))]
    n, cost = m.calculate_mcd_distance(ref_p, syn_p, path)
    out["mcd"] = float(m.log_spec_dB_const * cost / n)

    _, path = fastdtw(ref_mc[:, 1:], syn_mc[:, 1:], dist=euclidean)
    n, cost = m.calculate_mcd_distance(ref_mc, syn_mc, path)
    dtw = m.log_spec_dB_const * cost / n
    cof = max(len(ref_mc), len(syn_mc)) / min(len(ref_mc), len(syn_mc))
    out["mcd_dtw"] = float(dtw)
    out["mcd_dtw_sl"] = float(cof * dtw)
    return out
