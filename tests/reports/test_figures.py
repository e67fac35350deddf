"""Figures on tiny synthetic inputs: the regions, the statistics, and what each figure shows."""

import numpy as np
import pandas as pd
import pytest

from emodubber.config import EMOTIONS
from emodubber.reports import figures as F
from emodubber.reports import spectral as SP
from emodubber.reports import stats as ST
from emodubber.reports import training as TR
from emodubber.reports.paper import CURVES, FIG3_EMOTIONS, curve_beta, paper_intensity_readings

PNG = b"\x89PNG\r\n\x1a\n"


def intensity_frame(n_clips=2, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for k, e in enumerate(FIG3_EMOTIONS):
        for c in CURVES:
            for a in np.linspace(0, 5, 13):
                p = 1 / (1 + np.exp(-(a + 2 * curve_beta(c, a) - 3 + 0.2 * k)))
                for clip in range(n_clips):
                    rows.append({"emotion": e, "curve": c, "alpha": a, "IS": float(np.clip(p + rng.normal(0, 0.03), 0, 1)),
                                 "clip": clip})
    return pd.DataFrame(rows)


# ---- Figure 4 regions ---------------------------------------------------------------------


def planted(T=200, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(-5, 1, (80, T))
    b = a.copy()
    b[10:22, 30:60] += 3.0   # strong change, low band, early
    b[50:66, 120:170] -= 1.5  # weaker change, high band, late
    return a, b


def test_regions_find_planted_changes_strongest_first():
    a, b = planted()
    r = SP.top_difference_regions(b, a, k=2)
    assert len(r) == 2
    strong = SP.Region(30, 60, 10, 22, 0, 0)
    weak = SP.Region(120, 170, 50, 66, 0, 0)
    assert r[0].iou(strong) > 0.6 and r[1].iou(weak) > 0.6
    assert r[0].peak > r[1].peak and r[0].score == pytest.approx(3.0, rel=0.2)
    assert r[0].iou(r[1]) == 0.0


def test_regions_stop_when_nothing_else_differs():
    a, b = planted()
    assert SP.top_difference_regions(a, a.copy(), k=3) == []
    r = SP.top_difference_regions(b, a, k=5)
    assert len(r) == 2  # only two changes were planted
    c = a.copy()
    c[40:50, 80:100] += 2.0
    assert len(SP.top_difference_regions(c, a, k=3)) == 1


def test_regions_resample_time_and_check_shapes():
    a, b = planted(T=200)
    b_long = np.repeat(b, 2, axis=1)  # same content at twice the frame count
    r = SP.top_difference_regions(a, b_long, k=1)
    assert r[0].iou(SP.Region(30, 60, 10, 22, 0, 0)) > 0.5
    with pytest.raises(ValueError):
        SP.top_difference_regions(a, a[:40], k=1)


# ---- Figure 3 -----------------------------------------------------------------------------


def test_intensity_figure_layout(tmp_path):
    df = intensity_frame()
    fig = F.plot_intensity_curves(df, reference=paper_intensity_readings("Chem"), path=tmp_path / "fig3.png")
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == [e.capitalize() for e in FIG3_EMOTIONS]
    for ax in axes:
        assert ax.get_ylim() == pytest.approx((-0.02, 1.02))
        assert "α" in ax.get_xlabel()
        labels = [l.get_label() for l in ax.get_lines()]
        assert labels == [CURVES[c][0] for c in CURVES]  # the paper's three curves, its labels
        assert all(len(l.get_xdata()) == 13 for l in ax.get_lines())
    assert "Intensity Score" in axes[0].get_ylabel()
    assert fig.legends and "β = α/4" in [t.get_text() for t in fig.legends[0].get_texts()]
    assert (tmp_path / "fig3.png").read_bytes()[:8] == PNG


def test_intensity_figure_marks_missing_emotions():
    df = intensity_frame()
    fig = F.plot_intensity_curves(df[df.emotion != "sad"])
    sad = [ax for ax in fig.axes if ax.get_title() == "Sad"][0]
    assert not sad.get_lines() and any(t.get_text() == "no data" for t in sad.texts)
    with pytest.raises(KeyError):
        F.plot_intensity_curves(df.drop(columns="curve"))


def test_spearman_table():
    df = intensity_frame(n_clips=1)
    flat = df[(df.emotion == "happy") & (df.curve == "beta=0")].assign(emotion="neutral", IS=0.5)
    down = df[(df.emotion == "happy") & (df.curve == "beta=0")].assign(emotion="sad", IS=lambda d: 1 - d.alpha / 5)
    df = pd.concat([df[df.emotion.isin(["happy"])], flat, down])
    t = ST.spearman_table(df)
    assert list(t["emotion"].unique()) == ["neutral", "happy", "sad"]  # EMOTIONS order
    row = lambda e, c: t[(t.emotion == e) & (t.curve == c)].iloc[0]  # noqa: E731
    assert row("sad", "beta=0")["rho"] == pytest.approx(-1.0)
    assert np.isnan(row("neutral", "beta=0")["rho"])  # constant curve
    assert row("happy", "beta=alpha/4")["rho"] > 0.9
    assert (t["n"] == 13).all()
    assert row("sad", "beta=0")["IS_at_max_alpha"] == pytest.approx(0.0)


# ---- Figure 5 -----------------------------------------------------------------------------


def clusters(sep, n=10, d=16, seed=0):
    rng = np.random.default_rng(seed)
    labs = np.repeat(EMOTIONS[:4], n)
    x = rng.normal(0, 1, (len(labs), d))
    for i, e in enumerate(EMOTIONS[:4]):
        x[labs == e, i] += sep
    return x, labs


def test_silhouette_orders_separation():
    x_far, lab = clusters(10.0)
    x_none, _ = clusters(0.0)
    assert ST.silhouette(x_far, lab) > 0.5
    assert abs(ST.silhouette(x_none, lab)) < 0.1
    assert np.isnan(ST.silhouette(x_far, ["neutral"] * len(lab)))


def test_tsne_is_seeded_and_figure_reports_silhouettes(tmp_path):
    xa, la = clusters(0.0)
    xb, lb = clusters(8.0)
    e1, e2 = F.tsne_embed(xb, seed=3), F.tsne_embed(xb, seed=3)
    assert e1.shape == (len(xb), 2) and np.allclose(e1, e2)
    fig = F.plot_tsne(xa, la, xb, lb, titles=("TTS", "EmoDubber"), path=tmp_path / "fig5.png")
    sa, sb = fig.silhouettes
    assert sb > sa
    titles = [ax.get_title() for ax in fig.axes[:2]]
    assert titles[0].startswith("TTS") and f"{sb:.2f}" in titles[1] and "silhouette" in titles[1]
    legend = fig.axes[1].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == list(EMOTIONS[:4])
    assert (tmp_path / "fig5.png").read_bytes()[:8] == PNG
    xb[0] = np.nan  # an unscorable clip is dropped and counted, not a crash
    fig = F.plot_tsne(xa, la, xb, lb)
    assert "1 unscorable dropped" in fig.axes[1].get_title() and f"n = {len(lb) - 1}" in fig.axes[1].get_title()
    with pytest.raises(ValueError):
        F.plot_tsne(xa, la[:-1], xb, lb)


def test_emotion_mels_figure(tmp_path):
    a, _ = planted()
    emo = {}
    for name, (f0, t0) in {"surprised": (10, 20), "angry": (40, 90), "sad": (60, 150)}.items():
        m = a.copy()
        m[f0:f0 + 10, t0:t0 + 30] += 3
        emo[name] = m
    f0 = {k: np.full(a.shape[1], 150.0) for k in ["neutral", *emo]}
    fig = F.plot_emotion_mels(a, emo, f0=f0, k=1, path=tmp_path / "fig4.png")
    assert set(fig.regions) == set(emo)
    assert fig.regions["angry"][0].iou(SP.Region(90, 120, 40, 50, 0, 0)) > 0.5
    main = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in main][:3] == ["surprised (guided)", "angry (guided)", "sad (guided)"]
    assert sum(ax.get_ylabel() == "F0 (Hz)" for ax in fig.axes) == 6
    assert all(len(ax.patches) == 1 for ax in main)  # one box per panel, on guided and neutral rows
    assert (tmp_path / "fig4.png").read_bytes()[:8] == PNG


# ---- training plots -----------------------------------------------------------------------


def test_attention_plot_checks_durations():
    P_, F_ = 6, 30
    attn = np.full((F_, P_), 1 / P_)
    fig = TR.plot_attention(attn, durations=[5] * 6, phones=list("abcdef"))
    assert len(fig.axes[0].patches) == 6
    assert fig.axes[0].get_ylabel() == "phoneme" and "frame" in fig.axes[0].get_xlabel()
    TR.plot_attention(attn.T, layout="PF")
    fig = TR.plot_attention(attn[None], durations=[20] * 6, mel_per_frame=4)  # mel-frame durations, batch axis
    assert len(fig.axes[0].patches) == 6
    with pytest.raises(ValueError):
        TR.plot_attention(attn, durations=[5] * 5)
    with pytest.raises(ValueError):
        TR.plot_attention(attn, durations=[6] * 6)


def test_loss_curves_wide_and_long(tmp_path):
    steps = np.arange(0, 100, 10)
    wide = pd.concat([pd.DataFrame({"step": steps, "split": sp, "cfm": 1 / (1 + steps), "ctc": 100.0 / (1 + steps)})
                      for sp in ("train", "val")])
    wide.to_csv(tmp_path / "log.csv", index=False)
    fig = TR.plot_loss_curves(tmp_path / "log.csv", path=tmp_path / "loss.png")
    vis = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in vis] == ["cfm", "ctc"]
    assert all(len(ax.get_lines()) == 2 for ax in vis)
    assert vis[1].get_yscale() == "log"
    long = wide.melt(id_vars=["step", "split"], var_name="name", value_name="value")
    fig2 = TR.plot_loss_curves(long)
    assert sorted(ax.get_title() for ax in fig2.axes if ax.get_visible()) == ["cfm", "ctc"]
    with pytest.raises(KeyError):
        TR.plot_loss_curves(wide.drop(columns="step"))


