"""``emodubber dub``: one clip (see :func:`emodubber.dub.dub`) or a jobs file of clips (``--batch``, see
:func:`emodubber.dub.batch.dub_many`) dubbed from the command line.

:mod:`emodubber.dub.pipeline` (and with it torch) is imported when the command runs, not when the CLI
registers it (start-up time of every ``emodubber`` command); a malformed jobs file is refused before that.
Exit codes: 0 done; 1 a clip (or, with ``--batch``, some row) failed; 2 bad input, a malformed jobs file or
checkpoints that cannot be used — one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from emodubber.config import EMOTIONS
from emodubber.dub.inputs import DubInputError
from emodubber.dub.jobs import OPTIONAL, REQUIRED, JobsFileError, read_jobs
from emodubber.dub.lipcheck import ALIGNMENTS, MIN_LIP_MOTION, check_alignment

SINGLE = ("text", "video", "reference", "out")


def _fail(msg: str, code: int) -> int:
    print(f"emodubber dub: {msg}", file=sys.stderr)
    return code


def _sampling(args: argparse.Namespace) -> dict:
    return dict(gamma=args.gamma, steps=args.steps, temperature=args.temperature, seed=args.seed,
                vocoder=args.vocoder, roi_size=args.roi_size, threads=args.threads,
                check_version=not args.ignore_version, alignment=args.alignment)


def _run_batch(args: argparse.Namespace) -> int:
    given = [f"--{k.replace('_', '-')}" for k in SINGLE + ("audio_out",) if getattr(args, k) is not None]
    if given:
        return _fail(f"--batch takes the clips from the jobs file: drop {', '.join(given)}", 2)
    try:
        jobs = read_jobs(args.batch)
    except JobsFileError as e:
        return _fail(str(e), 2)
    from emodubber.dub.batch import check_options, dub_many, models_for, summary_table  # torch: only when dubbing

    opts = _sampling(args)
    try:
        check_options(args.emotion, args.alpha, args.beta, args.gamma, args.steps, args.temperature,
                      need_emotion=False)
        t0 = time.perf_counter()
        models = models_for(jobs, args.checkpoint, args.alpha, args.beta, opts.pop("vocoder"), opts.pop("roi_size"),
                            opts["check_version"])
        load_s = time.perf_counter() - t0
        results = dub_many(jobs, models=models, emotion=args.emotion, alpha=args.alpha, beta=args.beta, **opts)
    except DubInputError as e:
        return _fail(str(e), 2)
    except (RuntimeError, OSError) as e:  # checkpoints that do not load for another reason: one line too
        return _fail(f"failed: {type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}", 2)
    print(summary_table(results, load_s))
    return 0 if all(r.ok for r in results) else 1


def _run(args: argparse.Namespace) -> int:
    try:
        check_alignment(args.alignment)
    except DubInputError as e:
        return _fail(str(e), 2)
    if args.batch is not None:
        return _run_batch(args)
    missing = [f"--{k}" for k in SINGLE if getattr(args, k) is None]
    if missing:
        return _fail(f"give {', '.join(missing)} (or --batch JOBS.csv)", 2)
    from emodubber.dub.pipeline import dub  # torch: loaded only when dubbing

    try:
        res = dub(args.text, args.video, args.reference, args.checkpoint, args.out, emotion=args.emotion,
                  alpha=args.alpha, beta=args.beta, audio_out=args.audio_out, **_sampling(args))
    except DubInputError as e:
        return _fail(str(e), 2)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:  # not the input (a model that produced
        # non-finite audio, an output folder that cannot be written, a hung ffmpeg): one line too
        return _fail(f"failed: {type(e).__name__}: {e}", 1)
    for n in res.notes:
        print(f"note: {n}", file=sys.stderr)
    print(res.summary())
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dub", help="dub a video clip: text + reference voice + emotion -> new speech muxed onto the video",
        description="Dub VIDEO with TEXT in the voice of REFERENCE, guided towards EMOTION (PNGM, docs/paper.md "
                    "§3.5.2: alpha positive, beta negative guidance), or every row of a jobs file (--batch). "
                    "CHECKPOINT is the training stages' checkpoints folder (dubber/model.pt; emotion_expert/model.pt "
                    "when alpha or beta > 0; vocoder/model.pt optional). Temperature, Euler steps, gamma and the "
                    "vocoder default to what the checkpoint's training profile evaluates with (its eval section, "
                    "profile named by dubber/summary.json); a note says which values were used and where from.")
    p.add_argument("--text", default=None, help="the words to speak (CMUdict vocabulary)")
    p.add_argument("--video", default=None, help="the clip to dub (a visible frontal face; any frame rate)")
    p.add_argument("--reference", default=None, help="a recording of the target voice (>= 1 s)")
    p.add_argument("--checkpoint", required=True, metavar="DIR", help="checkpoints folder (e.g. work/cpu/checkpoints)")
    p.add_argument("--out", default=None, help="the dubbed video to write (mp4)")
    p.add_argument("--batch", default=None, metavar="JOBS.csv",
                   help=f"dub every row of a CSV file (columns {', '.join(REQUIRED)}; optional {', '.join(OPTIONAL)}, "
                        f"whose empty cells take --emotion/--alpha/--beta/--alignment; paths relative to the file). "
                        f"Models load "
                        f"once; a failing row is reported and skipped; exit 1 if any row failed, 2 if the file is "
                        f"malformed")
    p.add_argument("--emotion", default=None, metavar="NAME",
                   help=f"target emotion of the guidance: {', '.join(EMOTIONS)}")
    p.add_argument("--alpha", type=float, default=0.0, help="positive guidance scale, >= 0 (default 0)")
    p.add_argument("--beta", type=float, default=0.0, help="negative guidance scale, >= 0 (default 0)")
    p.add_argument("--gamma", type=float, default=None,
                   help="overall guidance scale, >= 0 (default: the profile's eval.gamma, 15 for cpu and paper)")
    p.add_argument("--steps", type=int, default=None,
                   help="Euler steps of the flow decoder (default: the profile's eval.n_steps, 10 for cpu)")
    p.add_argument("--temperature", type=float, default=None,
                   help="noise temperature, >= 0 (default: the profile's eval.temperature, 0.3 for cpu)")
    p.add_argument("--seed", type=int, default=1234, help="seed of the sampler's noise (default 1234)")
    p.add_argument("--vocoder", choices=("auto", "hifigan", "griffinlim"), default="auto",
                   help="auto: the profile's eval.vocoder (Griffin-Lim for cpu; Griffin-Lim too when it names "
                        "HiFi-GAN and DIR/vocoder/model.pt does not exist)")
    p.add_argument("--alignment", default="auto", metavar="|".join(ALIGNMENTS),
                   help=f"what times the speech: auto (default) the lips, unless the mouth is too still to align "
                        f"(mouth-ROI motion energy below {MIN_LIP_MOTION:g}): then the text's predicted durations "
                        f"fitted to the clip, and a note says so; lips or text force either (--batch: a jobs-file "
                        f"column 'alignment' may set it per row)")
    p.add_argument("--audio-out", default=None, help="also write the dubbed speech as a wav")
    p.add_argument("--roi-size", type=int, default=None, help="mouth-ROI side (default: the training profile's)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--ignore-version", action="store_true",
                   help="load checkpoints written by another emodubber major.minor version anyway")
    p.set_defaults(func=_run)
