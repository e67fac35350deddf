"""The jobs file of ``emodubber dub --batch``: one clip per CSV row (read without torch).

Columns (header row, any order): ``text, video, reference, output`` required; ``emotion, alpha, beta,
alignment`` optional, per row (an empty cell takes the batch's value). Relative paths are taken from the jobs file's
folder. A file that cannot be read as such a table (missing, no header, a missing or unknown column, a row
with too many cells, no rows, two rows writing the same output) raises :class:`JobsFileError`, one line;
a bad value in one row (``alpha`` not a number, a missing video, …) fails that row only.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

__all__ = ["Job", "JobsFileError", "read_jobs", "as_job", "REQUIRED", "OPTIONAL"]

REQUIRED = ("text", "video", "reference", "output")
OPTIONAL = ("emotion", "alpha", "beta", "alignment")


class JobsFileError(ValueError):
    """A jobs file that is not a table of jobs; the message (one line) names the file and the problem."""


@dataclass
class Job:
    """One clip to dub. ``alpha``/``beta`` may hold the cell's text until the row runs (checked then)."""

    text: str
    video: Path
    reference: Path
    output: Path
    emotion: str | None = None
    alpha: Any = None  # None: the batch's value
    beta: Any = None
    alignment: str | None = None  # None: the batch's value ("auto", "lips" or "text"; checked when the row runs)
    line: int | None = None  # line in the jobs file (1 = header)

    @property
    def label(self) -> str:
        return f"line {self.line}" if self.line is not None else str(self.output)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def as_job(job: Job | Mapping[str, Any], base: Path | None = None, line: int | None = None) -> Job:
    """A :class:`Job` from a mapping with the jobs file's columns (``out`` is accepted for ``output``);
    relative paths are taken from ``base`` (the current folder when ``None``)."""
    if isinstance(job, Job):
        return job
    d = {str(k).strip().lower(): v for k, v in job.items()}
    if "output" not in d and "out" in d:
        d["output"] = d.pop("out")

    def path(key: str) -> Path:
        p = Path(str(d.get(key) or "").strip())
        return p if base is None or p.is_absolute() or not str(d.get(key) or "").strip() else base / p

    return Job(text=str(d.get("text") or ""), video=path("video"), reference=path("reference"), output=path("output"),
               emotion=None if _blank(d.get("emotion")) else str(d["emotion"]).strip(),
               alpha=None if _blank(d.get("alpha")) else d["alpha"], beta=None if _blank(d.get("beta")) else d["beta"],
               alignment=None if _blank(d.get("alignment")) else str(d["alignment"]).strip().lower(), line=line)


def read_jobs(path: str | Path) -> list[Job]:
    """The jobs of a CSV file; :class:`JobsFileError` (one line) if it is not a jobs table."""
    path = Path(path)
    if not path.is_file():
        raise JobsFileError(f"jobs file {path} does not exist" if not path.exists() else f"jobs file {path} is not a file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise JobsFileError(f"jobs file {path} is not readable UTF-8 text ({type(e).__name__})") from None
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as e:
        raise JobsFileError(f"jobs file {path} is not CSV ({e})") from None
    rows = [(i + 1, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not rows:
        raise JobsFileError(f"jobs file {path} is empty: give a header row ({', '.join(REQUIRED + OPTIONAL)}) "
                            f"and one row per clip")
    header_line, header = rows[0]
    cols = [c.strip().lower() for c in header]
    unknown = [c for c in cols if c not in REQUIRED + OPTIONAL]
    missing = [c for c in REQUIRED if c not in cols]
    if unknown or missing:
        what = "; ".join(x for x in (f"unknown column(s) {', '.join(map(repr, unknown))}" if unknown else "",
                                     f"missing column(s) {', '.join(missing)}" if missing else "") if x)
        raise JobsFileError(f"jobs file {path}, line {header_line}: {what} (columns: {', '.join(REQUIRED)}; "
                            f"optional {', '.join(OPTIONAL)})")
    if len(set(cols)) != len(cols):
        raise JobsFileError(f"jobs file {path}, line {header_line}: a column is named twice ({', '.join(cols)})")
    if len(rows) == 1:
        raise JobsFileError(f"jobs file {path} has a header but no jobs")
    jobs, seen = [], {}
    for line, r in rows[1:]:
        if len(r) > len(cols):
            raise JobsFileError(f"jobs file {path}, line {line}: {len(r)} cells for {len(cols)} columns "
                                f"(quote a text that holds a comma)")
        job = as_job(dict(zip(cols, r)), path.parent, line)
        if str(job.output) in seen and str(job.output).strip() not in ("", "."):
            raise JobsFileError(f"jobs file {path}, lines {seen[str(job.output)]} and {line} both write {job.output}")
        seen[str(job.output)] = line
        jobs.append(job)
    return jobs
