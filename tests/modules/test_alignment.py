import numpy as np
import pytest
import torch

from emodubber.modules.alignment import (
    durations_from_path,
    length_regulate,
    maximum_path,
    maximum_path_brute_force,
    path_from_durations,
)
from emodubber.modules.checks import ShapeError


@pytest.mark.parametrize("P,F", [(1, 1), (1, 4), (2, 2), (3, 5), (4, 8), (5, 9), (6, 10)])
def test_mas_equals_brute_force(P, F):
    g = torch.Generator().manual_seed(P * 100 + F)
    value = torch.rand(3, P, F, generator=g)
    path = maximum_path(value, torch.full((3,), P), torch.full((3,), F))
    for b in range(3):
        ref_path, ref_score = maximum_path_brute_force(value[b].double().numpy())
        assert np.array_equal(path[b].numpy(), ref_path)
        assert float((path[b].double() * value[b].double()).sum()) == pytest.approx(ref_score)


def test_mas_on_log_probabilities_and_padding():
    g = torch.Generator().manual_seed(0)
    value = torch.log(torch.rand(2, 5, 9, generator=g))
    lengths_p, lengths_f = torch.tensor([5, 3]), torch.tensor([9, 6])
    path = maximum_path(value, lengths_p, lengths_f)
    ref, _ = maximum_path_brute_force(value[1, :3, :6].double().numpy())
    assert np.array_equal(path[1, :3, :6].numpy(), ref)
    assert path[1, 3:].sum() == 0 and path[1, :, 6:].sum() == 0  # padding untouched
    d = durations_from_path(path)
    assert d.sum(-1).tolist() == [9, 6]
    assert (d[0] >= 1).all() and (d[1, :3] >= 1).all()


def test_mas_refuses_more_phonemes_than_frames():
    with pytest.raises(ShapeError, match="phonemes"):
        maximum_path(torch.rand(1, 5, 3), torch.tensor([5]), torch.tensor([3]))


def test_length_regulator_repeats_each_phoneme_by_its_duration():
    x = torch.arange(3.0).view(1, 3, 1)
    path = path_from_durations(torch.tensor([[2, 1, 3]]))
    assert path.shape == (1, 3, 6)
    assert length_regulate(x, path).flatten().tolist() == [0, 0, 1, 2, 2, 2]
    assert durations_from_path(path).tolist() == [[2, 1, 3]]
