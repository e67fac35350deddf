"""The judges: one module per metric, each validated on its own (notebooks/07_judges).

============================  ==================================================================
module                        judge
============================  ==================================================================
``syncnet``                   SyncNet ``S`` and its inputs (face crops, MFCC windows), shared by the two below
``lse``                       LSE-C / LSE-D, AV offset, zero-offset distance/confidence (syncnet-python)
``sync_expert``               training + validation of the SyncNet weights when the official ones are absent
``wer``                       WER: pocketsphinx (GRID grammar, open LM) + jiwer; corpus, mean, swapped quirk
``per``                       PER: pocketsphinx all-phone vs the ARPAbet reference
``secs``                      SECS: resemblyzer cosine × 100 (vs target / vs reference, named)
``mcd``                       MCD, MCD-DTW, MCD-DTW-SL through pymcd
``emotion_judge``             IS, emotion accuracy and embeddings of an emotion classifier trained here
``emotion_judge_train``       training + validation of that classifier
``evaluate``                  ``evaluate(generated, references, setting) -> (table, provenance)``
``validation``                the judges' own validation and its report
``audio_io``                  defined results for bad audio (silent, empty, clipped, wrong rate)
============================  ==================================================================

Heavy backends load lazily: importing this package needs none of them. Imports run one way, without
cycles: ``syncnet`` ← ``lse`` ← ``evaluate`` ← ``validation`` ← ``sync_expert`` / ``emotion_judge_train``;
nothing here imports ``emodubber.reports`` (video files: :mod:`emodubber.media`).
"""
