"""emodubber.train: one loop for every stage, checkpoints that resume bit-for-bit, DDP, the stages.

The layer sits below ``dub`` / ``reports`` and above ``metrics`` / ``models``: a stage may use the judges of
:mod:`emodubber.metrics` for its held-out quality, and nothing in ``models``, ``metrics`` or ``dub`` imports it
(the loaders live beside their models: ``EmoDubber.from_pretrained``, ``models.emotion.load_emotion_expert``,
``models.vocoder.load_vocoder``, ``models.checkpointing.list_checkpoints``).

- :mod:`emodubber.train.loop` — :class:`~emodubber.train.loop.Trainer` / ``train(model, loss_fn, data, stage,
  out_dir)``: AdamW, warm-up + cosine, clipping, AMP on GPU, EMA, validation, samples/s, time budget, NaN stop.
- :mod:`emodubber.train.steps` — the loop's errors (:class:`~emodubber.train.steps.TrainError`,
  ``NonFiniteLossError``), the step-based LR schedule, moving batches to the device, the held-out loss
  (``evaluate_loss``); :mod:`emodubber.train.sampling` — the batch order as a function of (seed, step, rank);
  :mod:`emodubber.train.ema` — the weights' moving average; :mod:`emodubber.train.logs` — the CSV logs.
- :mod:`emodubber.train.checkpoint` — atomic checkpoints (weights, optimiser, scheduler, RNG states, config,
  seed, version), last K kept, clear errors for truncated / foreign / wrong-version files.
- :mod:`emodubber.train.ddp` — ``torchrun --nproc_per_node=N -m emodubber.train STAGE`` (gloo on CPU, nccl on GPU);
  :mod:`emodubber.train.selfcheck` — a seconds-long task that checks a machine's (DDP) set-up.
- :mod:`emodubber.train.validate` — bad inputs refused before the first step (:class:`TrainInputError`).
- The recipes, one module each, with their shared plumbing in :mod:`emodubber.train.common`:
  :mod:`~emodubber.train.tts` (stage 1), :mod:`~emodubber.train.dubbing` (stage 2, and the baselines /
  ablations of :data:`emodubber.models.baselines.ABLATIONS` by the same recipe, ``BASELINES``),
  :mod:`~emodubber.train.expert` (stage 3, the emotion expert; ``choose_t_min`` for
  ``model.guidance_t_min_from_val``), :mod:`~emodubber.train.vocoder` (stage 4, HiFi-GAN).
  :mod:`emodubber.train.stages` is a facade re-exporting them for the notebooks and the CLI.
- :mod:`emodubber.train.quality` — held-out quality of a trained stage (WER, voice, durations) with the
  judges; :mod:`emodubber.train.report` — the examples notebooks 02–06 show (their plots and targets:
  :mod:`emodubber.reports.training`).
- ``emodubber train STAGE --profile P [--resume] [--set key=value …]`` (:mod:`emodubber.train.cli`).
"""
