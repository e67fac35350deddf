import numpy as np
import pytest

from emodubber.config import load_profile
from emodubber.data import chem
from emodubber.data.grid import CorpusLayoutError
from emodubber.data.manifest import read_manifest
from emodubber.text.symbols import SymbolError
from tests.conftest import needs_tools


def test_parse_phonemes():
    assert chem.parse_phonemes("{HH AH0 L OW1 sp W ER1 L D spn}") == ["HH", "AH", "L", "OW", "sp", "W", "ER", "L",
                                                                       "D", "sp"]
    assert chem.parse_phonemes("@sil @AA1 @B") == ["sil", "AA", "B"]
    with pytest.raises(SymbolError, match="QQ"):
        chem.parse_phonemes("{AA QQ}")


def test_spans_from_gt_sim_reproduce_the_matrix():
    from emodubber.data.features import gt_sim_matrix, spans_to_durations

    rng = np.random.default_rng(1)
    for _ in range(5):
        P = int(rng.integers(4, 20))
        d = rng.integers(1, 12, P)
        F = int(np.ceil(d.sum() / 4))
        d[-1] += 4 * F - d.sum()
        M = gt_sim_matrix(d, F)
        spans = chem.spans_from_gt_sim(M)
        assert spans[0][0] == 0 and spans[-1][1] == pytest.approx(F / 25)
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
        M2 = gt_sim_matrix(spans_to_durations(spans, 4 * F, 100.0), F)
        # re-derived M agrees with the released one on (almost) every cell
        assert (M2 == M).mean() > 0.95 and M2.sum(0).min() >= 1


def test_missing_root_and_filelists(tmp_path):
    with pytest.raises(CorpusLayoutError, match="does not exist"):
        chem.scan_chem(tmp_path / "nope")
    with pytest.raises(CorpusLayoutError, match=r"Train\*\.txt"):
        chem.scan_chem(tmp_path)


@pytest.mark.slow
@needs_tools
def test_tiny_chem_to_manifest_and_features(tmp_path):
    from emodubber.data.dataset import DubbingDataset, collate
    from emodubber.data.features import extract_features
    from tests.fixtures.tiny_corpus import build_tiny_chem

    root = build_tiny_chem(tmp_path / "Chem")
    cfg = load_profile("smoke", overrides={"paths.work_dir": str(tmp_path / "work"), "corpus.kind": "chem",
                                           "corpus.root": str(root), "model.lip_input": "features"}, local=None)
    rep = chem.build_chem_manifest(cfg)
    assert rep.n_clips == 3 and list(rep.skipped) == ["VzvinAckmQU-003"] and "lipmotion" in rep.skipped["VzvinAckmQU-003"]
    recs = read_manifest(cfg.corpus_dir / "dubbing.jsonl")
    assert {r.split for r in recs} <= {"train", "val", "test"} and recs[0].speaker == "chem"
    (frep,) = extract_features(cfg, show_progress=False)
    assert frep.n_extracted == 3
    b = collate(list(DubbingDataset(cfg, "all", "dubbing"))).check()
    assert b.lip.shape[-1] == 512 and b.lip.dim() == 3
    # the released speaker embedding is used as is
    spk = np.load(root / "Chem_16K_SPK" / f"SPK-{b.clip_ids[0]}.npy")
    assert np.allclose(b.spk_emb[0].numpy(), spk)
