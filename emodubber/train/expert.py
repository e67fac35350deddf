"""Stage 3: the emotion expert p_ψ(c | φ_t, t) (optionally also reading the prior μ and the speaker's neutral
reference r̄) on OT-CFM interpolants."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from emodubber.config import EMOTIONS, ProfileConfig
from emodubber.data.dataset import DubbingDataset, speaker_list
from emodubber.data.features import feature_path, load_index
from emodubber.data.manifest import read_manifest
from emodubber.models.checkpointing import write_model_file
from emodubber.models.dubber import EmoDubber
from emodubber.models.emotion import EmotionExpert, reference_mel
from emodubber.train.common import (StageOutput, begin, check_inputs, corpus_datasets, count_parameters, finish,
                                    make_trainer, model_path, n_speakers, null_context, speech_collate, stage_config,
                                    stage_dir)
from emodubber.train.loop import evaluate_loss
from emodubber.train.validate import TrainInputError
from emodubber.utils import progress

__all__ = ["train_emotion_expert", "evaluate_emotion_expert", "expert_accuracy_curve", "tts_prior_fn", "choose_t_min",
           "neutral_reference_pool", "reference_fn", "warp_mel_batch", "expert_inputs",
           "reference_pool_of", "PriorCache"]

#: neutral clips per speaker in the reference pool of a "mu_ref" expert (r̄ at evaluation: the mean of the first 8)
POOL_CLIPS, EVAL_REF_CLIPS = 16, 8

#: the flow times at which the expert's accuracy is measured (validation: the schedule; test: the report)
T_GRID = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)


def neutral_reference_pool(cfg: ProfileConfig, per_speaker: int = POOL_CLIPS) -> dict[int, torch.Tensor]:
    """Speaker id (:func:`~emodubber.data.dataset.speaker_list`) -> r̄ of up to ``per_speaker`` neutral clips [K, 80].

    Clips of the dubbing manifest first (the Setting-1/2 reference clips at sampling come from it), then of the
    emotion manifest; train-split clips first, other splits only for a voice with none (a held-out voice: its
    clips are references here, never training data). Each row is :func:`reference_mel` of one clip's normalised
    log-mel."""
    spk_id = {s: i for i, s in enumerate(speaker_list(cfg))}
    chosen: dict[str, list[tuple[int, str, str]]] = {}
    for corpus_rank, name in enumerate(("dubbing", "emotion")):
        if not (cfg.corpus_dir / f"{name}.jsonl").exists():
            continue
        try:
            index = load_index(cfg, name)["clips"]
        except FileNotFoundError:
            continue
        for rec in read_manifest(cfg.corpus_dir / f"{name}.jsonl"):
            if rec.emotion == "neutral" and rec.clip_id in index:
                rank = corpus_rank * 2 + (0 if rec.split == "train" else 1)
                chosen.setdefault(rec.speaker, []).append((rank, rec.clip_id, index[rec.clip_id]))
    a = cfg.audio
    pool = {}
    for spk, recs in chosen.items():
        if spk not in spk_id:
            continue
        rows = []
        for _, _, key in sorted(recs)[:per_speaker]:
            with np.load(feature_path(cfg, key)) as z:
                rows.append(reference_mel(torch.from_numpy(a.normalise_mel(z["mel"]))))
        pool[spk_id[spk]] = torch.stack(rows)
    return pool


def reference_pool_of(*datasets: Any, per_speaker: int = POOL_CLIPS) -> dict[int, torch.Tensor]:
    """:func:`neutral_reference_pool` of in-memory datasets (items with ``mel``, ``speaker_id``, ``emotion_id``,
    mels already normalised): their neutral items, in order."""
    rows: dict[int, list[torch.Tensor]] = {}
    neutral = EMOTIONS.index("neutral")
    for ds in datasets:
        for i in range(0 if ds is None else len(ds)):
            it = ds[i]
            spk = int(it["speaker_id"])
            if int(it["emotion_id"]) == neutral and len(rows.setdefault(spk, [])) < per_speaker:
                rows[spk].append(reference_mel(torch.as_tensor(it["mel"])))
    return {k: torch.stack(v) for k, v in rows.items() if v}


def reference_fn(pool: dict[int, torch.Tensor], max_clips: int = 4, generator: torch.Generator | None = None):
    """``ref_fn(batch) -> r̄ [B, 80]`` for a "mu_ref" expert: in training (``generator`` given) the mean of 1 to
    ``max_clips`` random clips of the item's speaker from ``pool`` (:func:`neutral_reference_pool`), at evaluation
    (no generator) the mean of its first :data:`EVAL_REF_CLIPS`. A speaker without neutral clips is an error."""

    def ref(batch: Any) -> torch.Tensor:
        rows = []
        for s in batch.speaker_ids.tolist():
            if s not in pool:
                raise TrainInputError(f"emotion_expert: speaker id {s} has no neutral clip for the reference r̄ "
                                      f"(model.expert_condition = 'mu_ref')")
            bank = pool[s]
            if generator is None:
                rows.append(bank[:EVAL_REF_CLIPS].mean(0))
            else:
                k = int(torch.randint(1, max_clips + 1, (1,), generator=generator))
                rows.append(bank[torch.randperm(len(bank), generator=generator)[:k]].mean(0))
        return torch.stack(rows).to(batch.mel.device)

    return ref


def warp_mel_batch(x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Mel-axis (vocal-tract-length) warp per item: ``out[b, f] = x[b, f / factors[b]]``, linear, edges held.

    shape: x [B, C, T] or [B, C], factors [B] -> same shape as x (``emodubber.utils.warp_axis`` in torch)"""
    C = x.shape[1]
    src = (torch.arange(C, dtype=x.dtype, device=x.device)[None] / factors.to(x)[:, None]).clamp(0, C - 1)  # [B, C]
    i0 = src.floor().long()
    i1 = (i0 + 1).clamp_max(C - 1)
    w = (src - i0.to(x.dtype))
    if x.dim() == 3:
        i0, i1, w = i0[..., None].expand_as(x), i1[..., None].expand_as(x), w[..., None]
    return x.gather(1, i0) * (1 - w) + x.gather(1, i1) * w


