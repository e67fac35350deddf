"""emodubber.train: one loop for every stage, checkpoints that resume bit-for-bit, DDP, the stages.

- :mod:`emodubber.train.loop` — :class:`~emodubber.train.loop.Trainer` / ``train(model, loss_fn, data, stage,
  out_dir)``: AdamW, warm-up + cosine, clipping, AMP on GPU, EMA, validation, CSV/TensorBoard logs, samples/s,
  time budget, NaN stop; the batch order is a function of (seed, step).
- :mod:`emodubber.train.checkpoint` — atomic checkpoints (weights, optimiser, scheduler, RNG states, config,
  seed, version), last K kept, clear errors for truncated / foreign / wrong-version files.
- :mod:`emodubber.train.ddp` — ``torchrun --nproc_per_node=N -m emodubber.train STAGE`` (gloo on CPU, nccl on GPU).
- :mod:`emodubber.train.validate` — bad inputs refused before the first step (:class:`TrainInputError`).
- :mod:`emodubber.train.stages` — ``train_tts``, ``train_dubber``, ``train_emotion_expert``, ``train_vocoder``,
  ``train_baselines`` and the held-out evaluation hooks; :mod:`emodubber.train.report` — what notebooks 02–06 show.
- ``emodubber train STAGE --profile P [--resume] [--set key=value …]`` (:mod:`emodubber.train.cli`).
"""