def test_mel_pair_shares_colour_scale():
    a, b = planted()
    fig = TR.plot_mel_pair(a, b, titles=("GT", "ours"))
    ims = [ax.images[0] for ax in fig.axes[:2]]
    assert ims[0].get_clim() == ims[1].get_clim()
    assert [ax.get_title() for ax in fig.axes[:2]] == ["GT", "ours"]


def test_save_figure_embeds_provenance(tmp_path):
    import json

    from PIL import Image

    fig = TR.plot_mel_pair(*planted())
    p = F.save_figure(fig, tmp_path / "sub" / "m.png", dpi=40, record={"profile": "cpu", "seed": 3, "commit": "c0ffee"})
    src = json.loads(Image.open(p).text["Source"])
    assert src == {"profile": "cpu", "seed": 3, "commit": "c0ffee", "started": None, "corpus": "synthetic"}
    assert [q.name for q in p.parent.iterdir()] == ["m.png"]  # no temporary file left


def test_f0_track_recovers_tones_and_marks_silence_unvoiced():
    sr = 16000
    t = np.arange(int(0.6 * sr)) / sr
    for f in (70, 150, 450):  # with strong harmonics: the period, not a multiple of it
        tone = 0.5 * np.sin(2 * np.pi * f * t) + 0.3 * np.sin(2 * np.pi * 2 * f * t) + 0.15 * np.sin(6 * np.pi * f * t)
        f0 = SP.f0_track(np.concatenate([tone, np.zeros(int(0.4 * sr))]), sr=sr, hop=160)
        assert len(f0) == 100  # one value per mel frame (10 ms)
        assert np.nanmedian(f0[10:50]) == pytest.approx(f, rel=0.01)
        assert np.isnan(f0[10:50]).mean() < 0.05 and np.isnan(f0[75:]).all()
    noise = np.random.default_rng(0).normal(size=sr)
    assert np.isnan(SP.f0_track(noise)).mean() > 0.95
    glide = np.sin(2 * np.pi * np.cumsum(100 + 100 * np.arange(sr) / sr) / sr)  # 100 -> 200 Hz over 1 s
    assert np.nanmax(np.abs(SP.f0_track(glide)[5:95] - (100 + 100 * np.arange(5, 95) / 100))) < 3
    with pytest.raises(ValueError):
        SP.f0_track(noise, method="crepe")


