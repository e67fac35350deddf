"""emodubber.modules: building blocks shared by the paper components in ``emodubber.models``.

- :mod:`checks` — :class:`ShapeError` and the shape helpers every ``forward`` uses;
- :mod:`saln` — style-adaptive layer norm SALN(x, S_id);
- :mod:`attention` — multi-head attention with optional rotary positions (RoPE);
- :mod:`transformer` — conv-FFN and the post-norm SALN transformer layer (phoneme encoder, USL);
- :mod:`conformer` — the macaron conformer block of the audio-visual conformer (AVEC);
- :mod:`unet1d` — time embedding, ResNet / transformer / resampling blocks of the 1-D U-Net;
- :mod:`alignment` — monotonic alignment search (numba), length regulator, masks.
"""

from emodubber.modules.checks import ShapeError

__all__ = ["ShapeError"]
