"""The α/β explorer of notebook 20: pick a clip and an emotion, set α, β, γ and the Euler steps,
hear the result, see its mel and the emotion judge's posterior.

One function does the work (:func:`explore`); :func:`build_widgets` wires sliders to it with
ipywidgets' non-decorator ``interactive_output``; :func:`run_explorer` chooses between the two, so
the same notebook runs headless under papermill (``INTERACTIVE = False``: one call with the
parameter values, figure saved) and with sliders in Jupyter.

The model and the judge come in as plain callables, so the explorer does not depend on how they
are built (and the tests use stand-ins):

- ``synth_fn(clip=, emotion=, alpha=, beta=, gamma=, n_steps=[, seed=])`` returns the generated
  speech as a dict ``{"mel": [n_mels, T], "wav": [N]}``, a ``(mel, wav)`` tuple, or an object with
  ``.mel`` and ``.wav``; ``seed`` is passed only if the callable accepts it;
- ``judge_fn(wav)`` (or ``judge_fn(wav, clip=)``: then it is told the clip) returns the posterior over the
  emotions: an array in
  :data:`emodubber.config.EMOTIONS` order, or a mapping emotion → probability.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import pandas as pd

from emodubber.config import EMOTIONS
from emodubber.viz import EMOTION_COLOURS, draw_mel, to_numpy

__all__ = ["Exploration", "explore", "build_widgets", "run_explorer", "posterior_series", "unpack_speech",
           "model_synth_fn", "judge_fn_from"]


class Exploration(NamedTuple):
    """What one exploration gives: the figure, the waveform and the judge's posterior (a Series by emotion)."""

    figure: Any
    audio: np.ndarray
    posterior: pd.Series

    @property
    def intensity(self) -> float:
        """IS of this sample: the posterior of the asked emotion (stored in ``posterior.attrs['emotion']``)."""
        return float(self.posterior[self.posterior.attrs["emotion"]])


def unpack_speech(out: Any) -> tuple[np.ndarray, np.ndarray]:
    """(mel ``[n_mels, T]``, wav ``[N]``) from what a ``synth_fn`` returns (dict, tuple or object)."""
    if isinstance(out, dict):
        mel, wav = out["mel"], out["wav"]
    elif isinstance(out, (tuple, list)) and len(out) == 2:
        mel, wav = out
    elif hasattr(out, "mel") and hasattr(out, "wav"):
        mel, wav = out.mel, out.wav
    else:
        raise TypeError("synth_fn must return {'mel', 'wav'}, (mel, wav) or an object with .mel and .wav; "
                        f"got {type(out).__name__}")
    mel = to_numpy(mel)
    if mel.ndim == 3 and mel.shape[0] == 1:
        mel = mel[0]
    return mel, to_numpy(wav).astype(np.float32).reshape(-1)


def posterior_series(post: Any, emotions: Sequence[str] = EMOTIONS) -> pd.Series:
    """The judge's output as a Series indexed by emotion; checks it is a distribution."""
    if isinstance(post, dict):
        s = pd.Series({str(k): float(v) for k, v in post.items()})
    else:
        p = to_numpy(post).astype(float).reshape(-1)
        if len(p) != len(emotions):
            raise ValueError(f"judge returned {len(p)} probabilities for {len(emotions)} emotions")
        s = pd.Series(p, index=list(emotions))
    if s.isna().all():  # the judge could not score this audio (silent, too short ...): shown, not hidden
        return s
    if (s < -1e-6).any() or abs(float(s.sum()) - 1.0) > 1e-3:
        raise ValueError(f"judge output is not a probability distribution (sum {s.sum():.4f})")
    return s


def _call_synth(synth_fn: Callable, seed: int | None, **kw: Any) -> Any:
    try:
        params = inspect.signature(synth_fn).parameters
        takes_seed = "seed" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    except (TypeError, ValueError):  # builtins / C callables
        takes_seed = False
    if takes_seed and seed is not None:
        kw["seed"] = seed
    return synth_fn(**kw)


def _call_judge(judge_fn: Callable, wav: Any, clip: Any) -> Any:
    """``judge_fn(wav)``, or ``judge_fn(wav, clip=clip)`` when it takes the clip (a speaker-relative judge
    needs to know whose voice it hears)."""
    try:
        takes_clip = "clip" in inspect.signature(judge_fn).parameters
    except (TypeError, ValueError):  # builtins / C callables
        takes_clip = False
    return judge_fn(wav, clip=clip) if takes_clip else judge_fn(wav)


