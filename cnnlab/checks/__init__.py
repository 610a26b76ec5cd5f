"""Exercise checks with diagnostic feedback: ``cnnlab.check("corr2d", corr2d)``.

Every exercise of the course (``EXERCISES``, one entry per graded function in ``solutions/``)
knows

* its **cases**: a few fixed, hand-checkable ones and a few seeded random ones (always the same);
* its **reference**: the answer, computed by cnnlab's own functions (``cnnlab.functional``,
  ``cnnlab.models``), never by math re-written here;
* its **planted mistakes**: what the answer would be after a common slip (stride ignored,
  kernel flipped, padding on one side only, channels not summed, ...), again computed with
  cnnlab's functions on modified arguments. When a student's result is wrong, it is compared
  with each of them, so the feedback can say *why* it is wrong, not only *that* it is.

``check(name, student_fn)`` runs the student's function in the student's kernel on copies of the
case inputs, collects the results into a dict ``{case name: result or ErrorResult}`` and hands
that to ``evaluate_outputs(name, outputs)``, which decides the verdict. The batch grader
(``cnnlab.grade``) calls ``evaluate_outputs`` in its own process with results read back from
the submission's kernel, so a notebook cannot change its own score by patching ``check``.

The printed text is deterministic (same function, same text), one line per case::

    Checking corr2d(x, k) -- lesson 1, single-channel valid cross-correlation: 7 cases
      ✓ fixed: 3x3 worked example (answer [[19, 25], [37, 43]])
      ✗ fixed: 4x6 input, asymmetric 2x3 kernel: kernel flipped: ...
    4 of 7 cases passed.

When a case fails, ``check`` raises ``CheckFailed`` (an AssertionError) after the report, so a
notebook's test cell fails as nbgrader expects; just before, in a Jupyter kernel, it shows the
points earned as the cell's value, which nbgrader reads as partial credit (JupyterLab shows the
summary and the points).

Partial credit (``CheckResult.points_earned(points)``): all cases pass -> full points;
otherwise ``points * passed / cases``, rounded DOWN to a multiple of 0.5 (so a function
that is right on 5 of 6 cases of a 3-point exercise earns 2.5, one that only gets the
worked example right earns 0.5, and nothing earns full marks without passing everything).

Layout: ``engine`` (cases, running, verdicts), ``kinds`` (the diagnosis per result kind),
``compare`` (comparing values, explaining a wrong array), ``helpers`` (building cases and planted
mistakes), ``lesson1`` ... ``lesson9`` (each lesson's exercises), ``registry`` (lookup by name).
"""
from __future__ import annotations

from cnnlab.checks.engine import (NOT_IMPLEMENTED, Case, CheckResult, ErrorResult, Exercise,
                                  Variant)
from cnnlab.checks.lesson9 import LENET_KEYS
from cnnlab.checks.registry import EXERCISES, CheckFailed, check, collect_outputs, evaluate_outputs

__all__ = [
    "Case", "ErrorResult", "CheckResult", "Exercise", "Variant", "EXERCISES",
    "check", "CheckFailed", "evaluate_outputs", "collect_outputs", "NOT_IMPLEMENTED",
]
