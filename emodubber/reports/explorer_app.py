"""The α/β explorer as a page: notebook 20 in Jupyter, or served by Voilà (``make explore``).

:func:`open_session` finds the trained models (the ``cpu`` profile's when they exist, else the
``smoke`` profile's), loads them once and says which in the page; :meth:`ExplorerSession.page` is the
live explorer (:class:`emodubber.reports.explorer.LiveExplorer`) or, when something is missing, a
message naming the problem and what to run, never a traceback. :meth:`ExplorerSession.headless` is the
suite's path (``INTERACTIVE = False``): one call, one saved figure.

Where to look, when the notebook parameters leave it open: the page's query parameters ``profile`` and
``work_dir`` (Voilà: ``http://127.0.0.1:8866/?profile=smoke``), else ``EMODUBBER_EXPLORER_PROFILE`` (a
profile name) and ``EMODUBBER_EXPLORER_WORK_DIR`` (a work directory holding ``checkpoints/``, ``judges/``,
``corpus/`` and ``features/``) in the environment of the server or kernel.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from emodubber.config import load_profile
from emodubber.reports.experiments import Experiment
from emodubber.reports.explorer import ClipUnreadable, ExplorerProblem, message_html

__all__ = ["ENV_PROFILE", "ENV_WORK_DIR", "PREFERENCE", "ExplorerSession", "missing_files", "open_session", "model_synth_fn", "judge_fn_from",
           "reproduce_command"]

ENV_PROFILE = "EMODUBBER_EXPLORER_PROFILE"
ENV_WORK_DIR = "EMODUBBER_EXPLORER_WORK_DIR"
#: profiles tried in order when none is named: the trained cpu models first
PREFERENCE: tuple[str, ...] = ("cpu", "smoke")

_NOTES = {
    "cpu": "the trained <b>cpu</b> profile's models (7.7 M parameters, trained on the synthetic corpus)",
    "smoke": ("the <b>smoke</b> profile's models: tiny and trained for seconds, they show how the controls work, "
              "not the paper's effect (the cpu models do: <code>make reproduce</code>)"),
}


def reproduce_command(profile: str) -> str:
    """The command that trains ``profile``'s models."""
    return "make reproduce" if profile == "cpu" else f"make reproduce PROFILE={profile}"


def missing_files(cfg: Any) -> list[str]:
    """What the explorer needs from ``cfg``'s work directory and does not find (empty: all there)."""
    from emodubber.metrics.emotion_judge import emotion_judge_path
    from emodubber.reports.experiments import system_spec

    need = {
        "the EmoDubber checkpoint": system_spec("EmoDubber").checkpoint(cfg),
        "the emotion expert": cfg.checkpoint_dir("emotion_expert") / "model.pt",
        "the emotion judge": emotion_judge_path(cfg),
        "the corpus manifest": cfg.corpus_dir / "dubbing.jsonl",
        "the features index": cfg.features_dir / "dubbing.index.json",
    }
    if cfg.eval.vocoder == "hifigan":
        need["the HiFi-GAN vocoder"] = cfg.checkpoint_dir("vocoder") / "model.pt"
    return [f"{what} ({p})" for what, p in need.items() if not Path(p).exists()]


@dataclass
class ExplorerSession:
    """The loaded models of one profile, or the problem that stopped them loading (``problem``/``todo``)."""

    cfg: Any = None
    experiment: Any = None
    synth_fn: Callable | None = None
    judge_fn: Callable | None = None
    clips: list[str] = field(default_factory=list)
    note: str = ""
    problem: str = ""
    todo: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem

    def header(self) -> str:
        """HTML naming the models in use (or nothing when none could be loaded)."""
        if not self.ok:
            return ""
        return (f'<div class="emx-models" data-profile="{self.cfg.name}">Models: {self.note}; work directory '
                f'<code>{self.cfg.work_dir}</code>; {len(self.clips)} test clips, Setting 2 speaker reference.</div>')

    def raise_problem(self) -> None:
        """Raise the session's problem as an :class:`ExplorerProblem` (headless runs stop on it)."""
        if not self.ok:
            raise ExplorerProblem(self.problem, self.todo)

    def page(self, clip: str = "", emotion: str = "angry", alpha: float = 2.5, beta: float = 0.625,
             gamma: float = 0.0, n_steps: int = 0, seed: int | None = None, **kwargs: Any):
        """The widget to display: the live explorer, or the message when the models are missing.
        ``gamma``/``n_steps`` 0: the profile's ``eval.gamma``/``eval.n_steps``."""
        import ipywidgets as W

        from emodubber.reports.explorer import LiveExplorer

        if not self.ok:
            box = W.VBox([W.HTML(message_html(self.problem, self.todo))])
            box.add_class("emx-app")
            return box
        ev, a = self.cfg.eval, self.cfg.audio
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            live = LiveExplorer(self.synth_fn, self.judge_fn, self.clips, clip=clip or self.clips[0], emotion=emotion,
                                alpha=alpha, beta=beta, gamma=gamma if gamma else ev.gamma,
                                n_steps=n_steps if n_steps else ev.n_steps,
                                seed=self.cfg.seed if seed is None else seed, sr=a.sample_rate, hop=a.hop_length,
                                header=self.header(), **kwargs)
        self.live = live
        return live.ui

    def headless(self, clip: str = "", emotion: str = "angry", alpha: float = 2.5, beta: float = 0.625,
                 gamma: float = 0.0, n_steps: int = 0, seed: int | None = None, path: str | Path | None = None):
        """One :func:`~emodubber.reports.explorer.explore` call with these values (figure saved at ``path``)."""
        from emodubber.reports.explorer import run_explorer

        self.raise_problem()
        ev, a = self.cfg.eval, self.cfg.audio
        return run_explorer(False, self.synth_fn, self.judge_fn, self.clips, clip=clip or self.clips[0],
                            emotion=emotion, alpha=alpha, beta=beta, gamma=gamma if gamma else ev.gamma,
                            n_steps=n_steps if n_steps else ev.n_steps, path=path,
                            seed=self.cfg.seed if seed is None else seed, sr=a.sample_rate, hop=a.hop_length)


