import pytest

from emodubber.data.manifest import (ClipRecord, ManifestError, assign_splits, read_manifest, read_references,
                                     setting2_references, write_manifest, write_references)


def _rec(i, spk, **kw):
    return ClipRecord(f"{spk}_{i:03d}", "synthetic-dubbing", spk, "bin blue", ["sil", "B", "sil"],
                      [[0, 0.1], [0.1, 0.2], [0.2, 0.4]], f"wav/{spk}_{i}.wav", **kw)


def test_roundtrip_and_validation(tmp_path):
    recs = [_rec(i, s) for s in ("a", "b") for i in range(5)]
    p = write_manifest(tmp_path / "m.jsonl", recs)
    assert [r.clip_id for r in read_manifest(p)] == [r.clip_id for r in recs]
    p.write_text(p.read_text() + '{"clip_id": "x"}\n')
    with pytest.raises(ManifestError, match="m.jsonl:11"):
        read_manifest(p)
    with pytest.raises(ManifestError, match="unknown emotion"):
        _rec(0, "a", emotion="bored").validate()
    with pytest.raises(FileNotFoundError, match="01_data_prep"):
        read_manifest(tmp_path / "none.jsonl")


def test_splits_per_speaker_and_heldout():
    recs = [_rec(i, s) for s in ("a", "b", "c") for i in range(20)]
    assign_splits(recs, 0.1, 0.2, seed=1, heldout_speakers=["c"])
    for s in ("a", "b"):
        splits = [r.split for r in recs if r.speaker == s]
        assert splits.count("test") == 4 and splits.count("val") == 2
    assert {r.split for r in recs if r.speaker == "c"} == {"test"}
    again = [_rec(i, s) for s in ("a", "b", "c") for i in range(20)]
    assign_splits(again, 0.1, 0.2, seed=1, heldout_speakers=["c"])
    assert [r.split for r in again] == [r.split for r in recs]  # seeded


def test_setting2_references(tmp_path):
    recs = assign_splits([_rec(i, s) for s in ("a", "b") for i in range(6)], 0.0, 0.5, seed=0)
    refs = setting2_references(recs, seed=0)
    by = {r.clip_id: r for r in recs}
    assert set(refs) == set(by)
    for c, ref in refs.items():
        assert ref != c and by[ref].speaker == by[c].speaker and by[ref].split == by[c].split
    assert read_references(write_references(tmp_path / "r.tsv", refs)) == refs
