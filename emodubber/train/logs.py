"""The training loop's CSV logs: ``train_log.csv`` (every step) and ``val_log.csv`` (every validation)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

__all__ = ["CSVLog", "read_log"]


class CSVLog:
    """Append rows to a CSV (header from the first row; later unknown keys are dropped)."""

    def __init__(self, path: Path, keep_until_step: int | None):
        self.path = path
        self.fields: list[str] | None = None
        if path.exists() and keep_until_step is not None:  # resume: drop rows the resumed run replays
            rows = read_log(path)
            if rows:
                self.fields = list(rows[0].keys())
                with open(path, "w", newline="") as f:
                    w = csv.DictWriter(f, fieldnames=self.fields)
                    w.writeheader()
                    for r in rows:
                        if float(r.get("step", 0)) <= keep_until_step:
                            w.writerow(r)
        elif path.exists():
            path.unlink()

    def write(self, row: dict) -> None:
        new = self.fields is None
        if new:
            self.fields = list(row.keys())
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``train_log.csv`` / ``val_log.csv`` with numbers converted to float."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            conv = {}
            for k, v in row.items():
                try:
                    conv[k] = float(v)
                except (TypeError, ValueError):
                    conv[k] = v
            out.append(conv)
    return out
