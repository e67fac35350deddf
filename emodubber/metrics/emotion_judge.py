"""The emotion judge: a speech emotion classifier on clean log-mels, trained on the emotional corpus.

It measures the model and is kept apart from it: a different network from the model's guidance expert
(``emodubber.models.emotion``), trained on clean speech (not on noisy flow states φ_t), never on the test
split, and validated on speakers *and* sentences it never saw (``emotion_judge_train.split_emotion_records``).

Outputs (names used in every table):

- ``emotion_pred``      — argmax class (one of ``EMOTIONS``);
- ``is_posterior``      — posterior of the asked-for emotion; **IS** (intensity score) = its mean over clips;
- ``emotion_correct``   — ``emotion_pred == asked``; emotion accuracy = its mean;
- :meth:`EmotionJudge.embed` — the pooled ``emotion_embed_dim`` embedding the t-SNE figure plots.

Network (shape lines on ``forward``): 4 Conv1d-BN-ReLU blocks over the input channels (two with max-pool ×2),
masked mean + std pooling over time, a Linear → ReLU embedding, a Linear classifier.

Input (:func:`judge_features`, :func:`judge_input`), per 10-ms frame: 80 log-mel rows — of WORLD's F0-adaptive
spectral envelope (``judges.emotion_judge_envelope``; CheapTrick, :func:`emodubber.data.acoustics.envelope_log_mel`)
or of the STFT — liftered to ``judges.emotion_judge_lifter`` cepstra, then (``judges.emotion_judge_prosody``)
a log-F0 row (pyworld, 0 where unvoiced) and the voicing flag; every row normalised with train-set mean / std
stored in the checkpoint. With ``judges.emotion_judge_relative`` the judge is **speaker-relative**: the mel
rows minus the speaker's neutral mean log-mel and log-F0 minus the speaker's neutral median log-F0
(:func:`neutral_reference`, from 8 neutral clips of the speaker, :func:`reference_records`); otherwise log-F0
minus the clip's own median.

Why: acted emotion is a change against the speaker's own neutral voice (the corpus recipes scale F0 level
and range, loudness, tilt and rate), and the corpus derives voices from one another by F0 shifts (slt-lo, slt,
slt-hi at 140, 170, 215 Hz; rms-hi, the unseen test speaker, is rms at 160 Hz), so a voice's *neutral* F0 is
another voice's happy F0. The STFT log-mel also carries the absolute F0 in its resolved harmonics (20 cepstra
of 80 mel bands keep a 100–200 Hz harmonic ripple), which made the judge call rms-hi's neutral "surprised" (0 of
30 right). Side runs on the cpu corpus (held out: awb-lo, slt-hi and rms-hi, 630 clips — 606 for a
speaker-relative judge, whose 8 reference clips per held-out speaker are not scored —, 2000 steps): STFT
log-mel, 20 cepstra, utterance-relative F0 57.5 %; WORLD envelope 67.6 %; envelope + speaker-relative 87.5 %
(without the lifter 82.8 %; STFT log-mel + speaker-relative 84.3 %).

Training, its regularisation and the judge's validation are in :mod:`emodubber.metrics.emotion_judge_train`.

torch and scipy are imported inside the functions that use them (the network class is built on first use,
:func:`EmotionJudgeNet`): importing ``emodubber.metrics`` stays fast (start-up time of the CLI).
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emodubber.config import EMOTIONS, AudioConfig
from emodubber.data.acoustics import envelope_log_mel, log_mel, world_f0
from emodubber.metrics.audio_io import AudioInput, load_audio, sha256_file
from emodubber.utils import warp_axis

__all__ = ["EmotionJudge", "EmotionJudgeNet", "reference_records", "neutral_reference", "emotion_judge_path",
           "emotion_judge_is_current", "intensity_score", "lifter_mel", "warp_mel_axis", "feature_cache",
           "judge_features", "clip_features", "judge_input", "judge_mel", "pad_batch"]


def emotion_judge_path(cfg) -> Path:
    """``<work_dir>/judges/emotion_judge.pt`` (+ ``.sha256``, ``.json``)."""
    return cfg.work_dir / "judges" / "emotion_judge.pt"


def emotion_judge_is_current(cfg) -> tuple[bool, str]:
    """(whether the judge at :func:`emotion_judge_path` was trained with ``cfg``'s input settings, why not):
    a judge trained before a change of its input (prosody rows, lifter) must not be reused silently."""
    path = emotion_judge_path(cfg)
    meta = path.with_suffix(".json")
    if not path.exists() or not meta.exists():
        return False, f"no emotion judge at {path}"
    rec = json.loads(meta.read_text())
    want = {"prosody": cfg.judges.emotion_judge_prosody, "lifter": cfg.judges.emotion_judge_lifter,
            "envelope": cfg.judges.emotion_judge_envelope, "relative": cfg.judges.emotion_judge_relative}
    have = {k: rec.get("inputs", {}).get(k, False if k in ("envelope", "relative") else None)
            for k in want}  # envelope, relative: absent from older records
    if have != want:
        return False, f"the emotion judge at {path} was trained with inputs {have}, the profile asks for {want}"
    j = cfg.judges
    reg_want = {"dropout": j.emotion_judge_dropout, "label_smoothing": j.emotion_judge_label_smoothing,
                "ref_clips": j.emotion_judge_ref_clips if j.emotion_judge_relative else 0,
                "min_crop": j.emotion_judge_min_crop}
    reg_have = {k: (rec.get("regularisation") or {}).get(k, 0) for k in reg_want}  # absent: trained without
    if reg_have != reg_want:
        return False, f"the emotion judge at {path} was trained with {reg_have}, the profile asks for {reg_want}"
    split = {"seed": cfg.seed, "n_heldout": cfg.judges.emotion_heldout_speakers}
    had = {k: rec.get(k, split[k]) for k in split}  # absent from older records: assumed the profile's
    if had != split:
        return False, (f"the emotion judge at {path} was trained on another split ({had}); the profile asks for "
                       f"{split}: its held-out speakers would not be the ones validated")
    return True, ""


def intensity_score(posteriors: np.ndarray, asked: Sequence[str]) -> float:
    """IS: mean posterior of the asked-for emotion (``posteriors`` is ``(n, 7)`` in ``EMOTIONS`` order)."""
    idx = [EMOTIONS.index(e) for e in asked]
    return float(np.mean(np.asarray(posteriors)[np.arange(len(idx)), idx])) if idx else math.nan


def _net_class():
    import torch
    from torch import nn

    class EmotionJudgeNet(nn.Module):
        """Conv1d stack + masked statistics pooling + embedding + classifier."""

        def __init__(self, n_mels: int = 80, channels: int = 128, embed_dim: int = 128,
                     n_classes: int = len(EMOTIONS), dropout: float = 0.0):
            super().__init__()
            self.hparams = dict(n_mels=n_mels, channels=channels, embed_dim=embed_dim, n_classes=n_classes,
                                dropout=dropout)
            # dropout on the pooled statistics and on the embedding (training only); none at 0
            self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

            def block(cin, cout):
                return nn.Sequential(nn.Conv1d(cin, cout, 5, padding=2), nn.BatchNorm1d(cout), nn.ReLU())

            self.blocks = nn.ModuleList([block(n_mels, channels), block(channels, channels),
                                         block(channels, channels), block(channels, channels)])
            self.pool_after = (1, 2)  # max-pool ×2 after these blocks
            self.embed = nn.Sequential(nn.Linear(2 * channels, embed_dim), nn.ReLU())
            self.classify = nn.Linear(embed_dim, n_classes)

        def embedding(self, mel: "torch.Tensor", lengths: "torch.Tensor") -> "torch.Tensor":
            """shape: mel (B, n_mels, T), lengths (B,) -> (B, embed_dim)"""
            x, lens = mel, lengths.clone()
            for i, b in enumerate(self.blocks):
                x = b(x)
                if i in self.pool_after:
                    x = torch.nn.functional.max_pool1d(x, 2, ceil_mode=True)
                    lens = torch.div(lens + 1, 2, rounding_mode="floor")
            mask = (torch.arange(x.shape[-1])[None, :] < lens[:, None]).float()[:, None]  # (B, 1, T')
            n = mask.sum(-1).clamp_min(1.0)
            mean = (x * mask).sum(-1) / n
            var = (((x - mean[..., None]) ** 2) * mask).sum(-1) / n
            return self.embed(self.drop(torch.cat([mean, torch.sqrt(var + 1e-5)], dim=1)))

        def forward(self, mel: "torch.Tensor", lengths: "torch.Tensor") -> "torch.Tensor":
            """shape: mel (B, n_mels, T), lengths (B,) -> logits (B, n_classes)"""
            return self.classify(self.drop(self.embedding(mel, lengths)))

    return EmotionJudgeNet


def EmotionJudgeNet(**kw):  # noqa: N802 - a factory named like the class it builds (torch is lazy)
    return _net_class()(**kw)


def lifter_mel(mel: np.ndarray, n_cepstra: int) -> np.ndarray:
    """Keep the first ``n_cepstra`` DCT coefficients of each log-mel frame (the spectral envelope) and
    transform back: harmonics — and with them the absolute F0 level — are smoothed away. shape: [M, T] -> [M, T]"""
    from scipy.fft import dct, idct

    c = dct(mel, type=2, norm="ortho", axis=0)
    c[n_cepstra:] = 0.0
    return idct(c, type=2, norm="ortho", axis=0).astype(np.float32)


def judge_features(audio: AudioInput, a: AudioConfig, lifter: int = 0, envelope: bool = False) -> tuple:
    """(log-mel ``[n_mels, T]``, log-F0 ``[T]`` (0 where unvoiced), voicing ``bool [T]``) of one clip: the
    log-mel of the STFT or (``envelope``) of WORLD's F0-adaptive envelope, liftered to ``lifter`` cepstra (> 0)."""
    n = len(audio.wav) // a.hop_length
    f0, t = world_f0(audio.wav, a.sample_rate, a.hop_length)
    mel = envelope_log_mel(audio.wav, a, n, (f0, t)) if envelope else log_mel(audio.wav, a)
    if lifter > 0:
        mel = lifter_mel(mel, lifter)
    f0 = np.pad(f0, (0, max(0, mel.shape[1] - len(f0))))[: mel.shape[1]]
    voiced = f0 > 0
    lf = np.zeros(mel.shape[1], np.float32)
    lf[voiced] = np.log(f0[voiced])
    return mel, lf, voiced


_FEATURE_CACHE: dict | None = None


@contextlib.contextmanager
def feature_cache():
    """Within the block, :func:`judge_features` of a clip read from a file is computed once per (file, settings) and
    kept in memory: side experiments that train and validate several judges on one corpus pay WORLD's analysis
    once. Outside such a block nothing is cached."""
    global _FEATURE_CACHE
    outer = _FEATURE_CACHE
    _FEATURE_CACHE = {} if outer is None else outer
    try:
        yield _FEATURE_CACHE
    finally:
        _FEATURE_CACHE = outer


def clip_features(src, a: AudioConfig, lifter: int, envelope: bool) -> tuple[tuple | None, str]:
    """(:func:`judge_features` or None, why not) of a path, array or ``AudioInput``, through the
    :func:`feature_cache` when one is open and ``src`` is a file."""
    key = None
    if _FEATURE_CACHE is not None and isinstance(src, (str, Path)):
        try:
            st = Path(src).stat()
        except OSError:  # missing or unreadable: load_audio below says why, nothing is cached
            st = None
        if st is not None:
            key = (str(src), st.st_ino, st.st_mtime_ns, st.st_size, lifter, envelope, a.sample_rate, a.hop_length,
                   a.n_mels)
            if key in _FEATURE_CACHE:
                return _FEATURE_CACHE[key]
    audio = src if isinstance(src, AudioInput) else load_audio(src, a.sample_rate, warn=False)
    out = (judge_features(audio, a, lifter, envelope), "") if audio.ok else (None, audio.reason)
    if key is not None:
        _FEATURE_CACHE[key] = out
    return out


def neutral_reference(feats: Sequence[tuple]) -> dict[str, Any]:
    """A speaker's neutral reference from :func:`judge_features` of some of their neutral clips: the mean log-mel
    over voiced frames (``mel``, ``[n_mels]``) and the median voiced log-F0 (``f0``)."""
    mels = [m[:, v] for m, _, v in feats if v.any()]
    if not mels:
        raise ValueError("a neutral reference needs voiced speech; none of its clips has a voiced frame")
    lfs = np.concatenate([lf[v] for _, lf, v in feats if v.any()])
    return {"mel": np.concatenate(mels, axis=1).mean(1).astype(np.float32), "f0": float(np.median(lfs)),
            "n_clips": len(mels)}


def judge_input(feat: tuple, prosody: bool, ref: dict | None = None) -> np.ndarray:
    """Judge input ``float32 [n_mels (+ 2), T]`` from :func:`judge_features`.

    Without ``ref``: the log-mel, log-F0 relative to the clip's own voiced median, voicing. With a speaker's
    :func:`neutral_reference` (the speaker-relative judge): log-mel minus the speaker's neutral mean log-mel
    and log-F0 minus the speaker's neutral median — level, tilt, loudness and pitch *relative to how this
    speaker sounds when neutral*, which is what the acted emotions change.
    """
    mel, lf, voiced = feat
    if ref is not None:
        mel = mel - np.asarray(ref["mel"], np.float32)[:, None]
    if not prosody:
        return mel.astype(np.float32)
    rel = np.zeros_like(lf)
    if voiced.any():
        rel[voiced] = lf[voiced] - (ref["f0"] if ref is not None else np.median(lf[voiced]))
    return np.concatenate([mel, rel[None], voiced[None].astype(np.float32)], axis=0).astype(np.float32)


def judge_mel(audio: AudioInput, a: AudioConfig, prosody: bool = False, lifter: int = 0,
         envelope: bool = False) -> np.ndarray:
    """Judge input of one clip without a speaker reference (:func:`judge_input` of :func:`judge_features`)."""
    return judge_input(judge_features(audio, a, lifter, envelope), prosody)


def warp_mel_axis(mel: np.ndarray, factor: float) -> np.ndarray:
    """Stretch the mel (row) axis by ``factor`` (> 1 moves content up), linear interpolation, edges held:
    ``out[f] = mel[f / factor]`` — a vocal-tract-length perturbation on log-mels. shape: [M, T] -> [M, T]"""
    return warp_axis(mel, factor, axis=0)


def pad_batch(mels: Sequence[np.ndarray], mean: np.ndarray, std: np.ndarray):
    """Normalised inputs zero-padded to the longest: (x ``(B, C, T_max)``, lengths ``(B,)``) as torch tensors."""
    import torch

    T = max(m.shape[1] for m in mels)
    x = np.zeros((len(mels), mels[0].shape[0], T), np.float32)
    for i, m in enumerate(mels):
        x[i, :, : m.shape[1]] = (m - mean[:, None]) / std[:, None]
    return torch.from_numpy(x), torch.tensor([m.shape[1] for m in mels])


class EmotionJudge:
    """A trained emotion judge (CPU). ``from_config(cfg)`` loads ``<work_dir>/judges/emotion_judge.pt``.

    A speaker-relative judge (``relative``) hears each clip against its speaker's neutral reference: pass
    ``speakers=`` (one name per clip) to :meth:`predict`, :meth:`embed` and :meth:`score`. It knows every
    speaker of the emotional corpus it was trained on; :meth:`add_speaker` registers another from a few of
    their neutral clips (e.g. a real corpus's speakers, or the reference voice of a dub).
    """

    def __init__(self, weights: str | Path):
        import torch

        weights = Path(weights)
        if not weights.exists():
            raise FileNotFoundError(f"emotion judge weights {weights} do not exist (train it: notebooks/07_judges)")
        ck = torch.load(weights, map_location="cpu", weights_only=False)
        self.weights_path = weights
        self.weights_sha256 = sha256_file(weights)
        self.net = EmotionJudgeNet(**ck["hparams"])
        self.net.load_state_dict(ck["state_dict"])
        self.net.eval()
        self.mean = np.asarray(ck["mel_mean"], np.float32)
        self.std = np.asarray(ck["mel_std"], np.float32)
        self.emotions = tuple(ck["emotions"])
        self.audio = AudioConfig(**ck["audio"])
        self.prosody = bool(ck.get("prosody", False))
        self.lifter = int(ck.get("lifter", 0))
        self.envelope = bool(ck.get("envelope", False))
        self.relative = bool(ck.get("relative", False))
        self.references: dict[str, dict] = {k: {**v, "mel": np.asarray(v["mel"], np.float32)}
                                             for k, v in ck.get("speaker_refs", {}).items()}
        self.meta = {k: ck[k] for k in ("steps", "seed", "train_speakers", "heldout_speakers") if k in ck}

    @classmethod
    def from_config(cls, cfg) -> "EmotionJudge":
        return cls(emotion_judge_path(cfg))

    @property
    def settings(self) -> dict:
        inputs = (("WORLD envelope log-mel" if self.envelope else "log-mel")
                  + (f" ({self.lifter} cepstra)" if self.lifter else "") + (" + log-F0" if self.prosody else "")
                  + (", relative to the speaker's neutral voice" if self.relative else ""))
        return {"judge": f"emotion judge trained here (CNN on clean {inputs})", "weights_path": str(self.weights_path),
                "weights_sha256": self.weights_sha256, "emotions": list(self.emotions), **self.meta}

    def add_speaker(self, name: str, neutral_audios: Sequence) -> dict:
        """Register ``name``'s neutral reference from a few of their neutral clips (paths, arrays or
        ``AudioInput``); unusable clips are skipped. Returns the reference."""
        feats = [f for f, _ in (clip_features(a, self.audio, self.lifter, self.envelope) for a in neutral_audios)
                 if f is not None]
        if not feats:
            raise ValueError(f"no usable neutral clip to register speaker {name!r} with the emotion judge")
        self.references[name] = neutral_reference(feats)
        return self.references[name]

    def ensure_speakers(self, speakers: Sequence[str], records, corpus_dir: str | Path, n_clips: int = 8) -> list[str]:
        """Register every speaker of ``speakers`` the judge has no reference for, from up to ``n_clips`` of
        their neutral clips in ``records`` (a corpus manifest, e.g. a real dataset's): train clips first, then
        val, then test (:func:`reference_records`' order). Returns those added; a no-op for a judge that is not
        speaker-relative."""
        if not self.relative:
            return []
        added = []
        for spk in sorted(set(speakers) - set(self.references)):
            clips = reference_records([r for r in records if r.speaker == spk], [], n_clips).get(spk, [])
            if not clips:
                raise ValueError(f"the emotion judge needs a neutral clip of speaker {spk!r} as its reference; "
                                 f"the corpus has none")
            self.add_speaker(spk, [r.path(Path(corpus_dir), "wav") for r in clips])
            added.append(spk)
        return added

    def _refs(self, n: int, speakers: Sequence[str] | None) -> list[dict | None]:
        if not self.relative:
            return [None] * n
        if speakers is None or len(speakers) != n:
            raise ValueError(f"this emotion judge hears emotion relative to the speaker's neutral voice: pass "
                             f"speakers= (one name per clip, {n} clips; got "
                             f"{'none' if speakers is None else len(speakers)})")
        unknown = sorted({s for s in speakers if s not in self.references})
        if unknown:
            raise ValueError(f"the emotion judge has no neutral reference for speaker(s) {', '.join(unknown)}; "
                             f"register them with add_speaker(name, neutral_clips)")
        return [self.references[s] for s in speakers]

    def _mels(self, audios, speakers=None) -> tuple[list[np.ndarray | None], list[str]]:
        audios = list(audios)
        refs = self._refs(len(audios), speakers)
        mels, reasons = [], []
        for a, ref in zip(audios, refs):
            feat, why = clip_features(a, self.audio, self.lifter, self.envelope)
            mels.append(None if feat is None else judge_input(feat, self.prosody, ref))
            reasons.append(why)
        return mels, reasons

    def _run(self, audios, what: str, speakers=None, batch_size: int = 32) -> tuple[np.ndarray, list[str]]:
        import torch

        mels, reasons = self._mels(audios, speakers)
        dim = self.net.hparams["embed_dim"] if what == "embed" else len(self.emotions)
        out = np.full((len(mels), dim), np.nan, np.float32)
        ok = [i for i, m in enumerate(mels) if m is not None]
        with torch.inference_mode():
            for s in range(0, len(ok), batch_size):
                idx = ok[s:s + batch_size]
                x, lens = pad_batch([mels[i] for i in idx], self.mean, self.std)
                y = self.net.embedding(x, lens) if what == "embed" else torch.softmax(self.net(x, lens), -1)
                out[idx] = y.numpy()
        return out, reasons

    def predict(self, audios, speakers: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
        """(posteriors ``(n, 7)`` in ``EMOTIONS`` order — NaN rows for unusable audio, reasons)."""
        return self._run(audios, "posterior", speakers)

    def embed(self, audios, speakers: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
        """(embeddings ``(n, emotion_embed_dim)`` — what the t-SNE figure plots, reasons)."""
        return self._run(audios, "embed", speakers)

    def score(self, audios, asked: Sequence[str], speakers: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Per clip: ``emotion_pred``, ``is_posterior`` (posterior of the asked emotion), ``emotion_correct``."""
        post, reasons = self.predict(audios, speakers)
        rows = []
        for p, r, e in zip(post, reasons, asked):
            if r or not np.isfinite(p).all():
                rows.append({"emotion_pred": "", "is_posterior": math.nan, "emotion_correct": math.nan,
                             "error": f"emotion: {r}"})
            else:
                k = int(np.argmax(p))
                rows.append({"emotion_pred": self.emotions[k], "is_posterior": float(p[self.emotions.index(e)]),
                             "emotion_correct": float(self.emotions[k] == e), "error": ""})
        return rows


def reference_records(records, held, n_per_speaker: int = 8) -> dict[str, list]:
    """Per speaker, ``n_per_speaker`` neutral clips that give a speaker-relative judge the speaker's neutral
    reference, taken in this order: clips outside ``held`` of the train split, then of val, then of test, then
    (by clip id within each group) held-out clips. A test-only speaker (the corpus's unseen voice) has nothing
    but test clips: it lends its first neutral ones, which ``emotion_judge_train.validate_emotion_judge`` then
    does not score — as a dub lends its reference clip, they give the judge the voice, never a label to learn."""
    held_ids = {r.clip_id for r in held}
    rank = {"train": 0, "val": 1}
    neutral: dict[str, list] = {}
    for r in records:
        if r.emotion == "neutral":
            neutral.setdefault(r.speaker, []).append(r)
    return {spk: sorted(rs, key=lambda r: (r.clip_id in held_ids, rank.get(r.split, 2), r.clip_id))[:n_per_speaker]
            for spk, rs in neutral.items()}


