"""The notebook rules (cnnlab.notebook_rules, run by `cnnlab exercises --check`), on the committed
notebooks and on planted mistakes.

Policy (docs/authoring.md): lessons, solutions and exercises are committed with outputs CLEARED,
slide metadata on every cell, unique valid cell ids, the python3 kernel; nbval then runs every
cell under --nbval-lax (cleared cells are never compared, so the lessons guard their text with
asserts instead). Every broken rule fails here, naming the notebook, the cell (index, id, first
words) and the fix; what JupyterLab writes when it saves a notebook passes.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

import authoring_helpers as ah
from cnnlab import exercises, notebook_rules
from cnnlab.checks import EXERCISES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIRS = ("notebooks", "solutions", "exercises")
KIND = {"notebooks": "lesson", "solutions": "solution", "exercises": "exercise"}
ALL_NOTEBOOKS = sorted(
    p for d in NOTEBOOK_DIRS for p in (ROOT / d).glob("*.ipynb")
)
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))

EXPECTED_LESSONS = [
    "01_discrete_convolution.ipynb",
    "02_image_kernels.ipynb",
    "03_stride_padding_dilation.ipynb",
    "04_channels.ipynb",
    "05_pooling.ipynb",
    "06_activations_forward.ipynb",
    "07_backpropagation.ipynb",
    "08_backprop_end_to_end.ipynb",
    "09_lenet5_mnist.ipynb",
]


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def _problems(path, *rules):
    return notebook_rules.check_notebook(path, KIND[path.parent.name], rules or None)


def _report(problems) -> str:
    return "\n".join(map(str, problems))


# =========================================================================== the committed notebooks

def test_the_lessons_exist_in_order():
    assert [p.name for p in LESSONS] == EXPECTED_LESSONS


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_ids(ALL_NOTEBOOKS))
def test_notebook_is_valid_and_cleared(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    problems = _problems(path, "nbformat", "cell-id", "outputs", "kernelspec", "nbgrader")
    assert not problems, _report(problems)


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_ids(ALL_NOTEBOOKS))
def test_every_cell_has_slide_metadata_both_slide_tools_read_alike(path):
    """One form: every cell has a slide type, "" continuing the slide (what the Property
    Inspector writes for "-"); and the live lecture (jupyterlab-deck) shows the same views as
    ``jupyter nbconvert --to slides`` (the static deck)."""
    problems = _problems(path, "slide-type", "deck")
    assert not problems, _report(problems)
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].metadata["slideshow"]["slide_type"] == "slide"
    types = [c.metadata["slideshow"]["slide_type"] for c in cells]
    assert "-" not in types
    assert notebook_rules.deck_views(types) == notebook_rules.nbconvert_views(types)


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_lesson_follows_the_arc(path):
    """Each lesson has a widget, a static fallback, asserts and hidden-answer questions."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "widgets." in code, f"{path.name}: no cnnlab.widgets app is shown"
    assert re.search(r"viz\.static_\w+\(", code), f"{path.name}: no static figure fallback"
    assert code.count("assert ") >= 3, f"{path.name}: numbers in the text must be asserted"
    assert "<details" in text, f"{path.name}: 'check yourself' answers must be hidden in <details>"
    assert re.search(r"check yourself", text, re.I), f"{path.name}: no 'Check yourself' section"
    for forbidden in ("pip install", "%matplotlib widget", "urlopen(", "requests."):
        assert forbidden not in code, f"{path.name}: {forbidden!r} would need network or a GUI"


def test_no_notebook_checkpoints_committed():
    """Committed, or not ignored by git; the folders JupyterLab keeps on disk are fine."""
    problems = [p for d in NOTEBOOK_DIRS
                for p in notebook_rules.check_folder(ROOT / d, KIND[d], rules=["checkpoints"])]
    assert not problems, _report(problems)
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "*.ipynb_checkpoints*"],
                             capture_output=True, text=True)
    assert tracked.returncode != 0 or not tracked.stdout.strip(), tracked.stdout


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_ids(ALL_NOTEBOOKS))
def test_no_markdown_renders_as_an_accidental_code_block(path):
    """A paragraph indented 4+ spaces (e.g. from an un-dedented template) shows as code."""
    problems = _problems(path, "markdown-code-block")
    assert not problems, _report(problems)


