"""``emodubber train STAGE --profile P [--resume] [--set key=value …]``.

Stages: ``tts``, ``dubber``, ``emotion_expert``, ``vocoder``, ``baselines`` (see
:mod:`emodubber.train.stages`), ``all`` (the five in order) and ``selfcheck`` (a seconds-long toy run
that checks a machine's DDP setup). Under ``torchrun --nproc_per_node=N -m emodubber.train …`` every
process runs the same command; rank 0 alone writes. A run that cannot go on (NaN loss, unreadable
checkpoint) prints one line and exits 1; bad input (config, data) exits 2.
"""

from __future__ import annotations

import argparse
import sys

import yaml

STAGES = ("tts", "dubber", "emotion_expert", "vocoder", "baselines")


def _overrides(pairs: list[str] | None) -> dict:
    out = {}
    for item in pairs or []:
        if "=" not in item:
            raise SystemExit(f"emodubber train: --set wants key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def _run(args: argparse.Namespace) -> int:
    from emodubber.train import ddp
    from emodubber.train.checkpoint import CheckpointError
    from emodubber.train.loop import TrainError

    try:
        if args.stage == "selfcheck":
            from emodubber.train.selfcheck import run_selfcheck

            res = run_selfcheck(args.out or "work/selfcheck", steps=args.steps or 20, resume=args.resume,
                                dump_weights=args.dump_weights, default_val=args.default_val)
            if ddp.setup().is_main:
                print(f"selfcheck: {res.status} at step {res.step}, loss {res.last_train.get('loss', float('nan')):.4f}, "
                      f"{res.samples_per_s:.0f} samples/s on {res.world_size} process(es)")
            return 0
        from emodubber.config import load_profile
        from emodubber.train import stages

        cfg = load_profile(args.profile, overrides=_overrides(args.set))
        names = STAGES if args.stage == "all" else (args.stage,)
        for name in names:
            getattr(stages, f"train_{name}")(cfg, resume=args.resume)
        return 0
    except (TrainError, CheckpointError) as e:
        print(f"emodubber train: {e}", file=sys.stderr)
        return 1
    finally:
        ddp.cleanup()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a stage (tts, dubber, emotion_expert, vocoder, baselines, all)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=STAGES + ("all", "selfcheck"))
    p.add_argument("--profile", default="cpu", help="smoke | cpu | paper | path to a profile YAML (default: cpu)")
    p.add_argument("--resume", action="store_true", help="continue from the stage's latest checkpoint")
    p.add_argument("--set", nargs="+", metavar="KEY=VALUE", help="profile overrides, e.g. train.tts.steps=100")
    p.add_argument("--out", default="", help="selfcheck only: output directory")
    p.add_argument("--steps", type=int, default=0, help="selfcheck only: steps")
    p.add_argument("--dump-weights", action="store_true", help="selfcheck only: every rank writes rank<r>.pt")
    p.add_argument("--default-val", action="store_true",
                   help="selfcheck only: the loop's sharded validation instead of a rank-0 val_fn")
    p.set_defaults(func=_run)
