"""The α/β explorer of notebook 20: pick a clip and an emotion, set α, β, γ and the Euler steps,
hear the result, see its mel with F0 and the emotion judge's posterior (PNGM: docs/paper.md §3.5.2).

One function does the work (:func:`explore`: one call, one figure); :class:`LiveExplorer` is the
page (controls, then an audio player, the mel with F0 and the posterior as bars, re-synthesised when
a slider is released); :func:`run_explorer` chooses between the two, so the same notebook runs
headless under papermill (``INTERACTIVE = False``) and live in Jupyter or Voilà (``make explore``;
model loading and the page's messages: :mod:`emodubber.reports.explorer_app`).

The model and the judge come in as plain callables, so the explorer does not depend on how they
are built (and the tests use stand-ins):

- ``synth_fn(clip=, emotion=, alpha=, beta=, gamma=, n_steps=[, seed=])`` returns the generated
  speech as a dict ``{"mel": [n_mels, T], "wav": [N]}``, a ``(mel, wav)`` tuple, or an object with
  ``.mel`` and ``.wav``; ``seed`` is passed only if the callable accepts it;
- ``judge_fn(wav)`` (or ``judge_fn(wav, clip=)``: then it is told the clip) returns the posterior over the
  emotions: an array in
  :data:`emodubber.config.EMOTIONS` order, or a mapping emotion → probability.

A callable may raise :class:`ExplorerProblem` (what is wrong, what to do): the page shows it as a
message; any other error is shown as one line, never as a traceback.
"""

from __future__ import annotations

import base64
import html
import inspect
import io
import math
import time
import wave
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import pandas as pd

from emodubber.config import EMOTIONS
from emodubber.viz import EMOTION_COLOURS, draw_mel, to_numpy

__all__ = ["Exploration", "explore", "build_widgets", "run_explorer", "posterior_series", "unpack_speech",
           "LiveExplorer", "ExplorerFigure", "ExplorerProblem", "GuidanceError",
           "ClipUnreadable", "check_guidance", "f0_track", "posterior_html", "audio_html", "message_html"]


class ExplorerProblem(Exception):
    """A problem the page shows as a message: what is wrong (``problem``) and what to do (``todo``)."""

    def __init__(self, problem: str, todo: str = ""):
        super().__init__(problem + (f" ({todo})" if todo else ""))
        self.problem, self.todo = problem, todo


class GuidanceError(ExplorerProblem, ValueError):
    """A guidance value out of range: α, β, γ must be ≥ 0 and the Euler steps ≥ 1."""


class ClipUnreadable(ExplorerProblem):
    """The clip's inputs (features, video) cannot be read."""


def check_guidance(alpha: float, beta: float, gamma: float, n_steps: int) -> None:
    """Raise :class:`GuidanceError` naming every value out of range (PNGM, docs/paper.md §3.5.2)."""
    bad = [f"{name} = {float(v):g}" for name, v in (("α", alpha), ("β", beta), ("γ", gamma))
           if not (math.isfinite(float(v)) and float(v) >= 0)]
    if bad:
        raise GuidanceError(f"{', '.join(bad)} is out of range: the guidance weights α, β and the scale γ must be "
                            "≥ 0 (docs/paper.md §3.5.2)", "set them to 0 or more (0 turns that term off)")
    if int(n_steps) < 1:
        raise GuidanceError(f"Euler steps = {int(n_steps)} is out of range: at least 1", "set the steps to 1 or more")


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


def f0_track(wav: np.ndarray, sr: int, hop: int, n_frames: int) -> np.ndarray | None:
    """F0 per mel frame in Hz (NaN where unvoiced), or None when it cannot be measured (no pyworld, too short)."""
    try:
        from emodubber.data.features import frame_f0

        f0 = np.asarray(frame_f0(np.asarray(wav, np.float64), sr, hop, n_frames), float)
    except Exception:  # F0 is a drawing aid: without it the mel is still shown
        return None
    return np.where(f0 > 0, f0, np.nan)


