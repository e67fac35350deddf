"""``emodubber evaluate`` and ``emodubber judges``: score generated clips, train and validate the judges.

    emodubber evaluate --profile cpu --generated out/wavs --setting 1 --out table.csv
    emodubber judges train --profile cpu          # sync expert + emotion judge into <work_dir>/judges
    emodubber judges validate --profile cpu       # writes judges_validation.md under the reports dir
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from emodubber.config import load_profile
from emodubber.data.manifest import read_manifest
from emodubber.metrics.emotion_judge import EmotionJudge
from emodubber.metrics.emotion_judge_train import train_emotion_judge, validate_emotion_judge
from emodubber.metrics.evaluate import ALL_METRICS, Judges, evaluate, summarise
from emodubber.metrics.lse import SyncJudge
from emodubber.metrics.sync_expert import train_sync_expert, validate_sync_expert
from emodubber.metrics.validation import validate_asr, validate_per, validate_secs, write_judge_report


def _evaluate(args: argparse.Namespace) -> int:
    cfg = load_profile(args.profile)
    gen_dir = Path(args.generated)
    if not gen_dir.is_dir():
        raise FileNotFoundError(f"--generated {gen_dir} is not a directory of <clip_id>.wav files")
    generated = {p.stem: p for p in sorted(gen_dir.glob("*.wav"))}
    if not generated:
        raise FileNotFoundError(f"no .wav files in {gen_dir}")
    manifest = Path(args.manifest) if args.manifest else cfg.corpus_dir / "dubbing.jsonl"
    judges = Judges.from_config(cfg, args.metrics)
    df, prov = evaluate(generated, manifest, args.setting, judges=judges, system=args.system)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    out.with_suffix(".provenance.json").write_text(json.dumps(prov, indent=2, default=str) + "\n")
    print(json.dumps(summarise(df), indent=2, default=float))
    for k, why in judges.missing.items():
        print(f"note: {k} not scored: {why}", file=sys.stderr)
    return 0


def _judges(args: argparse.Namespace) -> int:
    cfg = load_profile(args.profile)
    if args.action == "train":
        if not cfg.judges.syncnet_weights:
            train_sync_expert(cfg)
        train_emotion_judge(cfg)
        return 0
    dub = read_manifest(cfg.corpus_dir / "dubbing.jsonl")
    emo = read_manifest(cfg.corpus_dir / "emotion.jsonl")
    n = cfg.judges.validation_clips
    res = {"sync": validate_sync_expert(SyncJudge.from_config(cfg), dub, cfg.corpus_dir, n_clips=n),
           "wer": validate_asr(dub, cfg.corpus_dir), "per": validate_per(dub, cfg.corpus_dir),
           "secs": validate_secs(dub, cfg.corpus_dir),
           "emotion": validate_emotion_judge(EmotionJudge.from_config(cfg), emo, cfg.corpus_dir,
                                             cfg.judges.emotion_heldout_speakers, cfg.seed)}
    print(write_judge_report(res, cfg.reports_dir).read_text())
    return 0


def register(subparsers) -> None:
    e = subparsers.add_parser("evaluate", help="score generated wavs with every judge (one row per clip)")
    e.add_argument("--profile", default="cpu")
    e.add_argument("--generated", required=True, help="directory of <clip_id>.wav")
    e.add_argument("--setting", type=int, default=1, choices=(1, 2, 3))
    e.add_argument("--manifest", default="", help="ground-truth manifest (default: <corpus_dir>/dubbing.jsonl)")
    e.add_argument("--metrics", nargs="+", default=list(ALL_METRICS), choices=ALL_METRICS)
    e.add_argument("--system", default="", help="name of the system that generated the clips")
    e.add_argument("--out", default="evaluation.csv")
    e.set_defaults(func=_evaluate)

    j = subparsers.add_parser("judges", help="train or validate the learned judges (sync expert, emotion judge)")
    j.add_argument("action", choices=("train", "validate"))
    j.add_argument("--profile", default="cpu")
    j.set_defaults(func=_judges)
