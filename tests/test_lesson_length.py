"""Issue 13: "if a lesson grows past what one lecture can cover (about 60-90 minutes), split it".

A rough, stated rule estimates a lesson's lecture time from the committed notebook:
1 minute per 30 words of markdown (whitespace-separated, formulas and tables included), plus
1 minute per code cell the class sees (not Skip or Notes), plus 3 more per widget (a code cell
whose last line shows ``.widget``). It is only an estimate (a table is read faster than prose, a
worked example slower), kept here so that lessons that grow past one lecture are noticed.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_MINUTES = 90  # the upper bound for one lecture


def lecture_minutes(path: Path) -> float:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    shown = [c for c in cells if c["metadata"].get("slideshow", {}).get("slide_type") not in ("skip", "notes")]
    words = sum(len("".join(c["source"]).split()) for c in shown if c["cell_type"] == "markdown")
    code = [c for c in shown if c["cell_type"] == "code"]
    widgets = [c for c in code if re.search(r"\.widget\s*$", "".join(c["source"]).strip().splitlines()[-1])]
    return words / 30 + len(code) + 3 * len(widgets)


def test_the_rule_counts_what_it_says():
    first = ROOT / "notebooks" / "01_discrete_convolution.ipynb"
    cells = json.loads(first.read_text(encoding="utf-8"))["cells"]
    assert any(c["cell_type"] == "code" and c["source"] and c["source"][-1].strip().endswith(".widget")
               for c in cells), "lesson 1 has widgets; has the way they are shown changed?"
    assert 30 < lecture_minutes(first) < 200


def test_every_lesson_fits_one_lecture():
    assert len(LESSONS) >= 9
    minutes = {p.stem: round(lecture_minutes(p)) for p in LESSONS}
    too_long = {name: m for name, m in minutes.items() if m > MAX_MINUTES}
    assert not too_long, (f"lessons longer than one lecture ({MAX_MINUTES} min by the rule in this file's "
                          f"docstring): {too_long}; tighten or split them. All: {minutes}")
