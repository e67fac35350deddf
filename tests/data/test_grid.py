import numpy as np
import pytest

from emodubber.config import load_profile
from emodubber.data import grid
from emodubber.data.manifest import read_manifest, read_references
from tests.conftest import needs_tools

TEXTGRID = '''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 1.2
tiers? <exists>
size = 2
item []:
    item [1]:
        class = "IntervalTier"
        name = "words"
        xmin = 0
        xmax = 1.2
        intervals: size = 3
        intervals [1]:
            xmin = 0
            xmax = 0.2
            text = ""
        intervals [2]:
            xmin = 0.2
            xmax = 0.6
            text = "bin"
        intervals [3]:
            xmin = 0.6
            xmax = 1.2
            text = "blue"
    item [2]:
        class = "IntervalTier"
        name = "phones"
        xmin = 0
        xmax = 1.2
        intervals: size = 8
        intervals [1]:
            xmin = 0
            xmax = 0.2
            text = ""
        intervals [2]:
            xmin = 0.2
            xmax = 0.3
            text = "B"
        intervals [3]:
            xmin = 0.3
            xmax = 0.45
            text = "IH1"
        intervals [4]:
            xmin = 0.45
            xmax = 0.6
            text = "N"
        intervals [5]:
            xmin = 0.6
            xmax = 0.65
            text = "spn"
        intervals [6]:
            xmin = 0.65
            xmax = 0.8
            text = "L"
        intervals [7]:
            xmin = 0.8
            xmax = 1.0
            text = "UW1"
        intervals [8]:
            xmin = 1.0
            xmax = 1.2
            text = ""
'''


def test_align_units_and_even_split(tmp_path):
    p = tmp_path / "x.align"
    p.write_text("0 12500 sil\n12500 20000 bin\n20000 21000 sp\n21000 30000 blue\n30000 37500 sil\n")
    words = grid.read_align(p)
    assert words[1] == (0.5, 0.8, "bin") and words[-1][1] == 1.5  # 1/25000 s units
    phones, spans, text = grid.words_to_spans(words)
    assert text == "bin blue"
    assert phones == ["sil", "B", "IH", "N", "sp", "B", "L", "UW", "sil"]
    assert spans[1] == [0.5, 0.6] and spans[3] == [0.7, 0.8]  # "bin" split evenly in three
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))


def test_oov_and_bad_lines(tmp_path):
    with pytest.raises(Exception, match="qwzx"):
        grid.words_to_spans([(0, 1, "qwzx")])
    p = tmp_path / "bad.align"
    p.write_text("0 100\n")
    with pytest.raises(ValueError, match="bad.align:1"):
        grid.read_align(p)


def test_textgrid_phones(tmp_path):
    p = tmp_path / "u.TextGrid"
    p.write_text(TEXTGRID)
    phones, spans = grid._textgrid_to_spans(p)
    assert phones == ["sil", "B", "IH", "N", "sp", "L", "UW", "sil"]
    assert spans[2] == [0.3, 0.45]
    assert [w for _, _, w in grid.read_textgrid_phones(p, "words") if w] == ["bin", "blue"]


def test_missing_or_mislaid_root(tmp_path):
    with pytest.raises(grid.CorpusLayoutError, match="does not exist"):
        grid.scan_grid(tmp_path / "nowhere")
    (tmp_path / "stuff").mkdir()
    with pytest.raises(grid.CorpusLayoutError, match=r"audio_25k/sN/\*\.wav"):
        grid.scan_grid(tmp_path)
    (tmp_path / "s3").mkdir()
    (tmp_path / "s3" / "a.mpg").write_bytes(b"")
    recs, rep = grid.scan_grid(tmp_path)
    assert not recs and "s3" in rep.skipped and "align" in rep.skipped["s3"]


@pytest.mark.slow
@needs_tools
def test_tiny_grid_to_manifest_and_features(tmp_path):
    from emodubber.data.dataset import DubbingDataset, collate
    from emodubber.data.features import extract_features
    from tests.fixtures.tiny_corpus import build_tiny_grid

    root = build_tiny_grid(tmp_path / "GRID")
    cfg = load_profile("smoke", overrides={"paths.work_dir": str(tmp_path / "work"), "corpus.kind": "grid",
                                           "corpus.root": str(root), "corpus.test_fraction": 0.0,
                                           "corpus.val_fraction": 0.0}, local=None)
    rep = grid.build_grid_manifest(cfg)
    assert rep.n_clips == 5 and rep.speakers == ["s1", "s2"]
    assert set(rep.skipped) == {"s1-lgaz9a", "s2-lgaz9a"} and "unreadable" in rep.skipped["s1-lgaz9a"]
    recs = read_manifest(cfg.corpus_dir / "dubbing.jsonl")
    assert {r.clip_id for r in recs} >= {"s1-bbaf2n", "s2-srba1s"}
    assert set(read_references(cfg.corpus_dir / "references.tsv")) == {r.clip_id for r in recs}
    (frep,) = extract_features(cfg, show_progress=False)
    assert frep.n_extracted == 5 and not frep.skipped
    b = collate(list(DubbingDataset(cfg, "train", "dubbing"))).check()
    # 25 kHz audio resampled to 16 kHz: T = 4F and the clip keeps (almost) all its frames
    dur = {r.clip_id: r.duration_s for r in recs}
    for cid, F in zip(b.clip_ids, b.lip_lengths.tolist()):
        assert abs(F - dur[cid] * 25) <= 2
    assert np.isfinite(b.pitch.numpy()).all()


def test_mfa_textgrids_are_preferred(tmp_path):
    import soundfile as sf

    for d in ("s1", "audio_25k/s1", "alignments/s1", "textgrids/s1"):
        (tmp_path / d).mkdir(parents=True)
    for utt in ("bbaf2n", "lgaz9a"):
        (tmp_path / "s1" / f"{utt}.mpg").write_bytes(b"")  # scanning does not decode video
        sf.write(tmp_path / "audio_25k" / "s1" / f"{utt}.wav", np.zeros(30000, np.float32), 25000)
        (tmp_path / "alignments" / "s1" / f"{utt}.align").write_text("0 5000 sil\n5000 20000 bin\n20000 30000 sil\n")
    (tmp_path / "textgrids" / "s1" / "bbaf2n.TextGrid").write_text(TEXTGRID)
    recs, rep = grid.scan_grid(tmp_path)
    by = {r.clip_id: r for r in recs}
    assert by["s1-bbaf2n"].extra["alignment"] == "mfa" and by["s1-bbaf2n"].phonemes[4] == "sp"
    assert by["s1-bbaf2n"].text == "bin"  # the .align words name the text
    assert by["s1-lgaz9a"].extra["alignment"] == "align+cmudict" and by["s1-lgaz9a"].phonemes == ["sil", "B", "IH", "N",
                                                                                                    "sil"]
    assert by["s1-lgaz9a"].phone_spans[-1][1] == pytest.approx(1.2)  # the last span reaches the end of the wav
