"""Can the lips be read? The mouth ROIs' motion energy decides whether ``dub`` times the speech by the lips.

The dubber aligns phonemes to lip frames (LPA + MAS, docs/paper.md §3.2.4, §3.3). A mouth that does not move
(a still photograph, a frozen frame, a face that never speaks) gives the aligner nothing to follow: MAS then
cuts the clip into arbitrary pieces. :func:`choose_alignment` measures the mouth's motion and, below
:data:`MIN_LIP_MOTION`, falls back to the text's own timing: the dubber's TTS-mode forward, durations
predicted from the phonemes and fitted to the clip's T = 4F mel frames (``EmoDubber.forward(mode="tts",
mel_frames=4F)``, see :mod:`emodubber.dub.engine`). The choice can be forced (``alignment="lips"`` or
``"text"``); :data:`ALIGNMENTS` lists the values.

The measure (:func:`lip_motion`) is the motion energy of the mouth ROI: the mean absolute frame-to-frame
difference of the grey ROI, in [0, 1] grey units (0: every frame the same; 1: black and white swapping every
frame). It is cheap, needs no model, and reads the same ROIs the lip encoder reads. What it cannot tell:
camera noise and head motion count as motion too, so a silent face that sways (or a noisy one) can pass as
readable; it only catches mouths that are too still to align.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emodubber.dub.inputs import DubInputError

__all__ = ["ALIGNMENTS", "MIN_LIP_MOTION", "LipCheck", "lip_motion", "check_alignment", "choose_alignment"]

#: ``dub(alignment=…)`` / ``--alignment``: ``auto`` (lips when they move enough, else text), ``lips``, ``text``.
ALIGNMENTS = ("auto", "lips", "text")

#: Motion energy (:func:`lip_motion`, grey units per frame) below which the lips count as unreadable.
#: Set between the two groups measured through the dub path's own ROI cutter (``extract_mouth_rois``, 32 px):
#: 70 speech clips of the synthetic corpus (cpu profile, 34–58 frames, all speakers) gave 0.0090–0.018
#: (median 0.013); the first frame of 5 of them repeated for 3 s and encoded as H.264 gave 0–0.0018. The
#: threshold is about the geometric mean of the two edges (√(0.0018 · 0.0090) ≈ 0.004): a factor of ~2 to
#: either side. A rendered face with a closed, still mouth but head sway and camera noise measured 0.0046
#: (above it: see the module's note on what the measure cannot tell); uncompressed pixel noise of σ = 1 grey
#: level alone measures ≈ 1.13/255 ≈ 0.0044 (H.264 at the corpus's quality removes most of it).
MIN_LIP_MOTION = 0.004


@dataclass(frozen=True)
class LipCheck:
    """The alignment :func:`choose_alignment` chose, the measure it chose by, and the note that says so."""

    alignment: str  # "lips" or "text"
    motion: float  # lip_motion of the ROIs
    requested: str  # "auto", "lips" or "text"
    note: str  # one line

    @property
    def fell_back(self) -> bool:
        """True when ``auto`` found the lips unreadable (a forced ``text`` is not a fallback)."""
        return self.requested == "auto" and self.alignment == "text"


def lip_motion(rois: np.ndarray) -> float:
    """Motion energy of a mouth ROI sequence: mean over frames and pixels of |ROI[f+1] − ROI[f]|, grey in [0, 1].

    shape: rois [F, S, S] (uint8 0–255, or float in [0, 1]) -> float in [0, 1]; 0.0 for F < 2.
    """
    x = np.asarray(rois)
    if x.ndim != 3:
        raise ValueError(f"mouth ROIs must be [F, S, S], got shape {x.shape}")
    if len(x) < 2:
        return 0.0
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    return float(np.abs(np.diff(x, axis=0)).mean())


def check_alignment(alignment: str) -> str:
    """``alignment`` if it is one of :data:`ALIGNMENTS`; else a one-line :class:`DubInputError` (``bad-option``)."""
    if alignment not in ALIGNMENTS:
        raise DubInputError("bad-option", f"alignment must be one of {', '.join(ALIGNMENTS)}, not {alignment!r}")
    return alignment


def choose_alignment(rois: np.ndarray, alignment: str = "auto", threshold: float = MIN_LIP_MOTION) -> LipCheck:
    """Lips or text: ``alignment`` when forced, else lips when :func:`lip_motion` ≥ ``threshold``.

    shape: rois [F, S, S] -> LipCheck (its ``note`` is one line naming the path, the measure and the threshold)
    """
    check_alignment(alignment)
    m = lip_motion(rois)
    measure = f"mouth motion {m:.4f} (threshold {threshold:g})"
    if alignment == "lips":
        return LipCheck("lips", m, alignment, f"alignment lips (forced): timed by the lips; {measure}")
    if alignment == "text":
        return LipCheck("text", m, alignment, f"alignment text (forced): timed by the text's predicted durations "
                                              f"fitted to the clip; {measure}")
    if m >= threshold:
        return LipCheck("lips", m, alignment, f"alignment lips: {measure}")
    return LipCheck("text", m, alignment,
                    f"lips unreadable: {measure} is too still to align; fell back to the text's predicted durations "
                    f"fitted to the clip (alignment text; --alignment lips forces the lips)")
