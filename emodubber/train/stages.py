"""The training stages of the suite, each one function of the profile config (and one CLI sub-command).

=====================  ===============================================================================
stage                  what it trains, on what, starting from what
=====================  ===============================================================================
``train_tts``          phoneme encoder, prosody, duration predictor, SIA and the CFM decoder in TTS mode
                       (true durations) on all training speech: dubbing + emotional corpus, video dropped
``train_dubber``       the full EmoDubber (LPA, PE, SIA, decoder) on the dubbing corpus; weights that
                       match are loaded from the TTS stage (missing / unexpected keys reported), fresh
                       optimiser (docs/paper.md §F.9)
``train_emotion_expert``  p_ψ(c | φ_t, t) on OT-CFM interpolants φ_t of the emotional corpus mels,
                       t ~ U(0, 1), labels = emotion ids; accuracy on clean held-out mels (t = 1)
``train_vocoder``      HiFi-GAN (generator + MPD + MSD in one optimiser, the adversarial terms split with
                       ``requires_grad`` so each net only gets its own gradient) on waveform segments;
                       validation compares its mel error with Griffin-Lim's
``train_baselines``    lip-blind TTS, EmoDubber w/o L_cl, EmoDubber w/o PE: the dubber recipe with one
                       model flag changed each
=====================  ===============================================================================

Each stage writes into ``cfg.checkpoint_dir(stage)`` (baselines: ``…/baselines/<variant>``):
``step_*.pt`` training checkpoints, ``model.pt`` (the final weights, EMA when on, loadable with
``EmoDubber.from_pretrained`` or ``load_emotion_expert`` / ``load_vocoder``), ``train_log.csv``,
``val_log.csv``, ``summary.json`` (result, samples/s, held-out metrics, partial-load report) and, for
the dubbing stages, ``attn/step_*.npz`` (the LPA attention of fixed validation clips at every
validation, to watch it become diagonal). ``datasets=`` lets tests and notebooks pass their own
(train, val) datasets instead of the corpus on disk.

This module gathers the recipes for notebooks and the CLI; each lives in its own module:
:mod:`emodubber.train.tts`, :mod:`~emodubber.train.dubbing` (dubber, baselines, ablations),
:mod:`~emodubber.train.expert`, :mod:`~emodubber.train.vocoder`, and the shared plumbing in
:mod:`~emodubber.train.common`. The loaders sit next to their models:
:func:`emodubber.models.emotion.load_emotion_expert`, :func:`emodubber.models.vocoder.load_vocoder`.
"""

from __future__ import annotations

from emodubber.models.emotion import load_emotion_expert
from emodubber.models.vocoder import HiFiGAN, load_vocoder
from emodubber.train.common import StageOutput, model_path, speech_collate, stage_dir
from emodubber.train.dubbing import BASELINES, duration_accuracy, train_baselines, train_dubber
from emodubber.train.expert import (evaluate_emotion_expert, expert_accuracy_curve, expert_inputs, train_emotion_expert,
                                    tts_prior_fn)
from emodubber.train.tts import synthesise_tts, train_tts
from emodubber.train.vocoder import WavDataset, train_vocoder, vocoder_compare, wav_collate

__all__ = ["train_tts", "train_dubber", "train_emotion_expert", "train_vocoder", "train_baselines",
           "BASELINES", "StageOutput", "stage_dir", "model_path", "load_emotion_expert", "load_vocoder",
           "speech_collate", "synthesise_tts", "duration_accuracy", "evaluate_emotion_expert", "expert_accuracy_curve",
           "tts_prior_fn", "expert_inputs", "WavDataset", "wav_collate", "HiFiGAN", "vocoder_compare"]