def explore(synth_fn: Callable, judge_fn: Callable, clip: Any, emotion: str, alpha: float, beta: float,
            gamma: float, n_steps: int, seed: int | None = 1234, sr: int = 16000, hop: int = 160,
            emotions: Sequence[str] = EMOTIONS, path: str | Path | None = None, close: bool = False) -> Exploration:
    """Synthesise ``clip`` with E = {emotion, α, β} (guidance scale γ, ``n_steps`` Euler steps), judge it, plot it.

    Returns ``Exploration(figure, audio, posterior)`` (unpackable as a 3-tuple): the figure shows the
    mel and the posterior (the asked emotion highlighted, its IS in the title); with ``path`` it is also
    saved as PNG. ``close=True`` closes the figure after saving (headless batch use).
    """
    import matplotlib.pyplot as plt

    from emodubber.reports.figures import save_figure

    if emotion not in emotions:
        raise ValueError(f"unknown emotion {emotion!r}; known: {list(emotions)}")
    mel, wav = unpack_speech(_call_synth(synth_fn, seed, clip=clip, emotion=emotion, alpha=float(alpha),
                                         beta=float(beta), gamma=float(gamma), n_steps=int(n_steps)))
    post = posterior_series(_call_judge(judge_fn, wav, clip), emotions)
    post.attrs["emotion"] = emotion
    fig, (ax_m, ax_p) = plt.subplots(1, 2, figsize=(12, 3.6), gridspec_kw={"width_ratios": [3, 1.2]},
                                     constrained_layout=True)
    draw_mel(ax_m, mel, sr, hop, colorbar=True,
             title=f"clip {clip}: E = {{{emotion}, α = {alpha:g}, β = {beta:g}}}, γ = {gamma:g}, {int(n_steps)} steps")
    colours = [EMOTION_COLOURS.get(e, "k") if e == emotion else "0.75" for e in post.index]
    ax_p.barh(list(post.index), post.fillna(0).to_numpy(), color=colours)
    ax_p.invert_yaxis()
    ax_p.set_xlim(0, 1)
    ax_p.set_xlabel("posterior probability")
    if post.isna().all():
        ax_p.set_title("emotion judge: could not score this audio")
    else:
        ax_p.set_title(f"emotion judge: IS({emotion}) = {post[emotion]:.2f}")
        for y, v in enumerate(post.to_numpy()):
            ax_p.text(min(v + 0.02, 0.85), y, f"{v:.2f}", va="center", fontsize=8)
    if path is not None:
        save_figure(fig, path)
    if close:
        plt.close(fig)
    return Exploration(fig, wav, post)


def build_widgets(synth_fn: Callable, judge_fn: Callable, clips: Sequence[Any], clip: Any = None,
                  emotion: str = "angry", alpha: float = 2.0, beta: float = 0.5, gamma: float = 1.0,
                  n_steps: int = 10, alpha_max: float = 9.0, beta_max: float = 2.0, gamma_max: float = 30.0,
                  max_steps: int = 50, seed: int | None = 1234, sr: int = 16000, hop: int = 160,
                  emotions: Sequence[str] = EMOTIONS, path: str | Path | None = None):
    """Sliders and drop-downs wired to :func:`explore` with ``ipywidgets.interactive_output``.

    Returns ``(ui, out, controls)``: display ``ui`` (the controls with the output area inside);
    ``controls`` maps ``clip, emotion, alpha, beta, gamma, n_steps`` to their widgets. Each change
    re-synthesises (sliders update on release), shows the figure, an audio player and the posterior,
    and (with ``path``) re-saves the figure. The last result and the call count are kept in
    ``out.state`` (``{"last": Exploration, "calls": int}``).
    """
    import ipywidgets as W
    import matplotlib.pyplot as plt
    from IPython.display import display

    from emodubber.viz import audio

    clips = list(clips)
    if not clips:
        raise ValueError("no clip to explore")
    style = {"description_width": "90px"}
    controls = {
        "clip": W.Dropdown(options=clips, value=clip if clip is not None else clips[0], description="clip",
                           style=style),
        "emotion": W.Dropdown(options=list(emotions), value=emotion, description="emotion", style=style),
        "alpha": W.FloatSlider(value=alpha, min=0.0, max=alpha_max, step=0.1, description="α (positive)",
                               continuous_update=False, style=style),
        "beta": W.FloatSlider(value=beta, min=0.0, max=beta_max, step=0.05, description="β (negative)",
                              continuous_update=False, style=style),
        "gamma": W.FloatSlider(value=gamma, min=0.0, max=gamma_max, step=0.5, description="γ (scale)",
                               continuous_update=False, style=style),
        "n_steps": W.IntSlider(value=n_steps, min=1, max=max_steps, step=1, description="Euler steps",
                               continuous_update=False, style=style),
    }

    state: dict[str, Any] = {"last": None, "calls": 0}

    def show(clip, emotion, alpha, beta, gamma, n_steps):
        res = explore(synth_fn, judge_fn, clip, emotion, alpha, beta, gamma, n_steps, seed=seed, sr=sr, hop=hop,
                      emotions=emotions, path=path)
        state["last"] = res
        state["calls"] += 1
        display(res.figure)
        plt.close(res.figure)
        display(audio(res.audio, sr))
        display(res.posterior.rename("posterior").to_frame().T.round(3))

    out = W.interactive_output(show, controls)
    out.state = state
    ui = W.VBox([W.HBox([controls["clip"], controls["emotion"]]),
                 W.HBox([controls["alpha"], controls["beta"]]),
                 W.HBox([controls["gamma"], controls["n_steps"]]), out])
    return ui, out, controls