@torch.no_grad()
def evaluate_emotion_expert(expert: nn.Module, loader: Any, t: float = 1.0, device: str | torch.device = "cpu",
                            seed: int = 0, prior_fn: Callable | None = None,
                            ref_fn: Callable | None = None) -> dict[str, Any]:
    """Accuracy of p_ψ at flow time ``t`` (t = 1: clean mels) and the confusion matrix (rows = truth).

    φ_t is built as in training (noise at the expert's ``noise_scale``, the sampler's temperature);
    ``prior_fn(batch) -> μ [B, 80, T]`` feeds an expert conditioned on the prior, ``ref_fn(batch) -> r̄ [B, 80]`` one
    conditioned on the speaker's neutral reference (:func:`reference_fn`)."""
    expert.eval()
    g = torch.Generator().manual_seed(seed)
    n = len(EMOTIONS)
    conf = np.zeros((n, n), dtype=np.int64)
    scale = float(getattr(expert, "noise_scale", 1.0))
    for b in loader:
        mel, lengths, y = b.mel.to(device), b.mel_lengths.to(device), b.emotion_ids.to(device)
        T = mel.shape[-1]
        mask = (torch.arange(T, device=device)[None] < lengths[:, None]).to(mel.dtype)[:, None]
        z = torch.randn(mel.shape, generator=g).to(mel) * scale
        tt = torch.full((mel.shape[0],), float(t), device=device)
        sm = getattr(expert, "sigma_min", 1e-4)
        phi = ((1 - (1 - sm) * t) * z + t * mel) * mask
        kw = {"mu": prior_fn(b.to(device)) * mask} if getattr(expert, "needs_mu", False) else {}
        if getattr(expert, "needs_ref", False):
            if ref_fn is None:
                raise TrainInputError("this emotion expert reads the speaker's neutral reference r̄: pass ref_fn "
                                      "(emodubber.train.expert.expert_inputs gives it)")
            kw["ref"] = ref_fn(b.to(device))
        pred = expert(phi, tt, mask, **kw).argmax(-1)
        for a, p in zip(y.tolist(), pred.tolist()):
            conf[a, p] += 1
    total = conf.sum()
    return {"accuracy": float(np.trace(conf) / max(total, 1)), "n": int(total), "confusion": conf.tolist(), "t": t}


