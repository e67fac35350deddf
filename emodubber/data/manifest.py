"""One manifest format for every corpus (synthetic, GRID, Chem): a JSON-lines file of :class:`ClipRecord`.

Paths inside a record are relative to the manifest's directory, so a corpus folder can be moved.
A corpus directory holds ``dubbing.jsonl`` (clips with video) and/or ``emotion.jsonl`` (emotional
speech, like ESD), plus ``references.tsv`` (Setting 2: another clip of the same speaker).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from emodubber.config import EMOTIONS
from emodubber.utils import atomic_path

__all__ = ["ClipRecord", "ManifestError", "read_manifest", "write_manifest", "assign_splits",
           "setting2_references", "write_references", "read_references", "SPLITS"]

SPLITS = ("train", "val", "test")


class ManifestError(ValueError):
    """A manifest line that cannot be used; the message names the file, the line and the clip."""


@dataclass
class ClipRecord:
    """One clip. ``phonemes`` and ``phone_spans`` have the same length.

    phonemes:    ARPAbet without stress plus ``sil`` / ``sp`` (the symbols of ``emodubber.text``)
    phone_spans: [start_s, end_s] of each phoneme in the wav, contiguous, covering the whole clip
    """

    clip_id: str
    corpus: str  # "synthetic-dubbing", "synthetic-emotion", "grid", "chem"
    speaker: str
    text: str
    phonemes: list[str]
    phone_spans: list[list[float]]
    wav: str  # relative to the manifest's directory
    video: str = ""  # relative mp4 / mpg path; "" for speech-only clips
    emotion: str = "neutral"
    intensity: float = 0.0  # 0 for neutral
    split: str = "train"
    duration_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. voice recipe, synthesiser, F0 shift

    def validate(self, where: str = "") -> "ClipRecord":
        w = f"{where}clip {self.clip_id}"
        if self.emotion not in EMOTIONS:
            raise ManifestError(f"{w}: unknown emotion {self.emotion!r} (known: {', '.join(EMOTIONS)})")
        if self.split not in SPLITS:
            raise ManifestError(f"{w}: split {self.split!r} is not one of {SPLITS}")
        if len(self.phonemes) != len(self.phone_spans):
            raise ManifestError(f"{w}: {len(self.phonemes)} phonemes but {len(self.phone_spans)} phone spans")
        if not self.phonemes:
            raise ManifestError(f"{w}: no phonemes")
        prev = 0.0
        for p, (s, e) in zip(self.phonemes, self.phone_spans):
            if e < s or s < prev - 1e-3:
                raise ManifestError(f"{w}: phone span of {p!r} [{s}, {e}] is not monotonic")
            prev = e
        return self

    def path(self, root: str | Path, which: str = "wav") -> Path:
        rel = getattr(self, which)
        return Path(root) / rel if rel else Path()


def read_manifest(path: str | Path) -> list[ClipRecord]:
    """Records of a JSON-lines manifest, validated; :class:`ManifestError` names file, line and clip."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"manifest {path} does not exist (build the corpus first: notebooks/01_data_prep)")
    out = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = ClipRecord(**json.loads(line))
        except (json.JSONDecodeError, TypeError) as e:
            raise ManifestError(f"{path}:{i}: not a clip record ({e})") from None
        out.append(rec.validate(f"{path}:{i}: "))
    return out


def write_manifest(path: str | Path, records: Iterable[ClipRecord]) -> Path:
    """Write records atomically (a crash leaves the previous manifest intact)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            for r in records:
                f.write(json.dumps(asdict(r.validate()), ensure_ascii=False) + "\n")
    return Path(path)


def assign_splits(records: list[ClipRecord], val_fraction: float, test_fraction: float, seed: int,
                  heldout_speakers: Iterable[str] = ()) -> list[ClipRecord]:
    """Split per speaker (every speaker in every split) by seeded shuffle; held-out speakers go to test only."""
    heldout = set(heldout_speakers)
    by_spk: dict[str, list[ClipRecord]] = defaultdict(list)
    for r in records:
        by_spk[r.speaker].append(r)
    rng = random.Random(seed)
    for spk in sorted(by_spk):
        clips = sorted(by_spk[spk], key=lambda r: r.clip_id)
        if spk in heldout:
            for r in clips:
                r.split = "test"
            continue
        rng.shuffle(clips)
        n_test = round(len(clips) * test_fraction)
        n_val = round(len(clips) * val_fraction)
        for k, r in enumerate(clips):
            r.split = "test" if k < n_test else "val" if k < n_test + n_val else "train"
    return records


def setting2_references(records: list[ClipRecord], seed: int) -> dict[str, str]:
    """Setting 2: for each clip, another clip of the same speaker (same split when possible)."""
    rng = random.Random(seed)
    by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_spk: dict[str, list[str]] = defaultdict(list)
    for r in records:
        by_key[(r.speaker, r.split)].append(r.clip_id)
        by_spk[r.speaker].append(r.clip_id)
    refs = {}
    for r in sorted(records, key=lambda r: r.clip_id):
        pool = [c for c in by_key[(r.speaker, r.split)] if c != r.clip_id] or \
               [c for c in by_spk[r.speaker] if c != r.clip_id]
        if pool:
            refs[r.clip_id] = rng.choice(sorted(pool))
    return refs


def write_references(path: str | Path, refs: dict[str, str]) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{k}\t{v}\n" for k, v in sorted(refs.items())))
    return Path(path)


def read_references(path: str | Path) -> dict[str, str]:
    out = {}
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        if line.strip():
            parts = line.split("\t")
            if len(parts) != 2:
                raise ManifestError(f"{path}:{i}: expected 'clip_id<TAB>reference_clip_id'")
            out[parts[0]] = parts[1]
    return out