def run_explorer(interactive: bool, synth_fn: Callable, judge_fn: Callable, clips: Sequence[Any], clip: Any = None,
                 emotion: str = "angry", alpha: float = 2.0, beta: float = 0.5, gamma: float = 1.0, n_steps: int = 10,
                 path: str | Path | None = None, **kwargs: Any):
    """Notebook 20's entry point: sliders when ``interactive``, else one headless :func:`explore` call.

    Headless (papermill, ``INTERACTIVE = False``): returns the :class:`Exploration` of the parameter
    values and saves its figure at ``path``. Interactive: displays the widgets and returns ``(ui, out,
    controls)`` from :func:`build_widgets`.
    """
    clip = clip if clip is not None else list(clips)[0]
    if interactive:
        from IPython.display import display

        ui, out, controls = build_widgets(synth_fn, judge_fn, clips, clip=clip, emotion=emotion, alpha=alpha,
                                          beta=beta, gamma=gamma, n_steps=n_steps, path=path, **kwargs)
        display(ui)
        return ui, out, controls
    keep = {k: v for k, v in kwargs.items() if k in ("seed", "sr", "hop", "emotions")}
    return explore(synth_fn, judge_fn, clip, emotion, alpha, beta, gamma, n_steps, path=path, **keep)


def model_synth_fn(model: Any, vocoder: Callable, inputs_for: Callable[[Any], dict], expert: Any = None,
                   temperature: float = 0.667) -> Callable:
    """A ``synth_fn`` over a model with ``synthesise(...)`` (``emodubber.models``) and a vocoder.

    ``inputs_for(clip)`` returns the clip's ``synthesise`` inputs (``phonemes``, ``lip``, ``spk_emb`` …);
    the emotion instruction, γ, the steps, ``temperature``, ``seed`` and the guiding ``expert`` are added
    here. ``vocoder(mel [1, 80, T]) -> wav [1, N]``. The mel is cut to its ``mel_lengths`` when given.
    """

    def synth(clip, emotion, alpha, beta, gamma, n_steps, seed=1234):
        import torch

        with torch.inference_mode():
            out = model.synthesise(**inputs_for(clip), emotion=emotion, alpha=alpha, beta=beta, gamma=gamma,
                                   n_steps=n_steps, temperature=temperature, seed=seed, expert=expert)
            mel = out["mel"][:1]
            if out.get("mel_lengths") is not None:
                mel = mel[..., : int(out["mel_lengths"][0])]
            wav = vocoder(mel)
        return {"mel": mel[0], "wav": wav.reshape(-1)}

    return synth


def judge_fn_from(judge: Any, speaker_of: Callable[[Any], str] | None = None) -> Callable:
    """A ``judge_fn`` over an emotion judge with ``predict(list_of_wavs[, speakers]) -> (posteriors (n, 7),
    reasons)``; ``speaker_of(clip)`` names the clip's speaker for a speaker-relative judge."""

    def judge_fn(wav, clip=None):
        wavs = [np.asarray(wav, dtype=np.float32)]
        if speaker_of is None or clip is None:
            post, _reasons = judge.predict(wavs)
        else:
            post, _reasons = judge.predict(wavs, [speaker_of(clip)])
        return post[0]

    return judge_fn