def test_the_one_check_passes_on_the_committed_course():
    """Lessons, solutions (with the registry and nbgrader's markers) and exercises (drift)."""
    problems = exercises.check_course(ROOT)
    assert problems == [], _report(problems)


def test_the_solutions_match_the_exercise_registry():
    graded = {}
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                graded[meta["grade_id"]] = (int(path.name[:2]), meta["points"])
    assert graded == {name: (ex.lesson, ex.points) for name, ex in EXERCISES.items()}


# =========================================================================== planted mistakes

@pytest.fixture
def course(tmp_path):
    """A copy of notebooks/, solutions/ and exercises/ (not a git work tree)."""
    return ah.copy_course(tmp_path / "course")


def _edit(path: Path, change) -> None:
    raw = ah.read_raw(path)
    change(raw)
    ah.write_raw(path, raw)


def _cell(raw, cell_id):
    return next(c for c in raw["cells"] if c["id"] == cell_id)


def _index(raw, cell_id):
    return next(i for i, c in enumerate(raw["cells"]) if c["id"] == cell_id)


def _only(problems, rule):
    assert [p.rule for p in problems] == [rule], _report(problems)
    return problems[0]


def _names_cell(problem, path: str, index: int, cell_id: str, words: str, fix: str):
    """The problem names the notebook, the cell (index, id, first words) and the fix."""
    text = str(problem)
    assert problem.path.endswith(path) and text.startswith(problem.path + ": "), text
    assert (problem.cell, problem.cell_id) == (index, cell_id), text
    assert problem.words.startswith(f'"{words}'), text
    assert f"    cell {index} (id {cell_id!r}): \"{words}" in text, text
    assert fix in problem.fix and f"    fix: {problem.fix}" in text, text


def test_a_saved_output_fails_naming_the_cell(course):
    path = course / "notebooks" / "01_discrete_convolution.ipynb"
    i = _index(ah.read_raw(path), "01-003")

    def run_once(raw):
        raw["cells"][i]["outputs"] = [{"name": "stdout", "output_type": "stream", "text": ["[-2 -2 -2]\n"]}]
        raw["cells"][i]["execution_count"] = 4
    _edit(path, run_once)
    p = _only(exercises.check_course(course), "outputs")
    _names_cell(p, "notebooks/01_discrete_convolution.ipynb", i, "01-003", "x = np.array([1, 2, 3, 4, 5])",
                "Edit > Clear Outputs of All Cells")
    assert "1 saved output and execution count 4" in p.message
    assert f"jupyter nbconvert --clear-output --inplace {p.path}" in p.fix


def test_an_execution_count_alone_fails(course):
    path = course / "notebooks" / "05_pooling.ipynb"
    _edit(path, lambda raw: raw["cells"][1].update(execution_count=1))
    p = _only(exercises.check_course(course), "outputs")
    assert (p.cell, "execution count 1") == (1, p.message.split(":")[0])


def test_a_duplicate_cell_id_fails_naming_both_cells(course):
    path = course / "notebooks" / "02_image_kernels.ipynb"
    _edit(path, lambda raw: raw["cells"][4].update(id=raw["cells"][3]["id"]))
    p = _only(exercises.check_course(course), "cell-id")
    words = notebook_rules.cell_label(ah.read_raw(path)["cells"][4])[1:12]
    _names_cell(p, "notebooks/02_image_kernels.ipynb", 4, "02-003", words, "JupyterLab and save it")
    assert "duplicate cell id '02-003' (cell 3 has it too)" in p.message


@pytest.mark.parametrize("bad_id,message", [(None, "a cell without an id"),
                                            ("two words", "invalid cell id 'two words'"),
                                            ("x" * 65, "invalid cell id")])
