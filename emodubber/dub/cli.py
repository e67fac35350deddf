"""``emodubber dub``: one clip dubbed from the command line (see :func:`emodubber.dub.dub`).

:mod:`emodubber.dub.pipeline` (and with it torch) is imported when the command runs, not when the CLI
registers it (start-up time of every ``emodubber`` command).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from emodubber.config import EMOTIONS
from emodubber.dub.inputs import DubInputError


def _run(args: argparse.Namespace) -> int:
    from emodubber.dub.pipeline import dub  # torch: loaded only when dubbing

    try:
        res = dub(args.text, args.video, args.reference, args.checkpoint, args.out, emotion=args.emotion,
                  alpha=args.alpha, beta=args.beta, gamma=args.gamma, steps=args.steps,
                  temperature=args.temperature, seed=args.seed, audio_out=args.audio_out, vocoder=args.vocoder,
                  roi_size=args.roi_size, threads=args.threads, check_version=not args.ignore_version)
    except DubInputError as e:
        print(f"emodubber dub: {e}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:  # not the input (a model that produced
        # non-finite audio, an output folder that cannot be written, a hung ffmpeg): one line too
        print(f"emodubber dub: failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    for n in res.notes:
        print(f"note: {n}", file=sys.stderr)
    print(res.summary())
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dub", help="dub a video clip: text + reference voice + emotion -> new speech muxed onto the video",
        description="Dub VIDEO with TEXT in the voice of REFERENCE, guided towards EMOTION (PNGM: alpha "
                    "positive, beta negative guidance). CHECKPOINT is the training stages' checkpoints folder "
                    "(dubber/model.pt; emotion_expert/model.pt when alpha or beta > 0; vocoder/model.pt optional).")
    p.add_argument("--text", required=True, help="the words to speak (CMUdict vocabulary)")
    p.add_argument("--video", required=True, help="the clip to dub (a visible frontal face; any frame rate)")
    p.add_argument("--reference", required=True, help="a recording of the target voice (>= 1 s)")
    p.add_argument("--checkpoint", required=True, metavar="DIR", help="checkpoints folder (e.g. work/cpu/checkpoints)")
    p.add_argument("--out", required=True, help="the dubbed video to write (mp4)")
    p.add_argument("--emotion", default=None, metavar="NAME",
                   help=f"target emotion of the guidance: {', '.join(EMOTIONS)}")
    p.add_argument("--alpha", type=float, default=0.0, help="positive guidance scale (default 0)")
    p.add_argument("--beta", type=float, default=0.0, help="negative guidance scale (default 0)")
    p.add_argument("--gamma", type=float, default=15.0,
                   help="overall guidance scale (default 15, the paper's; at 1 the cpu model's guidance is inaudible)")
    p.add_argument("--steps", type=int, default=10, help="Euler steps of the flow decoder (default 10)")
    p.add_argument("--temperature", type=float, default=0.667, help="noise temperature (default 0.667)")
    p.add_argument("--seed", type=int, default=1234, help="seed of the sampler's noise (default 1234)")
    p.add_argument("--vocoder", choices=("auto", "hifigan", "griffinlim"), default="auto",
                   help="auto: HiFi-GAN if DIR/vocoder/model.pt exists, else Griffin-Lim")
    p.add_argument("--audio-out", default=None, help="also write the dubbed speech as a wav")
    p.add_argument("--roi-size", type=int, default=None, help="mouth-ROI side (default: the training profile's)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--ignore-version", action="store_true",
                   help="load checkpoints written by another emodubber major.minor version anyway")
    p.set_defaults(func=_run)
