"""Summaries, side-by-side blocks, deltas and claims on tiny synthetic per-clip frames."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emodubber.reports.paper import METRIC_LABELS, paper_table4_block
from emodubber.reports.provenance import RunRecord
from emodubber.reports.claims import (claim_better, claim_change_within, claim_close, claim_curve_above,
                                      claim_increasing, claims_check, write_claims)
from emodubber.reports.stats import ablation_deltas, delta_is_better, summarise_per_clip, summary_means
from emodubber.reports.tables import SYNTHETIC_LABEL, format_mean_ci, side_by_side, to_markdown, write_table


def per_clip(n=8, seed=0):
    rng = np.random.default_rng(seed)
    shift = {"GT": 0.0, "lip-blind TTS": -2.0, "EmoDubber": 1.0}
    rows = []
    for s, d in shift.items():
        for setting in ("1", "2"):
            for i in range(n):
                rows.append({"system": s, "setting": setting, "clip": i, "LSE-C": 6 + d + rng.normal(0, 0.3),
                             "LSE-D": 8 - d + rng.normal(0, 0.3), "av_offset": int(rng.integers(-2, 3)),
                             "WER": 10 + rng.normal(0, 0.3), "MCD": 5 - 0.5 * d + rng.normal(0, 0.1)})
    return pd.DataFrame(rows)


def test_summary_mean_ci_and_count_match_scipy():
    df = per_clip()
    df.loc[0, "WER"] = np.nan
    s = summarise_per_clip(df)
    assert list(s.index.names) == ["system", "setting"]
    assert list(s.index.get_level_values(0).unique()) == ["GT", "lip-blind TTS", "EmoDubber"]  # first appearance
    g = df[(df.system == "GT") & (df.setting == "1")]["WER"].dropna()
    row = s.loc[("GT", "1")]
    assert row["WER"] == pytest.approx(g.mean())
    assert row["WER_n"] == len(g) == 7
    lo, hi = stats.t.interval(0.95, len(g) - 1, loc=g.mean(), scale=stats.sem(g))
    assert row["WER_ci"] == pytest.approx((hi - lo) / 2)
    # |AV offset| is derived from the signed offset
    assert row["abs_av_offset"] == pytest.approx(df[(df.system == "GT") & (df.setting == "1")]["av_offset"].abs().mean())
    with pytest.raises(KeyError):
        summarise_per_clip(df, metrics=["SECS"])


def test_confidence_interval_covers_the_true_mean_about_95_percent():
    rng = np.random.default_rng(1)
    frames = [pd.DataFrame({"system": f"s{k}", "setting": "1", "WER": rng.normal(3.0, 2.0, 10)}) for k in range(400)]
    s = summarise_per_clip(pd.concat(frames), metrics=["WER"])
    cover = ((s["WER"] - s["WER_ci"] <= 3.0) & (3.0 <= s["WER"] + s["WER_ci"])).mean()
    assert 0.91 <= cover <= 0.985


def test_single_clip_has_no_interval_and_order_is_respected():
    df = pd.DataFrame({"system": ["b", "a"], "WER": [1.0, 2.0]})
    s = summarise_per_clip(df, group_cols=["system"], order={"system": ["a", "b"]})
    assert list(s.index) == ["a", "b"]
    assert s["WER_ci"].isna().all()
    f = format_mean_ci(s)
    assert f.loc["a", METRIC_LABELS["WER"]] == "2.00"
    f2 = format_mean_ci(summarise_per_clip(per_clip()), scale={"WER": 100})
    assert f2.iloc[0, 0].count("±") == 1
    assert float(f2.loc[("GT", "1"), "WER ↓"].split(" ± ")[0]) > 500  # scaled for display


def test_side_by_side_keeps_the_blocks_apart():
    s = summarise_per_clip(per_clip())
    md = side_by_side(format_mean_ci(s), paper_table4_block("2"))
    ours, theirs = md.split("### Paper")
    assert "### Ours" in ours and "unknown" not in ours and "[ART]" not in ours
    assert "3.92 [ART]" in theirs and "unknown" in theirs
    # no table row carries both a measured number and a paper cell
    for line in md.splitlines():
        if line.startswith("|") and "±" in line:
            assert "[ART]" not in line and "unknown" not in line
    # pipes in headers are escaped so the |AV offset| column does not split the table
    header = [l for l in ours.splitlines() if l.startswith("| system")][0]
    assert header.count(" | ") == len(s.attrs["metrics"])


def test_write_table_files_provenance_and_label(tmp_path):
    rec = RunRecord(profile="smoke", seed=7)
    s = summarise_per_clip(per_clip())
    paths = write_table(format_mean_ci(s), "table4", tmp_path, rec, "Table 4 (test)", paper=paper_table4_block("2"),
                        judges={"syncnet": "sha256:abc"}, csv_df=s, notes=["a note"])
    md = paths["md"].read_text()
    assert SYNTHETIC_LABEL in md
    for needle in ("profile: `smoke`", "seed: `7`", rec.commit, "sha256:abc", "wall time", "a note", "3.92 [ART]"):
        assert needle in md
    back = pd.read_csv(paths["csv"], index_col=[0, 1])
    assert back["LSE-C"].to_numpy() == pytest.approx(s["LSE-C"].to_numpy())
    pap = pd.read_csv(paths["paper_csv"])
    assert {"system", "metric", "value", "source", "verified"} <= set(pap.columns)
    assert pap["value"].notna().sum() == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table4.csv", "table4.md", "table4.paper.csv"]  # no temp files
    md2 = write_table(pd.DataFrame({"x": [1.0]}), "plain", tmp_path, rec.finish(), "plain", synthetic=False)["md"].read_text()
    assert SYNTHETIC_LABEL not in md2 and "ended" in md2


def test_ablation_deltas_and_direction():
    s = summarise_per_clip(per_clip())
    d = ablation_deltas(s, "EmoDubber", metrics=["LSE-C", "LSE-D", "WER"])
    assert "EmoDubber" not in d.index.get_level_values("system")
    assert len(d) == 4  # 2 other systems x 2 settings
    exp = s.loc[("lip-blind TTS", "2"), "LSE-C"] - s.loc[("EmoDubber", "2"), "LSE-C"]
    assert d.loc[("lip-blind TTS", "2"), "Δ LSE-C ↑"] == pytest.approx(exp)
    better = delta_is_better(d)
    # lip-blind is worse than EmoDubber on sync: lower LSE-C and higher LSE-D are both "not better"
    assert not better.loc[("lip-blind TTS", "1"), "Δ LSE-C ↑"]
    assert not better.loc[("lip-blind TTS", "1"), "Δ LSE-D ↓"]
    flat = summary_means(s).xs("1", level="setting")
    d2 = ablation_deltas(flat, "GT", metrics=["LSE-D"])
    assert delta_is_better(d2).loc["EmoDubber", "Δ LSE-D ↓"]  # lower LSE-D than GT -> better
    with pytest.raises(KeyError):
        ablation_deltas(flat, "nope")


def test_claims_hold_and_fail_as_measured(tmp_path):
    s = summarise_per_clip(per_clip())
    c = claim_better(s, "EmoDubber", "lip-blind TTS", ["LSE-C", "LSE-D", "MCD"], setting="2")
    assert [x["holds"] for x in c] == [True, True, True]
    assert all(x["ci_separated"] for x in c)
    rev = claim_better(s, "lip-blind TTS", "EmoDubber", ["LSE-C"], setting="2")
    assert rev[0]["holds"] is False
    with pytest.raises(ValueError):
        claim_better(s, "EmoDubber", "GT", ["LSE-C"])  # two settings: must choose
    flat = pd.DataFrame({"WER": [10.0, 11.9, 12.1], "SECS": [90.0, 88.5, 87.0]}, index=["neutral", "sad", "angry"])
    assert claim_close(flat, "sad", "neutral", "WER", 2.0)["holds"] is True
    assert claim_close(flat, "angry", "neutral", "WER", 2.0)["holds"] is False
    ch = claim_change_within(flat, "neutral", "SECS", 2.0)
    assert [x["holds"] for x in ch] == [True, False]
    assert "falls" in ch[0]["claim"]
    flat.loc["sad", "WER"] = np.nan
    assert claim_close(flat, "sad", "neutral", "WER", 2.0)["holds"] is None
    table = claims_check(c, claim_close(flat, "angry", "neutral", "WER", 2.0), ch)
    assert list(table.columns[:3]) == ["claim", "measured", "holds"]
    assert len(table) == 6
    p = write_claims(table, "t", tmp_path, RunRecord(profile="smoke", seed=1), title="test claims")
    data = json.loads(p.read_text())
    assert (data["n_hold"], data["n_fail"], data["n_unknown"]) == (4, 2, 0)
    assert data["record"]["profile"] == "smoke" and data["title"] == "test claims"


def test_intensity_claims():
    alphas = np.linspace(0, 5, 13)
    rows = []
    for e in ("sad", "happy"):
        for c, off in (("beta=alpha/4", 0.2), ("beta=0", 0.0)):
            for a in alphas:
                val = a / 10 + off if e == "sad" else 0.5 - a / 20 + off * (e == "sad")
                rows.append({"emotion": e, "curve": c, "alpha": a, "IS": val})
    df = pd.DataFrame(rows)
    from emodubber.reports.stats import spearman_table

    inc = {x["claim"]: x["holds"] for x in claim_increasing(spearman_table(df))}
    assert inc["IS rises with α: sad, beta=alpha/4"] is True
    assert inc["IS rises with α: happy, beta=0"] is False
    above = {x["claim"]: x["holds"] for x in claim_curve_above(df)}
    assert above["beta=alpha/4 above beta=0: sad"] is True
    assert above["beta=alpha/4 above beta=0: happy"] is False  # equal curves are not "above"
    # a positive mean difference that chance gives as easily (one clip far above, two below) is not "above",
    # nor is a positive ρ with a large p (a zigzag with a faint upward trend)
    offsets = [0.3, -0.1, -0.1]
    zigzag = {a: 0.5 + 0.002 * i + 0.1 * (-1) ** i for i, a in enumerate(alphas)}
    noisy = pd.DataFrame([{"emotion": "angry", "curve": c, "alpha": a, "clip_id": k,
                           "IS": zigzag[a] + (offsets[k] if c == "beta=alpha/4" else 0.0)}
                          for c in ("beta=alpha/4", "beta=0") for a in alphas for k in range(3)])
    verdict = claim_curve_above(noisy)[0]
    assert "Δ +0.033" in verdict["measured"] and "over 3 clips" in verdict["measured"]
    assert verdict["holds"] is False
    shifted = noisy.assign(IS=noisy.IS + 0.3 * (noisy.curve == "beta=alpha/4"))
    assert claim_curve_above(shifted)[0]["holds"] is False  # 3 clips cannot reach p <= 0.05 (smallest p: 1/8)
    six = pd.concat([shifted, shifted.assign(clip_id=shifted.clip_id + 3)])
    assert claim_curve_above(six)[0]["holds"] is True  # 6 clips all above: p = 1/64
    assert claim_curve_above(six.assign(IS=six.IS.where(six.alpha != 0)))[0]["holds"] is True  # NaN dropped
    rises = {x["claim"]: x for x in claim_increasing(spearman_table(noisy))}["IS rises with α: angry, beta=0"]
    rho, p = (float(rises["measured"].split(k)[1].split(" ")[0].rstrip(",")) for k in ("ρ = ", "p = "))
    assert rho > 0 and p > 0.05 and rises["holds"] is False  # refused for its p-value, not its sign


def test_to_markdown_renders_na_and_bools():
    md = to_markdown(pd.DataFrame({"a": [1.234, np.nan], "b": [True, False]}, index=["x", "y"]), digits=1)
    assert "| x | 1.2 | yes |" in md and "| y | n/a | no |" in md


def test_from_evaluate_maps_the_judges_columns():
    from emodubber.reports.tables import from_evaluate, judge_hashes, provenance_markdown

    t = pd.DataFrame({"clip": ["a", "b"], "lse_c": [7.0, 6.0], "lse_d": [7.5, 8.0], "av_offset": [-2, 1],
                      "wer": [0.1, 0.0], "per": [0.2, 0.3], "secs_vs_reference": [80.0, 82.0], "mcd": [9.0, 9.5],
                      "mcd_dtw": [5.0, 6.0], "mcd_dtw_sl": [6.0, 7.0], "is_posterior": [0.4, 0.6]})
    prov = {"setting": 2, "secs_column": "secs_vs_reference", "setting_description": "Setting 2: another clip",
            "judges": {"sync": {"weights_sha256": "s" * 64}, "speaker": {"weights_sha256": "r" * 64}, "asr": {}}}
    t.attrs["provenance"] = prov
    df = from_evaluate(t, system="EmoDubber")
    assert {"LSE-C", "LSE-D", "abs_av_offset", "WER", "PER", "SECS", "MCD", "MCD-SL", "IS"} <= set(df.columns)
    assert df["WER"].tolist() == pytest.approx([10.0, 0.0])  # % like the paper
    assert df["MCD"].tolist() == [5.0, 6.0] and df["MCD_plain"].tolist() == [9.0, 9.5]  # MCD = the DTW variant
    assert df["abs_av_offset"].tolist() == [2, 1]
    assert (df["setting"] == 2).all() and (df["system"] == "EmoDubber").all()
    s = summarise_per_clip(df)
    assert s.loc[("EmoDubber", 2), "SECS"] == pytest.approx(81.0)
    assert judge_hashes(prov) == {"sync": "s" * 64, "speaker": "r" * 64}
    md = provenance_markdown({"profile": "x"}, prov)
    assert "s" * 64 in md and "Setting 2: another clip; SECS column: `secs_vs_reference`" in md
    both = t.assign(secs_vs_target=[1.0, 2.0])
    both.attrs = {}
    with pytest.raises(ValueError):
        from_evaluate(both)


def test_bundled_claims():
    from emodubber.reports.claims import ablation_claims, emotion_quality_claims, intensity_claims, iron_triangle_claims

    rng = np.random.default_rng(0)
    rows = []
    quality = {"EmoDubber": (7, 7, 10, 20, 5), "lip-blind TTS": (4, 9, 9, 19, 6),
               "EmoDubber w/o L_cl": (5, 8.5, 10, 20, 5.2), "EmoDubber w/o PE": (6.5, 7.2, 14, 26, 5.1)}
    for sys_, (c, d, w, p, m) in quality.items():
        for i in range(6):
            rows.append({"system": sys_, "LSE-C": c + rng.normal(0, .1), "LSE-D": d + rng.normal(0, .1),
                         "WER": w + rng.normal(0, .1), "PER": p + rng.normal(0, .1), "MCD": m + rng.normal(0, .05)})
    s = summarise_per_clip(pd.DataFrame(rows), group_cols=["system"])
    it = iron_triangle_claims(s)
    assert len(it) == 5 and it["holds"].tolist() == [True, True, True, True, True]
    strict = iron_triangle_claims(s, wer_tol=0.5)
    assert strict["holds"].tolist()[3] is False  # WER 10 vs 9: more than 0.5 points worse
    ab = ablation_claims(s)
    assert len(ab) == 4 and ab["holds"].all()
    assert ablation_claims(s.drop(index="EmoDubber w/o PE")).shape[0] == 2

    emo = pd.DataFrame({"emotion": ["neutral", "sad", "angry"] * 4,
                        "WER": [10, 11, 13] * 4, "SECS": [90, 89, 89.5] * 4, "PER": [20, 20, 20] * 4})
    q = emotion_quality_claims(summarise_per_clip(emo, group_cols=["emotion"]))
    assert dict(zip(q["claim"], q["holds"])) == {
        "sad: WER rises ≤ 2 points against neutral": True, "angry: WER rises ≤ 2 points against neutral": False,
        "sad: SECS falls ≤ 2 points against neutral": True, "angry: SECS falls ≤ 2 points against neutral": True}

    curves = pd.DataFrame([{"emotion": "sad", "curve": c, "alpha": a, "IS": a / 5 * (1 if c == "beta=0" else 1.2)}
                           for c in ("beta=alpha/4", "beta=0") for a in np.linspace(0, 5, 13)])
    ic = intensity_claims(curves)
    assert len(ic) == 3 and ic["holds"].all()


def test_ablation_reading_names_losses_gains_and_unequal_training():
    from emodubber.reports.claims import ablation_reading
    from emodubber.reports.stats import ablation_deltas

    summary = pd.DataFrame({"system": ["EmoDubber", "w/o PE", "EmoDubber", "w/o PE"], "setting": [1, 1, 2, 2],
                            "WER": [20.0, 80.0, 21.0, 70.0], "LSE-C": [3.0, 3.5, 3.1, 3.0]}).set_index(["system", "setting"])
    text = ablation_reading(ablation_deltas(summary, "EmoDubber"))
    assert "Setting 1: **w/o PE** is worse on WER ↓ +60.00; better on LSE-C ↑ +0.50." in text, text
    assert "Setting 2: **w/o PE** is worse on WER ↓ +49.00, LSE-C ↑ -0.10; better on none." in text, text
    budgets = pd.DataFrame({"model": ["w/o PE", "EmoDubber"], "steps": [160, 680], "status": ["time_budget", "done"]})
    assert "not a clean ablation" in ablation_reading(ablation_deltas(summary, "EmoDubber"), budgets)
    assert "comparable" in ablation_reading(ablation_deltas(summary, "EmoDubber"), budgets.assign(steps=[650, 680]))


def test_paired_limit_claim_has_three_outcomes():
    """Holds when the whole interval of the paired difference is inside the limit, fails when it is beyond,
    undecided when it straddles; pairing removes the clip-to-clip spread that unpaired means keep."""
    from emodubber.reports.claims import claim_paired_within, emotion_quality_claims

    rng = np.random.default_rng(0)
    base = rng.uniform(0, 40, 60)  # large spread between clips

    def frame(shift, noise):
        d = shift + rng.normal(0, noise, 60)
        return pd.concat([pd.DataFrame({"system": "A", "clip_id": range(60), "WER": base + d}),
                          pd.DataFrame({"system": "B", "clip_id": range(60), "WER": base})])

    assert claim_paired_within(frame(0.5, 1.0), "A", "B", "WER", 2.0)["outcome"] == "holds"
    assert claim_paired_within(frame(5.0, 1.0), "A", "B", "WER", 2.0)["outcome"] == "fails"
    c = claim_paired_within(frame(2.0, 8.0), "A", "B", "WER", 2.0)
    assert c["outcome"] == "undecided" and c["holds"] is None
    # SECS: higher is better, so a drop counts as "worse"
    secs = pd.concat([pd.DataFrame({"emotion": "neutral", "clip_id": range(60), "SECS": base + 50}),
                      pd.DataFrame({"emotion": "sad", "clip_id": range(60), "SECS": base + 45})])
    assert claim_paired_within(secs, "sad", "neutral", "SECS", 2.0, by="emotion")["outcome"] == "fails"
    summary = summarise_per_clip(secs, group_cols=("emotion",), metrics=["SECS"])
    claims = emotion_quality_claims(summary, per_clip=secs)
    assert list(claims["outcome"]) == ["fails"] and "paired" in claims["claim"][0]
