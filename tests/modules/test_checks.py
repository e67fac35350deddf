import pytest

from emodubber.modules.checks import MEL_PER_FRAME, ShapeError, expect_t_equals_4f


def test_t_equals_4f_is_one_check_with_one_error():
    expect_t_equals_4f(4 * 7, 7)
    expect_t_equals_4f(3 * 7, 7, mel_per_frame=3)
    with pytest.raises(ShapeError, match=r"clip c1.*T = 4F = 28"):
        expect_t_equals_4f(27, 7, clip="c1")
    assert MEL_PER_FRAME == 4
