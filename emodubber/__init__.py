"""emodubber: a reproducible re-implementation of EmoDubber (emotion-controllable movie dubbing).

``import emodubber`` needs no system tool, GPU, data or network: heavy backends (torch models,
synthesisers, judges) load lazily in the sub-packages that use them.
"""

__version__ = "0.1.0"

from emodubber.config import EMOTIONS, ProfileConfig, load_profile  # noqa: E402

__all__ = ["__version__", "EMOTIONS", "ProfileConfig", "load_profile"]
