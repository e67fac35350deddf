"""``dub(text, video, reference, checkpoint, out, …)``: one clip dubbed end to end.

Order of work (cheap checks first, so a bad input fails before anything slow runs):

1. text → phonemes (CMUdict), the checkpoint layout, the reference (read, mono, resampled), the video
   (ffprobe; re-encoded at 25 fps when needed) and a first "does the text fit the video" check;
2. the models (dubber, expert when α or β > 0, vocoder) and the sampling settings: temperature, Euler steps,
   γ and vocoder not given are the checkpoint profile's ``eval`` values (:func:`emodubber.dub.engine.sampling_defaults`);
3. mouth ROIs from the video (face detection), speaker embedding S_id from the reference (resemblyzer);
4. lips or text (``alignment``, :mod:`emodubber.dub.lipcheck`: a mouth too still to align falls back to the
   text's predicted durations fitted to the clip, and a note says so), synthesis with PNGM guidance
   (:func:`emodubber.dub.engine.synthesise_aligned`), the vocoder;
5. the new speech muxed onto the user's video with ffmpeg (``-map 0:v -map 1:a -c:v copy -shortest``)
   into a temporary file beside ``out``, renamed onto ``out`` only when complete (the same for the
   optional wav): a failure leaves no half-written file (:func:`emodubber.media.mux`).

torch is imported here at the top: ``emodubber.dub`` loads this module only on first use of :func:`dub`.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emodubber.config import EMOTIONS
from emodubber.data.acoustics import log_mel, speaker_embeddings
from emodubber.data.roi import FaceNotFoundError, extract_mouth_rois
from emodubber.dub.engine import MODEL_STAGES, DubModels, load_models, synthesise_aligned, vocode
from emodubber.dub.inputs import (DubInputError, check_fits, conform_video, find_checkpoints, load_reference,
                                  probe_video, text_phonemes)
from emodubber.dub.lipcheck import check_alignment
from emodubber.media import VideoReadError, mux
from emodubber.models.emotion import reference_mel
from emodubber.text.symbols import phonemes_to_ids
from emodubber.utils import atomic_path

__all__ = ["DubResult", "dub", "prepare_models", "check_options", "sampling_settings", "write_wav", "VIDEO_SUFFIXES",
           "DUB_AAC_BITRATE"]

#: AAC bitrate of the dubbed speech muxed onto the user's video.
DUB_AAC_BITRATE = "128k"

#: containers ``--out`` may name: each takes the input's video stream as is and AAC speech
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv")

#: Output peak above this is scaled down to it (-1 dBFS) to avoid clipping.
PEAK = 0.891


@dataclass
class DubResult:
    """What :func:`dub` made, how long each stage took and what it had to repair."""

    video: Path  # the muxed video (out)
    audio: Path | None  # the wav, when asked for
    wav: np.ndarray  # float32 [N] at sample_rate
    sample_rate: int
    mel: np.ndarray  # float32 [80, T] normalised log-mel (T = 4F)
    phonemes: list[str]
    durations: np.ndarray  # int [P] mel frames per phoneme (the dubber's D_p × 4)
    n_frames: int  # video frames F
    seconds: float  # dubbed duration = F / 25
    timings: dict[str, float]  # wall seconds per stage (see MODEL_STAGES and the pre/post stages) and "total"
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # emotion, α, β, γ, steps, seed, vocoder, ROI size
    alignment: str = "lips"  # what timed the speech: "lips" (LPA + MAS) or "text" (predicted durations fitted to 4F)
    lip_motion: float = float("nan")  # the mouth ROI's motion energy (emodubber.dub.lipcheck.lip_motion)
    fell_back: bool = False  # alignment "auto" found the lips too still and timed the speech by the text

    @property
    def rtf(self) -> float:
        """Real-time factor of the whole call (wall time / dubbed seconds)."""
        return self.timings["total"] / self.seconds

    @property
    def model_rtf(self) -> float:
        """Real-time factor of the model stages only (lip encoder … vocoder)."""
        return sum(self.timings.get(k, 0.0) for k in MODEL_STAGES) / self.seconds

    def summary(self) -> str:
        t = self.timings
        parts = ", ".join(f"{k} {v:.2f}" for k, v in t.items() if k != "total")
        how = "text (lips unreadable)" if self.fell_back else self.alignment
        return (f"{self.video}: {self.seconds:.2f} s dubbed in {t['total']:.2f} s (RTF {self.rtf:.2f}, model "
                f"{self.model_rtf:.2f}); timed by {how}, mouth motion {self.lip_motion:.4f}; stages [s]: {parts}")


def write_wav(path: str | Path, wav: np.ndarray, sample_rate: int) -> Path:
    """A 16-bit wav, written atomically."""
    import soundfile as sf

    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(str(tmp), np.asarray(wav, dtype=np.float32), sample_rate, subtype="PCM_16")
    return Path(path)


def prepare_models(checkpoint: str | Path, alpha: float = 0.0, beta: float = 0.0, vocoder: str = "auto",
                   roi_size: int | None = None, check_version: bool = True) -> DubModels:
    """Load the models of a checkpoint directory once (pass the result as ``dub(models=…)``). The emotion expert
    is loaded only when ``alpha`` or ``beta`` > 0: models prepared for unguided dubbing cannot guide."""
    return load_models(find_checkpoints(checkpoint), need_expert=alpha > 0 or beta > 0, vocoder=vocoder,
                       roi_size=roi_size, check_version=check_version)


def check_options(emotion=None, alpha=0.0, beta=0.0, gamma=None, steps=None, temperature=None,
                  need_emotion: bool = True) -> None:
    """One-line :class:`DubInputError` (``bad-option``) for an unknown emotion or a value out of range (``None``:
    not given, the profile's); ``need_emotion``: refuse α or β > 0 without an emotion."""
    if emotion is not None and emotion not in EMOTIONS:
        raise DubInputError("bad-option", f"unknown emotion {emotion!r}; choose one of {', '.join(EMOTIONS)}")
    for name, v in (("alpha", alpha), ("beta", beta), ("gamma", gamma), ("temperature", temperature)):
        if v is not None and not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                                  and v >= 0):
            raise DubInputError("bad-option", f"{name} must be a finite number >= 0, got {v!r}")
    if need_emotion and (alpha > 0 or beta > 0) and emotion is None:
        raise DubInputError("bad-option", "alpha/beta > 0 guide towards an emotion: give --emotion")
    if steps is not None and (not isinstance(steps, (int, float)) or int(steps) != steps or int(steps) < 1):
        raise DubInputError("bad-option", f"steps must be a whole number >= 1, got {steps!r}")


