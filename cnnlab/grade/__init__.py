"""Batch grader: run a folder of submitted notebooks and write a CSV gradebook.

``cnnlab grade SUBMISSION.ipynb|FOLDER... --out grades.csv [--timeout S] [--cell-timeout S]
[--jobs N] [--seed N] [--fresh N] [--lesson N] [--exercise NAME] [--details grades.json]
[--sandbox auto|required|off] [--memory SIZE] [--processes N] [--file-size SIZE] [--cpu-time S]``

How one submission is graded (the instructor's guide is ``docs/grading.md``):

1. ``submission``: the grader reads the file. Not a notebook, or no code: a row with a status,
   no kernel is started.
2. ``cases``: the inputs are every case of every selected exercise (``Exercise.cases()``) plus
   a few *fresh* cases drawn for this submission (seeded by ``--seed`` and the file's hash),
   encoded by ``wire`` (JSON specs + ``.npz`` arrays; nothing is pickled).
3. ``runner``: a child process (``python -m cnnlab.grade --_one WORKDIR``, its own process
   group) starts a fresh kernel, on Linux inside ``sandbox`` (bubblewrap: own PID, network and
   mount namespaces, read-only but a scratch folder holding a copy of the notebook, limits),
   runs the student's code cells (a cell over ``--cell-timeout`` is interrupted and the run
   goes on), then one extraction cell per exercise, which loads ``kernel_side`` (and ``wire``,
   ``cnnlab._files``) fresh from the package's files and calls the student's function on the
   inputs under a call tracer. Then (or when the submission exceeds ``--timeout``) the child,
   the kernel and everything in its sandbox are killed, and the grader waits until nothing of
   it is left.
4. ``scoring``: the grader reads the results back with the same ``wire`` codec
   (``allow_pickle=False``) and scores them in its own process with
   ``cnnlab.checks.evaluate_outputs`` (and ``Exercise.diagnose`` for the fresh cases).
   Nothing the notebook does to ``cnnlab`` or to its own output can raise a score.
5. ``gradebook``: the rows become a CSV (and ``--details`` JSON), written atomically by the
   grader alone once every sandbox is gone; its last column says whether the code ran
   sandboxed.

``grader`` runs all of this per submission, ``jobs`` at a time; ``cli`` is the command line.
A graded function that merely calls the library's own implementation (``cnnlab.functional``,
``cnnlab.reference``, ``cnnlab.nn``, ``scipy.signal``, ``torch`` ...) is *flagged* in the
status column (``uses-reference: corr2d calls cnnlab.functional.correlate2d``), never zeroed.
"""
from __future__ import annotations

import os  # noqa: F401  (tests patch grade.os.replace to simulate a full disk)

from cnnlab.grade.cases import ALLOWED_HELPERS, FLAGGED_MODULES
from cnnlab.grade.cli import add_cli, main
from cnnlab.grade.gradebook import Gradebook, SubmissionGrade, format_table, write_gradebook
from cnnlab.grade.grader import DEFAULT_CELL_TIMEOUT, DEFAULT_TIMEOUT, grade
from cnnlab.grade.submission import find_submissions

__all__ = [
    "DEFAULT_TIMEOUT", "DEFAULT_CELL_TIMEOUT", "FLAGGED_MODULES", "ALLOWED_HELPERS",
    "SubmissionGrade", "Gradebook", "find_submissions", "grade", "write_gradebook",
    "format_table", "add_cli", "main",
]