def _query(name: str) -> str:
    """A query parameter of the Voilà page (its kernel sees the request's ``QUERY_STRING``), or ''."""
    from urllib.parse import parse_qs

    return parse_qs(os.environ.get("QUERY_STRING", "")).get(name, [""])[0]


def _profiles(profile: str) -> list[str]:
    profile = profile or _query("profile") or os.environ.get(ENV_PROFILE, "")
    return [profile] if profile else list(PREFERENCE)


def open_session(profile: str = "", work_dir: str | Path = "", seed: int | None = None, threads: int = 0,
                 n_clips: int = 20, log: Callable[[str], Any] | None = None) -> ExplorerSession:
    """Load the models of ``profile`` (empty: the first of :data:`PREFERENCE` whose models all exist).

    ``work_dir`` (or ``$EMODUBBER_EXPLORER_WORK_DIR``) replaces the profile's work directory. Never
    raises for missing or unreadable models: the returned session carries the problem and what to run.
    """

    work_dir = str(work_dir or _query("work_dir") or os.environ.get(ENV_WORK_DIR, ""))
    names = _profiles(profile)
    tried: list[str] = []
    for name in names:
        try:
            cfg = load_profile(name, overrides={"paths.work_dir": work_dir} if work_dir else None)
        except Exception as e:  # noqa: BLE001 - an unknown profile name is a message too
            tried.append(f"profile {name!r} cannot be loaded ({e})")
            continue
        missing = missing_files(cfg)
        if missing:
            tried.append(f"{name}: no {missing[0]}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))
            continue
        torch.set_num_threads(threads or cfg.train.threads)
        try:
            return _load(cfg, seed, n_clips, log)
        except ExplorerProblem as e:
            return ExplorerSession(cfg=cfg, problem=e.problem, todo=e.todo)
    last = names[-1]
    return ExplorerSession(problem="No trained models to explore: " + "; ".join(tried) + ".",
                           todo=f"Train them with `{reproduce_command(last)}` (a few minutes) or `make reproduce` "
                                "(the cpu profile), then reload this page.")


def _load(cfg: Any, seed: int | None, n_clips: int, log: Callable[[str], Any] | None) -> ExplorerSession:
    todo = f"retrain them with `{reproduce_command(cfg.name)}`, then reload this page"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ex = Experiment(cfg, seed=seed, show_progress=False, log=log or (lambda s: None))
            clips = ex.test_clips(n_clips)
        except Exception as e:  # noqa: BLE001
            raise ExplorerProblem(f"the {cfg.name} corpus cannot be read: {type(e).__name__}: {e}",
                                  f"rebuild it with `{reproduce_command(cfg.name)}`") from None
        try:
            ex.model("EmoDubber")
            ex.expert()
            ex.vocoder()
            judge_fn = judge_fn_from(ex.emotion_judge(), speaker_of=ex.speaker_of)
        except Exception as e:  # noqa: BLE001
            raise ExplorerProblem(f"the {cfg.name} models cannot be loaded: {type(e).__name__}: {e}", todo) from None
    inner = ex.synth_fn("EmoDubber", setting=2)

    def synth(clip, emotion, alpha, beta, gamma, n_steps, seed=None):
        try:
            ex.inputs(clip, setting=2)
        except Exception as e:  # noqa: BLE001 - a missing or damaged features file, an unknown clip
            raise ClipUnreadable(f"clip {clip} cannot be read: {type(e).__name__}: {str(e)[:200]}",
                                 f"pick another clip, or rebuild the features with `{reproduce_command(cfg.name)}`"
                                 ) from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return inner(clip, emotion, alpha, beta, gamma, n_steps, seed)

    return ExplorerSession(cfg=cfg, experiment=ex, synth_fn=synth, judge_fn=judge_fn, clips=clips,
                           note=_NOTES.get(cfg.name, f"the <b>{cfg.name}</b> profile's models"))


def model_synth_fn(model: Any, vocoder: Callable, inputs_for: Callable[[Any], dict], expert: Any = None,
                   temperature: float = 0.667) -> Callable:
    """A ``synth_fn`` over a model with ``synthesise(...)`` (``emodubber.models``) and a vocoder.

    ``inputs_for(clip)`` returns the clip's ``synthesise`` inputs (``phonemes``, ``lip``, ``spk_emb`` …);
    the emotion instruction, γ, the steps, ``temperature``, ``seed`` and the guiding ``expert`` are added
    here. ``vocoder(mel [1, 80, T]) -> wav [1, N]``. The mel is cut to its ``mel_lengths`` when given.
    """

    def synth(clip, emotion, alpha, beta, gamma, n_steps, seed=1234):
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