def sampling_settings(models: DubModels, temperature=None, steps=None, gamma=None) -> tuple[dict, str]:
    """``temperature``, ``steps``, ``gamma`` (given, or the profile's ``eval`` values) and a note saying which
    came from where."""
    d = models.defaults
    vals = {"temperature": d.temperature if temperature is None else float(temperature),
            "steps": d.n_steps if steps is None else int(steps), "gamma": d.gamma if gamma is None else float(gamma)}
    given = [k for k, v in (("temperature", temperature), ("steps", steps), ("gamma", gamma)) if v is not None]
    taken = [f"{k} {vals[k]:g}" for k in vals if k not in given]
    note = (f"sampling: {', '.join(taken)} from {d.source}" if taken else "sampling: all settings given") + \
        (f"; given: {', '.join(f'{k} {vals[k]:g}' for k in given)}" if given and taken else "")
    return vals, note


def dub(text: str, video: str | Path, reference: str | Path, checkpoint: str | Path | None, out: str | Path,
        emotion: str | None = None, alpha: float = 0.0, beta: float = 0.0, gamma: float | None = None,
        steps: int | None = None, temperature: float | None = None, seed: int = 1234, audio_out: str | Path | None = None, vocoder: str = "auto",
        roi_size: int | None = None, threads: int | None = None, models=None, check_version: bool = True,
        alignment: str = "auto") -> DubResult:
    """Dub ``video`` with ``text`` spoken in the voice of ``reference``, guided towards ``emotion``.

    ``alpha``/``beta``/``gamma``: PNGM guidance scales (docs/paper.md §3.5.2; α = β = 0: no guidance, the expert
    is not needed); ``steps`` Euler steps, ``temperature`` the noise's; ``gamma``, ``steps`` and ``temperature``
    left ``None`` are the checkpoint profile's ``eval`` values (a note and ``settings["sources"]`` say so);
    ``seed`` the sampler's noise; ``audio_out`` also writes the wav; ``vocoder`` ``auto`` (the profile's
    ``eval.vocoder``, Griffin-Lim when that is HiFi-GAN without ``vocoder/model.pt``), ``hifigan`` or
    ``griffinlim``; ``models`` a :func:`prepare_models` result to reuse (then ``checkpoint`` is ignored);
    ``alignment`` ``auto`` (the lips, unless the mouth is too still to align: then the text's predicted durations
    fitted to the clip, with a note; :mod:`emodubber.dub.lipcheck`), ``lips`` or ``text`` (forced).
    Raises :class:`DubInputError` (one line, ``kind`` names the check) on bad input; writes nothing then.
    """
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    notes: list[str] = []

    def lap(name: str, t0: float) -> float:
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - t0
        return now

    if threads:
        torch.set_num_threads(int(threads))
    check_options(emotion, alpha, beta, gamma, steps, temperature)
    check_alignment(alignment)
    given_t, given_s, given_g = temperature, steps, gamma
    out = Path(out)
    video = Path(video)
    if out.resolve() == video.resolve() or (audio_out is not None and Path(audio_out).resolve() == video.resolve()):
        raise DubInputError("bad-option", f"--out {out} would overwrite the input video; choose another path")
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise DubInputError("bad-option", f"--out {out}: give a video file name ending in "
                                          f"{', '.join(VIDEO_SUFFIXES)} (the container the speech is muxed into)")
    if audio_out is not None and Path(audio_out).suffix.lower() != ".wav":
        raise DubInputError("bad-option", f"--audio-out {audio_out}: give a file name ending in .wav")

    t = time.perf_counter()
    phonemes = text_phonemes(text)
    t = lap("g2p", t)
    layout = find_checkpoints(checkpoint) if models is None else None
    sr = 16000 if models is None else models.dubber.audio_cfg.sample_rate
    ref = load_reference(reference, sr)  # checked early; its notes are added once the model's rate is known
    info = probe_video(video)
    fps = 25
    if info.n_frames or info.seconds:  # early, approximate: the exact count comes from the decoded frames
        n_est = info.n_frames if info.n_frames and abs(info.fps - fps) < 1e-3 else int((info.seconds or 0) * fps)
        if n_est:
            check_fits(phonemes, n_est, fps, video)
    t = lap("inputs", t)

    if models is None:
        models = load_models(layout, need_expert=alpha > 0 or beta > 0, vocoder=vocoder, roi_size=roi_size,
                             check_version=check_version)
    elif (alpha > 0 or beta > 0) and models.expert is None:
        if models.layout is not None and models.layout.emotion_expert is None:
            raise DubInputError("checkpoint-missing", f"alpha/beta > 0 need the emotion expert, but "
                                f"{models.layout.root / 'emotion_expert' / 'model.pt'} does not exist")
        raise DubInputError("checkpoint-missing", "alpha/beta > 0 need the emotion expert, and these models were "
                                                  "prepared without it: pass alpha/beta to prepare_models()")
    notes += models.notes
    vals, note = sampling_settings(models, temperature, steps, gamma)
    temperature, steps, gamma = vals["temperature"], vals["steps"], vals["gamma"]
    notes.append(note)
    model = models.dubber
    a = model.audio_cfg
    if a.sample_rate != sr:
        ref = load_reference(reference, a.sample_rate)
    notes += ref.notes
    fps = int(round(a.sample_rate / a.hop_length / 4))
    t = lap("load", t)

    with tempfile.TemporaryDirectory(prefix="emodubber-dub-") as tmp:
        src, n = conform_video(info, fps, tmp)
        notes += n
        try:
            rois = extract_mouth_rois(src, models.roi_size).rois
        except FaceNotFoundError as e:
            raise DubInputError("video-no-face", f"video {video}: {e}; dubbing needs a visible frontal face") from None
        except VideoReadError as e:
            raise DubInputError("video-corrupt", str(e)) from None
        F = len(rois)
        check_fits(phonemes, F, fps, video)
        t = lap("roi", t)
        spk = torch.from_numpy(speaker_embeddings([ref.wav], ref.sample_rate)[0])
        # r̄ for an expert that hears emotion relative to the speaker's neutral voice (the reference recording)
        ref_mel = reference_mel(torch.from_numpy(a.normalise_mel(log_mel(ref.wav, a))))
        t = lap("speaker", t)

        ids = torch.tensor(phonemes_to_ids(phonemes), dtype=torch.long)
        guided = alpha > 0 or beta > 0
        res, tm, lips = synthesise_aligned(model, ids, rois, spk, alignment, expert=models.expert if guided else None,
                                           emotion=emotion, alpha=alpha, beta=beta, gamma=gamma, n_steps=steps,
                                           temperature=temperature, seed=seed, expert_ref=ref_mel)
        notes.append(lips.note)
        timings.update(tm)
        wav, timings["vocoder"] = vocode(models.vocoder, res["mel"])
        t = time.perf_counter()
        wav = wav.numpy().astype(np.float32)
        if not np.isfinite(wav).all():
            raise RuntimeError("the model produced non-finite audio (a broken checkpoint?); nothing was written")
        peak = float(np.abs(wav).max()) if wav.size else 0.0
        if peak > PEAK:
            wav *= PEAK / peak
            notes.append(f"output peak {peak:.2f} scaled to {PEAK} (-1 dBFS) to avoid clipping")
        if emotion is not None and not guided:
            notes.append(f"emotion {emotion!r} given with alpha = beta = 0: no guidance was applied")
        wav_tmp = Path(tmp) / "speech.wav"
        write_wav(wav_tmp, wav, a.sample_rate)
        with contextlib.ExitStack() as both:  # the video and the wav appear together or not at all
            if audio_out is not None:
                write_wav(both.enter_context(atomic_path(audio_out, suffix=".wav")), wav, a.sample_rate)
            try:
                # onto the user's original video stream
                mux(video, wav_tmp, both.enter_context(atomic_path(out)), bitrate=DUB_AAC_BITRATE, shortest=True)
            except RuntimeError as e:
                raise DubInputError("mux-failed", str(e)) from None
        lap("mux", t)
    timings["total"] = time.perf_counter() - t_start
    P = len(phonemes)
    return DubResult(
        video=out, audio=Path(audio_out) if audio_out is not None else None, wav=wav, sample_rate=a.sample_rate,
        mel=res["mel"][0].cpu().numpy(), phonemes=phonemes, durations=res["durations"][0, :P].cpu().numpy(),
        n_frames=F, seconds=F / fps, timings=timings, notes=notes,
        settings={"emotion": emotion, "alpha": alpha, "beta": beta, "gamma": gamma, "steps": steps, "seed": seed,
                  "temperature": temperature, "vocoder": models.vocoder_name, "roi_size": models.roi_size,
                  "checkpoint": str(models.layout.root) if models.layout else None,
                  "sources": {k: "given" if v is not None else models.defaults.source
                              for k, v in (("temperature", given_t), ("steps", given_s), ("gamma", given_g))},
                  "guidance_logp": res["guidance_logp"], "alignment": alignment},
        alignment=lips.alignment, lip_motion=lips.motion, fell_back=lips.fell_back,
    )