class ExplorerFigure:
    """The mel with its F0 (right axis, Hz), and with ``posterior=True`` the judge's posterior as bars.

    Built once and updated in place (:meth:`draw`): no layout engine, one image artist whose data is
    replaced, so an update costs the PNG encoding and little else. ``pyplot=False`` makes a figure
    pyplot does not know (nothing shown by a notebook backend behind the page's back).
    """

    F0_MAX = 500.0

    def __init__(self, emotions: Sequence[str] = EMOTIONS, sr: int = 16000, hop: int = 160, posterior: bool = True,
                 pyplot: bool = True, figsize: tuple[float, float] | None = None, dpi: int = 80):
        if pyplot:
            import matplotlib.pyplot as plt

            self.fig = plt.figure(figsize=figsize or ((12, 3.6) if posterior else (9, 3.2)), dpi=dpi)
        else:
            from matplotlib.figure import Figure

            self.fig = Figure(figsize=figsize or ((12, 3.6) if posterior else (9, 3.2)), dpi=dpi)
        self.emotions, self.sr, self.hop = list(emotions), sr, hop
        if posterior:
            self.ax_mel = self.fig.add_axes((0.06, 0.15, 0.55, 0.72))
            self.ax_post = self.fig.add_axes((0.77, 0.15, 0.2, 0.72))
        else:
            self.ax_mel = self.fig.add_axes((0.08, 0.16, 0.82, 0.72))
            self.ax_post = None
        self.ax_f0 = self.ax_mel.twinx()
        self.ax_f0.set_ylim(0, self.F0_MAX)
        self.ax_f0.set_ylabel("F0 (Hz)", color="#00bcd4")
        self.ax_f0.tick_params(axis="y", colors="#00bcd4")
        (self.f0_line,) = self.ax_f0.plot([], [], color="#00e5ff", lw=1.5, label="F0")
        self.image = None

    def draw(self, mel: np.ndarray, f0: np.ndarray | None, title: str, posterior: pd.Series | None = None,
             emotion: str | None = None) -> "ExplorerFigure":
        """Show ``mel`` [n_mels, T], its ``f0`` [T] (or none) and (when the figure has the panel) the posterior."""
        n_mels, T = mel.shape
        dur = T * self.hop / self.sr
        if self.image is None:
            self.image = draw_mel(self.ax_mel, mel, self.sr, self.hop)
        else:
            self.image.set_data(mel)
            self.image.set_extent((0, dur, -0.5, n_mels - 0.5))
        self.image.set_clim(float(np.min(mel)), float(np.max(mel)))
        self.ax_mel.set_xlim(0, dur)
        self.ax_mel.set_title(title, fontsize=10)
        if f0 is None:
            self.f0_line.set_data([], [])
        else:
            self.f0_line.set_data((np.arange(len(f0)) + 0.5) * self.hop / self.sr, f0)
        if self.ax_post is not None and posterior is not None:
            ax = self.ax_post
            ax.clear()
            colours = [EMOTION_COLOURS.get(e, "k") if e == emotion else "0.75" for e in posterior.index]
            ax.barh(list(posterior.index), posterior.fillna(0).to_numpy(), color=colours)
            ax.invert_yaxis()
            ax.set_xlim(0, 1)
            ax.set_xlabel("posterior probability")
            if posterior.isna().all():
                ax.set_title("emotion judge: could not score this audio", fontsize=10)
            else:
                ax.set_title(f"emotion judge: IS({emotion}) = {posterior[emotion]:.2f}", fontsize=10)
                for y, v in enumerate(posterior.to_numpy()):
                    ax.text(min(v + 0.02, 0.85), y, f"{v:.2f}", va="center", fontsize=8)
        return self

    def png(self) -> bytes:
        """The figure as PNG bytes."""
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", dpi=self.fig.dpi)
        return buf.getvalue()


def _title(clip: Any, emotion: str, alpha: float, beta: float, gamma: float, n_steps: int) -> str:
    return f"clip {clip}: E = {{{emotion}, α = {alpha:g}, β = {beta:g}}}, γ = {gamma:g}, {int(n_steps)} steps"


