"""EmoDubber: LPA + PE + SIA + FUEC composed (docs/paper.md §3, appendix pseudo-code).

Dubbing path (``mode="dubber"``)::

    mu_x = PhoEncoder(phonemes, S_id)                       [B, P, d]
    𝓔    = LipEncoder(lip)                                  [B, F, d]
    O_p  = ProsodyAdaptor(mu_x; pitch, energy)              [B, P, d]
    C_pho, sim = LPA(q=𝓔, k=v=O_p)                          [B, F, d], [B, F, P]
    A*, D_p = MAS(sim);  V_f = AVEC(EF([A*ᵀ mu_x; C_pho]))  [B, P, F], [B, P], [B, F, d]
    H = Up×4(V_f);  μ = SIA(H, S_id)                        [B, 4F, d], [B, 80, T = 4F]
    (``model.dub_fusion = "residual"``: H = repeat×4(A*ᵀ O_p) + Z(Up×4(V_f)), Z zero-initialised, and the
     fusion expands O_p instead of mu_x: at step 0, under the same alignment, μ is the pre-trained TTS's μ;
     ``model.dub_align_grad = "straight_through"``: A* + sim − sg(sim) in that expansion, so the reconstruction
     losses reach the attention that MAS reads)
    mel = CFM-Euler(μ, S_id) (+ PNGM guidance ṽ)            [B, 80, T]

TTS path (``mode="tts"``, stage-1 pre-training on all speech, speech-only clips included, and the
lip-blind baseline): O_p is expanded to mel rate with the *true* durations (batch.durations, mel
frames) in training, with the duration predictor's at inference; then SIA and the CFM decoder as above.

Loss (docs/paper.md §A.1), every term returned by name, ``loss`` = Σ weight · term with
:data:`DEFAULT_LOSS_WEIGHTS` updated by ``model_cfg.loss_weights``:
L = L_prior + L_CFM + 0.01 L_CTC + 0.001 L_cl + 1.2 L1_energy + 1.2 L1_pitch (+ 1.0 L_dur in TTS mode).

Optional (``loss_weights.content`` > 0 and a teacher set with :meth:`EmoDubber.set_content_teacher`, a
deviation): L_content = ‖μ − μ_TTS(D_p × 4)‖² per mel bin and valid frame, the dubber's prior pulled towards
the frozen pre-trained TTS's prior under the dubber's own durations — keep the content while adapting to the
lips (DiFlowDubber's "content-consistency adaptation" in spirit).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from emodubber.batch import DubBatch
from emodubber.config import AudioConfig, ModelConfig, from_dict
from emodubber.models.checkpointing import read_model_file, write_model_file
from emodubber.models.decoder import UNet1DEstimator
from emodubber.models.emotion import PNGMGuidance, emotion_index
from emodubber.models.flow_matching import CFM
from emodubber.models.lip_encoder import LipEncoder
from emodubber.models.lpa import LipProsodyAligner, duration_contrastive_loss
from emodubber.models.pe import CTCHead, PronunciationEnhancer, ctc_loss
from emodubber.models.phoneme_encoder import DurationPredictor, PhonemeEncoder, ProsodyAdaptor, resolve_n_vocab
from emodubber.models.sia import SpeakerIdentityAdapter, prior_loss
from emodubber.modules.alignment import (fit_durations, length_regulate, path_from_durations, sequence_mask,
                                         snap_to_video)
from emodubber.modules.checks import MEL_PER_FRAME, ShapeError, expect_dim, expect_ndim, expect_t_equals_4f

__all__ = ["EmoDubber", "DEFAULT_LOSS_WEIGHTS", "MODES", "resolve_loss_weights", "script_to_ids"]

#: Weight of each loss term in ``loss`` (docs/paper.md §A.1); ``model_cfg.loss_weights`` overrides entries.
DEFAULT_LOSS_WEIGHTS: dict[str, float] = {
    "prior": 1.0,
    "cfm": 1.0,
    "ctc": 0.01,
    "lcl": 0.001,
    "pitch": 1.2,
    "energy": 1.2,
    "duration": 1.0,
    "content": 0.0,  # content consistency towards a frozen TTS teacher (off in the paper's recipe)
}
MODES = ("dubber", "tts")


def script_to_ids(script: str | list[str] | tuple[str, ...]) -> torch.Tensor:
    """Phoneme ids ``[P]`` of a script: text (CMUdict G2P, ``sil`` at both ends) or a list of ARPAbet phones.
    An empty text or a word CMUdict does not know raises ``ValueError`` naming it."""
    from emodubber.text.g2p import OOVError, text_to_phonemes
    from emodubber.text.symbols import SymbolError, phonemes_to_ids

    try:
        phones = text_to_phonemes(script) if isinstance(script, str) else list(script)
        return torch.tensor(phonemes_to_ids(phones), dtype=torch.long)
    except (OOVError, SymbolError) as e:
        raise ValueError(f"cannot read the script {script!r}: {e}") from None


def resolve_loss_weights(cfg: ModelConfig) -> dict[str, float]:
    """The weight of every loss term under ``cfg``: :data:`DEFAULT_LOSS_WEIGHTS` updated by ``cfg.loss_weights``,
    L_cl at 0 when ``cfg.use_lpa_loss`` is off. An unknown term raises ``ValueError`` naming it."""
    unknown = set(cfg.loss_weights) - set(DEFAULT_LOSS_WEIGHTS)
    if unknown:
        raise ValueError(f"model.loss_weights has unknown terms {sorted(unknown)}; "
                         f"known: {sorted(DEFAULT_LOSS_WEIGHTS)}")
    weights = {**DEFAULT_LOSS_WEIGHTS, **cfg.loss_weights}
    if not cfg.use_lpa_loss:
        weights["lcl"] = 0.0
    return weights


class EmoDubber(nn.Module):
    """The full model; ``model_cfg.lip_blind`` builds the lip-blind TTS baseline from the same parts."""

    def __init__(self, model_cfg: ModelConfig | None = None, audio_cfg: AudioConfig | None = None):
        super().__init__()
        self.cfg = cfg = model_cfg or ModelConfig()
        self.audio_cfg = audio_cfg or AudioConfig()
        self.n_mels = self.audio_cfg.n_mels
        self.n_vocab = resolve_n_vocab(cfg)
        d = cfg.d_model
        self.phoneme_encoder = PhonemeEncoder(cfg)
        self.prosody = ProsodyAdaptor(cfg)
        self.duration_predictor = DurationPredictor(d, 3, cfg.dropout_strong)
        if not cfg.lip_blind:
            self.lip_encoder = LipEncoder(cfg)
            self.lpa = LipProsodyAligner(cfg)
            self.pe = PronunciationEnhancer(cfg)
            self.ctc_head = CTCHead(d, self.n_vocab)
            if cfg.dub_fusion == "residual":
                # Z: zero-initialised, so H = repeat×4(A*ᵀ O_p) exactly at the start of dubber training
                self.lip_residual = nn.Linear(d, d)
                nn.init.zeros_(self.lip_residual.weight)
                nn.init.zeros_(self.lip_residual.bias)
        self.sia = SpeakerIdentityAdapter(cfg, self.n_mels)
        self.decoder = CFM(UNet1DEstimator(cfg, self.n_mels), self.n_mels, cfg.sigma_min)
        self.loss_weights = resolve_loss_weights(cfg)
        self._teacher: list[nn.Module] = []  # a plain list: the teacher is neither a submodule nor saved

    def set_content_teacher(self, teacher: "EmoDubber | None") -> None:
        """Freeze ``teacher`` (a TTS-mode EmoDubber) and use it for L_content; ``None`` removes it."""
        self._teacher = []
        if teacher is not None:
            teacher.eval()
            for p in teacher.parameters():
                p.requires_grad_(False)
            self._teacher = [teacher]

    # ------------------------------------------------------------------------------------------
    # input checks
    # ------------------------------------------------------------------------------------------
    def _check_common(self, phonemes, phoneme_lengths, spk_emb):
        expect_ndim(phonemes, "phonemes", 2, "[B, P]")
        B = phonemes.shape[0]
        expect_ndim(spk_emb, "spk_emb", 2, f"[B, {self.cfg.spk_dim}]")
        expect_dim(spk_emb, "spk_emb", 1, self.cfg.spk_dim, "speaker-embedding size")
        expect_dim(spk_emb, "spk_emb", 0, B, "batch size")
        expect_dim(phoneme_lengths, "phoneme_lengths", 0, B, "batch size")
        if int(phoneme_lengths.max()) > phonemes.shape[1] or int(phoneme_lengths.min()) < 1:
            raise ShapeError(f"phoneme_lengths {phoneme_lengths.tolist()} must lie in 1..P = {phonemes.shape[1]}")

    def _check_lip(self, lip, lip_lengths, B):
        if lip is None:
            raise ShapeError("mode 'dubber' needs lip frames; speech-only clips (lip=None) train with mode='tts'")
        expect_dim(lip, "lip", 0, B, "batch size")
        if lip_lengths is None:
            raise ShapeError("lip_lengths is required with lip")
        if int(lip_lengths.max()) > lip.shape[1]:
            raise ShapeError(f"lip_lengths max {int(lip_lengths.max())} exceeds F = {lip.shape[1]} frames of lip")

    # ------------------------------------------------------------------------------------------
    # conditioning path: phonemes (+ lip) → μ
    # ------------------------------------------------------------------------------------------
    def forward(
        self,
        phonemes: torch.Tensor,
        phoneme_lengths: torch.Tensor,
        spk_emb: torch.Tensor,
        lip: torch.Tensor | None = None,
        lip_lengths: torch.Tensor | None = None,
        pitch: torch.Tensor | None = None,
        energy: torch.Tensor | None = None,
        durations: torch.Tensor | None = None,
        mode: str = "dubber",
        mel_frames: torch.Tensor | None = None,
        video_durations: torch.Tensor | None = None,
    ) -> dict[str, Any]:
        """Everything up to the acoustic prior μ.

        shape: phonemes [B, P], phoneme_lengths [B], spk_emb [B, 256], lip [B, F, 1, H, W] or [B, F, 512],
            lip_lengths [B], pitch/energy [B, P] (ground truth in training, None at inference),
            durations [B, P] mel frames (TTS mode; None: predicted), mel_frames [B] (TTS inference: fit
            predicted durations to this length)
            -> dict(mu [B, 80, T], mel_mask [B, 1, T], mel_lengths [B], pitch_pred, energy_pred, log_dur_pred [B, P],
               and in dubbing mode attn [B, F, P], heads [B, H, F, P], path [B, P, F], durations D_p [B, P] (video
               frames), ctc_log_probs [B, T, n_vocab + 1], lip_mask [B, F])
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if self.cfg.lip_blind:
            mode = "tts"
        self._check_common(phonemes, phoneme_lengths, spk_emb)
        B = phonemes.shape[0]
        mu_x, ph_mask = self.phoneme_encoder(phonemes, phoneme_lengths, spk_emb)
        out: dict[str, Any] = {"ph_mask": ph_mask, "mode": mode}
        if mode == "dubber":
            self._check_lip(lip, lip_lengths, B)
            if lip.dtype == torch.uint8:
                lip = lip.float() / 255.0
            lip_mask = sequence_mask(lip_lengths, lip.shape[1])
            E = self.lip_encoder(lip, lip_mask)
            pros = self.prosody(mu_x, ph_mask, pitch, energy, face=E, face_mask=lip_mask)
            C_pho, attn, heads = self.lpa(E, lip_mask, pros["O_p"], ph_mask)
            path = None
            if video_durations is not None:  # the true alignment in place of MAS (diagnostics, tests)
                expect_ndim(video_durations, "video_durations", 2, "[B, P]")
                expect_dim(video_durations, "video_durations", 1, phonemes.shape[1], "phonemes P")
                path = path_from_durations(video_durations, lip.shape[1])
            residual = self.cfg.dub_fusion == "residual"
            pe = self.pe(C_pho, attn, pros["O_p"] if residual else mu_x, phoneme_lengths, lip_lengths, lip_mask,
                         path=path)
            H = self.sia.upsample(pe["V_f"])  # [B, 4F, d]
            if residual:  # H = repeat×4(A*ᵀ O_p) + Z(Up×4(V_f)): the TTS's own expansion plus what the lips add
                A = pe["path"]
                if self.cfg.dub_align_grad == "straight_through" and torch.is_grad_enabled():
                    soft = attn.transpose(1, 2).to(A.dtype)  # [B, P, F]; zero on padded phonemes and frames
                    A = A + soft - soft.detach()  # forward: A*; backward: ∂/∂sim as if sim expanded O_p
                base = length_regulate(pros["O_p"], A).repeat_interleave(MEL_PER_FRAME, dim=1)
                H = base + self.lip_residual(H)
            mel_lengths = MEL_PER_FRAME * lip_lengths
            mel_mask = sequence_mask(mel_lengths, H.shape[1])
            H = H * mel_mask[..., None].to(H.dtype)
            out.update(attn=attn, heads=heads, path=pe["path"], durations=pe["durations"], lip_mask=lip_mask,
                       ctc_log_probs=self.ctc_head(H))
        else:
            pros = self.prosody(mu_x, ph_mask, pitch, energy)
            log_dur = self.duration_predictor(mu_x.detach(), ph_mask)
            out["log_dur_pred"] = log_dur
            if durations is None:
                d = (torch.exp(log_dur) - 1).clamp_min(1.0) * ph_mask
                if mel_frames is not None:
                    durations = fit_durations(d, ph_mask, mel_frames)
                else:
                    durations = d.round().long() * ph_mask.long()
            else:
                expect_ndim(durations, "durations", 2, "[B, P]")
                expect_dim(durations, "durations", 1, phonemes.shape[1], "phonemes P")
            mel_lengths = durations.long().sum(-1)
            T = int(mel_lengths.max()) if mel_frames is None else max(int(mel_lengths.max()), int(mel_frames.max()))
            path = path_from_durations(durations, T)
            H = length_regulate(pros["O_p"], path)
            mel_mask = sequence_mask(mel_lengths, T)
            out.update(path=path, durations=durations)
        mu = self.sia(H, mel_mask, spk_emb)
        out.update(mu=mu, mel_mask=mel_mask[:, None, :].to(mu.dtype), mel_lengths=mel_lengths,
                   pitch_pred=pros["pitch_pred"], energy_pred=pros["energy_pred"])
        return out

    # ------------------------------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _random_crop(y, mu, mask, lengths, crop: int, generator=None):
        """A random window of ``crop`` frames inside each item's valid region. shape: [B, C, T] -> [B, C, crop]"""
        B, _, T = y.shape
        max_start = (lengths - crop).clamp_min(0)
        start = (torch.rand(B, generator=generator) * (max_start.cpu() + 1).float()).floor().long().to(y.device)
        idx = start[:, None] + torch.arange(crop, device=y.device)[None]  # [B, crop]
        inside = (idx < T).to(y.dtype)[:, None]
        idx = idx.clamp_max(T - 1)[:, None]
        take = lambda a: a.gather(2, idx.expand(-1, a.shape[1], -1))  # noqa: E731
        return take(y), take(mu), take(mask) * inside

    def compute_loss(
        self, batch: DubBatch, mode: str = "dubber", crop_frames: int = 0, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Every loss term by name and ``loss`` = Σ weight · term (weights: :attr:`loss_weights`).

        ``mode="dubber"``: prior, cfm, pitch, energy, lcl (L_cl), ctc. ``mode="tts"`` (also forced for the
        lip-blind baseline): prior, cfm, pitch, energy, duration. ``crop_frames`` > 0 (a multiple of 4)
        computes L_CFM on a random window of that many mel frames per item; encoders, μ and L_prior see
        the whole clip.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if crop_frames % MEL_PER_FRAME:
            raise ValueError(f"crop_frames must be a multiple of {MEL_PER_FRAME}, got {crop_frames}")
        if self.cfg.lip_blind:
            mode = "tts"
        y = batch.mel
        expect_ndim(y, "mel", 3, f"[B, {self.n_mels}, T]")
        expect_dim(y, "mel", 1, self.n_mels, "mel bins")
        if mode == "dubber":
            if batch.lip is None:
                raise ShapeError("mode 'dubber' needs batch.lip; speech-only batches train with mode='tts'")
            expect_t_equals_4f(y.shape[-1], batch.lip.shape[1], "mel (padded batch)")
            for i in range(y.shape[0]):
                expect_t_equals_4f(int(batch.mel_lengths[i]), int(batch.lip_lengths[i]), "mel_lengths",
                                   clip=str(batch.clip_ids[i]) if batch.clip_ids else str(i))
        true_video = None
        if mode == "dubber" and self.cfg.dub_train_alignment == "true":  # μ along the spoken alignment
            true_video = snap_to_video(batch.durations, batch.phoneme_lengths, batch.lip_lengths, MEL_PER_FRAME)
        out = self(
            batch.phonemes, batch.phoneme_lengths, batch.spk_emb, lip=batch.lip, lip_lengths=batch.lip_lengths,
            pitch=batch.pitch, energy=batch.energy, durations=batch.durations if mode == "tts" else None, mode=mode,
            video_durations=true_video,
        )
        mu, mask = out["mu"], out["mel_mask"]
        if mode == "tts" and mu.shape[-1] < y.shape[-1]:  # mel padded beyond the longest clip (e.g. to 4F)
            pad = y.shape[-1] - mu.shape[-1]
            mu, mask = nn.functional.pad(mu, (0, pad)), nn.functional.pad(mask, (0, pad))
        if mu.shape[-1] != y.shape[-1]:
            raise ShapeError(f"the model made μ of {mu.shape[-1]} frames for a mel of {y.shape[-1]} frames")
        losses: dict[str, torch.Tensor] = {"prior": prior_loss(y, mu, mask)}
        yc, muc, maskc = (y, mu, mask)
        if 0 < crop_frames < y.shape[-1]:
            yc, muc, maskc = self._random_crop(y, mu, mask, out["mel_lengths"], crop_frames, generator)
        losses["cfm"], _ = self.decoder.compute_loss(yc, maskc, muc, batch.spk_emb, generator)
        pm = out["ph_mask"].to(mu.dtype)
        n_ph = pm.sum().clamp_min(1)
        losses["pitch"] = ((out["pitch_pred"] - batch.pitch).abs() * pm).sum() / n_ph
        losses["energy"] = ((out["energy_pred"] - batch.energy).abs() * pm).sum() / n_ph
        if mode == "dubber":
            if self.loss_weights["lcl"] > 0:
                if batch.gt_sim is None:
                    raise ShapeError("L_cl needs batch.gt_sim [B, P, F] (or set model.use_lpa_loss: false)")
                losses["lcl"] = duration_contrastive_loss(out["attn"], batch.gt_sim, batch.phoneme_lengths,
                                                          batch.lip_lengths, self.cfg.lcl_tau)
            losses["ctc"] = ctc_loss(out["ctc_log_probs"], out["mel_lengths"], batch.phonemes, batch.phoneme_lengths,
                                     self.ctc_head.blank)
            if self.loss_weights["content"] > 0:
                if not self._teacher:
                    raise ShapeError("loss_weights.content > 0 needs a TTS teacher: model.set_content_teacher(tts)")
                with torch.no_grad():
                    teacher = self._teacher[0]
                    t_out = teacher(batch.phonemes, batch.phoneme_lengths, batch.spk_emb, pitch=batch.pitch,
                                    energy=batch.energy, durations=out["durations"] * MEL_PER_FRAME, mode="tts",
                                    mel_frames=out["mel_lengths"])
                    mu_t = t_out["mu"][..., : mu.shape[-1]]
                    mu_t = nn.functional.pad(mu_t, (0, mu.shape[-1] - mu_t.shape[-1]))
                losses["content"] = ((mu - mu_t) ** 2 * mask).sum() / (mask.sum() * mu.shape[1]).clamp_min(1)
        else:
            target = torch.log1p(batch.durations.to(mu.dtype))
            losses["duration"] = ((out["log_dur_pred"] - target) ** 2 * pm).sum() / n_ph
        losses["loss"] = sum(self.loss_weights[k] * v for k, v in losses.items())
        return losses

    # ------------------------------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def synthesise(
        self,
        phonemes: torch.Tensor | str | list[str],
        lip: torch.Tensor | None = None,
        spk_emb: torch.Tensor | None = None,
        emotion: int | str | torch.Tensor | None = None,
        alpha: float = 0.0,
        beta: float = 0.0,
        gamma: float = 1.0,
        n_steps: int = 10,
        temperature: float = 0.667,
        seed: int = 1234,
        expert: nn.Module | None = None,
        phoneme_lengths: torch.Tensor | None = None,
        lip_lengths: torch.Tensor | None = None,
        n_frames: int | torch.Tensor | None = None,
        return_trajectory: bool = False,
        video_durations: torch.Tensor | None = None,
        expert_ref: torch.Tensor | None = None,
    ) -> dict[str, Any]:
        """Dub (or, for the lip-blind baseline, speak) a phoneme sequence; guided by PNGM when α or β > 0.

        ``phonemes``: the script as text (read with CMUdict, ``sil`` at both ends, as the corpus is transcribed),
        a list of ARPAbet phones, or phoneme ids.
        shape: phonemes [P] or [B, P], lip [F, 1, H, W] / [F, 512] or batched, spk_emb [256] or [B, 256]
            -> dict(mel [B, 80, T], mu [B, 80, T], mel_lengths [B], durations [B, P] (mel frames; the
               dubber's D_p × 4), attn [B, F, P] or None, guidance_logp list[float])
        The noise comes from ``torch.Generator().manual_seed(seed)``: same seed, same mel. The lip-blind
        baseline fits its predicted durations to 4F when ``lip`` (or ``n_frames`` mel frames) is given.
        ``video_durations`` [P] or [B, P] (dubber only): a given alignment in video frames in place of MAS.
        ``expert_ref`` [80] or [B, 80]: the speaker's neutral reference r̄ for an expert conditioned on it
        (``emodubber.models.emotion.reference_mel`` of the reference clip's normalised log-mel).
        """
        if isinstance(phonemes, (str, list, tuple)):
            phonemes = script_to_ids(phonemes)
        unbatched = phonemes.dim() == 1
        if unbatched:
            phonemes = phonemes[None]
            lip = None if lip is None else lip[None]
            spk_emb = None if spk_emb is None else spk_emb[None]
        if spk_emb is None:
            raise ShapeError("spk_emb (the speaker embedding S_id) is required")
        dev = next(self.parameters()).device
        phonemes, spk_emb = phonemes.to(dev), spk_emb.to(dev).float()
        B = phonemes.shape[0]
        if phoneme_lengths is None:
            phoneme_lengths = (phonemes != 0).sum(-1).clamp_min(1)
        phoneme_lengths = phoneme_lengths.to(dev)
        if lip is not None:
            lip = lip.to(dev)
            if lip_lengths is None:
                lip_lengths = torch.full((B,), lip.shape[1], device=dev, dtype=torch.long)
            lip_lengths = lip_lengths.to(dev)
        guided = gamma != 0 and (alpha != 0 or beta != 0)
        if guided:
            if expert is None:
                raise ValueError("alpha/beta > 0 needs an emotion expert: synthesise(..., expert=EmotionExpert)")
            if emotion is None:
                raise ValueError("alpha/beta > 0 needs the target emotion (name, id or [B] tensor)")
        was_training = self.training
        self.eval()
        try:
            if self.cfg.lip_blind:
                target = None
                if n_frames is not None:
                    target = torch.as_tensor(n_frames, device=dev).long().expand(B)
                elif lip is not None:
                    target = MEL_PER_FRAME * lip_lengths
                out = self(phonemes, phoneme_lengths, spk_emb, mode="tts", mel_frames=target)
                durations = out["durations"]
            else:
                vd = None if video_durations is None else video_durations.to(dev).reshape(B, -1)
                out = self(phonemes, phoneme_lengths, spk_emb, lip=lip, lip_lengths=lip_lengths, mode="dubber",
                           video_durations=vd)
                durations = out["durations"] * MEL_PER_FRAME
            guidance = None
            if guided:
                if isinstance(emotion, torch.Tensor):
                    tgt = emotion.to(dev).long().view(-1).expand(B)
                else:
                    tgt = torch.full((B,), emotion_index(emotion, self.cfg.n_emotions), device=dev, dtype=torch.long)
                expert.eval()
                ref = None if expert_ref is None else expert_ref.to(dev).float().reshape(-1, expert_ref.shape[-1])
                if ref is not None and ref.shape[0] == 1:  # one reference for the whole batch
                    ref = ref.expand(B, -1)
                guidance = PNGMGuidance(expert, tgt, alpha, beta, gamma, mu=out["mu"], ref=ref)
            gen = torch.Generator().manual_seed(int(seed))
            res = self.decoder(out["mu"], out["mel_mask"], spk_emb, n_steps, temperature, gen, guidance,
                               return_trajectory)
        finally:
            self.train(was_training)
        mel, traj = res if return_trajectory else (res, None)
        result = {
            "mel": mel,
            "mu": out["mu"],
            "mel_lengths": out["mel_lengths"],
            "durations": durations,
            "attn": out.get("attn"),
            "guidance_logp": guidance.history if guidance is not None else [],
        }
        if traj is not None:
            result["trajectory"] = traj
        return result

    # ------------------------------------------------------------------------------------------
    # files
    # ------------------------------------------------------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        return {"model": dataclasses.asdict(self.cfg), "audio": dataclasses.asdict(self.audio_cfg)}

    def save(self, path: str | Path, extra: dict | None = None) -> Path:
        """Write weights + model/audio config + emodubber version atomically (``from_pretrained`` reads it)."""
        return write_model_file(path, "EmoDubber", self.state_dict(), self.config_dict(), extra)

    @classmethod
    def from_pretrained(
        cls, path: str | Path, map_location: str | torch.device = "cpu", check_version: bool = True
    ) -> "EmoDubber":
        """Rebuild the model from a file of :meth:`save` (or a training checkpoint) and load its weights."""
        payload = read_model_file(path, "EmoDubber", check_version)
        cfg = payload["config"]
        if "model" not in cfg:
            raise RuntimeError(f"{path}: the stored config has no 'model' section; cannot rebuild the EmoDubber")
        model = cls(from_dict(ModelConfig, cfg["model"]), from_dict(AudioConfig, cfg.get("audio", {})))
        model.load_state_dict(payload["state_dict"])
        return model.to(map_location)

    #: parameters the TTS stage holds but never trains (TTS mode expands O_p at mel rate, without the ×4 up-sampler)
    TTS_UNTRAINED = ("sia.upsample.",)

    def load_partial(self, state_dict: dict[str, torch.Tensor] | str | Path) -> tuple[list[str], list[str]]:
        """Load every tensor whose name and shape match (e.g. the TTS stage into the dubber).

        Returns (missing: model keys left as they were, unexpected: given keys not used, including
        those whose shape differs). Keys loaded from a TTS-stage file that the TTS never trains
        (:data:`TTS_UNTRAINED`) count as missing: they hold their random initialisation.
        """
        from_tts = False
        if isinstance(state_dict, (str, Path)):
            payload = read_model_file(state_dict, None, check_version=False)
            state_dict = payload["state_dict"]
            from_tts = bool(payload.get("config", {}).get("model", {}).get("lip_blind"))
        own = self.state_dict()
        ok = {k: v for k, v in state_dict.items() if k in own and own[k].shape == v.shape}
        own.update(ok)
        self.load_state_dict(own)
        untrained = {k for k in ok if from_tts and k.startswith(self.TTS_UNTRAINED)}
        missing = sorted(k for k in own if k not in ok or k in untrained)
        unexpected = sorted(k for k in state_dict if k not in ok)
        return missing, unexpected

    def count_parameters(self) -> dict[str, int]:
        """Parameters per top-level component and in total."""
        counts = {name: sum(p.numel() for p in m.parameters()) for name, m in self.named_children()}
        counts["total"] = sum(p.numel() for p in self.parameters())
        return counts
