"""Bad training inputs are refused before the first step, naming the problem."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from emodubber.batch import DubBatch
from emodubber.config import StageConfig
from emodubber.train.loop import Trainer
from emodubber.train.validate import TrainInputError, check_batch, validate_dataset

from .toy import Toy, toy_loss


def _batch(B=2, F=5, speaker=(0, 1), mel_T=None, n_ph=4):
    T = 4 * F
    mel_T = mel_T or T
    dur = torch.zeros(B, n_ph, dtype=torch.long)
    dur[:, :] = mel_T // n_ph
    dur[:, -1] += mel_T - dur[0].sum()
    return DubBatch(clip_ids=[f"c{i}" for i in range(B)], phonemes=torch.randint(1, 10, (B, n_ph)),
                    phoneme_lengths=torch.full((B,), n_ph), mel=torch.zeros(B, 80, mel_T),
                    mel_lengths=torch.full((B,), mel_T), spk_emb=torch.zeros(B, 256),
                    speaker_ids=torch.tensor(speaker), emotion_ids=torch.zeros(B, dtype=torch.long),
                    intensity=torch.zeros(B), durations=dur, pitch=torch.zeros(B, n_ph), energy=torch.zeros(B, n_ph),
                    lip=torch.zeros(B, F, 1, 8, 8), lip_lengths=torch.full((B,), F))


def test_good_batch_passes():
    check_batch(_batch(), n_speakers=2, n_vocab=10)


def test_speaker_out_of_range():
    with pytest.raises(TrainInputError, match=r"clip c1: speaker id 5 is out of range \[0, 2\)"):
        check_batch(_batch(speaker=(0, 5)), n_speakers=2)


def test_mel_video_length_mismatch():
    with pytest.raises(TrainInputError, match=r"T = 21 mel frames for F = 5 video frames \(clip c0\); the contract is T = 4F"):
        check_batch(_batch(mel_T=21))


def test_phoneme_id_out_of_range():
    with pytest.raises(TrainInputError, match="phoneme id .* out of range"):
        check_batch(_batch(), n_vocab=3)


def test_empty_dataset_refused_before_training(tmp_path):
    empty = TensorDataset(torch.zeros(0, 6), torch.zeros(0, 2))
    with pytest.raises(TrainInputError, match="training set is empty"):
        Trainer(Toy(), toy_loss, empty, StageConfig(steps=3), tmp_path, name="tts")
    assert not list(tmp_path.iterdir())  # nothing written
    with pytest.raises(TrainInputError, match="dataset is empty"):
        validate_dataset([], None)


def test_validate_dataset_scans_through_collate():
    items = [0, 1, 2, 3]

    def collate(xs):
        return _batch(B=len(xs), speaker=tuple(3 if x == 3 else 0 for x in xs))
    with pytest.raises(TrainInputError, match="speaker id 3"):
        validate_dataset(items, collate, n_speakers=2, batch_size=2)
    assert validate_dataset(items[:3], collate, n_speakers=2, batch_size=2) == 3
