"""The field judges (Whisper WER, DNSMOS) in the tables: columns, units, summaries, paper block, the extra claim."""

import numpy as np
import pandas as pd
import pytest

from emodubber.reports.paper import DETAIL_METRICS, METRIC_LABELS, paper_table4_block
from emodubber.reports.stats import ablation_deltas, summarise_per_clip
from emodubber.reports.tables import field_judge_notes, format_mean_ci, from_evaluate, write_table


def evaluate_table(seed=0, n=6, wer_whisper=0.3, ovrl=3.0):
    """An ``evaluate`` table as the judges write it (fractions for WERs), with the field judges' columns."""
    rng = np.random.default_rng(seed)
    t = pd.DataFrame({"clip_id": [f"c{i}" for i in range(n)], "wer": rng.uniform(0, 0.2, n),
                      "per": rng.uniform(0.1, 0.3, n), "secs_vs_reference": rng.normal(80, 2, n),
                      "wer_whisper": wer_whisper + rng.normal(0, 0.02, n), "hyp_whisper": ["x"] * n,
                      "dnsmos_ovrl": ovrl + rng.normal(0, 0.05, n), "dnsmos_sig": 3.3 + rng.normal(0, 0.05, n),
                      "dnsmos_bak": 3.9 + rng.normal(0, 0.05, n), "dnsmos_p808": 3.1 + rng.normal(0, 0.05, n),
                      "error": ""})
    t.attrs["provenance"] = {"setting": 2, "secs_column": "secs_vs_reference"}
    return t


def test_from_evaluate_names_the_field_judges_and_gives_whisper_wer_in_percent():
    t = evaluate_table()
    df = from_evaluate(t, system="EmoDubber")
    assert {"WER_whisper", "DNSMOS", *DETAIL_METRICS} <= set(df.columns)
    np.testing.assert_allclose(df["WER_whisper"], 100 * t["wer_whisper"])
    np.testing.assert_allclose(df["DNSMOS"], t["dnsmos_ovrl"])  # OVRL is "DNSMOS", on its 1-5 scale
    np.testing.assert_allclose(df["DNSMOS_P808"], t["dnsmos_p808"])


def test_table_shows_whisper_wer_and_dnsmos_with_intervals_and_keeps_the_details_in_the_csv(tmp_path):
    per_clip = pd.concat([from_evaluate(evaluate_table(0, wer_whisper=0.3), system="EmoDubber"),
                          from_evaluate(evaluate_table(1, wer_whisper=0.4, ovrl=2.5), system="lip-blind TTS")])
    s = summarise_per_clip(per_clip)
    g = per_clip[per_clip.system == "EmoDubber"]["WER_whisper"]
    assert s.loc[("EmoDubber", 2), "WER_whisper"] == pytest.approx(g.mean())
    assert s.loc[("EmoDubber", 2), "WER_whisper_ci"] > 0 and s.loc[("EmoDubber", 2), "DNSMOS_n"] == 6
    assert s.attrs["detail_metrics"] == list(DETAIL_METRICS)
    shown = format_mean_ci(s)
    assert {METRIC_LABELS["WER_whisper"], METRIC_LABELS["DNSMOS"]} <= set(shown.columns)
    assert not {METRIC_LABELS[m] for m in DETAIL_METRICS} & set(shown.columns)  # SIG/BAK/P.808: CSV only
    assert " ± " in shown.loc[("EmoDubber", 2), "WER (Whisper) ↓"]
    assert "DNSMOS_SIG" not in ablation_deltas(s, "EmoDubber").attrs["metrics"]
    paths = write_table(shown, "t", tmp_path, None, "caption", csv_df=s, notes=field_judge_notes(["whisper", "dnsmos"]))
    csv = pd.read_csv(paths["csv"])
    assert {"WER_whisper", "DNSMOS", "DNSMOS_SIG_ci", "DNSMOS_P808"} <= set(csv.columns)
    md = paths["md"].read_text()
    assert "WER (Whisper) ↓" in md and "DNSMOS ↑" in md and "SIG, BAK and P.808 are in the CSV" in md


def test_field_judge_notes_follow_the_profile_switch():
    assert field_judge_notes([]) == []
    assert len(field_judge_notes(["dnsmos"])) == 1 and "DNSMOS" in field_judge_notes(["dnsmos"])[0]


def test_paper_table4_block_has_the_reprinted_whisper_wer_in_setting_1_and_unknown_dnsmos():
    b1 = paper_table4_block("1")
    col = METRIC_LABELS["WER_whisper"]
    known = {r: b1.values.loc[r, col] for r in b1.values.index if not np.isnan(b1.values.loc[r, col])}
    assert known == {"GT": 22.41, "EmoDubber": 18.53, "StyleDubber": 18.88}  # DiFlowDubber's reprint, as stored
    assert (b1.sources[col][list(known)] == "DIFLOW").all()
    assert b1.known() == 3  # nothing else of Setting 1 is known
    assert b1.values[METRIC_LABELS["DNSMOS"]].isna().all()
    assert b1.formatted().loc["lip-blind TTS", col] == "unknown"
    b2 = paper_table4_block("2")
    assert b2.values[col].isna().all() and b2.values[METRIC_LABELS["DNSMOS"]].isna().all()


def test_iron_triangle_adds_a_whisper_claim_and_leaves_the_others_unchanged():
    from emodubber.reports.claims import iron_triangle_claims

    rng = np.random.default_rng(0)
    rows = []
    for sys_, (c, d, w, p, m, ww) in {"EmoDubber": (7, 7, 10, 20, 5, 30), "lip-blind TTS": (4, 9, 9, 19, 6, 25)}.items():
        for i in range(6):
            rows.append({"system": sys_, "clip_id": i, "LSE-C": c + rng.normal(0, .1), "LSE-D": d + rng.normal(0, .1),
                         "WER": w + rng.normal(0, .1), "PER": p + rng.normal(0, .1), "MCD": m + rng.normal(0, .05),
                         "WER_whisper": ww + rng.normal(0, .1)})
    df = pd.DataFrame(rows)
    with_w = iron_triangle_claims(summarise_per_clip(df, group_cols=["system"]))
    without = iron_triangle_claims(summarise_per_clip(df.drop(columns="WER_whisper"), group_cols=["system"]))
    assert with_w.iloc[:len(without)].equals(without)  # the existing claims, their outcomes unchanged
    extra = with_w.iloc[len(without):]
    assert len(extra) == 1 and extra.iloc[0]["claim"].startswith("WER_whisper of EmoDubber within 2 points")
    assert extra.iloc[0]["holds"] == False  # noqa: E712 - 30 % vs 25 %: five points worse
    paired = iron_triangle_claims(summarise_per_clip(df, group_cols=["system"]), per_clip=df)
    assert paired.iloc[-1]["outcome"] == "fails"
    assert len(iron_triangle_claims(summarise_per_clip(df, group_cols=["system"]), whisper_tol=None)) == len(without)
