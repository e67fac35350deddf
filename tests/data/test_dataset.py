import math

import numpy as np
import pytest

from emodubber.config import EMOTIONS
from emodubber.data import features as ft
from emodubber.data.dataset import DatasetError, DubbingDataset, collate, make_loader, speaker_list
from tests.conftest import needs_tools

pytestmark = [needs_tools, pytest.mark.slow]


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    from tests.fixtures.tiny_corpus import tiny_cfg

    return tiny_cfg(tmp_path_factory)


def test_collate_builds_a_valid_dub_batch(cfg):
    ds = DubbingDataset(cfg, "all", "dubbing")
    assert ds.speakers == speaker_list(cfg) == ["awb", "slt"]
    b = collate([ds[i] for i in range(len(ds))]).check(cfg.mel_per_frame)
    B, P = b.phonemes.shape
    assert B == len(ds) and b.mel.shape[:2] == (B, 80) and b.mel.shape[2] == int(b.mel_lengths.max())
    assert b.lip.shape == (B, int(b.lip_lengths.max()), 1, cfg.video.roi_size, cfg.video.roi_size)
    assert 0 <= float(b.lip.min()) and float(b.lip.max()) <= 1
    assert (b.mel_lengths == 4 * b.lip_lengths).all()
    assert b.gt_sim.shape == (B, P, int(b.lip_lengths.max()))
    for i in range(B):
        p, f = int(b.phoneme_lengths[i]), int(b.lip_lengths[i])
        assert (b.phonemes[i, :p] > 0).all() and (b.phonemes[i, p:] == 0).all()
        assert (b.gt_sim[i, :p, :f].sum(0) >= 1).all() and b.gt_sim[i, p:].sum() == 0 and b.gt_sim[i, :, f:].sum() == 0
        assert (b.durations[i, p:] == 0).all()
    assert b.spk_emb.shape == (B, 256)
    assert b.speaker_ids.tolist() == [ds.speakers.index(r.speaker) for r in ds.records]


def test_speech_only_clips(cfg):
    ds = DubbingDataset(cfg, "all", "emotion")
    b = collate(list(ds)).check()
    assert b.lip is None
    assert b.lip_lengths.tolist() == [math.ceil(int(t) / 4) for t in b.mel_lengths]
    assert b.emotion_ids.tolist() == [EMOTIONS.index("happy")] * len(ds)
    with pytest.raises(DatasetError, match="mixes"):
        collate([ds[0], DubbingDataset(cfg, "all", "dubbing")[0]])


def test_pitch_energy_are_z_normalised_with_train_stats(cfg):
    # the statistics are those of the train split of both manifests together
    items = list(DubbingDataset(cfg, "train", "dubbing")) + list(DubbingDataset(cfg, "train", "emotion"))
    for k in ("pitch", "energy"):
        v = np.concatenate([it[k] for it in items])
        assert abs(v.mean()) < 1e-3 and v.std() == pytest.approx(1, abs=1e-3)
    test = DubbingDataset(cfg, "test", "dubbing")
    assert {r.split for r in test.records} == {"test"}


def test_loader_is_seeded(cfg):
    a = [b.clip_ids for b in make_loader(cfg, "all", "dubbing", batch_size=2, shuffle=True, seed=3)]
    b = [b.clip_ids for b in make_loader(cfg, "all", "dubbing", batch_size=2, shuffle=True, seed=3)]
    c = [b.clip_ids for b in make_loader(cfg, "all", "dubbing", batch_size=2, shuffle=True, seed=4)]
    assert a == b and sorted(sum(a, [])) == sorted(sum(c, []))


def test_broken_features_name_the_clip(cfg, tmp_path):
    index = ft.load_index(cfg, "dubbing")
    cid, key = next(iter(index["clips"].items()))
    path = ft.feature_path(cfg, key)
    keep = path.read_bytes()
    try:
        with np.load(path) as z:
            d = {k: z[k] for k in z.files}
        d["mel"] = d["mel"][:, :-3]  # T no longer 4F
        with open(path, "wb") as f:
            np.savez(f, **d)
        with pytest.raises(DatasetError, match=cid):
            DubbingDataset(cfg, "all", "dubbing")
    finally:
        path.write_bytes(keep)
    with pytest.raises(DatasetError, match="split"):
        DubbingDataset(cfg, "tran", "dubbing")


def test_both_corpora_speech_only(cfg):
    batches = list(make_loader(cfg, "all", "both", batch_size=3, shuffle=True, seed=0))
    assert sum(len(b) for b in batches) == len(DubbingDataset(cfg, "all", "dubbing")) + len(
        DubbingDataset(cfg, "all", "emotion"))
    for b in batches:
        assert b.lip is None
        b.check()
        assert (b.lip_lengths == (b.mel_lengths + 3) // 4).all()