def expert_accuracy_curve(expert: nn.Module, loader: Any, ts: Sequence[float] = T_GRID,
                          device: str | torch.device = "cpu", seed: int = 0,
                          prior_fn: Callable | None = None, ref_fn: Callable | None = None) -> list[dict[str, Any]]:
    """Held-out accuracy of p_ψ against the flow time t (what decides the guidance schedule's ``t_min``)."""
    return [evaluate_emotion_expert(expert, loader, t, device, seed, prior_fn, ref_fn) for t in ts]


def choose_t_min(curve: Sequence[dict[str, Any]], n_classes: int = len(EMOTIONS)) -> float:
    """PNGM's ``t_min`` from a *validation* accuracy curve (``[{"t", "accuracy"}]``): the smallest t from which on
    the expert is at least halfway from chance (1 / ``n_classes``) to its accuracy on clean mels (the largest t),
    i.e. where its gradient starts to point at the emotion rather than at noise. 0 when it sees from the start."""
    pts = sorted((float(r["t"]), float(r["accuracy"])) for r in curve)
    if not pts:
        raise ValueError("choose_t_min: empty accuracy curve")
    chance = 1.0 / n_classes
    bar = chance + 0.5 * (pts[-1][1] - chance)
    for i, (t, _) in enumerate(pts):
        if all(a >= bar for _, a in pts[i:]):
            return 0.0 if i == 0 else min(t, 0.99)
    return min(pts[-1][0], 0.99)


def tts_prior_fn(tts: nn.Module) -> Callable:
    """``prior_fn(batch) -> μ [B, 80, T_mel]``: the frozen TTS's prior for a speech batch, with the true durations
    and *predicted* pitch and energy (as at inference: the prior does not carry the clip's own emotion)."""
    tts.eval()
    for p in tts.parameters():
        p.requires_grad_(False)

    @torch.no_grad()
    def prior(batch: Any) -> torch.Tensor:
        out = tts(batch.phonemes, batch.phoneme_lengths, batch.spk_emb, durations=batch.durations, mode="tts")
        mu, T = out["mu"], batch.mel.shape[-1]
        return nn.functional.pad(mu, (0, T - mu.shape[-1])) if mu.shape[-1] < T else mu[..., :T]

    return prior


class PriorCache:
    """``prior_fn`` with μ [80, T_i] held per clip: each clip's μ computed once, *alone* (a function of the clip
    only, so the same whatever the batches, the host or a resume), instead of once per batch that holds it.

    Called as ``prior_fn(batch) -> μ [B, 80, T]`` (zeros past each clip's length, as the batched prior gives, to
    ~3e-6). A batch holding a clip that is not cached is computed by ``prior_fn`` as before. Caches nothing when the
    clips' μ would pass ``max_bytes`` (a paper-scale corpus): then every batch is computed."""

    def __init__(self, prior_fn: Callable, datasets: Sequence[Any], max_bytes: float = 2 ** 31,
                 n_mels: int = 80, show_progress: bool = True):
        self.prior_fn = prior_fn
        self.mu: dict[str, torch.Tensor] = {}
        sets = [d for d in datasets if d is not None]
        n = sum(len(d) for d in sets)
        if n * n_mels * 400 * 4 > max_bytes:  # ~4-s clips: too many to hold
            return
        bar = progress(total=n, desc="prior μ per clip", disable=not show_progress, leave=False)
        for ds in sets:
            for i in range(len(ds)):
                item = ds[i]
                if item["clip_id"] not in self.mu:
                    self.mu[item["clip_id"]] = prior_fn(speech_collate([item]))[0].cpu()
                bar.update(1)
        bar.close()

    def __call__(self, batch: Any) -> torch.Tensor:
        if not all(c in self.mu for c in batch.clip_ids):
            return self.prior_fn(batch)
        out = batch.mel.new_zeros(batch.mel.shape[0], batch.mel.shape[1], batch.mel.shape[-1])
        for i, c in enumerate(batch.clip_ids):
            m = self.mu[c][:, : out.shape[-1]]
            out[i, :, : m.shape[-1]] = m.to(out.device)
        return out


