import math

import numpy as np
import pytest

from emodubber.metrics.secs import roc_auc, secs_column
from tests.conftest import needs_tools


def test_column_names_say_what_is_compared():
    assert secs_column(1) == "secs_vs_target"
    assert secs_column(2) == "secs_vs_reference"
    with pytest.raises(ValueError):
        secs_column(7)


def test_roc_auc():
    assert roc_auc([3, 4], [1, 2]) == 1.0
    assert roc_auc([1, 2], [3, 4]) == 0.0
    assert roc_auc([1], [1]) == 0.5


@needs_tools
def test_same_voice_scores_higher_than_other_voice(flite_clips):
    from emodubber.metrics.secs import SpeakerJudge

    sj = SpeakerJudge()
    same = [sj.similarity(flite_clips[(v, 0)], flite_clips[(v, k)])[0] for v in ("slt", "rms") for k in (1, 2)]
    diff = [sj.similarity(flite_clips[("slt", k)], flite_clips[("rms", k)])[0] for k in range(3)]
    assert min(same) > max(diff)
    assert all(0 < s <= 100 for s in same)
    v, why = sj.similarity(np.zeros(16000, np.float32), flite_clips[("slt", 0)])
    assert math.isnan(v) and "silent" in why


@needs_tools
def test_a_file_rewritten_under_the_same_name_is_embedded_again(flite_clips, tmp_path):
    """A system's output directory is cleared and regenerated under the same file names when its settings
    change: the judge must hear the new file, not serve the old embedding from its cache."""
    import os
    import shutil

    from emodubber.metrics.secs import SpeakerJudge

    sj = SpeakerJudge()
    out = tmp_path / "clip.wav"
    shutil.copy(flite_clips[("slt", 0)], out)
    first, _ = sj.embed(out)
    shutil.copy(flite_clips[("rms", 0)], out)
    st = os.stat(out)
    os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a later write, even on a coarse clock
    second, _ = sj.embed(out)
    rms, _ = sj.embed(flite_clips[("rms", 0)])
    assert sj.cosine(second, rms) > 99.9
    assert sj.cosine(first, second) < 99.0
