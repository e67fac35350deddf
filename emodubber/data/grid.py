"""Raw GRID (Cooke et al., 2006) → the common manifest (``cfg.corpus_dir/dubbing.jsonl``).

Expected layout under ``root`` (the folders the GRID archives unpack to; first match wins):

==========  ==========================================================================================
video       ``sN/*.mpg`` · ``video/sN/*.mpg`` · ``sN/video/*.mpg``  (25 fps)
audio       ``audio_25k/sN/*.wav`` · ``audio_50k/sN/*.wav`` · ``audio/sN/*.wav`` · ``sN/*.wav``
alignments  ``alignments/sN/*.align`` · ``align/sN/*.align`` · ``sN/align/*.align``
MFA         ``textgrids/sN/*.TextGrid`` · ``mfa/sN/*.TextGrid`` · ``sN/*.TextGrid`` (optional; preferred)
==========  ==========================================================================================

An ``.align`` file has one line per word, ``start end word``, in units of 1/25000 s (= 1000 per video
frame at 25 fps), with ``sil`` (edges) and ``sp`` (short pauses). Without MFA TextGrids each word's
CMUdict phones split its interval evenly; with them, MFA's phone tier is used (stress stripped,
empty / ``spn`` intervals become ``sil`` at the edges and ``sp`` inside). Unusable clips (a file
missing, unreadable audio, an out-of-dictionary word, shorter than :data:`MIN_SECONDS`) are skipped
with the reason logged and counted; clip ids are ``sN-<utt>`` as in the official filelists.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from emodubber.config import ProfileConfig
from emodubber.data.manifest import (ClipRecord, assign_splits, setting2_references, write_manifest,
                                     write_references)
from emodubber.text.g2p import OOVError, word_to_phonemes
from emodubber.text.symbols import SIL, SP, strip_stress

__all__ = ["CorpusLayoutError", "CorpusReport", "read_align", "read_textgrid_phones", "words_to_spans",
           "find_speakers", "scan_grid", "build_grid_manifest", "ALIGN_UNITS_PER_S", "MIN_SECONDS"]

log = logging.getLogger(__name__)

#: ``.align`` time unit: 25 000 per second.
ALIGN_UNITS_PER_S = 25000.0
#: Clips shorter than this are skipped.
MIN_SECONDS = 0.5

_VIDEO_DIRS = ("{s}", "video/{s}", "{s}/video")
_AUDIO_DIRS = ("audio_25k/{s}", "audio_50k/{s}", "audio/{s}", "{s}")
_ALIGN_DIRS = ("alignments/{s}", "align/{s}", "{s}/align")
_TG_DIRS = ("textgrids/{s}", "mfa/{s}", "{s}")
_SPEAKER_RE = re.compile(r"^s\d+$")


class CorpusLayoutError(FileNotFoundError):
    """A corpus root that is missing or not laid out as expected; the message says what was expected where."""


@dataclass
class CorpusReport:
    """What a real-corpus reader found: records written, clips skipped (id → reason)."""

    corpus: str
    root: str
    n_clips: int = 0
    speakers: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    manifest: str = ""

    def __str__(self) -> str:
        return (f"{self.corpus} at {self.root}: {self.n_clips} clips of {len(self.speakers)} speakers, "
                f"{len(self.skipped)} skipped")


def read_align(path: str | Path) -> list[tuple[float, float, str]]:
    """``[(start_s, end_s, word), ...]`` of a GRID ``.align`` file."""
    out = []
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise ValueError(f"{path}:{i}: expected 'start end word', got {line!r}")
        out.append((int(parts[0]) / ALIGN_UNITS_PER_S, int(parts[1]) / ALIGN_UNITS_PER_S, parts[2].lower()))
    if not out:
        raise ValueError(f"{path} is empty")
    return out


def _pause(k: int, n: int) -> str:
    return SIL if k in (0, n - 1) else SP


def words_to_spans(words: list[tuple[float, float, str]]) -> tuple[list[str], list[list[float]], str]:
    """Word timings → (phonemes, contiguous phone spans, text); each word's CMUdict phones split its
    interval evenly; ``sil``/``sp`` words become ``sil`` at the edges and ``sp`` inside."""
    phones: list[str] = []
    spans: list[list[float]] = []
    text = []
    n = len(words)
    for k, (s, e, w) in enumerate(words):
        if w in ("sil", "sp", ""):
            ph = [_pause(k, n)]
        else:
            ph = word_to_phonemes(w)
            text.append(w)
        step = (e - s) / len(ph)
        for j, p in enumerate(ph):
            phones.append(p)
            spans.append([s + j * step, s + (j + 1) * step])
    for j in range(1, len(spans)):  # make contiguous (align files may leave gaps)
        spans[j][0] = spans[j - 1][1]
    return phones, [[round(a, 5), round(b, 5)] for a, b in spans], " ".join(text)


def read_textgrid_phones(path: str | Path, tier: str = "phones") -> list[tuple[float, float, str]]:
    """Intervals ``[(xmin, xmax, text)]`` of one tier of a Praat (long-format) TextGrid, as MFA writes it."""
    txt = Path(path).read_text(encoding="utf-8", errors="replace")
    blocks = re.split(r"item\s*\[\d+\]\s*:", txt)[1:]
    for b in blocks:
        name = re.search(r'name\s*=\s*"([^"]*)"', b)
        if not name or name.group(1) != tier:
            continue
        iv = re.findall(r'xmin\s*=\s*([\d.eE+-]+)\s*xmax\s*=\s*([\d.eE+-]+)\s*text\s*=\s*"([^"]*)"', b)
        return [(float(a), float(c), t) for a, c, t in iv]
    raise ValueError(f"{path}: no tier named {tier!r}")


def _textgrid_to_spans(path: Path) -> tuple[list[str], list[list[float]]]:
    iv = read_textgrid_phones(path)
    n = len(iv)
    phones, spans = [], []
    for k, (s, e, t) in enumerate(iv):
        t = t.strip()
        p = _pause(k, n) if t.lower() in ("", "sil", "sp", "spn") else strip_stress(t).upper()
        phones.append(p)
        spans.append([s, e])
    return phones, spans


def _first_dir(root: Path, patterns: tuple[str, ...], spk: str, suffix: str) -> Path | None:
    for pat in patterns:
        d = root / pat.format(s=spk)
        if d.is_dir() and any(d.glob(f"*{suffix}")):
            return d
    return None


def find_speakers(root: Path) -> list[str]:
    """GRID speaker folders (``s1`` … ``s34``) found directly under ``root`` or its video/audio/align folders."""
    names: set[str] = set()
    for d in [root] + [root / x for x in ("video", "audio_25k", "audio_50k", "audio", "alignments", "align")]:
        if d.is_dir():
            names.update(p.name for p in d.iterdir() if p.is_dir() and _SPEAKER_RE.match(p.name))
    return sorted(names, key=lambda s: int(s[1:]))


def _expected(root: Path) -> str:
    return (f"expected under {root}: sN/*.mpg (video), audio_25k/sN/*.wav (audio) and alignments/sN/*.align "
            "(word timings) — see emodubber/data/grid.py for the accepted variants")


def scan_grid(root: str | Path, speakers: list[str] | None = None) -> tuple[list[ClipRecord], CorpusReport]:
    """Records of every usable GRID clip under ``root`` (split not yet assigned) and the report."""
    import soundfile as sf

    root = Path(root).expanduser()
    if not root.is_dir():
        raise CorpusLayoutError(f"GRID root {root} does not exist; {_expected(root)}")
    found = find_speakers(root)
    if not found:
        raise CorpusLayoutError(f"no GRID speaker folder (s1, s2, ...) in {root}; {_expected(root)}")
    if speakers:
        missing = sorted(set(speakers) - set(found))
        if missing:
            raise CorpusLayoutError(f"GRID speaker(s) {', '.join(missing)} not found in {root} "
                                    f"(found {', '.join(found)})")
        found = [s for s in found if s in speakers]
    rep = CorpusReport("grid", str(root))
    records = []
    for spk in found:
        vdir = _first_dir(root, _VIDEO_DIRS, spk, ".mpg")
        adir = _first_dir(root, _AUDIO_DIRS, spk, ".wav")
        ldir = _first_dir(root, _ALIGN_DIRS, spk, ".align")
        tdir = _first_dir(root, _TG_DIRS, spk, ".TextGrid")
        if vdir is None or adir is None or (ldir is None and tdir is None):
            what = [n for n, d in (("video sN/*.mpg", vdir), ("audio audio_25k/sN/*.wav", adir),
                                   ("alignments/sN/*.align", ldir or tdir)) if d is None]
            rep.skipped[spk] = f"speaker {spk}: no {' / '.join(what)} under {root}"
            log.warning("GRID: %s", rep.skipped[spk])
            continue
        for video in sorted(vdir.glob("*.mpg")):
            utt = video.stem
            cid = f"{spk}-{utt}"
            try:
                rec = _grid_clip(cid, spk, utt, video, adir, ldir, tdir, sf)
            except (OSError, ValueError, RuntimeError) as e:
                rep.skipped[cid] = str(e)
                log.warning("GRID: skipped %s: %s", cid, e)
                continue
            records.append(rec)
    rep.n_clips = len(records)
    rep.speakers = sorted({r.speaker for r in records}, key=lambda s: int(s[1:]))
    return records, rep


def _grid_clip(cid, spk, utt, video, adir, ldir, tdir, sf) -> ClipRecord:
    wav = adir / f"{utt}.wav"
    if not wav.exists():
        raise FileNotFoundError(f"no audio {wav}")
    try:
        info = sf.info(str(wav))
    except Exception as e:  # soundfile raises its own error type for unreadable files
        raise ValueError(f"audio {wav} is unreadable ({e})") from None
    dur = info.frames / info.samplerate
    if dur < MIN_SECONDS:
        raise ValueError(f"too short: {dur:.2f} s < {MIN_SECONDS} s")
    tg = tdir / f"{utt}.TextGrid" if tdir is not None else None
    align = ldir / f"{utt}.align" if ldir is not None else None
    text_words = None
    if align is not None and align.exists():
        words = read_align(align)
        try:
            phones, spans, text = words_to_spans(words)
        except OOVError as e:
            raise ValueError(str(e)) from None
        text_words = text
    if tg is not None and tg.exists():
        phones, spans = _textgrid_to_spans(tg)
        if text_words is None:
            text_words = " ".join(w for _, _, w in read_textgrid_phones(tg, "words") if w.strip())
    elif text_words is None:
        raise FileNotFoundError(f"no alignment {align} (nor an MFA TextGrid)")
    spans[-1][1] = max(spans[-1][1], dur)
    return ClipRecord(clip_id=cid, corpus="grid", speaker=spk, text=text_words, phonemes=phones,
                      phone_spans=spans, wav=str(wav.resolve()), video=str(video.resolve()), duration_s=dur,
                      extra={"alignment": "mfa" if tg is not None and tg.exists() else "align+cmudict"})


def build_grid_manifest(cfg: ProfileConfig, root: str | Path | None = None,
                        speakers: list[str] | None = None) -> CorpusReport:
    """Scan GRID at ``root`` (default ``cfg.corpus.root``), split per speaker, write ``dubbing.jsonl``
    and ``references.tsv`` in ``cfg.corpus_dir`` (absolute paths to the raw files)."""
    root = Path(root or cfg.corpus.root)
    records, rep = scan_grid(root, speakers)
    if not records:
        raise CorpusLayoutError(f"no usable GRID clip under {root} ({len(rep.skipped)} skipped; first: "
                                f"{next(iter(rep.skipped.values()), '-')}); {_expected(root)}")
    assign_splits(records, cfg.corpus.val_fraction, cfg.corpus.test_fraction, cfg.seed,
                  heldout_speakers=cfg.corpus.heldout_voices)
    rep.manifest = str(write_manifest(cfg.corpus_dir / "dubbing.jsonl", records))
    write_references(cfg.corpus_dir / "references.tsv", setting2_references(records, cfg.seed))
    return rep