def _synth_and_judge(synth_fn: Callable, judge_fn: Callable, clip: Any, emotion: str, alpha: float, beta: float,
                     gamma: float, n_steps: int, seed: int | None, emotions: Sequence[str],
                     timings: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    if emotion not in emotions:
        raise ValueError(f"unknown emotion {emotion!r}; known: {list(emotions)}")
    check_guidance(alpha, beta, gamma, n_steps)
    t0 = time.perf_counter()
    mel, wav = unpack_speech(_call_synth(synth_fn, seed, clip=clip, emotion=emotion, alpha=float(alpha),
                                         beta=float(beta), gamma=float(gamma), n_steps=int(n_steps)))
    t1 = time.perf_counter()
    post = posterior_series(_call_judge(judge_fn, wav, clip), emotions)
    post.attrs["emotion"] = emotion
    if timings is not None:
        timings.update(synth=t1 - t0, judge=time.perf_counter() - t1)
    return mel, wav, post


def explore(synth_fn: Callable, judge_fn: Callable, clip: Any, emotion: str, alpha: float, beta: float,
            gamma: float, n_steps: int, seed: int | None = 1234, sr: int = 16000, hop: int = 160,
            emotions: Sequence[str] = EMOTIONS, path: str | Path | None = None, close: bool = False) -> Exploration:
    """Synthesise ``clip`` with E = {emotion, α, β} (guidance scale γ, ``n_steps`` Euler steps), judge it, plot it.

    Returns ``Exploration(figure, audio, posterior)`` (unpackable as a 3-tuple): the figure shows the
    mel with its F0 and the posterior (the asked emotion highlighted, its IS in the title); with ``path``
    it is also saved as PNG. ``close=True`` closes the figure after saving (headless batch use). A
    negative α, β or γ raises :class:`GuidanceError` (a ``ValueError``).
    """
    import matplotlib.pyplot as plt

    from emodubber.reports.figures import save_figure

    mel, wav, post = _synth_and_judge(synth_fn, judge_fn, clip, emotion, alpha, beta, gamma, n_steps, seed, emotions)
    view = ExplorerFigure(emotions, sr, hop, posterior=True)
    view.draw(mel, f0_track(wav, sr, hop, mel.shape[1]), _title(clip, emotion, alpha, beta, gamma, n_steps), post,
              emotion)
    if path is not None:
        save_figure(view.fig, path)
    if close:
        plt.close(view.fig)
    return Exploration(view.fig, wav, post)


def wav_bytes(wav: np.ndarray, sr: int, normalize: bool = True) -> bytes:
    """16-bit PCM WAV bytes of a float waveform (peak-normalised like IPython's ``Audio``)."""
    w = np.nan_to_num(np.asarray(wav, np.float32).reshape(-1))
    peak = float(np.abs(w).max()) if w.size else 0.0
    if normalize and peak > 0:
        w = w / peak
    pcm = (np.clip(w, -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(sr))
        f.writeframes(pcm.tobytes())
    return buf.getvalue()


def audio_html(wav: np.ndarray, sr: int) -> str:
    """An ``<audio>`` player holding the waveform as a data URI."""
    b64 = base64.b64encode(wav_bytes(wav, sr)).decode()
    return (f'<audio class="emx-audio" controls preload="auto" data-seconds="{len(wav) / sr:.2f}" '
            f'src="data:audio/wav;base64,{b64}"></audio>')


def posterior_html(post: pd.Series, emotion: str) -> str:
    """The judge's posterior as horizontal bars (the asked emotion in its colour, its IS in the heading)."""
    if post.isna().all():
        head = "emotion judge: could not score this audio"
    else:
        head = f"emotion judge: IS({html.escape(emotion)}) = {float(post[emotion]):.2f}"
    rows = []
    for e, p in post.items():
        v = 0.0 if not np.isfinite(p) else float(p)
        asked = e == emotion
        colour = EMOTION_COLOURS.get(e, "#444") if asked else "#bdbdbd"
        weight = "bold" if asked else "normal"
        rows.append(
            f'<div style="display:flex;align-items:center;margin:2px 0">'
            f'<span style="width:80px;text-align:right;padding-right:6px;font-weight:{weight}">{html.escape(e)}</span>'
            f'<span style="display:inline-block;width:240px;height:14px;background:#eeeeee">'
            f'<span class="emx-bar" data-emotion="{html.escape(e)}" data-p="{v:.6f}" data-asked="{str(asked).lower()}" '
            f'style="display:block;height:14px;width:{100 * v:.2f}%;background:{colour}"></span></span>'
            f'<span style="padding-left:6px;font-family:monospace">{v:.2f}</span></div>')
    return (f'<div class="emx-posterior"><div style="font-weight:bold;margin-bottom:4px">{head}</div>'
            f'{"".join(rows)}</div>')


def message_html(problem: str, todo: str = "", kind: str = "error") -> str:
    """A message box for the page: the problem in bold, what to do under it (backticks become code)."""
    import re

    colours = {"error": ("#c62828", "#fdecea"), "info": ("#1565c0", "#e3f2fd")}
    edge, bg = colours.get(kind, colours["info"])

    def fmt(text: str) -> str:
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))

    todo_html = f'<div class="emx-todo">{fmt(todo)}</div>' if todo else ""
    return (f'<div class="emx-{kind}" style="border-left:4px solid {edge};background:{bg};padding:6px 10px;'
            f'margin:4px 0"><b>{fmt(problem)}</b>{todo_html}</div>')


