"""Small shared helpers: seeding, atomic writes, progress bars, machine description."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import random
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator

__all__ = ["seed_everything", "atomic_path", "atomic_write_text", "atomic_write_json", "progress",
           "git_commit", "machine_info", "warp_axis", "now_iso", "truncation_note"]


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA); data-loader workers derive theirs from torch's."""
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A crash mid-write leaves the old file (or nothing), never half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the mode open() would
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def progress(iterable=None, **kwargs):
    """``tqdm.auto`` with a sensible refresh interval (widget in Jupyter, text under papermill)."""
    from tqdm.auto import tqdm

    kwargs.setdefault("mininterval", 2.0)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


def git_commit(root: str | Path | None = None) -> str:
    """The checkout's commit (with ``+dirty`` when code outside ``reports/`` has uncommitted changes), or ``unknown``."""
    from emodubber.config import repo_root

    cwd = Path(root) if root else repo_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
        # a run's own outputs (reports/) do not make the code dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!reports"],
                               cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_info() -> dict[str, Any]:
    """What ran a job: host, CPU, core count, memory, Python, torch and its device."""
    info: dict[str, Any] = {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["mem_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda"] = torch.cuda.is_available()
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    return info


def warp_axis(x: Any, factor: float, axis: int = 0) -> Any:
    """Stretch ``x`` along ``axis`` by ``factor`` (> 1 moves content up): ``out[f] = x[f / factor]``, linear
    interpolation, edges held, dtype kept — a frequency-axis (vocal-tract-length) warp of a spectrum."""
    import numpy as np

    n = x.shape[axis]
    src = np.clip(np.arange(n) / factor, 0, n - 1)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    shape = [1] * x.ndim
    shape[axis] = n
    w = (src - i0).astype(x.dtype).reshape(shape)
    return np.take(x, i0, axis=axis) * (1 - w) + np.take(x, i1, axis=axis) * w


def now_iso() -> str:
    """The current UTC time as ISO 8601 to the second (``2026-01-01T12:00:00+00:00``)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def truncation_note(step: int, target_steps: int, why: str = "time_budget") -> str:
    """``"truncated at step N of M (why)"`` when a run stopped before its ``target_steps``, else ``""``: the one
    wording of a run cut short by its wall-clock guard (trainer, sync expert, emotion judge, reports)."""
    return f"truncated at step {step} of {target_steps} ({why})" if step < target_steps else ""