def test_a_missing_or_invalid_cell_id_fails(course, bad_id, message):
    path = course / "notebooks" / "04_channels.ipynb"

    def change(raw):
        if bad_id is None:
            del raw["cells"][2]["id"]
        else:
            raw["cells"][2]["id"] = bad_id
    _edit(path, change)
    p = _only(exercises.check_course(course), "cell-id")
    assert p.cell == 2 and message in p.message, str(p)
    assert ("no id" in str(p)) == (bad_id is None)


def test_a_missing_slide_type_fails_naming_the_cell_and_the_property_inspector(course):
    path = course / "notebooks" / "03_stride_padding_dilation.ipynb"
    _edit(path, lambda raw: raw["cells"][5].update(metadata={}))
    p = _only(exercises.check_course(course), "slide-type")
    words = notebook_rules.cell_label(ah.read_raw(path)["cells"][5])[1:12]
    _names_cell(p, "notebooks/03_stride_padding_dilation.ipynb", 5, "03-005", words,
                "Property Inspector (gear, right sidebar) > Common Tools")
    assert "no slide type (metadata.slideshow.slide_type)" in p.message


@pytest.mark.parametrize("index,slide_type,rule,message", [
    (4, "Slide", "slide-type", "slide type 'Slide' is not one of 'slide', 'subslide', 'fragment', 'skip', 'notes', ''"),
    (4, None, "slide-type", "slide type null is not one of"),                     # jupyterlab-deck's own tool
    (0, "subslide", "first-slide", "the first cell's slide type is 'subslide', not 'slide'"),
])
def test_a_wrong_slide_type_fails(course, index, slide_type, rule, message):
    path = course / "notebooks" / "07_backpropagation.ipynb"
    _edit(path, lambda raw: raw["cells"][index]["metadata"].update(slideshow={"slide_type": slide_type}))
    p = _only(exercises.check_course(course), rule)
    assert p.cell == index and message in p.message, str(p)


def test_a_dash_typed_into_the_metadata_fails_and_the_fix_says_how_to_pick_it(course):
    """nbconvert reads "-" as "continue", jupyterlab-deck hides the cell: the check refuses it and
    tells the author to pick "-" in the Property Inspector (saved as "")."""
    path = course / "solutions" / "03_stride_padding_dilation.ipynb"
    raw = ah.read_raw(path)
    index = next(i for i, c in enumerate(raw["cells"]) if c["metadata"].get("slideshow") == {"slide_type": ""})
    _edit(path, lambda raw: raw["cells"][index]["metadata"].update(slideshow={"slide_type": "-"}))
    problems = exercises.check_course(course)
    assert [(p.rule, p.path.split("/")[-2]) for p in problems] == [("slide-type", "solutions"), ("drift", "exercises")], \
        _report(problems)
    p = problems[0]
    assert p.cell == index and "slide type '-' typed into the metadata" in p.message, str(p)
    assert "the live lecture (jupyterlab-deck) hides the cell" in p.message
    for words in ("Property Inspector (gear, right sidebar) > Common Tools", "- continues the current one",
                  'JupyterLab saves it as ""', "choose another type, then - again"):
        assert words in p.fix, p.fix


def _types(raw):
    return [c["metadata"]["slideshow"]["slide_type"] for c in raw["cells"]]


