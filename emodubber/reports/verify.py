"""Reproduction checked: every number of a profile's tables against a reference copy of them.

``emodubber reproduce --profile P --check`` snapshots the reference tables, re-runs the suite and compares; and
``emodubber verify --profile P`` compares what is in ``reports/P`` now. The reference of the ``smoke`` profile
is committed under ``tests/fixtures/smoke_reference`` (``reports/smoke`` itself is git-ignored), and the smoke
suite test runs this check, so a change that moves the numbers without refreshing the reference fails CI
(refresh: ``emodubber verify --profile smoke --update`` after a smoke run).

What is compared: every numeric cell of every ``*.csv`` table, rows matched by their text columns (system,
emotion, condition, ...; with an occurrence count) and columns by name. Timing columns (seconds, samples/s, RTF,
wall time, dates) measure the host, not the model, and are skipped. Tolerance: ``|a − b| ≤ atol + rtol·|b|``.
Training is defined by steps and every sampler draws from seeded generators, so on the same kind of machine the
expected difference is zero; the default (``atol = rtol = 1e-6``) only absorbs CSV float round trips. Across
CPU instruction sets the kernels' rounding differs, so a looser tolerance is needed there: for the ``cpu``
profile's 50-clip tables ``--atol 0.5`` accepts at most one GRID word (0.33 WER points) per table cell.
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["TIMING_COLUMNS", "SKIPPED_FILES", "Difference", "compare_tables", "compare_reports",
           "format_differences", "snapshot_tables", "reference_dir"]

#: columns that measure the host (skipped): wall times, rates and real-time factors, also when written as the
#: tables print them ("feature CPU ms/clip", "RTF (guided)", "decoder (s)")
TIMING_COLUMNS = re.compile(r"(^|_)(seconds|secs_wall|wall|wall_s|time|elapsed|rtf|samples_per_s|clips_per_s|"
                            r"started|ended|date|s)$|per_s$|_ms$|\bms\b|\brtf\b|\(s\)$", re.IGNORECASE)
#: tables that are all timing
SKIPPED_FILES = re.compile(r"(timing|benchmark|bench)", re.IGNORECASE)


@dataclass(frozen=True)
class Difference:
    file: str
    row: str
    column: str
    reference: object
    measured: object

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "row": self.row, "column": self.column, "reference": self.reference,
                "measured": self.measured}


def _keyed(df: pd.DataFrame) -> dict[str, pd.Series]:
    """Rows keyed by their text columns (plus an occurrence count), or by position when there are none."""
    text = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    out: dict[str, pd.Series] = {}
    seen: dict[str, int] = {}
    for i, (_, r) in enumerate(df.iterrows()):
        base = " | ".join(f"{c}={r[c]}" for c in text) if text else f"row {i}"
        n = seen.get(base, 0)
        seen[base] = n + 1
        out[base if n == 0 else f"{base} #{n + 1}"] = r
    return out


def _close(a: float, b: float, atol: float, rtol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= atol + rtol * abs(b)


def compare_tables(reference: Path, measured: Path, atol: float = 1e-6, rtol: float = 1e-6) -> list[Difference]:
    """Differences between two CSV tables (numeric cells beyond tolerance, missing rows or columns)."""
    name = reference.name
    if not measured.exists():
        return [Difference(name, "-", "-", "present", "missing")]
    a, b = pd.read_csv(reference), pd.read_csv(measured)
    ka, kb = _keyed(a), _keyed(b)
    out = [Difference(name, k, "-", "present", "missing") for k in ka if k not in kb]
    out += [Difference(name, k, "-", "missing", "present") for k in kb if k not in ka]
    numeric = [c for c in a.columns if pd.api.types.is_numeric_dtype(a[c]) and not TIMING_COLUMNS.search(str(c))]
    out += [Difference(name, "-", c, "present", "missing") for c in numeric if c not in b.columns]
    for k in ka.keys() & kb.keys():
        for c in numeric:
            if c not in b.columns:
                continue
            va, vb = pd.to_numeric(pd.Series([ka[k][c]]), errors="coerce")[0], \
                pd.to_numeric(pd.Series([kb[k][c]]), errors="coerce")[0]
            if not _close(float(vb), float(va), atol, rtol):
                out.append(Difference(name, k, str(c), va, vb))
    return out


def compare_reports(reference_dir: str | Path, measured_dir: str | Path, atol: float = 1e-6,
                    rtol: float = 1e-6) -> tuple[int, list[Difference]]:
    """(tables compared, differences) for every ``*.csv`` of ``reference_dir`` against ``measured_dir``."""
    ref, new = Path(reference_dir), Path(measured_dir)
    files = sorted(p for p in ref.glob("*.csv") if not SKIPPED_FILES.search(p.name))
    if not files:
        raise FileNotFoundError(f"{ref}: no reference tables (*.csv) to compare with")
    diffs: list[Difference] = []
    for p in files:
        diffs += compare_tables(p, new / p.name, atol, rtol)
    return len(files), diffs


def format_differences(n_tables: int, diffs: list[Difference], limit: int = 40) -> str:
    """One line per difference (the first ``limit``), after a one-line verdict."""
    if not diffs:
        return f"reproduced: {n_tables} tables, every number within tolerance"
    lines = [f"NOT reproduced: {len(diffs)} difference(s) in {len({d.file for d in diffs})} of {n_tables} tables"]
    for d in diffs[:limit]:
        lines.append(f"  {d.file} [{d.row}] {d.column}: reference {d.reference} → measured {d.measured}")
    if len(diffs) > limit:
        lines.append(f"  ... and {len(diffs) - limit} more")
    return "\n".join(lines)


def snapshot_tables(src: str | Path, dst: str | Path) -> Path:
    """Copy the ``*.csv`` tables of ``src`` to ``dst`` (the reference, before a run overwrites them)."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for p in Path(src).glob("*.csv"):
        shutil.copy2(p, dst / p.name)
    return dst


def reference_dir(profile_name: str, reports_dir: Path, root: Path) -> Path:
    """Where a profile's reference tables live: the committed fixture for ``smoke``, else the reports folder."""
    fixture = root / "tests" / "fixtures" / f"{profile_name}_reference"
    return fixture if fixture.is_dir() else reports_dir