def problem_of(exc: BaseException) -> tuple[str, str]:
    """(problem, what to do) for an exception raised while exploring: an :class:`ExplorerProblem` says both;
    another error is named in one line."""
    if isinstance(exc, ExplorerProblem):
        return exc.problem, exc.todo
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return (f"synthesis failed: {type(exc).__name__}{': ' + msg[:300] if msg else ''}",
            "try other values; if it persists, run the tests (`make test`) and report it")


class LiveExplorer:
    """The live explorer: clip and emotion pickers, sliders for α, β, γ and the Euler steps (acting when
    released), then a status line, the mel with F0, an audio player and the posterior as bars.

    ``ui`` is what to display; ``controls`` maps ``clip, emotion, alpha, beta, gamma, n_steps`` to their
    widgets; ``results`` is the box of outputs, with ``results.state`` = ``{"last": Exploration, "calls":
    int, "seconds": float, "error": str}``. ``header`` (HTML) goes above the controls (e.g. which models).
    Initial values out of range are named in the page and not synthesised; so is any error of an update.
    """

    def __init__(self, synth_fn: Callable, judge_fn: Callable, clips: Sequence[Any], clip: Any = None,
                 emotion: str = "angry", alpha: float = 2.0, beta: float = 0.5, gamma: float = 1.0,
                 n_steps: int = 10, alpha_max: float = 9.0, beta_max: float = 2.0, gamma_max: float = 30.0,
                 max_steps: int = 50, seed: int | None = 1234, sr: int = 16000, hop: int = 160,
                 emotions: Sequence[str] = EMOTIONS, path: str | Path | None = None, header: str = ""):
        import ipywidgets as W

        clips = list(clips)
        if not clips:
            raise ValueError("no clip to explore")
        self.synth_fn, self.judge_fn, self.seed, self.sr, self.hop = synth_fn, judge_fn, seed, sr, hop
        self.emotions, self.path = list(emotions), path
        self.view = ExplorerFigure(emotions, sr, hop, posterior=False, pyplot=False)
        style = {"description_width": "90px"}
        lay = W.Layout(width="420px")

        def fslider(v, hi, step, desc):
            return W.FloatSlider(value=max(v, 0.0), min=0.0, max=max(hi, v), step=step, description=desc,
                                 continuous_update=False, readout_format=".2f", style=style, layout=lay)

        self.controls = {
            "clip": W.Dropdown(options=clips, value=clip if clip in clips else clips[0], description="clip",
                               style=style, layout=lay),
            "emotion": W.Dropdown(options=self.emotions,
                                  value=emotion if emotion in self.emotions else self.emotions[0],
                                  description="emotion", style=style, layout=lay),
            "alpha": fslider(alpha, alpha_max, 0.1, "α (positive)"),
            "beta": fslider(beta, beta_max, 0.05, "β (negative)"),
            "gamma": fslider(gamma, gamma_max, 0.5, "γ (scale)"),
            "n_steps": W.IntSlider(value=max(int(n_steps), 1), min=1, max=max(max_steps, int(n_steps)), step=1,
                                   description="Euler steps", continuous_update=False, style=style, layout=lay),
        }
        for key, c in self.controls.items():
            c.add_class("emx-" + key)
        self.header = W.HTML(header)
        self.message = W.HTML()
        self.status = W.HTML()
        self.mel = W.HTML()
        self.audio = W.HTML()
        self.posterior = W.HTML()
        self.state: dict[str, Any] = {"last": None, "calls": 0, "seconds": None, "error": ""}
        self.results = W.VBox([self.status, self.message, self.mel, W.HBox([self.audio]), self.posterior])
        self.results.state = self.state
        c = self.controls
        self.ui = W.VBox([self.header, W.HBox([c["clip"], c["emotion"]]), W.HBox([c["alpha"], c["beta"]]),
                          W.HBox([c["gamma"], c["n_steps"]]), self.results])
        self.ui.add_class("emx-app")
        for w in self.controls.values():
            w.observe(self._changed, names="value")
        try:
            check_guidance(alpha, beta, gamma, n_steps)
        except GuidanceError as e:  # a parameter out of range: said, not clamped silently
            self._show_problem(e)
            return
        self.update()

    def _changed(self, _change: Any) -> None:
        self.update()

    def _show_problem(self, exc: BaseException) -> None:
        problem, todo = problem_of(exc)
        self.state["error"] = problem
        self.message.value = message_html(problem, todo)
        self.status.value = '<span class="emx-status" data-state="error">nothing new to hear: see the message</span>'

    def values(self) -> dict[str, Any]:
        """The controls' current values."""
        return {k: w.value for k, w in self.controls.items()}

    def update(self) -> Exploration | None:
        """Synthesise, judge and show the controls' current values; an error becomes the page's message."""
        v = self.values()
        self.status.value = (f'<span class="emx-status" data-state="busy">synthesising {html.escape(str(v["clip"]))} '
                             f'as {html.escape(v["emotion"])} (α = {v["alpha"]:g}, β = {v["beta"]:g}, '
                             f'γ = {v["gamma"]:g}, {v["n_steps"]} steps) …</span>')
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        try:
            mel, wav, post = _synth_and_judge(self.synth_fn, self.judge_fn, v["clip"], v["emotion"], v["alpha"],
                                              v["beta"], v["gamma"], v["n_steps"], self.seed, self.emotions, timings)
            t1 = time.perf_counter()
            self.view.draw(mel, f0_track(wav, self.sr, self.hop, mel.shape[1]),
                           _title(v["clip"], v["emotion"], v["alpha"], v["beta"], v["gamma"], v["n_steps"]))
            png = self.view.png()
            if self.path is not None:
                from emodubber.reports.figures import save_figure

                save_figure(self.view.fig, self.path)
        except Exception as e:  # noqa: BLE001 - the page names it, the kernel keeps running
            self._show_problem(e)
            return None
        timings["plot"] = time.perf_counter() - t1
        seconds = time.perf_counter() - t0
        self.mel.value = (f'<img class="emx-mel" alt="mel with F0" style="max-width:100%" '
                          f'src="data:image/png;base64,{base64.b64encode(png).decode()}">')
        self.audio.value = audio_html(wav, self.sr)
        self.posterior.value = posterior_html(post, v["emotion"])
        self.message.value = ""
        res = Exploration(self.view.fig, wav, post)
        self.state.update(last=res, calls=self.state["calls"] + 1, seconds=seconds, error="", timings=timings)
        detail = ", ".join(f"{k} {t:.2f}" for k, t in timings.items())
        self.status.value = (f'<span class="emx-status" data-state="done" data-calls="{self.state["calls"]}" '
                             f'data-seconds="{seconds:.3f}">{len(wav) / self.sr:.1f} s of speech in {seconds:.2f} s '
                             f'({detail} s)</span>')
        return res