def test_what_the_deck_would_show_differently_fails_naming_the_cell(course):
    """Two patterns jupyterlab-deck 0.2 shows differently from nbconvert: a one-cell sub-slide
    right before another sub-slide (never shown), and a second cell continuing a fragment (one
    step late). The check names the cell; the fix says what to change."""
    path = course / "notebooks" / "04_channels.ipynb"
    raw = ah.read_raw(path)
    i = _index(raw, "04-019")
    # the sub-slide "Translation equivariance" (04-019) without its code cell
    assert _types(raw)[i:i + 3] == ["subslide", "", "subslide"]
    _edit(path, lambda raw: raw["cells"][i + 1]["metadata"].update(slideshow={"slide_type": "skip"}))
    p = _only(exercises.check_course(course), "deck")
    assert (p.cell, p.cell_id) == (i, "04-019"), str(p)
    assert "the live lecture (jupyterlab-deck) never shows this cell; nbconvert's slides do" in p.message
    assert "make the one-cell sub-slide a Slide" in p.fix and "Property Inspector" in p.fix
    types = _types(ah.read_raw(path))
    assert [i] in notebook_rules.nbconvert_views(types) and [i] not in notebook_rules.deck_views(types)

    path = course / "notebooks" / "03_stride_padding_dilation.ipynb"
    raw = ah.read_raw(path)
    i = _index(raw, "03-014")
    assert _types(raw)[i:i + 2] == ["fragment", ""]
    _edit(path, lambda raw: raw["cells"].insert(i + 2, ah.new_markdown_cell("Also this.")))
    problems = [p for p in exercises.check_course(course) if p.path.endswith("03_stride_padding_dilation.ipynb")]
    p = _only(problems, "deck")
    assert p.cell == i + 2 and "shows other views than nbconvert's slides" in p.message, str(p)
    assert "make the second cell after a Fragment a Fragment too" in p.fix


def test_a_deck_layer_fails(course):
    """jupyterlab-deck's Layer tool (Property Inspector > Common Tools) shows a cell over other
    slides in the live lecture only."""
    path = course / "notebooks" / "02_image_kernels.ipynb"
    _edit(path, lambda raw: raw["cells"][3]["metadata"].update({"jupyterlab-deck": {"layer": "slide"}}))
    p = _only(exercises.check_course(course), "deck")
    assert (p.cell, p.cell_id) == (3, "02-003") and "a jupyterlab-deck layer ('slide')" in p.message, str(p)
    assert "set Property Inspector > Common Tools > Layer back to -" in p.fix


def test_the_slide_models_read_every_slide_type_as_their_tools_do():
    """nbconvert: a slide or sub-slide starts a view, a fragment adds one, skip and notes never
    show, anything else continues; jupyterlab-deck the same, except a "-" it never shows."""
    types = ["slide", "skip", "", "fragment", "notes", "", "subslide", "", "slide", "fragment"]
    want = [[0, 2], [0, 2, 3, 5], [6, 7], [8], [8, 9]]
    assert notebook_rules.nbconvert_views(types) == want == notebook_rules.deck_views(types)
    assert notebook_rules.nbconvert_views(["slide", "-", ""]) == [[0, 1, 2]]
    assert notebook_rules.deck_views(["slide", "-", ""]) == [[0, 2]]
    assert notebook_rules.deck_views(["", "", "subslide"]) == [[0, 1], [2]]   # the first cell opens a slide


def test_a_foreign_kernel_fails(course):
    path = course / "notebooks" / "09_lenet5_mnist.ipynb"
    _edit(path, lambda raw: raw["metadata"].update(kernelspec={"display_name": "R", "language": "R",
                                                               "name": "ir"}))
    p = _only(exercises.check_course(course), "kernelspec")
    assert "kernelspec name is 'ir'" in p.message and "Change Kernel" in p.fix and p.cell is None


def test_an_indented_paragraph_fails_but_fenced_code_passes(course):
    path = course / "notebooks" / "01_discrete_convolution.ipynb"

    def change(raw):
        raw["cells"][0]["source"] = "# Title\n\n```python\n\n    x = 1\n```\n"      # fenced: fine
        raw["cells"][2]["source"] = "## Heading\n\n    This paragraph is indented."
    _edit(path, change)
    p = _only(exercises.check_course(course), "markdown-code-block")
    assert p.cell == 2 and "line 3 would render as a code block: 'This paragraph is indented.'" in p.message


