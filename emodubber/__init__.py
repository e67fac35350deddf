"""emodubber: a reproducible re-implementation of EmoDubber (emotion-controllable movie dubbing).

``import emodubber`` needs no system tool, GPU, data or network: heavy backends (torch models,
synthesisers, judges) load lazily in the sub-packages that use them.
"""

__version__ = "0.1.0"

import os as _os

# OpenMP threads that spin while waiting make torch 20-40x slower whenever the cores are shared with
# other processes (measured: a training step 0.6 s -> 20 s on 2 busy cores). PASSIVE costs little when
# the machine is idle. It only works if set before torch is first imported; set it yourself to override.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from emodubber.config import EMOTIONS, ProfileConfig, load_profile  # noqa: E402

__all__ = ["__version__", "EMOTIONS", "ProfileConfig", "load_profile"]
