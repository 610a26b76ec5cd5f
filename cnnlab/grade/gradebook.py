"""The gradebook: one row per submission, written as CSV (and the details as JSON), each
atomically through ``cnnlab._files``; plus the short table printed at the end of a run.
The last column, ``sandbox``, says how each submission's code ran (``bwrap``, ``none``)."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from typing import Any

from cnnlab._files import write_text_atomic

__all__ = ["SubmissionGrade", "Gradebook", "fmt_points", "write_gradebook", "write_details",
           "format_table"]

_CSV_PREFIX_DANGER = ("=", "+", "-", "@", "\t", "\r")


@dataclasses.dataclass
class SubmissionGrade:
    """One row of the gradebook.

    submission : the name shown in the gradebook
    path       : the file graded
    scores     : exercise name -> points earned (every selected exercise)
    details    : exercise name -> feedback (check messages, fresh cases, calls)
    seconds    : wall time spent on this submission
    sandbox    : how its code ran: "bwrap" (sandboxed), "none", or "" (no kernel was started)
    """
    submission: str
    path: str
    scores: dict[str, float]
    max_total: float
    status: str
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    sandbox: str = ""

    @property
    def total(self) -> float:
        return float(sum(self.scores.values()))


@dataclasses.dataclass
class Gradebook:
    """All rows of a run; ``exercises`` in registry order, ``points`` their maxima; ``sandbox``
    the run's ``sandbox.Mode`` (None: not recorded)."""
    exercises: list[str]
    points: dict[str, float]
    rows: list[SubmissionGrade]
    sandbox: Any = None

    @property
    def columns(self) -> list[str]:
        return ["submission", *self.exercises, "total", "max_total", "status", "sandbox"]


def fmt_points(x: float) -> str:
    """Points as the gradebook writes them: 3, 2.5."""
    x = round(float(x), 2)
    return str(int(x)) if x == int(x) else f"{x:.2f}".rstrip("0").rstrip(".")


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas in text a student controls (file names)."""
    return "'" + text if text.startswith(_CSV_PREFIX_DANGER) else text


def write_gradebook(book: Gradebook, out: str | os.PathLike) -> None:
    """Write the CSV: a temporary file in the same folder, then ``os.replace`` (atomic)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(book.columns)
    for row in book.rows:
        writer.writerow([_csv_safe(row.submission),
                         *(fmt_points(row.scores[n]) for n in book.exercises),
                         fmt_points(row.total), fmt_points(row.max_total),
                         _csv_safe(row.status), row.sandbox])
    write_text_atomic(out, buf.getvalue())


def write_details(book: Gradebook, path: str | os.PathLike) -> None:
    """Write the per-exercise feedback of every row as JSON (atomically)."""
    reason = getattr(book.sandbox, "reason", "")
    write_text_atomic(path, json.dumps(
        {r.submission: {"status": r.status, "total": r.total, "max_total": r.max_total,
                        "sandbox": r.sandbox if r.sandbox != "none" or not reason
                        else f"none: {reason}", "exercises": r.details}
         for r in book.rows}, indent=1, default=str))


def format_table(book: Gradebook, width: int = 100) -> str:
    """A short plain-text table for the terminal: submission, total/max, status."""
    name_w = min(40, max([len("submission"), *(len(r.submission) for r in book.rows)]))
    lines = [f"{'submission':<{name_w}}  {'total':>9}  status", "-" * min(width, name_w + 30)]
    for r in book.rows:
        score = f"{fmt_points(r.total)}/{fmt_points(r.max_total)}"
        status = r.status if len(r.status) <= width - name_w - 13 else \
            r.status[:max(10, width - name_w - 16)] + "..."
        name = r.submission if len(r.submission) <= name_w else "..." + r.submission[-name_w + 3:]
        lines.append(f"{name:<{name_w}}  {score:>9}  {status}")
    return "\n".join(lines)