def test_an_invalid_notebook_and_a_broken_file_fail(course):
    path = course / "notebooks" / "01_discrete_convolution.ipynb"
    _edit(path, lambda raw: raw["cells"][2].update(outputs=[]))          # a markdown cell
    p = _only(exercises.check_course(course), "nbformat")
    assert p.cell == 2 and "outputs" in p.message and "not a valid notebook" in p.message
    path.write_text('{"cells": [<<<<<<< HEAD', encoding="utf-8")
    p = _only(exercises.check_course(course), "json")
    assert "not a notebook" in p.message and "restore it with git" in p.fix
    shutil.copy2(ROOT / "notebooks" / path.name, path)
    (course / "solutions" / "07_backpropagation.ipynb").write_text("[]", encoding="utf-8")
    p = _only(exercises.check_course(course), "json")           # once, not again as drift
    assert p.path.endswith("solutions/07_backpropagation.ipynb") and "not an object" in p.message


def test_a_solution_edited_without_regenerating_the_exercises_fails(course):
    path = course / "solutions" / "01_cross_correlation.ipynb"
    _edit(path, lambda raw: _cell(raw, "corr2d-task").update(source="## Exercise 1.1: valid cross-correlation, revised"))
    p = _only(exercises.check_course(course), "drift")
    _names_cell(p, "exercises/01_cross_correlation.ipynb", 2, "corr2d-task",
                "## Exercise 1.1: valid cross-correlation, revised", "run `cnnlab exercises`")
    assert "out of date (cell 2 differs from what" in p.message and "solutions/01_cross_correlation.ipynb" in p.message
    assert ah.regenerate(course).returncode == 0
    assert exercises.check_course(course) == []


def test_an_exercise_edited_by_hand_fails(course):
    path = course / "exercises" / "04_channels.ipynb"
    _edit(path, lambda raw: _cell(raw, "conv2d_forward-impl").update(source="def conv2d_forward(x, w, b):\n    return x"))
    p = _only(exercises.check_course(course), "drift")
    assert p.path.endswith("exercises/04_channels.ipynb") and (p.cell, p.cell_id) == (3, "conv2d_forward-impl")
    assert p.words.startswith('"def conv2d_forward(x, w, b, stride=1, padding=0):'), p.words   # what it should be


def _edit_solution_and_regenerate(course, name, change):
    _edit(course / "solutions" / name, change)
    exercises.generate(course / "solutions", course / "exercises")


def test_a_grade_id_missing_from_the_registry_fails(course):
    _edit_solution_and_regenerate(course, "01_cross_correlation.ipynb",
                                  lambda raw: _cell(raw, "corr2d")["metadata"]["nbgrader"].update(grade_id="corr2d_v2"))
    problems = exercises.check_course(course)
    assert [p.rule for p in problems] == ["registry", "graded-once"], _report(problems)
    _names_cell(problems[0], "solutions/01_cross_correlation.ipynb", 5, "corr2d", 'import cnnlab cnnlab.check("corr2d", corr2d)',
                "add an Exercise to cnnlab.checks.EXERCISES")
    assert "grade id 'corr2d_v2' is not an exercise of the registry" in problems[0].message
    assert problems[1].path.endswith("solutions") and "exercise 'corr2d' of the registry (lesson 1) has no grade cell" in problems[1].message
    assert "solutions/01_*.ipynb" in problems[1].fix


def test_points_different_from_the_registry_fail(course):
    _edit_solution_and_regenerate(course, "05_pooling.ipynb",
                                  lambda raw: _cell(raw, "avg_pool2d")["metadata"]["nbgrader"].update(points=5))
    p = _only(exercises.check_course(course), "points")
    _names_cell(p, "solutions/05_pooling.ipynb", 9, "avg_pool2d", 'import cnnlab cnnlab.check("avg_pool2d", avg_pool2d)',
                'set "points" to 2')
    assert "'avg_pool2d' is worth 5 points here, 2 in the registry" in p.message


def test_a_lesson_different_from_the_registry_fails(course):
    registry = dict(EXERCISES)
    ex = registry["corr2d"]
    registry["corr2d"] = SimpleNamespace(name="corr2d", lesson=3, points=ex.points, function_name=ex.function_name)
    p = _only(exercises.check_course(course, registry=registry), "lesson")
    assert p.cell == 5 and "'corr2d' belongs to lesson 3 in the registry, this is lesson 1" in p.message
    assert "solutions/03_*.ipynb" in p.fix


