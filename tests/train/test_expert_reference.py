"""The "mu_ref" emotion expert's training inputs: the speaker's neutral reference r̄ and the mel-axis warp."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emodubber.batch import DubBatch
from emodubber.train.expert import reference_fn, reference_pool_of, warp_mel_batch
from emodubber.train.validate import TrainInputError
from emodubber.utils import warp_axis

from .fakes import fake_items


def test_warp_mel_batch_is_warp_axis_per_item():
    x = torch.randn(3, 80, 7)
    f = torch.tensor([0.9, 1.0, 1.12])
    out = warp_mel_batch(x, f)
    for b in range(3):
        want = warp_axis(x[b].numpy(), float(f[b]), axis=0)
        np.testing.assert_allclose(out[b].numpy(), want, atol=1e-4)
    assert torch.allclose(warp_mel_batch(x[:, :, 0], f), out[:, :, 0], atol=1e-6)  # [B, 80] too (r̄)


def _batch(speakers):
    return type("B", (), {"speaker_ids": torch.tensor(speakers), "mel": torch.zeros(len(speakers), 80, 4)})()


def test_reference_pool_holds_neutral_clips_and_evaluation_takes_the_first_eight():
    items = fake_items(120, video=False, n_speakers=2)
    pool = reference_pool_of(items, per_speaker=10)
    for spk, bank in pool.items():
        neutral = [it for it in items if it["speaker_id"] == spk and it["emotion_id"] == 0][:10]
        assert bank.shape == (len(neutral), 80)
        assert torch.allclose(bank[0], torch.from_numpy(neutral[0]["mel"]).mean(-1))
    r = reference_fn(pool)(_batch([1, 0, 1]))
    assert torch.allclose(r[0], pool[1][:8].mean(0)) and torch.allclose(r[0], r[2])
    assert torch.allclose(r[1], pool[0][:8].mean(0))


def test_training_references_are_random_neutral_subsets_repeatable_by_seed():
    pool = {0: torch.randn(16, 80)}
    draw = lambda seed: reference_fn(pool, 4, torch.Generator().manual_seed(seed))(_batch([0] * 32))  # noqa: E731
    a, b, c = draw(1), draw(1), draw(2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len({tuple(r.round(decimals=4).tolist()) for r in a}) > 4  # not one fixed reference
    # each row is the mean of 1..4 rows of the bank: it lies inside the bank's range, bin by bin
    assert (a <= pool[0].max(0).values + 1e-6).all() and (a >= pool[0].min(0).values - 1e-6).all()
    with pytest.raises(TrainInputError, match="speaker id 5"):
        reference_fn(pool)(_batch([5]))


@pytest.mark.slow
def test_ref_expert_stage_trains_with_warp_and_saves_what_it_reads(tmp_path):
    from emodubber.train import stages
    from .test_stages import _cfg

    cfg = _cfg(tmp_path, **{"model.expert_condition": "mu_ref", "model.expert_pooling": "stats",
                            "model.expert_warp": 0.1, "train.emotion_expert.steps": 30,
                            "train.emotion_expert.batch_size": 16, "train.emotion_expert.lr": 3e-3,
                            "train.emotion_expert.val_every": 15, "train.emotion_expert.warmup_steps": 5})
    stages.train_tts(cfg, datasets=(fake_items(8), fake_items(3, seed=1, prefix="v")))
    out = stages.train_emotion_expert(cfg, datasets=(fake_items(64, video=False), fake_items(14, video=False, seed=1)),
                                      test_set=fake_items(28, video=False, seed=2))
    assert sum(map(sum, out.metrics["test_t1"]["confusion"])) == 28
    expert = stages.load_emotion_expert(out.model_path)
    assert expert.needs_ref and expert.pooling == "stats"
    assert expert(torch.zeros(2, 80, 40), torch.ones(2), mu=torch.zeros(2, 80, 40), ref=torch.zeros(2, 80)).shape == (2, 7)


def test_prior_cache_gives_the_batched_prior_per_clip_and_falls_back_for_unknown_clips():
    from emodubber.models.dubber import EmoDubber
    from emodubber.train.common import speech_collate
    from emodubber.train.expert import PriorCache, tts_prior_fn

    from tests.models.conftest import tiny_model_cfg

    torch.manual_seed(0)
    prior = tts_prior_fn(EmoDubber(tiny_model_cfg(lip_blind=True)))
    items = fake_items(12, video=False)
    calls = []

    def counted(batch):
        calls.append(len(batch.clip_ids))
        return prior(batch)

    cache = PriorCache(counted, [items[:8], items[6:10]], show_progress=False)
    assert sorted(cache.mu) == sorted(it["clip_id"] for it in items[:10]) and calls == [1] * 10  # once, alone
    batch = speech_collate([items[i] for i in (3, 0, 9)])
    want, got = prior(batch), cache(batch)
    assert got.shape == want.shape == batch.mel.shape
    assert torch.allclose(got, want, atol=1e-4)  # alone or in a padded batch: the same μ
    for i, n in enumerate(batch.mel_lengths.tolist()):
        assert (got[i, :, n:] == 0).all()
    calls.clear()
    cache(speech_collate([items[0], items[11]]))  # clip 11 is not cached: the batch is computed
    assert calls == [2]
    assert PriorCache(counted, [items], max_bytes=1e3, show_progress=False).mu == {}
