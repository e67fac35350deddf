"""The glue between trained checkpoints, the judges and the reproduction notebooks (10–15, 20).

One :class:`Experiment` per profile run. It knows the systems of Table 4
(:data:`emodubber.reports.systems.SYSTEMS`), loads each
one's checkpoint from ``cfg.checkpoint_dir(stage)``, builds the inputs of a test clip in either setting,
generates speech in batches, vocodes it and writes it under
``cfg.work_dir / "generated" / <system> / S<setting> / <condition>`` (``<clip>.wav`` at 16 kHz and
``<clip>.npy``, the generated normalised log-mel ``[80, T]``), then scores it with
:func:`emodubber.metrics.evaluate`.

=====================  ==========================================================================
setting                speaker reference S_id
=====================  ==========================================================================
1                      the target clip itself (its own resemblyzer embedding)
2                      another clip of the same speaker, from ``references.tsv``
=====================  ==========================================================================

Everything is cached, so a notebook never redoes another's work:

- a generated directory holds ``meta.json`` with the *generation key* (:mod:`emodubber.reports.generation`:
  system, setting, emotion, α, β, γ, Euler steps, temperature, seed, batch size, vocoder, the SHA-256 of every
  checkpoint involved); clips already there under the same key are reused, a changed key clears the directory's
  wavs first;
- an evaluation is pickled beside the wavs under a hash of (generation key, setting, metrics, clips,
  judges' settings and weight hashes); the field judges (Whisper WER, DNSMOS: ``eval.field_judges``) are scored
  and pickled apart from the others and joined on the clip id, so adding them to a table scores only them;
- the intensity sweep (Figure 3) is a CSV keyed likewise.

The rows "GT" (the corpus wav) and "GT mel + vocoder" (the corpus mel through the vocoder) do not
depend on the setting: Setting 2 copies their Setting-1 scores and re-measures only SECS, against
the reference clip.

Noise: a batch draws its noise from ``torch.Generator().manual_seed(seed)``, so with more than one clip per
batch a clip's noise would depend on its batch mates. :meth:`Experiment.generate` therefore synthesises one
clip at a time by default (``batch_size=1``): a clip's output depends only on the clip, the seed and the
condition, so the neutral and the guided versions of a clip (Figure 4, Table 5) and the rows of Table 4 share
their noise whatever else was generated before. The intensity sweep batches ``sweep_batch_size`` clips;
every point of the sweep uses the same batches, so the curves still compare α and β at equal noise. Batch
sizes are part of the cache keys.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import torch

from emodubber import __version__
from emodubber.config import EMOTIONS, FIELD_JUDGES, ProfileConfig
from emodubber.data.features import feature_path, load_index
from emodubber.data.manifest import read_manifest, read_references
from emodubber.metrics.emotion_judge import EmotionJudge
from emodubber.metrics.evaluate import evaluate
from emodubber.models.dubber import EmoDubber
from emodubber.models.emotion import load_emotion_expert, reference_mel
from emodubber.reports.generation import (file_sha256, judges_fingerprint, key_hash, make_vocoder, merge_scores,
                                          pad_batch, prepare_dir, setting2_from_setting1, subset_judges, write_clip)
from emodubber.reports.intensity import intensity_sweep
from emodubber.reports.systems import SYSTEMS, system_spec
from emodubber.text.symbols import phonemes_to_ids
from emodubber.utils import atomic_path, progress

__all__ = ["TABLE4_METRICS", "TABLE5_METRICS", "GUIDED", "Experiment"]

#: Metrics of Table 4 (``emodubber.metrics.evaluate`` names): no emotion judge, no open-LM WER; plus the field
#: judges (Whisper WER, DNSMOS) that the profile's ``eval.field_judges`` turns on.
TABLE4_METRICS: tuple[str, ...] = ("wer", "per", "secs", "lse", "mcd", *FIELD_JUDGES)
#: Metrics of Table 5 (per emotion under guidance): content, voice, sync, the emotion judge's IS, the field judges.
TABLE5_METRICS: tuple[str, ...] = ("wer", "per", "secs", "lse", "emotion", *FIELD_JUDGES)
#: The guidance used for the per-emotion studies (Table 5, Figures 4 and 5) unless a notebook says otherwise:
#: the middle of the paper's α range on its best curve (β = α/4).
GUIDED: dict[str, float] = {"alpha": 2.5, "beta": 0.625}


class Experiment:
    """Generation, caching and scoring for one profile (see the module docstring).

    >>> ex = Experiment(cfg)
    >>> clips = ex.test_clips()                                  # eval.n_test_clips test clips
    >>> wavs = ex.generate("EmoDubber", setting=2, clips=clips)  # {clip: wav path}, cached
    >>> table, prov = ex.evaluate("EmoDubber", 2, clips, judges)  # evaluate(...) rows, cached
    """

    def __init__(self, cfg: ProfileConfig, batch_size: int = 1, device: str = "cpu", seed: int | None = None,
                 vocoder: str | None = None, show_progress: bool = True, log: Callable[[str], Any] = print,
                 sweep_batch_size: int = 8):
        self.cfg = cfg
        self.batch_size = int(batch_size)
        self.sweep_batch_size = int(sweep_batch_size)
        self.device = device
        self.seed = cfg.seed if seed is None else int(seed)
        self.vocoder_kind = vocoder or cfg.eval.vocoder
        self.show_progress = show_progress
        self.log = log
        self.root = cfg.work_dir / "generated"
        self.corpus_dir = cfg.corpus_dir
        self.manifest = cfg.corpus_dir / "dubbing.jsonl"
        self.records = {r.clip_id: r for r in read_manifest(self.manifest)}
        self.index: dict[str, str] = load_index(cfg, "dubbing")["clips"]
        tsv = cfg.corpus_dir / "references.tsv"
        self.references: dict[str, str] = read_references(tsv) if tsv.exists() else {}
        self._features: dict[str, dict[str, np.ndarray]] = {}
        self._models: dict[str, Any] = {}
        self._expert: Any = None
        self._vocoder: tuple[Callable, dict] | None = None
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------------------------------
    # clips and their inputs
    # ------------------------------------------------------------------------------------------
    def speaker_of(self, clip: str) -> str:
        """The speaker of a clip of the dubbing corpus."""
        return self.records[clip].speaker

    def emotion_judge(self) -> Any:
        """The profile's emotion judge, with a neutral reference for every test speaker of the corpus (a
        speaker-relative judge knows the emotional corpus's speakers; others, e.g. a real corpus's, are
        registered from their neutral clips)."""
        judge = EmotionJudge.from_config(self.cfg)
        judge.ensure_speakers({r.speaker for r in self.records.values() if r.split == "test"},
                              list(self.records.values()), self.corpus_dir)
        return judge

    def test_clips(self, n: int | None = None, setting: int = 2) -> list[str]:
        """The first ``n`` (default ``eval.n_test_clips``) test clips with video and features, by clip id.

        With ``setting=2`` only clips whose ``references.tsv`` reference has features are kept, so
        both settings score the same clips.
        """
        n = self.cfg.eval.n_test_clips if n is None else int(n)
        out = []
        for cid in sorted(self.records):
            r = self.records[cid]
            if r.split != "test" or not r.video or cid not in self.index:
                continue
            if setting == 2 and self.references.get(cid) not in self.index:
                continue
            out.append(cid)
        if not out:
            raise RuntimeError(f"no test clip with video and features in {self.manifest}")
        return out[:n]

    def features(self, clip_id: str) -> dict[str, np.ndarray]:
        """The clip's cached feature arrays (``emodubber.data.features``), loaded once."""
        if clip_id not in self._features:
            key = self.index.get(clip_id)
            if key is None:
                raise KeyError(f"clip {clip_id} has no features in {self.cfg.features_dir}")
            with np.load(feature_path(self.cfg, key)) as z:
                self._features[clip_id] = {k: z[k] for k in z.files}
        return self._features[clip_id]

    def reference_clip(self, clip_id: str, setting: int) -> str:
        """The clip whose speaker embedding conditions the model: the clip itself (1) or its reference (2)."""
        if setting == 1:
            return clip_id
        if setting != 2:
            raise ValueError(f"setting must be 1 or 2, not {setting!r}")
        ref = self.references.get(clip_id)
        if ref is None:
            raise KeyError(f"clip {clip_id} has no Setting-2 reference in references.tsv")
        return ref

    def inputs(self, clip_id: str, setting: int = 2) -> dict[str, Any]:
        """Keyword arguments of ``EmoDubber.synthesise`` for one clip: ``phonemes [P]``, ``lip [F, 1, S, S]``
        (uint8 ROIs; or ``[F, D]`` features), ``spk_emb [256]`` of the setting's reference and ``expert_ref [80]``
        (r̄ of that reference clip, for an expert conditioned on it: ``emodubber.models.emotion.reference_mel``)."""
        rec = self.records[clip_id]
        z = self.features(clip_id)
        lip = torch.from_numpy(z["lip"])
        if lip.dim() == 3:  # grey ROIs [F, S, S] -> [F, 1, S, S]
            lip = lip[:, None]
        zr = self.features(self.reference_clip(clip_id, setting))
        a = self.cfg.audio
        return {"phonemes": torch.tensor(phonemes_to_ids(rec.phonemes), dtype=torch.long), "lip": lip,
                "spk_emb": torch.from_numpy(np.asarray(zr["spk_emb"], np.float32)),
                "expert_ref": reference_mel(torch.from_numpy(a.normalise_mel(zr["mel"])))}

    def _batch_inputs(self, clip_ids: Sequence[str], setting: int) -> dict[str, Any]:
        return pad_batch([self.inputs(c, setting) for c in clip_ids])

    # ------------------------------------------------------------------------------------------
    # models
    # ------------------------------------------------------------------------------------------
    def model(self, system: str):
        """The system's :class:`~emodubber.models.dubber.EmoDubber`, loaded once (eval mode)."""
        spec = system_spec(system)
        if spec.kind != "model":
            raise ValueError(f"{system!r} is not a trained model")
        if system not in self._models:
            path = spec.checkpoint(self.cfg)
            if not path.exists():
                raise FileNotFoundError(f"{system}: checkpoint {path} does not exist (train stage "
                                        f"{spec.stage!r}{' / ' + spec.variant if spec.variant else ''} first)")
            self._models[system] = EmoDubber.from_pretrained(path, map_location=self.device).eval()
        return self._models[system]

    def expert_path(self) -> Path:
        return self.cfg.checkpoint_dir("emotion_expert") / "model.pt"

    def expert(self):
        """The emotion expert p_ψ that guides the sampler (stage ``emotion_expert``), loaded once."""
        if self._expert is None:
            path = self.expert_path()
            if not path.exists():
                raise FileNotFoundError(f"emotion expert {path} does not exist (train stage 'emotion_expert')")
            self._expert = load_emotion_expert(path, self.device)
        return self._expert

    def vocoder(self) -> tuple[Callable, dict[str, Any]]:
        if self._vocoder is None:
            self._vocoder = make_vocoder(self.cfg, self.vocoder_kind)
        return self._vocoder

    def available(self, systems: Iterable[str] = tuple(SYSTEMS)) -> dict[str, str]:
        """``{system: ""}`` when its checkpoint exists, else the reason it cannot run."""
        out = {}
        for s in systems:
            p = system_spec(s).checkpoint(self.cfg)
            out[s] = "" if p is None or p.exists() else f"missing checkpoint {p}"
        return out

    # ------------------------------------------------------------------------------------------
    # generation
    # ------------------------------------------------------------------------------------------
    @staticmethod
    def condition(emotion: str | None = None, alpha: float = 0.0, beta: float = 0.0) -> str:
        """Directory name of a generation condition: ``unguided`` or ``<emotion>_a<α>_b<β>``."""
        if emotion is None or (alpha == 0 and beta == 0):
            return "unguided" if emotion is None else f"{emotion}_unguided"
        return f"{emotion}_a{alpha:g}_b{beta:g}"

    def gen_dir(self, system: str, setting: int, condition: str = "unguided") -> Path:
        spec = system_spec(system)
        if spec.setting_independent:
            return self.root / spec.slug / condition
        return self.root / spec.slug / f"S{setting}" / condition

    def generation_key(self, system: str, setting: int, emotion: str | None = None, alpha: float = 0.0,
                       beta: float = 0.0, gamma: float | None = None, n_steps: int | None = None,
                       seed: int | None = None) -> dict[str, Any]:
        """Everything a generated wav depends on (what ``meta.json`` stores)."""
        spec = system_spec(system)
        ev = self.cfg.eval
        key: dict[str, Any] = {"system": system, "kind": spec.kind, "version": __version__}
        if spec.kind == "gt":
            return key
        key["vocoder"] = self.vocoder()[1]
        key["audio"] = dataclasses.asdict(self.cfg.audio)
        if spec.kind == "gt_mel":
            return key
        guided = (alpha != 0 or beta != 0) and emotion is not None
        key.update(setting=setting, checkpoint_sha256=file_sha256(spec.checkpoint(self.cfg)),
                   n_steps=int(n_steps or ev.n_steps), temperature=ev.temperature,
                   seed=self.seed if seed is None else int(seed), batch_size=self.batch_size,
                   emotion=emotion, alpha=float(alpha), beta=float(beta))
        if guided:
            key.update(gamma=float(ev.gamma if gamma is None else gamma), expert_sha256=file_sha256(self.expert_path()))
        return key

    def synthesise(self, system: str, clip_ids: Sequence[str], setting: int = 2, emotion: str | None = None,
                   alpha: float = 0.0, beta: float = 0.0, gamma: float | None = None, n_steps: int | None = None,
                   seed: int | None = None) -> list[np.ndarray]:
        """Generated normalised log-mels ``[80, T_i]`` (cut to each clip's length), one batch, no files."""
        ev = self.cfg.eval
        model = self.model(system)
        guided = emotion is not None and (alpha != 0 or beta != 0)
        b = self._batch_inputs(clip_ids, setting)
        out = model.synthesise(
            b["phonemes"], lip=b["lip"], spk_emb=b["spk_emb"], phoneme_lengths=b["phoneme_lengths"],
            lip_lengths=b["lip_lengths"], emotion=emotion if guided else None, alpha=alpha if guided else 0.0,
            beta=beta if guided else 0.0, gamma=ev.gamma if gamma is None else gamma,
            n_steps=int(n_steps or ev.n_steps), temperature=ev.temperature,
            seed=self.seed if seed is None else int(seed), expert=self.expert() if guided else None,
            expert_ref=b.get("expert_ref"))
        mel = out["mel"].float().cpu().numpy()
        lengths = out["mel_lengths"].cpu().numpy()
        return [mel[i, :, : int(lengths[i])] for i in range(len(clip_ids))]

    def synth_fn(self, system: str = "EmoDubber", setting: int = 2) -> Callable:
        """A ``synth_fn`` for :mod:`emodubber.reports.explorer`: one clip, no files, no cache.

        ``synth(clip, emotion, alpha, beta, gamma, n_steps, seed=None) -> {"mel": [80, T], "wav": [N]}``.
        (Guidance needs autograd inside the sampler, so nothing here runs under ``torch.inference_mode``.)
        """

        def synth(clip, emotion, alpha, beta, gamma, n_steps, seed=None):
            (mel,) = self.synthesise(system, [clip], setting, emotion, alpha, beta, gamma, n_steps, seed)
            (wav,) = self.vocode([mel])
            return {"mel": mel, "wav": wav}

        return synth

    def vocode(self, mels: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Waveforms (16 kHz float32) of normalised log-mels, one clip at a time (no padding artefacts)."""
        voc, _ = self.vocoder()
        return [voc(m).reshape(-1).cpu().numpy().astype(np.float32) for m in mels]

    def generate(self, system: str, setting: int = 2, clips: Sequence[str] | None = None,
                 emotion: str | None = None, alpha: float = 0.0, beta: float = 0.0, gamma: float | None = None,
                 n_steps: int | None = None, seed: int | None = None) -> dict[str, Path]:
        """``{clip: wav path}`` of ``system`` on ``clips`` (default :meth:`test_clips`), generating what is missing.

        ``emotion`` with α or β > 0 guides the sampler towards that emotion (PNGM, the emotion expert).
        "GT" returns the corpus wavs; "GT mel + vocoder" vocodes the corpus mels (setting-independent).
        """
        spec = system_spec(system)
        clips = list(self.test_clips(setting=setting) if clips is None else clips)
        if spec.kind == "gt":
            return {c: self.records[c].path(self.corpus_dir, "wav") for c in clips}
        cond = self.condition(emotion, alpha, beta) if spec.kind == "model" else "unguided"
        out = self.gen_dir(system, setting, cond)
        key = self.generation_key(system, setting, emotion, alpha, beta, gamma, n_steps, seed)
        prepare_dir(out, key, self.log)
        todo = [c for c in clips if not (out / f"{c}.wav").exists()]
        t0 = time.perf_counter()
        if todo:
            sr = self.cfg.audio.sample_rate
            batches = [todo[i:i + self.batch_size] for i in range(0, len(todo), self.batch_size)]
            desc = f"{spec.slug} S{setting} {cond}" if spec.kind == "model" else spec.slug
            for batch in progress(batches, desc=desc, disable=not self.show_progress):
                if spec.kind == "gt_mel":
                    a = self.cfg.audio
                    mels = [a.normalise_mel(self.features(c)["mel"]) for c in batch]
                else:
                    mels = self.synthesise(system, batch, setting, emotion, alpha, beta, gamma, n_steps, seed)
                for c, m, w in zip(batch, mels, self.vocode(mels)):
                    write_clip(out, c, m, w, sr)
        self.timings[f"generate {spec.slug} S{setting} {cond}"] = round(time.perf_counter() - t0, 2)
        return {c: out / f"{c}.wav" for c in clips}

    def mel(self, system: str, clip: str, setting: int = 2, emotion: str | None = None, alpha: float = 0.0,
            beta: float = 0.0, **kw: Any) -> np.ndarray:
        """The generated normalised log-mel ``[80, T]`` of one clip (generated if missing)."""
        spec = system_spec(system)
        if spec.kind == "gt":
            a = self.cfg.audio
            return a.normalise_mel(self.features(clip)["mel"])
        wav = self.generate(system, setting, [clip], emotion, alpha, beta, **kw)[clip]
        return np.load(wav.with_suffix(".npy"))

    # ------------------------------------------------------------------------------------------
    # scoring
    # ------------------------------------------------------------------------------------------
    def evaluate(self, system: str, setting: int, clips: Sequence[str] | None, judges: Any,
                 metrics: Sequence[str] = TABLE4_METRICS, emotion: str | None = None, alpha: float = 0.0,
                 beta: float = 0.0, gamma: float | None = None, n_steps: int | None = None) -> tuple[Any, dict]:
        """``emodubber.metrics.evaluate`` of ``system``'s output in ``setting`` (generated first, cached).

        Returns ``(table, provenance)``. ``emotion`` (with α/β) is the asked emotion (IS is its posterior);
        unguided generation is scored against each clip's own label. Setting-independent systems (GT rows)
        in Setting 2 reuse their Setting-1 scores and re-measure SECS against the reference clip. Field judges
        (Whisper, DNSMOS) the profile leaves out are dropped (:meth:`profile_metrics`); the others are scored as
        an evaluation of their own (own cache) and their columns joined to the rest on the clip id.
        """
        spec = system_spec(system)
        clips = list(self.test_clips(setting=setting) if clips is None else clips)
        metrics = self.profile_metrics(metrics)
        field = tuple(m for m in metrics if m in FIELD_JUDGES)
        if field and len(field) < len(metrics):  # the field judges apart: their own cache, joined on the clip id
            base = tuple(m for m in metrics if m not in FIELD_JUDGES)
            t, p = self.evaluate(system, setting, clips, judges, base, emotion, alpha, beta, gamma, n_steps)
            tf, pf = self.evaluate(system, setting, clips, judges, field, emotion, alpha, beta, gamma, n_steps)
            return merge_scores(t, p, tf, pf)
        for m in field:
            if getattr(judges, m) is None and m not in judges.missing:
                raise ValueError(f"metric {m!r} asked, but the judges hold no {m} judge: build them with "
                                 f"Judges.from_config(cfg, metrics)")
        if spec.setting_independent and setting != 1:
            t1, p1 = self.evaluate(system, 1, clips, judges, metrics, emotion, alpha, beta, gamma, n_steps)
            if "secs" not in metrics:
                t2, p2 = t1.copy(), dict(p1)
            else:
                t_secs, p_secs = self.evaluate_raw(system, setting, clips, subset_judges(judges, ("secs",)), ("secs",),
                                                   emotion, alpha, beta, gamma, n_steps)
                t2, p2 = setting2_from_setting1(t1, p1, t_secs, p_secs)
            t2["setting"] = setting
            t2.attrs["provenance"] = p2
            return t2, p2
        return self.evaluate_raw(system, setting, clips, subset_judges(judges, metrics), metrics, emotion, alpha,
                                 beta, gamma, n_steps)

    def profile_metrics(self, metrics: Sequence[str]) -> tuple[str, ...]:
        """``metrics`` without the field judges the profile leaves out (``eval.field_judges``)."""
        on = set(self.cfg.eval.field_judges)
        return tuple(m for m in metrics if m not in FIELD_JUDGES or m in on)

    def evaluate_raw(self, system: str, setting: int, clips: Sequence[str], judges: Any, metrics: Sequence[str],
                     emotion: str | None = None, alpha: float = 0.0, beta: float = 0.0, gamma: float | None = None,
                     n_steps: int | None = None) -> tuple[Any, dict]:
        """:meth:`evaluate` without the setting-independent shortcut (``judges`` used as given)."""
        spec = system_spec(system)
        gen = self.generate(system, setting, clips, emotion, alpha, beta, gamma, n_steps)
        key = {"gen": self.generation_key(system, setting, emotion, alpha, beta, gamma, n_steps),
               "setting": setting, "metrics": sorted(metrics), "clips": list(clips),
               "judges": judges_fingerprint(judges), "asked": emotion}
        if spec.kind == "gt":
            key["wav_sha"] = key_hash([file_sha256(p) if Path(p).exists() else "" for p in gen.values()])
        cond = self.condition(emotion, alpha, beta) if spec.kind == "model" else "unguided"
        cache = self.gen_dir(system, setting, cond) / f"eval_S{setting}_{key_hash(key)}.pkl"
        if cache.exists():
            table = pd.read_pickle(cache)
            return table, table.attrs.get("provenance", {})
        asked = {c: emotion for c in clips} if emotion is not None else None
        t0 = time.perf_counter()
        table, prov = evaluate(gen, self.manifest, setting=setting, judges=judges, metrics=metrics,
                               setting2_refs=self.references, asked_emotions=asked, system=system,
                               show_progress=self.show_progress)
        self.timings[f"evaluate {spec.slug} S{setting} {cond}"] = round(time.perf_counter() - t0, 2)
        prov = {**prov, "generation": key["gen"], "n_steps": key["gen"].get("n_steps"),
                "condition": cond}
        table.attrs["provenance"] = prov
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache, suffix=".pkl") as tmp:
            table.to_pickle(tmp)
        return table, prov

    def table4(self, judges: Any, settings: Sequence[int] = (1, 2), systems: Sequence[str] = tuple(SYSTEMS),
               clips: Sequence[str] | None = None, metrics: Sequence[str] = TABLE4_METRICS
               ) -> tuple[dict[tuple[str, int], Any], dict[tuple[str, int], dict]]:
        """Every (system, setting) of Table 4 scored: ``({(system, setting): table}, {(system, setting): provenance})``.

        Systems whose checkpoint is missing are skipped with a log line (their rows are absent).
        """
        clips = list(self.test_clips(setting=2) if clips is None else clips)
        tables, provs = {}, {}
        for system in systems:
            why = self.available([system])[system]
            if why:
                self.log(f"Table 4: skipping {system}: {why}")
                continue
            for k in settings:
                tables[(system, k)], provs[(system, k)] = self.evaluate(system, k, clips, judges, metrics)
        return tables, provs

    # ------------------------------------------------------------------------------------------
    # Figure 3: the intensity sweep
    # ------------------------------------------------------------------------------------------
    def intensity_sweep(self, judge: Any, system: str = "EmoDubber", setting: int = 2,
                        emotions: Sequence[str] | None = None, curves: Sequence[str] | None = None,
                        alphas: Sequence[float] | None = None, clips: Sequence[str] | None = None,
                        n_steps: int | None = None, gamma: float | None = None) -> pd.DataFrame:
        """IS against α per emotion and curve: :func:`emodubber.reports.intensity.intensity_sweep`."""
        return intensity_sweep(self, judge, system, setting, emotions, curves, alphas, clips, n_steps, gamma)

    # ------------------------------------------------------------------------------------------
    # Table 5, Figures 4 and 5: one guided generation per emotion
    # ------------------------------------------------------------------------------------------
    def emotion_outputs(self, clips: Sequence[str], emotions: Sequence[str] = EMOTIONS, system: str = "EmoDubber",
                        setting: int = 2, alpha: float = GUIDED["alpha"], beta: float = GUIDED["beta"],
                        guided: bool = True) -> dict[str, dict[str, Path]]:
        """``{emotion: {clip: wav}}``: ``system`` asked for each emotion.

        ``guided``: PNGM guidance with (α, β). Unguided (e.g. the lip-blind TTS of Figure 5, which has no
        emotion control), each emotion gets its own noise seed (``seed + emotion index``), so the points
        differ by sampling noise only.
        """
        out = {}
        for e in emotions:
            if guided:
                out[e] = self.generate(system, setting, clips, e, alpha, beta)
            else:
                out[e] = self._unguided_as(system, setting, clips, e)
        return out

    def _unguided_as(self, system: str, setting: int, clips: Sequence[str], emotion: str) -> dict[str, Path]:
        """Unguided output under a per-emotion seed, stored as condition ``<emotion>_unguided``."""
        spec = system_spec(system)
        if spec.kind != "model":
            raise ValueError(f"{system!r} is not a trained model")
        seed = self.seed + EMOTIONS.index(emotion)
        out = self.gen_dir(system, setting, self.condition(emotion))
        key = self.generation_key(system, setting, None, 0.0, 0.0, None, None, seed)
        key["asked_emotion"] = emotion
        prepare_dir(out, key, self.log)
        todo = [c for c in clips if not (out / f"{c}.wav").exists()]
        for i in range(0, len(todo), self.batch_size):
            batch = todo[i:i + self.batch_size]
            mels = self.synthesise(system, batch, setting, None, 0.0, 0.0, None, None, seed)
            for c, m, w in zip(batch, mels, self.vocode(mels)):
                write_clip(out, c, m, w, self.cfg.audio.sample_rate)
        return {c: out / f"{c}.wav" for c in clips}

