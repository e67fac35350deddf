"""Stage 4: the HiFi-GAN vocoder on waveform segments of the corpus, validated against Griffin-Lim."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn
from torch.utils.data import Dataset

from emodubber.config import ProfileConfig
from emodubber.data.manifest import read_manifest
from emodubber.models.checkpointing import write_model_file
from emodubber.models.vocoder import GriffinLimVocoder, HiFiGAN, MelSpectrogram
from emodubber.train.common import (StageOutput, begin, count_parameters, finish, make_trainer, stage_config,
                                    stage_dir)
from emodubber.train.validate import TrainInputError

__all__ = ["train_vocoder", "vocoder_compare", "WavDataset", "wav_collate"]


class WavDataset(Dataset):
    """Waveforms of manifest clips (read from disk per item, resampled to the audio contract's rate)."""

    def __init__(self, paths: Sequence[str | Path], sample_rate: int = 16000):
        self.paths = [Path(p) for p in paths]
        self.sr = sample_rate

    @classmethod
    def from_corpus(cls, cfg: ProfileConfig, split: str, corpora: Sequence[str] = ("dubbing", "emotion")) -> "WavDataset":
        paths = []
        for c in corpora:
            p = cfg.corpus_dir / f"{c}.jsonl"
            if p.exists():
                paths += [r.path(cfg.corpus_dir) for r in read_manifest(p) if r.split == split]
        return cls(paths, cfg.audio.sample_rate)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        import soundfile as sf

        wav, sr = sf.read(str(self.paths[i]), dtype="float32", always_2d=True)
        x = torch.from_numpy(wav.mean(1))
        if sr != self.sr:
            import torchaudio

            x = torchaudio.functional.resample(x, sr, self.sr)
        return x


def wav_collate(items: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad waveforms: ``(wav [B, N], lengths [B])``."""
    n = max(int(x.shape[0]) for x in items)
    out = torch.zeros(len(items), n)
    for i, x in enumerate(items):
        out[i, : x.shape[0]] = x
    return out, torch.tensor([int(x.shape[0]) for x in items])


def _mel_l1(mel_fn: nn.Module, wav: torch.Tensor, mel: torch.Tensor) -> float:
    m2 = mel_fn(wav)
    n = min(m2.shape[-1], mel.shape[-1])
    return float((m2[..., :n] - mel[..., :n]).abs().mean())


@torch.no_grad()
def vocoder_compare(generator: nn.Module | None, wavs: Sequence[torch.Tensor], cfg: ProfileConfig,
                    griffinlim: bool = True) -> dict[str, float]:
    """Mel L1 between the input mel and the mel of the audio made from it, over whole clips:
    ``mel_l1_hifigan`` (when a generator is given) and ``mel_l1_griffinlim`` (when asked)."""
    mel_fn = MelSpectrogram(cfg.audio)
    gl = GriffinLimVocoder(cfg.audio) if griffinlim else None
    out: dict[str, float] = {}
    k = max(1, len(wavs))
    for w in wavs:
        mel = mel_fn(w[None])
        if generator is not None:
            dev = next(generator.parameters()).device
            out["mel_l1_hifigan"] = out.get("mel_l1_hifigan", 0.0) + _mel_l1(mel_fn, generator(mel.to(dev)).cpu(), mel) / k
        if gl is not None:
            out["mel_l1_griffinlim"] = out.get("mel_l1_griffinlim", 0.0) + _mel_l1(mel_fn, gl(mel), mel) / k
    return out


def train_vocoder(cfg: ProfileConfig, resume: bool = False, datasets: tuple[Any, Any] | None = None) -> StageOutput:
    """Stage 4: HiFi-GAN on waveform segments of the corpus; validation against Griffin-Lim."""
    begin(cfg)
    st = stage_config(cfg, "vocoder")
    if datasets is None:
        train_set = WavDataset.from_corpus(cfg, "train")
        val_set = WavDataset.from_corpus(cfg, "val")
    else:
        train_set, val_set = datasets
    if len(train_set) == 0:
        raise TrainInputError(f"vocoder: training set is empty (no train wav in {cfg.corpus_dir})")
    hop = cfg.audio.hop_length
    seg = (cfg.train.vocoder_segment // hop) * hop
    if seg <= 0:
        raise TrainInputError(f"train.vocoder_segment = {cfg.train.vocoder_segment} is shorter than one hop ({hop})")
    model = HiFiGAN(cfg, adversarial=cfg.train.vocoder_adversarial)

    def loss_fn(m, batch):
        wav, lengths = batch
        start = (torch.rand(wav.shape[0]) * (lengths - seg).clamp_min(0).add(1).float()).long()
        idx = (start[:, None] + torch.arange(seg)[None]).to(wav.device)
        padded = nn.functional.pad(wav, (0, seg))
        return m.loss(padded.gather(1, idx))

    val_wavs: list[torch.Tensor] = []
    if val_set is not None and len(val_set):
        n_val = st.val_clips or 4
        val_wavs = [val_set[i][: 3 * cfg.audio.sample_rate] for i in range(min(n_val, len(val_set)))]
    gl_cache: dict[str, float] = {}

    def val_fn(m, loader, step):
        if not val_wavs:
            return {}
        res = vocoder_compare(m.generator, val_wavs, cfg, griffinlim=not gl_cache)
        gl_cache.setdefault("g", res.get("mel_l1_griffinlim", float("nan")))  # Griffin-Lim does not train
        res["mel_l1_griffinlim"] = gl_cache["g"]
        return res

    tr = make_trainer(cfg, "vocoder", model, loss_fn, train_set, val_set, wav_collate, st, stage_dir(cfg, "vocoder"),
                  None, val_fn=val_fn, betas=(0.8, 0.99))
    result = tr.fit(resume=resume)
    config = {"n_mels": cfg.audio.n_mels, "channels": cfg.model.hifigan_channels, "audio": dataclasses.asdict(cfg.audio)}
    info = {"parameters": {"generator": count_parameters(model.generator), "total": count_parameters(model)},
            "segment_samples": seg, "adversarial": model.adversarial, "train_clips": len(train_set)}
    return finish(cfg, "vocoder", tr, result,
                   lambda p: write_model_file(p, "HiFiGANGenerator", model.generator.state_dict(), config,
                                              {"stage": "vocoder", "step": result.step}),
                   dict(result.last_val), info)
