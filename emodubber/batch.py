"""The batch contract between ``emodubber.data`` (collate), ``emodubber.models`` and ``emodubber.train``.

Notation (docs/paper.md §3.1): B batch, P phonemes, F video frames, T = 4F mel frames.

==================  =====================  ====================================================
field               shape / dtype          meaning
==================  =====================  ====================================================
clip_ids            list[str] (B)          manifest clip ids
phonemes            [B, P] long            symbol ids of ``emodubber.text`` (0 = pad, never a phone)
phoneme_lengths     [B] long
mel                 [B, n_mels, T] float   normalised log-mel, T = 4F (padded with 0)
mel_lengths         [B] long               = 4 * lip_lengths for clips with video
lip                 [B, F, 1, H, W] float  grey mouth-ROI frames in [0, 1] (``model.lip_input="roi"``)
                    or [B, F, 512]         pre-extracted lip features (``"features"``); None for speech-only
lip_lengths         [B] long               video frames (for speech-only clips: ceil(T / 4))
spk_emb             [B, 256] float         resemblyzer / GE2E utterance embedding S_id (L2-normalised)
speaker_ids         [B] long               index into the corpus speaker list
emotion_ids         [B] long               index into ``emodubber.config.EMOTIONS``
intensity           [B] float              acted intensity (0 for neutral)
durations           [B, P] long            true phone durations in *mel* frames (sum = mel_length)
gt_sim              [B, P, F] float        binary phoneme × video-frame matrix M for L_cl
pitch, energy       [B, P] float           phoneme-level, z-normalised with corpus statistics
==================  =====================  ====================================================
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["DubBatch", "BatchError", "ShapeError", "expect_t_equals_4f", "MEL_PER_FRAME"]

#: mel frames per video frame under the fixed contract (16000 / 25 / 160).
MEL_PER_FRAME = 4


class ShapeError(ValueError):
    """A tensor whose shape breaks the model's contract; the message says which and why."""


class BatchError(ShapeError):
    """A batch that breaks the contract; the message names the clip and the field."""


def expect_t_equals_4f(mel_frames: int, video_frames: int, name: str = "mel", clip: str = "",
                       mel_per_frame: int = MEL_PER_FRAME) -> None:
    """The audio-visual contract T = 4F (``docs/paper.md`` §F.3): T mel frames for F video frames.

    The one check of it (dataset items, batches, the dubber's inputs); raises :class:`ShapeError` naming
    ``name`` and ``clip``. ``mel_per_frame`` is 4 under the fixed contract (16 kHz, hop 160, 25 fps).
    """
    if mel_frames != mel_per_frame * video_frames:
        where = f" (clip {clip})" if clip else ""
        raise ShapeError(
            f"{name} has T = {mel_frames} mel frames for F = {video_frames} video frames{where}; "
            f"the contract is T = {mel_per_frame}F = {mel_per_frame * video_frames} "
            f"(16 kHz, hop 160, 25 fps)"
        )


@dataclass
class DubBatch:
    clip_ids: list[str]
    phonemes: Any
    phoneme_lengths: Any
    mel: Any
    mel_lengths: Any
    spk_emb: Any
    speaker_ids: Any
    emotion_ids: Any
    intensity: Any
    durations: Any
    pitch: Any
    energy: Any
    lip: Any = None
    lip_lengths: Any = None
    gt_sim: Any = None

    def to(self, device) -> "DubBatch":
        """Move every tensor to ``device`` (returns a new batch)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.to(device) if hasattr(v, "to") else v
        return DubBatch(**out)

    def __len__(self) -> int:
        return len(self.clip_ids)

    def check(self, mel_per_frame: int = 4) -> "DubBatch":
        """Validate shapes and the T = 4F contract; raise :class:`BatchError` naming the clip."""
        B = len(self.clip_ids)
        for name in ("phonemes", "mel", "spk_emb", "speaker_ids", "emotion_ids", "durations"):
            v = getattr(self, name)
            if v is None or v.shape[0] != B:
                raise BatchError(f"field {name!r} has batch size {None if v is None else v.shape[0]}, expected {B}")
        if self.lip is not None:
            for i, cid in enumerate(self.clip_ids):
                T, F = int(self.mel_lengths[i]), int(self.lip_lengths[i])
                expect_t_equals_4f(T, F, "mel", cid, mel_per_frame)
        for i, cid in enumerate(self.clip_ids):
            if int(self.durations[i].sum()) != int(self.mel_lengths[i]):
                raise BatchError(
                    f"clip {cid}: phone durations sum to {int(self.durations[i].sum())} mel frames "
                    f"but the mel has {int(self.mel_lengths[i])}"
                )
        return self
