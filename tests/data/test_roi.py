import numpy as np
import pytest

from emodubber import media
from emodubber.data import roi
from tests.conftest import needs_tools

cv2 = pytest.importorskip("cv2")
skdata = pytest.importorskip("skimage.data")


def _astronaut(n=16, step=(2, 1)):
    g = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2GRAY)
    g = cv2.resize(g, (256, 256), interpolation=cv2.INTER_AREA)
    return np.stack([g[10 + step[1] * k:10 + step[1] * k + 128, 40 + step[0] * k:40 + step[0] * k + 128]
                     for k in range(n)])


def test_detector_follows_a_moving_real_face():
    frames = _astronaut()  # the window moves right/down, so the face moves left/up in the frame
    boxes = roi.detect_faces(frames, detect_every=1)
    assert (~np.isnan(boxes[:, 0])).mean() > 0.9
    t = np.arange(len(frames))
    ok = ~np.isnan(boxes[:, 0])
    slope_x = np.polyfit(t[ok], boxes[ok, 0], 1)[0]
    slope_y = np.polyfit(t[ok], boxes[ok, 1], 1)[0]
    assert slope_x == pytest.approx(-2, abs=0.5) and slope_y == pytest.approx(-1, abs=0.5)
    mb = roi.mouth_boxes(roi.fill_boxes(boxes), smooth=5)
    # mouth box inside the face box's lower half, and it moves with the face
    fb = roi.fill_boxes(boxes)
    assert np.all(mb[:, 1] > fb[:, 1] + 0.4 * fb[:, 3])
    assert np.polyfit(t, mb[:, 0], 1)[0] == pytest.approx(-2, abs=0.5)


def test_rois_show_the_mouth_shape_dtype():
    frames = _astronaut(8, (0, 0))
    boxes = roi.mouth_boxes(roi.fill_boxes(roi.detect_faces(frames)))
    rois = roi.crop_rois(frames, boxes, 32)
    assert rois.shape == (8, 32, 32) and rois.dtype == np.uint8
    # the astronaut smiles: teeth (bright) and lips/shadow (dark) make the mouth ROI high-contrast
    assert rois[0].std() > 20


def test_fill_boxes_interpolates_and_refuses_empty():
    b = np.full((5, 4), np.nan)
    b[0] = [0, 0, 10, 10]
    b[4] = [4, 8, 10, 10]
    f = roi.fill_boxes(b)
    assert f[2, 0] == pytest.approx(2) and f[2, 1] == pytest.approx(4)
    with pytest.raises(roi.FaceNotFoundError, match="clip.mp4"):
        roi.fill_boxes(np.full((3, 4), np.nan), where=" of clip.mp4")


def test_crop_off_frame_is_padded():
    frames = np.full((2, 20, 20), 100, np.uint8)
    out = roi.crop_rois(frames, np.array([[-10, -10, 15, 15]] * 2, float), 8)
    assert out.shape == (2, 8, 8) and (out == 100).all()


def test_bad_video_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        media.read_video(tmp_path / "nope.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(roi.VideoReadError, match="bad.mp4"):  # roi re-exports media's error
        media.read_video(bad)


@needs_tools
def test_no_face_is_a_named_error(tmp_path):
    from tests.fixtures.tiny_corpus import write_mp4

    write_mp4(np.random.default_rng(0).integers(0, 255, (10, 64, 64), dtype=np.uint8), tmp_path / "noise.mp4")
    with pytest.raises(roi.FaceNotFoundError, match="noise.mp4"):
        roi.extract_mouth_rois(tmp_path / "noise.mp4", 32)
