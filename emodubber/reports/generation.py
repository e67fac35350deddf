"""Generation plumbing of :class:`emodubber.reports.experiments.Experiment`: cache keys, hashes, vocoders, files.

- :func:`key_hash` / :func:`file_sha256`: what a cached output is keyed on (a generation key is a JSON dict;
  checkpoints enter by their SHA-256);
- :func:`make_vocoder`: normalised log-mel ``[1, 80, T]`` → waveform ``[1, 160·T]`` (Griffin-Lim or the trained
  HiFi-GAN);
- :func:`prepare_dir` / :func:`write_clip`: a generated directory (``meta.json`` with the key, ``<clip>.wav`` at
  16 kHz and ``<clip>.npy`` = the mel ``[80, T]``), cleared when the key changes;
- :func:`pad_batch`: per-clip synthesis inputs padded into one batch;
- :func:`subset_judges` / :func:`judges_fingerprint` / :func:`setting2_from_setting1` / :func:`merge_scores`:
  scoring with the judges of ``emodubber.metrics.evaluate``, the Setting-2 table of a setting-independent system
  (GT rows) from its Setting-1 table and a Setting-2 SECS, and the field judges' columns (Whisper, DNSMOS; scored
  and cached apart) joined to the other judges' table on the clip id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from emodubber.config import ProfileConfig
from emodubber.metrics.audio_io import sha256_file
from emodubber.models.vocoder import GriffinLimVocoder, load_vocoder
from emodubber.utils import atomic_path, atomic_write_json

__all__ = ["file_sha256", "key_hash", "make_vocoder", "subset_judges", "judges_fingerprint",
           "write_clip", "prepare_dir", "pad_batch", "setting2_from_setting1", "merge_scores"]


_SHA_CACHE: dict[tuple[str, float, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file (memoised on path, mtime and size)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_mtime, st.st_size)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256_file(p)
    return _SHA_CACHE[key]



def key_hash(obj: Any, n: int = 16) -> str:
    """The first ``n`` hex digits of the SHA-256 of ``obj`` as sorted JSON (a cache file's name)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


def make_vocoder(cfg: ProfileConfig, kind: str | None = None) -> tuple[Callable, dict[str, Any]]:
    """(vocoder, description): ``vocoder(mel [1, 80, T] normalised log-mel) -> wav [1, 160·T]`` (torch).

    ``kind`` defaults to ``cfg.eval.vocoder``: ``"griffinlim"`` (no training) or ``"hifigan"`` (the
    generator trained by the vocoder stage, ``checkpoint_dir("vocoder")/model.pt``).
    """
    kind = kind or cfg.eval.vocoder
    if kind == "griffinlim":
        voc = GriffinLimVocoder(cfg.audio)
        desc = {"vocoder": "griffinlim", "n_iter": 32}
    elif kind == "hifigan":
        path = cfg.checkpoint_dir("vocoder") / "model.pt"
        if not path.exists():
            raise FileNotFoundError(f"HiFi-GAN weights {path} do not exist: train the vocoder stage first "
                                    "(or set eval.vocoder: griffinlim)")
        voc = load_vocoder(path)
        desc = {"vocoder": "hifigan", "weights_sha256": file_sha256(path)}
    else:
        raise ValueError(f"eval.vocoder must be 'griffinlim' or 'hifigan', not {kind!r}")

    def vocode(mel):
        with torch.inference_mode():
            mel = torch.as_tensor(mel, dtype=torch.float32)
            if mel.dim() == 2:
                mel = mel[None]
            return voc(mel)

    return vocode, desc


def subset_judges(judges: Any, metrics: Iterable[str]) -> Any:
    """A copy of an ``emodubber.metrics.evaluate.Judges`` keeping only the judges of ``metrics``.

    (``evaluate`` runs every judge its ``Judges`` holds, so one loaded set serves every table.)
    """
    m = set(metrics)
    keep = {"asr": "wer", "asr_lm": "wer_lm", "phones": "per", "speaker": "secs", "sync": "lse",
            "emotion": "emotion", "whisper": "whisper", "dnsmos": "dnsmos"}
    changes: dict[str, Any] = {attr: None for attr, metric in keep.items() if metric not in m}
    changes["mcd"] = bool(judges.mcd) and "mcd" in m
    changes["missing"] = {k: v for k, v in judges.missing.items() if k in m}
    return dataclasses.replace(judges, **changes)


def judges_fingerprint(judges: Any) -> Any:
    """``{judge: weights sha256 or settings}``: what an evaluation cache is keyed on."""
    prov = judges.provenance()
    return {k: (v.get("weights_sha256") or v) if isinstance(v, Mapping) else v for k, v in prov.items()}



def _write_wav(path: Path, wav: np.ndarray, sr: int) -> None:
    wav = np.asarray(wav, dtype=np.float32).reshape(-1)
    peak = float(np.abs(wav).max()) if wav.size else 0.0
    if peak > 0.99:  # Griffin-Lim can overshoot; scale down rather than clip
        wav = wav * (0.95 / peak)
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(str(tmp), wav, sr, subtype="PCM_16")


def _write_npy(path: Path, arr: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp:
        with open(tmp, "wb") as f:
            np.save(f, arr.astype(np.float32))



def write_clip(out: Path, clip: str, mel: np.ndarray, wav: np.ndarray, sr: int) -> None:
    """``out/<clip>.npy`` (the normalised log-mel ``[80, T]``) and ``out/<clip>.wav`` (16-bit, peak ≤ 0.95)."""
    _write_npy(out / f"{clip}.npy", mel)
    _write_wav(out / f"{clip}.wav", wav, sr)


def prepare_dir(out: Path, key: dict[str, Any], log: Callable[[str], Any] = print) -> None:
    """Make ``out`` hold outputs of ``key``: its ``meta.json`` is written, and a changed key clears the outputs."""
    meta = out / "meta.json"
    if meta.exists():
        old = json.loads(meta.read_text())
        if old.get("key") == json.loads(json.dumps(key, default=str)):
            return
        log(f"{out}: generation settings changed; clearing its cached outputs")
        for p in (*out.glob("*.wav"), *out.glob("*.npy"), *out.glob("eval_*.pkl")):
            p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(meta, {"key": key, "written": time.strftime("%Y-%m-%dT%H:%M:%S")})


def pad_batch(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One batch of ``EmoDubber.synthesise`` inputs from per-clip ones (``phonemes [P]``, ``lip [F, ...]``,
    ``spk_emb [256]``, optional ``expert_ref [80]``): zero-padded ``phonemes [B, P]``, ``lip [B, F, ...]``, stacked
    ``spk_emb [B, 256]`` (and ``expert_ref [B, 80]``), lengths."""
    B = len(items)
    P = max(len(it["phonemes"]) for it in items)
    F = max(it["lip"].shape[0] for it in items)
    phon = torch.zeros(B, P, dtype=torch.long)
    lip = torch.zeros((B, F, *items[0]["lip"].shape[1:]), dtype=items[0]["lip"].dtype)
    for i, it in enumerate(items):
        phon[i, : len(it["phonemes"])] = it["phonemes"]
        lip[i, : it["lip"].shape[0]] = it["lip"]
    return {"phonemes": phon, "lip": lip, "spk_emb": torch.stack([it["spk_emb"] for it in items]),
            "phoneme_lengths": torch.tensor([len(it["phonemes"]) for it in items]),
            "lip_lengths": torch.tensor([it["lip"].shape[0] for it in items]),
            **({"expert_ref": torch.stack([it["expert_ref"] for it in items])} if "expert_ref" in items[0] else {})}


def setting2_from_setting1(t1: pd.DataFrame, p1: dict, t_secs: pd.DataFrame, p_secs: dict) -> tuple[pd.DataFrame, dict]:
    """The Setting-2 table of a setting-independent system: every column of its Setting-1 table ``t1`` but SECS,
    with ``secs_vs_reference`` (and the reference clip, and SECS errors) from ``t_secs``, scored in Setting 2."""
    t2 = t1.drop(columns=[c for c in ("secs_vs_target",) if c in t1.columns]).copy()
    extra = t_secs.set_index("clip_id")
    for col in ("secs_vs_reference", "reference_clip"):
        if col in extra.columns:
            t2[col] = t2["clip_id"].map(extra[col])
    secs_err = extra["error"] if "error" in extra.columns else None
    kept = [("; ".join(p for p in str(s or "").split("; ") if p and not p.startswith("secs")))
            for s in t1.get("error", pd.Series("", index=t1.index)).fillna("")]
    new = ["" if secs_err is None else str(secs_err.get(c, "") or "") for c in t2["clip_id"]]
    t2["error"] = ["; ".join(x for x in (a, b) if x) for a, b in zip(kept, new)]
    p2 = {**p1, **{k: p_secs[k] for k in ("setting", "setting_description", "secs_column")}}
    p2["note"] = ("audio identical in both settings: every column but SECS is copied from "
                  "Setting 1; SECS re-measured against the Setting-2 reference")
    p2["wall_time_s"] = round(p1.get("wall_time_s", 0) + p_secs.get("wall_time_s", 0), 2)
    return t2, p2


#: columns every ``evaluate`` table has whichever judges ran (not copied by :func:`merge_scores`)
_ROW_COLUMNS = ("clip_id", "system", "setting", "speaker", "text", "warnings", "duration_s", "error")


def merge_scores(base: pd.DataFrame, base_prov: dict, extra: pd.DataFrame, extra_prov: dict
                 ) -> tuple[pd.DataFrame, dict]:
    """``base`` (one ``evaluate`` table) with the judge columns of ``extra`` (another, of the same clips) joined
    on ``clip_id``; the two ``error`` cells of a clip are joined with ``; ``. Provenance: the judges, timings
    and wall times of both."""
    ex = extra.set_index("clip_id")
    out = base.copy()
    for col in ex.columns:
        if col not in _ROW_COLUMNS and col not in out.columns:
            out[col] = out["clip_id"].map(ex[col])
    if "error" in ex.columns:
        more = out["clip_id"].map(ex["error"]).fillna("").astype(str)
        out["error"] = ["; ".join(x for x in (str(a or ""), b) if x)
                        for a, b in zip(out.get("error", pd.Series("", index=out.index)).fillna(""), more)]
    prov = dict(base_prov)
    prov["judges"] = {**extra_prov.get("judges", {}), **base_prov.get("judges", {})}
    if "missing" in extra_prov.get("judges", {}) or "missing" in base_prov.get("judges", {}):
        prov["judges"]["missing"] = {**extra_prov.get("judges", {}).get("missing", {}),
                                     **base_prov.get("judges", {}).get("missing", {})}
    prov["timing_s"] = {**base_prov.get("timing_s", {}), **extra_prov.get("timing_s", {})}
    prov["wall_time_s"] = round(base_prov.get("wall_time_s", 0) + extra_prov.get("wall_time_s", 0), 2)
    prov["n_with_error"] = int((out["error"].fillna("") != "").sum()) if "error" in out else 0
    out.attrs["provenance"] = prov
    return out, prov
