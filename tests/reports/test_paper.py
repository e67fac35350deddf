"""The paper's numbers: one place, every value tagged, unknown cells stay unknown."""

import math
import re
from pathlib import Path

import pytest

from emodubber.reports import paper as P

PKG = Path(P.__file__).resolve().parents[1]


def test_every_value_is_tagged_and_unverified():
    df = P.paper_values()
    assert len(df) > 0
    assert set(df["source"]) <= set(P.SOURCES)
    assert not df["verified"].any()  # nothing was checked against the PDF
    assert df["value"].notna().all()  # unknowns are absent rows, not stored NaNs
    assert set(df["metric"]) <= set(P.METRIC_LABELS)


def test_table4_block_shape_and_known_cells():
    b = P.paper_table4_block("2")
    assert list(b.values.index[: len(P.OUR_TABLE4_ROWS)]) == list(P.OUR_TABLE4_ROWS)
    assert set(P.PAPER_BASELINES) <= set(b.values.index)
    assert list(b.values.columns) == [P.METRIC_LABELS[m] for m in P.METRICS]
    known = {(r, c): b.values.loc[r, c] for r in b.values.index for c in b.values.columns
             if not math.isnan(b.values.loc[r, c])}
    # exactly the article's values (docs/paper.md §D.4), nothing else
    assert known == {("EmoDubber", "MCD ↓"): 3.92, ("StyleDubber", "MCD ↓"): 6.33,
                     ("EmoDubber", "WER ↓"): 19.75, ("V2C-Net", "WER ↓"): 49.09}
    assert all(b.sources.loc[r, c] == "ART" for r, c in known)
    # the ablation and baseline rows we reproduce are unknown in the paper block
    for row in ("GT", "lip-blind TTS", "EmoDubber w/o L_cl", "EmoDubber w/o PE"):
        assert b.values.loc[row].isna().all()


def test_unknown_renders_as_unknown_never_a_number():
    b1 = P.paper_table4_block("1")
    assert b1.known() == 3  # only the reprinted Whisper WER of GT, EmoDubber, StyleDubber (test_field_judges.py)
    f = b1.formatted().drop(columns=P.METRIC_LABELS["WER_whisper"])
    assert (f.to_numpy() == "unknown").all()
    f2 = P.paper_table4_block("2").formatted()
    assert f2.loc["EmoDubber", "MCD ↓"] == "3.92 [ART]"
    assert f2.loc["GT", "LSE-C ↑"] == "unknown"
    assert P.format_paper_cell(float("nan"), "ART") == "unknown"
    with pytest.raises(ValueError):
        P.paper_table4_block("3")


def test_chem_block_is_the_note_only():
    b = P.paper_chem_block()
    assert set(t for t in b.sources.to_numpy().ravel() if t) == {"NOTE3P"}
    assert b.values.loc["GT mel + vocoder"].isna().all()
    assert b.values["MCD ↓"].isna().all()
    assert "NOTE3P" in b.legend() and "unknown" in b.legend()


def test_intensity_readings_are_plausible_and_flagged():
    df = P.paper_intensity_readings()
    assert df["IS"].between(0, 1).all()
    assert set(df["curve"]) <= set(P.CURVES)
    assert set(df["emotion"]) <= set(P.FIG3_EMOTIONS)
    assert (df["source"] == "FIG").all() and df["approx"].all() and not df["verified"].any()
    assert set(df["relation"]) <= {"≈", "≤"}
    chem = P.paper_intensity_readings("Chem")
    assert set(chem["dataset"]) == {"Chem"}
    # at α = 0 every curve has β = 0 except β = 0.6, so the Chem baseline start is the only α = 0 curve there
    assert set(chem[chem["alpha"] == 0]["curve"]) == {"beta=0"}
    with pytest.raises(ValueError):
        P.paper_intensity_readings("LRS3")


def test_curve_beta():
    assert P.curve_beta("beta=alpha/4", 2.0) == 0.5
    assert P.curve_beta("beta=0.6", 4.0) == 0.6
    assert P.curve_beta("beta=0", 4.0) == 0.0
    with pytest.raises(ValueError):
        P.curve_beta("gamma=1", 1.0)


@pytest.mark.parametrize("number", ["3.92", "19.75", "49.09", "6.33", "90.62", "11.72"])
def test_paper_numbers_live_in_one_place(number):
    """The paper's values are written only in reports/paper.py (tests and notebooks import them)."""
    hits = [p for p in PKG.rglob("*.py") if p.name != "paper.py" and re.search(re.escape(number) + r"\b", p.read_text())]
    assert hits == [], f"{number} hard-coded outside paper.py: {hits}"
