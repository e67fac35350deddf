"""Chem (single lecturer, from Lip2Wav) as distributed with the official EmoDubber features → the manifest.

What is read under ``root`` (any sub-folder; files are found by name, docs/paper.md §B.1):

==============================  ===================================================================
filelists                       ``*Train*.txt`` / ``*Test*.txt`` (``*Val*``/``*Valid*`` if present), lines
                                ``basename|wav_path|phonemes|text`` (``chem_newphoneme_Train.txt`` …)
audio                           the 16 kHz wav named in the filelist (its path as given, relative to the
                                root, or found by file name anywhere under the root)
lip features                    ``lipmotion-<utt>.npy`` float [F, 512] (LRW TCN lip-reader features)
GT_SIM                          ``16KChem_GTSIM-<utt>.npy`` (any ``*GTSIM-<utt>.npy``) binary [P, F]
speaker embedding               ``SPK-<utt>.npy`` [256]
==============================  ===================================================================

No video is distributed, so records carry ``extra["lip_features"]`` (the model runs with
``model.lip_input = "features"``) and ``extra["spk_emb"]``. Phonemes (``{HH AH0 L OW1 sp …}``, braces
and ``@`` optional) lose their stress and are truncated to the GT_SIM rows as the official loader does.
Chem has no released phone timings: the spans are derived from GT_SIM (40 ms resolution; two phones
that share a frame split it at the middle of their overlap), so durations and M agree with the release.
Pitch and energy are recomputed from the wav by :mod:`emodubber.data.features` (the released ones
were normalised with unstated statistics). Clips with a missing file are skipped and counted.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np

from emodubber.config import ProfileConfig
from emodubber.data.grid import CorpusLayoutError, CorpusReport
from emodubber.data.manifest import ClipRecord, setting2_references, write_manifest, write_references
from emodubber.text.symbols import SIL, SP, SymbolError, phonemes_to_ids, strip_stress

__all__ = ["parse_phonemes", "spans_from_gt_sim", "scan_chem", "build_chem_manifest", "SPEAKER"]

log = logging.getLogger(__name__)

SPEAKER = "chem"
_SPLIT_RE = (("train", re.compile(r"train", re.I)), ("test", re.compile(r"test", re.I)),
             ("val", re.compile(r"val", re.I)))
_PAUSES = {"sp": SP, "spn": SP, "sil": SIL}


def parse_phonemes(s: str) -> list[str]:
    """``"{HH AH0 L OW1 sp W}"`` → ``["HH", "AH", "L", "OW", "sp", "W"]`` (braces, ``@``, stress removed)."""
    out = []
    for tok in s.replace("{", " ").replace("}", " ").split():
        t = tok.lstrip("@")
        out.append(_PAUSES[t.lower()] if t.lower() in _PAUSES else strip_stress(t).upper())
    phonemes_to_ids(out)  # raises SymbolError naming an unknown phone
    return out


def spans_from_gt_sim(M: np.ndarray, fps: float = 25.0) -> list[list[float]]:
    """Contiguous phone spans (s) from a binary phoneme × frame matrix M [P, F].

    Phone p covers frames [first_p, last_p]; where consecutive phones overlap (share frames) the boundary
    is the middle of the overlap; a phone without a positive frame gets a zero-length span."""
    P, F = M.shape
    first = np.full(P, -1.0)
    last = np.full(P, -1.0)
    for p in range(P):
        nz = np.flatnonzero(M[p])
        if len(nz):
            first[p], last[p] = nz[0], nz[-1] + 1
    # fill phones without frames from their neighbours
    prev = 0.0
    for p in range(P):
        if first[p] < 0:
            first[p] = last[p] = prev
        prev = last[p]
    bounds = [0.0]
    for p in range(P - 1):
        b = (last[p] + first[p + 1]) / 2 if last[p] > first[p + 1] else last[p]
        bounds.append(max(bounds[-1], min(b, F)))
    bounds.append(float(F))
    return [[round(bounds[p] / fps, 5), round(bounds[p + 1] / fps, 5)] for p in range(P)]


def _index_files(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith((".npy", ".wav", ".txt")):
                found.setdefault(f, Path(d) / f)
    return found


def _expected(root: Path) -> str:
    return (f"expected under {root}: filelists *Train*.txt / *Test*.txt (basename|wav|phonemes|text), "
            "lipmotion-<utt>.npy, 16KChem_GTSIM-<utt>.npy, SPK-<utt>.npy and the 16 kHz wavs")


def scan_chem(root: str | Path) -> tuple[list[ClipRecord], CorpusReport]:
    """Records of every usable Chem clip under ``root`` (split from the filelist's name) and the report."""
    import soundfile as sf

    root = Path(root).expanduser()
    if not root.is_dir():
        raise CorpusLayoutError(f"Chem root {root} does not exist; {_expected(root)}")
    files = _index_files(root)
    gt_by_utt = {n.split("GTSIM-", 1)[1][:-4]: p for n, p in files.items() if "GTSIM-" in n and n.endswith(".npy")}
    lists = []
    for name, p in sorted(files.items()):
        if not name.endswith(".txt"):
            continue
        split = next((s for s, rx in _SPLIT_RE if rx.search(name)), None)
        if split and "|" in p.read_text(errors="replace")[:4000]:
            lists.append((split, p))
    if not lists:
        raise CorpusLayoutError(f"no Chem filelist in {root}; {_expected(root)}")
    rep = CorpusReport("chem", str(root))
    records: list[ClipRecord] = []
    seen = set()
    for split, lp in lists:
        for i, line in enumerate(lp.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            f = line.strip().split("|")
            if len(f) < 3:
                rep.skipped[f"{lp.name}:{i}"] = "expected basename|wav|phonemes|text"
                continue
            utt = Path(f[1]).stem or f[0]
            if utt in seen:
                continue
            seen.add(utt)
            try:
                records.append(_chem_clip(utt, f, split, root, lp, files, gt_by_utt, sf))
            except (OSError, ValueError, SymbolError) as e:
                rep.skipped[utt] = str(e)
                log.warning("Chem: skipped %s: %s", utt, e)
    rep.n_clips = len(records)
    rep.speakers = [SPEAKER] if records else []
    return records, rep


def _chem_clip(utt, f, split, root, lp, files, gt_by_utt, sf) -> ClipRecord:
    wav = next((p for p in (Path(f[1]), root / f[1], lp.parent / f[1]) if p.is_file()), None) or files.get(f"{utt}.wav")
    if wav is None:
        raise FileNotFoundError(f"no wav {utt}.wav under {root} (filelist says {f[1]})")
    lip, spk, gt = files.get(f"lipmotion-{utt}.npy"), files.get(f"SPK-{utt}.npy"), gt_by_utt.get(utt)
    for what, p in (("lip features lipmotion", lip), ("speaker embedding SPK", spk), ("GT_SIM 16KChem_GTSIM", gt)):
        if p is None:
            raise FileNotFoundError(f"no {what}-{utt}.npy under {root}")
    try:
        info = sf.info(str(wav))
    except Exception as e:  # soundfile's own error type
        raise ValueError(f"audio {wav} is unreadable ({e})") from None
    M = np.load(gt)
    if M.ndim != 2:
        raise ValueError(f"GT_SIM of shape {M.shape}, expected [P, F]")
    phones = parse_phonemes(f[2])[: M.shape[0]]
    if len(phones) < M.shape[0]:
        M = M[: len(phones)]
    spans = spans_from_gt_sim(M)
    dur = info.frames / info.samplerate
    spans[-1][1] = max(spans[-1][1], dur)
    return ClipRecord(clip_id=utt, corpus="chem", speaker=SPEAKER, text=f[3] if len(f) > 3 else "",
                      phonemes=phones, phone_spans=spans, wav=str(Path(wav).resolve()), split=split,
                      duration_s=dur, extra={"lip_features": str(lip.resolve()), "spk_emb": str(spk.resolve()),
                                             "gt_sim": str(gt.resolve()), "alignment": "gt_sim"})


def build_chem_manifest(cfg: ProfileConfig, root: str | Path | None = None) -> CorpusReport:
    """Scan Chem at ``root`` (default ``cfg.corpus.root``), carve a seeded validation split out of the train
    filelist when none is given, write ``dubbing.jsonl`` and ``references.tsv`` in ``cfg.corpus_dir``."""
    import random

    root = Path(root or cfg.corpus.root)
    records, rep = scan_chem(root)
    if not records:
        raise CorpusLayoutError(f"no usable Chem clip under {root} ({len(rep.skipped)} skipped; first: "
                                f"{next(iter(rep.skipped.values()), '-')}); {_expected(root)}")
    if not any(r.split == "val" for r in records):
        train = sorted((r for r in records if r.split == "train"), key=lambda r: r.clip_id)
        random.Random(cfg.seed).shuffle(train)
        for r in train[: round(len(train) * cfg.corpus.val_fraction)]:
            r.split = "val"
    rep.manifest = str(write_manifest(cfg.corpus_dir / "dubbing.jsonl", records))
    write_references(cfg.corpus_dir / "references.tsv", setting2_references(records, cfg.seed))
    return rep
