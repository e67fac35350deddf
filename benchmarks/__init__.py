"""Speed and memory benchmarks (``python -m benchmarks``; see ``benchmarks/__main__.py``)."""

import os as _os

# Before torch is imported anywhere: spinning OpenMP threads make torch many times slower on shared cores
# (emodubber/__init__.py sets the same default).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