def test_a_grade_id_used_twice_fails(course):
    _edit_solution_and_regenerate(course, "02_image_kernels.ipynb",
                                  lambda raw: _cell(raw, "correlate_same")["metadata"]["nbgrader"].update(grade_id="corr2d"))
    problems = exercises.check_course(course)
    assert [p.rule for p in problems] == ["grade-id", "graded-once"], _report(problems)
    assert problems[0].cell_id == "correlate_same" and "grade id 'corr2d' is used twice" in problems[0].message
    assert "solutions/01_cross_correlation.ipynb cell 5" in problems[0].message


def test_a_grade_cell_that_checks_another_function_fails(course):
    _edit_solution_and_regenerate(course, "03_stride_padding_dilation.ipynb",
                                  lambda raw: _cell(raw, "output_size").update(source='cnnlab.check("output_size", corr2d_strided)'))
    p = _only(exercises.check_course(course), "grade-cell")
    assert p.cell_id == "output_size" and 'does not call cnnlab.check("output_size", output_size)' in p.message


@pytest.mark.parametrize("source", [
    'import cnnlab\ncnnlab.check("output_size", output_size)\n### BEGIN HIDDEN TESTS\nassert output_size(5, 3) == 3\n### END HIDDEN TESTS',
    'assert output_size(5, 3) == 3\ncnnlab.check("output_size", output_size)',
])
def test_a_grade_cell_with_more_than_the_check_fails(course, source):
    """nbgrader reads the check's value (the last line) as the points; asserts before it would
    zero a partly right answer that cnnlab grade gives partial credit."""
    _edit_solution_and_regenerate(course, "03_stride_padding_dilation.ipynb",
                                  lambda raw: _cell(raw, "output_size").update(source=source))
    p = _only(exercises.check_course(course), "grade-cell")
    assert p.cell_id == "output_size" and "holds more than `import cnnlab` and" in p.message
    assert "not as hidden tests" in p.fix


def test_incomplete_nbgrader_metadata_fails(course):
    def change(raw):
        meta = _cell(raw, "sobel_magnitude")["metadata"]["nbgrader"]
        del meta["schema_version"], meta["points"]
        meta["weight"] = 1
    _edit_solution_and_regenerate(course, "02_image_kernels.ipynb", change)
    problems = exercises.check_course(course)
    nbgrader_problems = [p for p in problems if p.rule == "nbgrader"]
    messages = [p.message for p in nbgrader_problems]
    assert messages == ["nbgrader metadata: unknown key 'weight'", "nbgrader metadata: schema_version is None, not 3",
                        "nbgrader metadata: a grade cell needs points (a number >= 0), has None"], _report(problems)
    assert {(p.cell, p.cell_id) for p in nbgrader_problems} == {(11, "sobel_magnitude")}
    assert all("Advanced Tools > Cell Metadata" in p.fix for p in nbgrader_problems)


def test_markers_in_the_wrong_cell_or_unbalanced_fail(course):
    _edit_solution_and_regenerate(course, "04_channels.ipynb", lambda raw: _cell(raw, "conv2d_forward-try").update(
        source="### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### BEGIN HIDDEN TESTS\nassert x\n### END HIDDEN TESTS"))
    problems = exercises.check_course(course)
    assert [(p.rule, p.cell_id) for p in problems] == [("marker-cell", "conv2d_forward-try")] * 2, _report(problems)
    assert "a hidden tests region in a cell that is not nbgrader's grade cell" in problems[0].message
    assert "a solution region in a cell that is not nbgrader's solution cell" in problems[1].message
    assert "mark the cell as nbgrader a solution cell" in problems[1].fix

    path = course / "solutions" / "09_lenet5_forward.ipynb"
    _edit(path, lambda raw: _cell(raw, "lenet5_forward-impl").update(
        source="".join(_cell(raw, "lenet5_forward-impl")["source"]).replace("    ### END SOLUTION", "")))
    problems = [p for p in exercises.check_course(course) if p.rule == "markers"]
    assert len(problems) == 1 and problems[0].path.endswith("solutions/09_lenet5_forward.ipynb"), _report(problems)
    assert problems[0].cell_id == "lenet5_forward-impl" and "never closed" in problems[0].message


