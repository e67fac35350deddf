"""emodubber.models: one paper component per file (docs/paper.md §3, B).

================  ==============================================================================
file              component
================  ==============================================================================
lip_encoder       𝓔: mouth-ROI frames (3-D conv + 2-D ResNet + temporal conv) or 512-d features → [B, F, d]
phoneme_encoder   style-aware RoPE/SALN phoneme encoder, prosody adaptor (pitch, energy → O_p), durations
lpa               LPA: lip-query attention → C_pho and sim(𝓔, O_p); duration contrastive loss L_cl
pe                PE: MAS → D_p, length regulator, fusion + audio-visual conformer, CTC head (own blank)
sia               SIA: ×4 up-sampling, USL (SALN FFT blocks), projection + PostNet → μ; prior loss
decoder           the 1-D U-Net estimator v_θ(φ_t | μ, S_id, t)
flow_matching     OT-CFM solver: loss and seeded Euler sampler with a guidance hook
emotion           emotion expert p_ψ(c | φ_t, t) and PNGM guidance ṽ
vocoder           Griffin-Lim (default) and HiFi-GAN generator / discriminators / losses
dubber            EmoDubber: composition, compute_loss, synthesise, save / from_pretrained / load_partial
baselines         lip-blind TTS and the ablations (w/o L_cl, w/o PE, w/o guidance) by configuration
checkpointing     model files (weights + config + version), atomic
================  ==============================================================================

Import the submodules directly (``from emodubber.models.dubber import EmoDubber``); this package
imports nothing heavy by itself.
"""
