"""The embedded synthetic corpus: flite speakers (:mod:`.voices`), acted emotions (:mod:`.emotions`),
a rendered talking face (:mod:`.face`) and the corpus builder (:mod:`.builder`).

Entry point: ``build_synthetic_corpus(cfg)`` from :mod:`emodubber.data.synth.builder`.
"""