def test_checkpoints_committed_or_not_ignored_fail_but_ignored_ones_pass(course):
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")

    def run(*args):
        subprocess.run([git, "-C", str(course), *args], check=True, capture_output=True)
    run("init", "-q")
    run("config", "user.email", "t@example.org")
    run("config", "user.name", "t")
    saved = course / "notebooks" / ".ipynb_checkpoints"
    saved.mkdir()
    shutil.copy2(course / "notebooks" / "01_discrete_convolution.ipynb", saved / "01_discrete_convolution-checkpoint.ipynb")
    p = _only(exercises.check_course(course), "checkpoints")
    assert p.path.endswith("notebooks/.ipynb_checkpoints") and "not ignored by git" in p.message, str(p)
    (course / ".gitignore").write_text(".ipynb_checkpoints/\n")
    assert exercises.check_course(course) == []              # what JupyterLab leaves: fine
    run("add", "-f", ".")
    run("commit", "-q", "-m", "oops")
    p = _only(exercises.check_course(course), "checkpoints")
    assert "committed" in p.message and f"git rm -r --cached {p.path}" in p.fix


def test_stray_and_missing_exercises_fail(course):
    (course / "exercises" / "05_pooling.ipynb").rename(course / "exercises" / "99_old.ipynb")
    shutil.copy2(course / "notebooks" / "05_pooling.ipynb", course / "exercises" / "98_mine.ipynb")
    problems = exercises.check_course(course)
    missing, mine, old = problems
    assert [p.rule for p in problems] == ["drift", "stray", "drift"], _report(problems)
    assert "exercises/05_pooling.ipynb: missing" in str(missing)
    assert "exercises/99_old.ipynb: extra (no solution notebook of that name)\n" in str(old)
    assert "run `cnnlab exercises`" in old.fix
    assert "98_mine.ipynb: extra (no solution notebook of that name; not generated by cnnlab" in str(mine)
    assert mine.fix == notebook_rules.FIXES["stray"]


def test_the_command_line_names_notebook_cell_and_fix(course):
    path = course / "notebooks" / "05_pooling.ipynb"
    _edit(path, lambda raw: raw["cells"][3]["metadata"].pop("slideshow"))
    proc = ah.run_check(course)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    label = notebook_rules.cell_label(ah.read_raw(path)["cells"][3])
    assert f"05_pooling.ipynb: no slide type (metadata.slideshow.slide_type)\n    cell 3 (id '05-003'): {label}\n    fix: select the cell" in proc.stderr
    assert "1 problem(s)" in proc.stderr


# =========================================================================== what JupyterLab writes

def test_what_jupyterlab_writes_on_save_passes(course):
    """Every lesson and solution saved as JupyterLab saves it from a kernel session, with a
    paragraph edited and one added through the Property Inspector; the solutions' exercises are
    then regenerated (an edited solution must be)."""
    for folder in ("notebooks", "solutions"):
        for path in sorted((course / folder).glob("*.ipynb")):
            raw = ah.as_lab_saves(ah.read_raw(path), edit_cell=0, text="\n\nEdited in JupyterLab.")
            raw["cells"].insert(1, ah.new_markdown_cell("A new paragraph."))
            for cell in raw["cells"]:
                if cell["metadata"].get("nbgrader", {}).get("locked"):
                    cell["metadata"].update(editable=False, deletable=False, tags=[])
            ah.write_like_jupyter(path, raw)
    problems = exercises.check_course(course)
    assert {p.rule for p in problems} == {"drift"}, _report(problems)
    assert exercises.generate(course / "solutions", course / "exercises")
    assert exercises.check_course(course) == []