def build_widgets(synth_fn: Callable, judge_fn: Callable, clips: Sequence[Any], clip: Any = None,
                  emotion: str = "angry", alpha: float = 2.0, beta: float = 0.5, gamma: float = 1.0,
                  n_steps: int = 10, alpha_max: float = 9.0, beta_max: float = 2.0, gamma_max: float = 30.0,
                  max_steps: int = 50, seed: int | None = 1234, sr: int = 16000, hop: int = 160,
                  emotions: Sequence[str] = EMOTIONS, path: str | Path | None = None, header: str = ""):
    """``(ui, results, controls)`` of a :class:`LiveExplorer`: display ``ui``; ``controls`` maps ``clip,
    emotion, alpha, beta, gamma, n_steps`` to their widgets; ``results.state`` keeps the last
    :class:`Exploration` and the call count. Each change re-synthesises (sliders on release) and, with
    ``path``, re-saves the mel figure."""
    live = LiveExplorer(synth_fn, judge_fn, clips, clip=clip, emotion=emotion, alpha=alpha, beta=beta, gamma=gamma,
                        n_steps=n_steps, alpha_max=alpha_max, beta_max=beta_max, gamma_max=gamma_max,
                        max_steps=max_steps, seed=seed, sr=sr, hop=hop, emotions=emotions, path=path, header=header)
    return live.ui, live.results, live.controls


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
