import math
import shutil

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import needs_tools


@pytest.fixture(scope="module")
def judges(random_syncnet, tmp_path_factory):
    from emodubber.metrics.evaluate import Judges
    from emodubber.metrics.lse import SyncJudge
    from emodubber.metrics.per import PhoneRecognizer
    from emodubber.metrics.secs import SpeakerJudge
    from emodubber.metrics.wer import PocketsphinxASR

    return Judges(asr=PocketsphinxASR("grammar"), phones=PhoneRecognizer(), speaker=SpeakerJudge(),
                  sync=SyncJudge(random_syncnet, label="random", vshift=3,
                                 cache_dir=tmp_path_factory.mktemp("lsecache")), mcd=True,
                  missing={"emotion": "not trained in this test"})


@needs_tools
@pytest.mark.slow
def test_evaluate_gives_one_named_row_per_clip_and_never_crashes(tiny_corpus, judges, tmp_path):
    from emodubber.metrics.evaluate import evaluate, summarise

    gen = tmp_path / "gen"
    gen.mkdir()
    shutil.copy(tiny_corpus / "wav" / "slt_2.wav", gen / "slt_2.wav")  # the ground truth itself
    x, _ = sf.read(tiny_corpus / "wav" / "rms_2.wav", dtype="float32")
    import librosa

    sf.write(gen / "rms_2.wav", librosa.resample(x, orig_sr=16000, target_sr=22050), 22050)  # wrong rate
    sf.write(gen / "slt_1.wav", np.zeros(16000, np.float32), 16000)  # silent
    generated = {"slt_2": gen / "slt_2.wav", "rms_2": gen / "rms_2.wav", "slt_1": gen / "slt_1.wav",
                 "nope": gen / "nope.wav"}
    df, prov = evaluate(generated, tiny_corpus / "dubbing.jsonl", setting=1, judges=judges, show_progress=False)
    assert list(df.clip_id) == list(generated)
    for col in ("wer", "wer_swapped", "per", "secs_vs_target", "lse_c", "lse_d", "av_offset", "sync_conf_at0",
                "mcd", "mcd_dtw", "mcd_dtw_sl", "is_posterior", "error"):
        assert col in df, col
    gt = df.set_index("clip_id").loc["slt_2"]
    assert gt.wer == 0 and gt.mcd == 0 and gt.secs_vs_target == pytest.approx(100, abs=0.01)
    assert "emotion: judge not available" in gt.error
    wrong = df.set_index("clip_id").loc["rms_2"]
    assert "resampled 22050->16000" in wrong.warnings and math.isfinite(wrong.lse_c) and wrong.wer <= 1 / 6
    silent = df.set_index("clip_id").loc["slt_1"]
    assert math.isnan(silent.wer) and math.isnan(silent.lse_c) and "silent" in silent.error
    assert "not in the reference corpus" in df.set_index("clip_id").loc["nope"].error
    assert prov["judges"]["sync"]["weights_sha256"] == judges.sync.weights_sha256
    assert prov["secs_column"] == "secs_vs_target" and "Setting 1" in prov["setting_description"]
    s = summarise(df)
    assert s["n_clips"] == 4 and 0 <= s["WER"] <= 1 and "LSE-C" in s and "MCD-DTW-SL" in s

    df2, prov2 = evaluate({"slt_2": gen / "slt_2.wav"}, tiny_corpus / "dubbing.jsonl", setting=2,
                          judges=judges, show_progress=False)
    row = df2.iloc[0]
    assert "secs_vs_reference" in df2 and "secs_vs_target" not in df2
    assert row.reference_clip == "slt_0" and 0 < row.secs_vs_reference < 100  # references.tsv: slt_2 -> slt_0