def expert_inputs(cfg: ProfileConfig, expert: nn.Module, pool: dict[int, torch.Tensor] | None = None,
                  datasets: Sequence[Any] = (), show_progress: bool = True) -> dict[str, Callable | None]:
    """What an expert reads beside φ_t, for :func:`evaluate_emotion_expert`: ``prior_fn`` (the frozen TTS's μ, when
    ``needs_mu``; a :class:`PriorCache` over the clips of ``datasets`` when given) and ``ref_fn`` (the speaker's
    neutral r̄ at evaluation, when ``needs_ref``; from ``pool``, by default :func:`neutral_reference_pool`)."""
    prior_fn = ref_fn = None
    if getattr(expert, "needs_mu", False):
        tts_file = model_path(cfg, "tts")
        if not tts_file.exists():
            raise TrainInputError(f"emotion_expert: model.expert_condition = {expert.condition!r} needs the TTS "
                                  f"stage's {tts_file}: run `emodubber train tts` first")
        prior_fn = tts_prior_fn(EmoDubber.from_pretrained(tts_file))
        if datasets:
            prior_fn = PriorCache(prior_fn, datasets, n_mels=cfg.audio.n_mels, show_progress=show_progress)
    if getattr(expert, "needs_ref", False):
        ref_fn = reference_fn(neutral_reference_pool(cfg) if pool is None else pool)
    return {"prior_fn": prior_fn, "ref_fn": ref_fn}