def test_describe_emotion_mel_measures_the_band_above_4_khz_and_the_f0_end_rise():
    from emodubber.config import AudioConfig
    from emodubber.viz import mel_hz

    a = AudioConfig()
    hz = mel_hz(a.n_mels, a.f_min, a.f_max)
    quiet = (np.log(1e-5) - a.mel_mean) / a.mel_std
    mel = np.full((a.n_mels, 30), quiet, np.float32)
    mel[int(np.argmax(hz >= 2000))] = 0.0  # energy at ~2 kHz only: bin 40's side of the old 'bins 40-79' cut
    f0 = np.r_[np.full(20, 100.0), np.zeros(2), np.full(8, 160.0)]
    d = SP.describe_emotion_mel(mel, f0, a)
    assert d["energy > 4 kHz (%)"] < 1.0
    assert d["mean F0 (Hz)"] == pytest.approx((20 * 100 + 8 * 160) / 28)
    assert d["F0 end rise (Hz)"] == pytest.approx(60.0)
    mel[int(np.argmax(hz >= 5000))] = 0.0  # as much energy again at 5 kHz
    assert SP.describe_emotion_mel(mel, f0, a)["energy > 4 kHz (%)"] == pytest.approx(50.0, abs=1.0)


def test_table_figures_on_tiny_inputs(tmp_path):
    from emodubber.reports.stats import ablation_deltas, delta_is_better, summarise_per_clip

    rng = np.random.default_rng(0)
    per_clip = pd.DataFrame([{"system": s, "setting": k, "clip": c, "LSE-D": rng.normal(8), "WER": rng.uniform(0, 30),
                              "MCD": rng.normal(5)} for s in ("EmoDubber", "EmoDubber w/o PE", "GT")
                             for k in (1, 2) for c in range(4)])
    fig = F.plot_per_clip_boxes(per_clip, ["GT", "EmoDubber w/o PE", "EmoDubber", "absent"], path=tmp_path / "b.png")
    assert (tmp_path / "b.png").stat().st_size > 0 and len(fig.axes) == 3
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["GT", "ED w/o PE", "EmoDubber"]
    assert "Setting 2" in fig.axes[1].get_title()

    summary = summarise_per_clip(per_clip.rename(columns={"system": "emotion"}).assign(
        emotion=lambda d: d.emotion.map({"EmoDubber": "neutral", "EmoDubber w/o PE": "sad", "GT": "angry"})),
        group_cols=("emotion",), metrics=["WER", "MCD"])
    fig = F.plot_metric_bars(summary, ["WER", "MCD"])
    assert len(fig.axes) == 2 and len(fig.axes[0].patches) == 3
    assert fig.axes[0].lines and fig.axes[0].lines[-1].get_ydata()[0] == pytest.approx(summary.loc["neutral", "WER"])

    s = summarise_per_clip(per_clip, metrics=["LSE-D", "WER", "MCD"])
    deltas = ablation_deltas(s, "EmoDubber")
    fig = F.plot_delta_heatmap(deltas, delta_is_better(deltas))
    texts = [t.get_text() for t in fig.axes[0].texts]
    want = deltas.xs(1, level="setting").iloc[0]
    assert len(fig.axes) == 2 and f"{want.iloc[1]:+.2f}" in texts
    empty = F.plot_delta_heatmap(deltas.iloc[:0], delta_is_better(deltas).iloc[:0])
    assert "no ablation" in empty.axes[0].texts[0].get_text()


def test_field_validation_figure_plots_what_was_validated_and_says_what_was_not(tmp_path):
    whisper = pd.DataFrame({"clip_id": ["a", "a", "b", "b"], "kind": ["original", "blurred"] * 2,
                            "word_errors": [0, 3, 1, 4], "ref_words": [6, 6, 6, 6], "wer": [0, .5, 1 / 6, 4 / 6]})
    fig = F.plot_field_validation(whisper, None, path=tmp_path / "f.png")
    assert (tmp_path / "f.png").exists()
    bars = [p.get_height() for p in fig.axes[0].patches]
    assert bars == pytest.approx([100 * 1 / 12, 100 * 7 / 12])  # corpus WER per kind, in %
    assert "not validated" in fig.axes[1].texts[0].get_text()
    dnsmos = pd.DataFrame({"clip_id": ["a", "a", "b", "b"], "kind": ["original", "noisy"] * 2,
                           "dnsmos_ovrl": [3.2, 1.2, 3.0, 1.4]})
    fig = F.plot_field_validation(None, dnsmos)
    assert [p.get_height() for p in fig.axes[1].patches] == pytest.approx([3.1, 1.3])
