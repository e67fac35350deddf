"""The sync expert: syncnet-python's ``S`` trained here from scratch on the synthetic train split.

Used as the LSE judge when the official ``syncnet_v2.model`` is not supplied. Same architecture and inputs
as the official network (224×224 BGR face crops in 5-frame windows; 13×20 MFCC windows), so a user who has
the official weights only changes ``judges.syncnet_weights``.

Training (measured: ~2 s per step at batch 16 on 2 cores; all 60 held-out clips within ±1 frame after ~290 steps):
softmax cross-entropy over negative Euclidean distances between a window's lip embedding and audio
candidates — its own audio (the target), ``sync_negatives`` windows of the same clip shifted by 2..``sync_max_shift``
frames, and the true audio of the other clips of the batch. Only ``split == "train"`` clips are read.

Validation (:func:`validate_sync_expert`): on held-out clips, the true audio and the audio shifted by ±5
frames; the judge must find the offset within ±1 frame (≥ 90 %) and give the true clip a higher zero-offset
confidence than each shifted one (≥ 95 % of pairs).

The network and its inputs come from :mod:`emodubber.metrics.syncnet`, as for the judge (``lse``). torch,
OpenCV and pandas are imported inside the functions that use them (start-up time of ``emodubber.metrics``).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from emodubber.data.manifest import read_manifest
from emodubber.media import read_video
from emodubber.metrics.audio_io import load_audio, sha256_file
from emodubber.metrics.lse import SyncJudge
from emodubber.metrics.syncnet import (
    FACE_SIZE,
    SAMPLES_PER_FRAME,
    expected_av_offset,
    face_crops,
    mfcc_features,
    shift_audio,
    sync_expert_path,
    syncnet_backend,
)
from emodubber.metrics.validation import check
from emodubber.utils import atomic_path, atomic_write_json, atomic_write_text, progress, seed_everything, \
    truncation_note

__all__ = ["train_sync_expert", "validate_sync_expert", "sync_expert_path", "SyncClips"]


class SyncClips:
    """Training clips: decoded face frames (native size, LRU-cached) and MFCC of the true audio."""

    def __init__(self, items: Sequence[tuple[str, Path, Path]], face_crop: str = "frame", max_cached: int = 600):
        self.items = list(items)  # (clip_id, video, wav)
        self.face_crop = face_crop
        self.max_cached = max_cached
        self._cache: OrderedDict[int, tuple[np.ndarray, np.ndarray, int] | None] = OrderedDict()

    def __len__(self) -> int:
        return len(self.items)

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray, int] | None:
        """(frames (n, H, W, 3) uint8 at native size, mfcc (13, T), n_windows) or None if unusable."""
        if i in self._cache:
            self._cache.move_to_end(i)
            return self._cache[i]
        _, video, wav = self.items[i]
        frames, _ = read_video(video, strict=False)
        audio = load_audio(wav, 16000, warn=False)
        out = None
        if len(frames) and audio.ok:
            if self.face_crop == "haar":
                crops, _ = face_crops(frames, "haar")
                frames = crops if crops is not None else np.zeros((0,) + frames.shape[1:], np.uint8)
            mfcc = mfcc_features(audio.wav)
            n_win = min(len(frames), len(audio.wav) // SAMPLES_PER_FRAME) - 5
            n_win = min(n_win, (mfcc.shape[1] - 20) // 4 + 1)
            if n_win >= 8:
                out = (frames, mfcc, n_win)
        self._cache[i] = out
        if len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return out


def _video_window(frames: np.ndarray, start: int) -> np.ndarray:
    """(3, 5, 224, 224) float32 BGR 0..255 from 5 frames at native size."""
    import cv2

    win = [cv2.resize(f, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_LINEAR) for f in frames[start:start + 5]]
    return np.stack(win).transpose(3, 0, 1, 2).astype(np.float32)


def _records_items(records, corpus_dir: Path) -> list[tuple[str, Path, Path]]:
    return [(r.clip_id, r.path(corpus_dir, "video"), r.path(corpus_dir, "wav")) for r in records if r.video]


def train_sync_expert(cfg, records=None, out_path: str | Path | None = None, log: Callable[[str], Any] = print,
                      seed: int | None = None,
                      corpus_dir: str | Path | None = None) -> dict:
    """Train ``S`` on the train split of ``cfg``'s dubbing corpus; write weights, hash and a JSON record.

    ``cfg.judges.syncnet_train`` gives steps, batch size, lr and ``time_budget_s`` (stops early when spent).
    Returns the training record (steps done, wall time, losses, weights path and SHA-256).
    """
    import torch

    st = cfg.judges.syncnet_train
    j = cfg.judges
    seed = cfg.seed if seed is None else seed
    seed_everything(seed)
    rng = random.Random(seed)
    corpus_dir = Path(corpus_dir) if corpus_dir else cfg.corpus_dir
    if records is None:
        records = read_manifest(corpus_dir / "dubbing.jsonl")
    train = [r for r in records if r.split == "train" and r.video]
    if len(train) < 2:
        raise ValueError(f"the sync expert needs at least 2 train clips with video, got {len(train)}")
    train = sorted(train, key=lambda r: r.clip_id)
    if len(train) > j.sync_train_clips:
        train = rng.sample(train, j.sync_train_clips)
    clips = SyncClips(_records_items(train, corpus_dir), face_crop=j.face_crop, max_cached=j.sync_train_clips)

    S, _, _ = syncnet_backend()
    net = S()
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=st.lr, weight_decay=st.weight_decay)
    B, K = max(2, st.batch_size), j.sync_negatives
    shifts_all = [s for s in range(-j.sync_max_shift, j.sync_max_shift + 1) if abs(s) >= 2]
    losses: list[float] = []
    accs: list[float] = []
    t0 = time.perf_counter()
    step = 0
    bar = progress(total=st.steps, desc="sync expert")
    while step < st.steps:
        if st.time_budget_s and time.perf_counter() - t0 > st.time_budget_s:
            log(f"sync expert: time budget {st.time_budget_s:.0f} s spent after {step} steps")
            break
        vids, auds, neg_mask = [], [], []
        picked = 0
        tries = 0
        while picked < B and tries < 10 * B:
            tries += 1
            got = clips.get(rng.randrange(len(clips)))
            if got is None:
                continue
            frames, mfcc, n_win = got
            f = rng.randrange(n_win)
            cand = [s for s in shifts_all if 0 <= f + s < n_win]
            negs = rng.sample(cand, min(K, len(cand)))
            vids.append(_video_window(frames, f))
            wins = [f] + [f + s for s in negs] + [f] * (K - len(negs))
            auds.extend(mfcc[:, 4 * w:4 * w + 20] for w in wins)
            neg_mask.append([True] + [True] * len(negs) + [False] * (K - len(negs)))
            picked += 1
        if picked < 2:
            raise RuntimeError("the sync expert found fewer than 2 usable train clips (video + audio)")
        v = net.forward_lip(torch.from_numpy(np.stack(vids)))  # (b, d)
        a = net.forward_aud(torch.from_numpy(np.stack(auds))[:, None])  # (b*(1+K), 1, 13, 20) -> (b*(1+K), d)
        b = len(vids)
        a = a.view(b, 1 + K, -1)
        own = torch.linalg.vector_norm(v[:, None, :] - a, dim=-1)  # (b, 1+K): own audio and shifted negatives
        others = torch.cdist(v, a[:, 0])  # (b, b): other clips' true audio
        eye = torch.eye(b, dtype=torch.bool)
        logits = torch.cat([-own, -others], dim=1)
        mask = torch.cat([torch.tensor(neg_mask), ~eye], dim=1)
        logits = logits.masked_fill(~mask, float("-inf"))
        loss = torch.nn.functional.cross_entropy(logits, torch.zeros(b, dtype=torch.long))
        opt.zero_grad()
        loss.backward()
        if st.grad_clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), st.grad_clip)
        opt.step()
        losses.append(loss.item())
        accs.append(float((logits.argmax(1) == 0).float().mean()))
        step += 1
        bar.update(1)
        if step % max(1, st.log_every if hasattr(st, "log_every") else 10) == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-10:]):.3f}", acc=f"{np.mean(accs[-10:]):.2f}")
    bar.close()
    wall = time.perf_counter() - t0

    out_path = Path(out_path) if out_path else sync_expert_path(cfg)
    net.eval()
    state = {"state_dict": net.state_dict(), "label": "sync expert trained here", "steps": step, "seed": seed,
             "config": {"syncnet_train": dict(st.__dict__), "face_crop": j.face_crop,
                        "negatives": K, "max_shift": j.sync_max_shift},
             "train_clips": len(clips), "kind": "sync_expert"}
    with atomic_path(out_path) as tmp:
        torch.save(state, tmp)
    sha = sha256_file(out_path)
    atomic_write_text(out_path.with_suffix(".pt.sha256"), f"{sha}  {out_path.name}\n")
    rec = {"weights": str(out_path), "sha256": sha, "steps": step, "wall_time_s": round(wall, 1),
           "s_per_step": round(wall / max(step, 1), 3), "train_clips": len(clips), "batch_size": B,
           "final_loss": float(np.mean(losses[-20:])) if losses else math.nan,
           "final_train_acc": float(np.mean(accs[-20:])) if accs else math.nan,
           # the time budget is a guard: a run it stopped says so (and every report built on it, reports.provenance)
           "target_steps": st.steps, "truncated": step < st.steps, "truncation_note": truncation_note(step, st.steps),
           "loss_curve": [round(x, 4) for x in losses]}
    atomic_write_json(out_path.with_suffix(".json"), rec)
    log(f"sync expert: {step} steps in {wall:.0f} s, loss {rec['final_loss']:.3f}, sha256 {sha[:12]}")
    return rec


def validate_sync_expert(judge: SyncJudge, records, corpus_dir: str | Path, shifts: Sequence[int] = (-5, 5),
                         n_clips: int = 30, seed: int = 0, tolerance: int = 1):
    """Offset recovery and zero-offset confidence on held-out clips (true audio and audio shifted by ``shifts``).

    Returns ``(table, summary)``: one row per (clip, shift) with ``av_offset``, ``expected_offset``,
    ``offset_ok``, ``lse_c``, ``lse_d``, ``sync_conf_at0``; the summary has ``offset_within_tol`` (share of all
    rows), ``conf0_true_gt_shifted`` (share of (clip, shift) pairs) and mean scores per shift.
    """
    import pandas as pd

    corpus_dir = Path(corpus_dir)
    held = sorted([r for r in records if r.split in ("test", "val") and r.video], key=lambda r: r.clip_id)
    rng = random.Random(seed)
    if len(held) > n_clips:
        held = sorted(rng.sample(held, n_clips), key=lambda r: r.clip_id)
    rows = []
    for r in held:
        audio = load_audio(r.path(corpus_dir, "wav"), 16000, warn=False)
        for s in (0, *shifts):
            wav = shift_audio(audio.wav, s) if audio.ok else audio.wav
            res = judge.score(r.path(corpus_dir, "video"), (wav, 16000) if audio.ok else audio)
            exp = expected_av_offset(s)
            rows.append({"clip_id": r.clip_id, "speaker": r.speaker, "shift_frames": s, "expected_offset": exp,
                         **res.as_dict(),
                         "offset_ok": bool(abs(res.av_offset - exp) <= tolerance) if not res.error else False})
    df = pd.DataFrame(rows)
    summary: dict[str, Any] = {"n_clips": len(held), "shifts": [0, *shifts], "tolerance_frames": tolerance,
                               "weights": judge.label, "weights_sha256": judge.weights_sha256}
    if len(df):
        ok = df[df.error == ""]
        summary["n_scored_rows"] = int(len(ok))
        summary["offset_within_tol"] = float(df.offset_ok.mean())
        pairs = []
        for cid, g in ok.groupby("clip_id"):
            t = g[g.shift_frames == 0]
            if len(t):
                c0 = float(t.sync_conf_at0.iloc[0])
                pairs += [c0 > float(x) for x in g[g.shift_frames != 0].sync_conf_at0]
        summary["conf0_true_gt_shifted"] = float(np.mean(pairs)) if pairs else math.nan
        summary["by_shift"] = json.loads(ok.groupby("shift_frames")[["lse_c", "lse_d", "sync_conf_at0"]]
                                         .mean().round(3).to_json(orient="index"))
    return df, check("sync_conf0", check("sync_offset", summary))