def train_emotion_expert(cfg: ProfileConfig, resume: bool = False, datasets: tuple[Any, Any] | None = None,
                         test_set: Any = None) -> StageOutput:
    """Stage 3: p_ψ(c | φ_t, t) on interpolants of the emotional corpus; clean held-out accuracy reported."""
    begin(cfg)
    st = stage_config(cfg, "emotion_expert")
    if datasets is None:
        train_set, val_set, n_spk = corpus_datasets(cfg, ("emotion",))
    else:
        (train_set, val_set), n_spk = datasets, n_speakers(datasets[0])
    expert = EmotionExpert(cfg.model, n_mels=cfg.audio.n_mels)
    check = check_inputs(cfg, train_set, val_set, speech_collate, None, n_spk, "emotion_expert")
    crop = st.crop_frames
    # the prior μ of a frozen TTS beside φ_t, and the speaker's neutral reference r̄ (random neutral clips in training)
    # (in-memory datasets bring their own neutral references)
    pool = None
    if expert.needs_ref:
        pool = neutral_reference_pool(cfg) if datasets is None else reference_pool_of(*datasets, test_set)
    if test_set is None and datasets is None:
        try:
            test_set = DubbingDataset(cfg, "test", "emotion")
        except (ValueError, FileNotFoundError):
            test_set = None
    # μ of every clip computed once (the frozen TTS's prior is most of a step's time when computed per batch)
    prior_fn, ref_fn = expert_inputs(cfg, expert, pool, datasets=(train_set, val_set, test_set)).values()
    train_ref_fn = None
    if expert.needs_ref:
        train_ref_fn = reference_fn(pool, cfg.model.expert_ref_clips, torch.Generator().manual_seed(cfg.seed))
    warp = cfg.model.expert_warp
    warp_gen = torch.Generator().manual_seed(cfg.seed + 1)

    def loss_fn(m, batch):
        mel, lengths = batch.mel, batch.mel_lengths
        mu = prior_fn(batch) if prior_fn is not None else None
        ref = train_ref_fn(batch) if train_ref_fn is not None else None
        if warp > 0:  # one new "voice" per item: the same mel-axis warp of x₁, μ and r̄
            f = torch.exp((torch.rand(mel.shape[0], generator=warp_gen) * 2 - 1) * warp).to(mel)
            mel = warp_mel_batch(mel, f)
            mu = None if mu is None else warp_mel_batch(mu, f)
            ref = None if ref is None else warp_mel_batch(ref, f)
        if 0 < crop < mel.shape[-1]:  # random window inside each clip (its emotion is everywhere)
            start = (torch.rand(mel.shape[0]) * (lengths.cpu() - crop).clamp_min(0).add(1).float()).long()
            idx = (start[:, None] + torch.arange(crop)[None]).clamp_max(mel.shape[-1] - 1).to(mel.device)
            take = lambda a: a.gather(2, idx[:, None].expand(-1, a.shape[1], -1))  # noqa: E731
            mel = take(mel)
            mu = None if mu is None else take(mu)
            lengths = (lengths - start.to(lengths.device)).clamp(1, crop)
        loss, acc = m.loss(mel, lengths, batch.emotion_ids, mu=mu, ref=ref)
        return {"loss": loss, "acc": acc.detach()}

    def val_fn(m, loader, step):
        dev = next(m.parameters()).device

        def val_loss(mm, b):
            mu = prior_fn(b) if prior_fn is not None else None
            ref = ref_fn(b) if ref_fn is not None else None
            return dict(zip(("loss", "acc"), mm.loss(b.mel, b.mel_lengths, b.emotion_ids, mu=mu, ref=ref)))

        res = evaluate_loss(m, val_loss, loader, dev)
        res["acc_clean"] = evaluate_emotion_expert(m, loader, 1.0, dev, prior_fn=prior_fn, ref_fn=ref_fn)["accuracy"]
        res["acc_t0.5"] = evaluate_emotion_expert(m, loader, 0.5, dev, prior_fn=prior_fn, ref_fn=ref_fn)["accuracy"]
        return res

    tr = make_trainer(cfg, "emotion_expert", expert, loss_fn, train_set, val_set, speech_collate, st,
                  stage_dir(cfg, "emotion_expert"), cfg.model, val_fn=val_fn, check=check)
    result = tr.fit(resume=resume)
    metrics: dict[str, Any] = dict(result.last_val)
    if test_set is not None and tr.info.is_main:
        loader = torch.utils.data.DataLoader(test_set, batch_size=32, collate_fn=speech_collate)
        model = tr.model
        ctx = tr.ema.applied(model) if tr.ema is not None else null_context()
        with ctx:
            curve = expert_accuracy_curve(model, loader, device=tr.device, seed=cfg.seed, prior_fn=prior_fn,
                                          ref_fn=ref_fn)
        for r in curve:
            metrics[f"test_t{r['t']:g}"] = r
        metrics["test_accuracy_clean"] = metrics["test_t1"]["accuracy"]
        metrics["test_accuracy_curve"] = {f"{r['t']:g}": r["accuracy"] for r in curve}
    model_cfg = dataclasses.asdict(cfg.model)
    if cfg.model.guidance_t_min_from_val and tr.info.is_main:  # the schedule is chosen on validation clips
        vloader = torch.utils.data.DataLoader(val_set, batch_size=32, collate_fn=speech_collate)
        with tr.ema.applied(tr.model) if tr.ema is not None else null_context():
            vcurve = expert_accuracy_curve(tr.model, vloader, device=tr.device, seed=cfg.seed, prior_fn=prior_fn,
                                           ref_fn=ref_fn)
        t_min = choose_t_min(vcurve, cfg.model.n_emotions)
        model_cfg["guidance_t_min"] = expert.guidance_t_min = t_min
        metrics["val_accuracy_curve"] = {f"{r['t']:g}": r["accuracy"] for r in vcurve}
        metrics["guidance_t_min"] = t_min
    config = {"model": model_cfg, "audio": dataclasses.asdict(cfg.audio)}
    return finish(cfg, "emotion_expert", tr, result,
                   lambda p: write_model_file(p, "EmotionExpert", expert.state_dict(), config,
                                              {"stage": "emotion_expert", "step": result.step}),
                   metrics, {"parameters": count_parameters(expert), "train_clips": len(train_set)})
