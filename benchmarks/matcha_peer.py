"""The peer: Matcha-TTS ``synthesise`` timed at a given mel length and number of Euler steps.

Runs in Matcha-TTS's own environment (not emodubber's: matcha-tts pins numpy 1.26 and pulls lightning,
gradio, diffusers …), so it imports nothing from emodubber. ``make bench`` makes that environment once
(``scripts/install_matcha_peer.sh``, git-ignored ``.venv-matcha``)::

    python3 -m venv .venv-matcha
    .venv-matcha/bin/pip install torch==2.14.1 torchaudio==2.11.0 matcha-tts

``python -m benchmarks`` calls ``<venv>/bin/python benchmarks/matcha_peer.py --frames 300 --steps 10`` and
reads the JSON line it prints. The model is Matcha-TTS's default architecture (configs/model: RoPE text
encoder 6 × 192, decoder channels [256, 256], 2 mid blocks, 2 heads of 64, snakebeta) with random
weights: nothing is downloaded. Its ``length_scale`` is set so that the mel has ``--frames`` frames.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from types import SimpleNamespace as NS

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def build(n_vocab: int = 178):
    from matcha.models.matcha_tts import MatchaTTS

    enc = NS(encoder_type="RoPE Encoder",
             encoder_params=NS(n_feats=80, n_channels=192, filter_channels=768, filter_channels_dp=256, n_heads=2,
                               n_layers=6, kernel_size=3, p_dropout=0.1, spk_emb_dim=64, n_spks=1, prenet=True),
             duration_predictor_params=NS(filter_channels_dp=256, kernel_size=3, p_dropout=0.1))
    dec = dict(channels=[256, 256], dropout=0.05, attention_head_dim=64, n_blocks=1, num_mid_blocks=2,
               num_heads=2, act_fn="snakebeta")
    cfm = NS(name="CFM", solver="euler", sigma_min=1e-4)
    return MatchaTTS(n_vocab=n_vocab, n_spks=1, spk_emb_dim=64, n_feats=80, encoder=enc, decoder=dec, cfm=cfm,
                     data_statistics={"mel_mean": 0.0, "mel_std": 1.0}, out_size=None).eval()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("matcha-tts")
    except Exception:  # noqa: BLE001
        return "?"


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--phones-per-s", type=float, default=11.0)
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = build()
    P = max(3, int(round(a.frames / 100 * a.phones_per_s)))
    x = torch.randint(1, 178, (1, P))
    xl = torch.tensor([P])
    with torch.inference_mode():
        _, logw, x_mask = model.encoder(x, xl, None)
        base = float(torch.ceil(torch.exp(logw) * x_mask).sum())
    scale = (a.frames + 0.5) / base

    def synth():
        return model.synthesise(x, xl, n_timesteps=a.steps, temperature=0.667, length_scale=scale)

    out = synth()  # warm-up
    ts = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        out = synth()
        ts.append(time.perf_counter() - t0)
    T = int(out["mel_lengths"][0])
    mu = out["encoder_outputs"]
    mask = torch.ones(1, 1, mu.shape[-1])
    dts = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        model.decoder(mu, mask, a.steps, 0.667, None)
        dts.append(time.perf_counter() - t0)
    print(json.dumps({
        "matcha_version": _version(), "torch": torch.__version__, "threads": a.threads,
        "frames": T, "asked_frames": a.frames, "steps": a.steps, "synthesise_s": min(ts),
        "synthesise_median_s": statistics.median(ts),
        "synthesise_all": ts, "decoder_s": min(dts),
        "parameters": sum(q.numel() for q in model.parameters()),
        "decoder_parameters": sum(q.numel() for q in model.decoder.parameters()),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
