"""exercises/ is generated from solutions/ by `cnnlab exercises`, as nbgrader's generate_assignment
would: stubs, no hidden tests, cleared, locked, checksummed, deterministic, drift-checked, and the
generated notebooks fail cleanly (NotImplementedError) in a real kernel. The solutions are edited
in JupyterLab (docs/authoring.md); no script writes them."""
from __future__ import annotations

import ast
import copy
import hashlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from cnnlab import exercises
from cnnlab.__main__ import main
from cnnlab.checks import EXERCISES
from cnnlab.exercises import STUB, MarkerError, make_exercise, strip_source

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISE_DIR = ROOT / "exercises"
EXERCISE_NBS = sorted(EXERCISE_DIR.glob("*.ipynb"))


# =========================================================================== marker parsing

def test_stub_keeps_signature_docstring_given_code_and_indentation():
    src = '''def f(x, k=1):
    """Doc."""
    H, W = x.shape
    ### BEGIN SOLUTION
    out = x * k
    return out
    ### END SOLUTION'''
    assert strip_source(src) == '''def f(x, k=1):
    """Doc."""
    H, W = x.shape
    raise NotImplementedError()'''


def test_deeper_indentation_and_code_after_the_block_are_kept():
    src = '''class A:
    def g(self):
        if True:
            ### BEGIN SOLUTION
            return 1
            ### END SOLUTION
        return 0

VALUE = 3'''
    out = strip_source(src)
    assert out == '''class A:
    def g(self):
        if True:
            raise NotImplementedError()
        return 0

VALUE = 3'''
    ast.parse(out)


def test_several_solution_blocks_in_one_cell():
    src = '''def a():
    ### BEGIN SOLUTION
    return 1
    ### END SOLUTION

def b():
    x = 2
    ### BEGIN SOLUTION
    return x
    ### END SOLUTION
### BEGIN SOLUTION
TOP = 5
### END SOLUTION'''
    out = strip_source(src)
    assert out.count(STUB) == 3
    assert "return 1" not in out and "return x" not in out and "TOP" not in out
    assert "    x = 2\n    raise NotImplementedError()" in out
    assert out.endswith("\nraise NotImplementedError()")      # top level: no indentation
    ast.parse(out)


def test_hidden_tests_removed_anywhere_in_a_cell():
    src = '''check("x", f)
### BEGIN HIDDEN TESTS
assert f(1) == 2
### END HIDDEN TESTS
print("after")
### BEGIN HIDDEN TESTS
assert f(2) == 3
### END HIDDEN TESTS

'''
    out = strip_source(src)
    assert out == 'check("x", f)\nprint("after")'
    assert "HIDDEN" not in out and "assert" not in out


def test_markdown_solution_and_unmarked_solution_cells():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"),
        nbformat.v4.new_code_cell("x = 42", metadata={"nbgrader": {"solution": True}}),
        nbformat.v4.new_code_cell("print(1)", execution_count=3,
                                  outputs=[nbformat.v4.new_output("stream", text="1\n")]),
    ])
    ex = make_exercise(nb, "t.ipynb")
    assert ex.cells[0].source == "Why?\nYOUR ANSWER HERE"
    assert ex.cells[1].source == STUB                       # nbgrader: replaced whole
    assert ex.cells[2].outputs == [] and ex.cells[2].execution_count is None
    assert nb.cells[2].outputs, "the solution notebook itself is not modified"
    assert ex.metadata["cnnlab"]["generated_from"] == "solutions/t.ipynb"


@pytest.mark.parametrize("src,problem", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without a matching BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS\n### END SOLUTION", "inside an open"),
    ("### BEGIN HIDDEN TESTS\nx\n### END SOLUTION", "without a matching BEGIN"),
])
def test_unbalanced_markers_are_errors(src, problem):
    with pytest.raises(MarkerError, match=problem):
        strip_source(src, where="nb.ipynb cell 3")


def test_markers_are_found_anywhere_in_a_line_as_nbgrader_finds_them():
    src = "def f():\n    x = 1  # BEGIN SOLUTION (fill in)\n    return x\n    # END SOLUTION here\n"
    assert strip_source(src) == "def f():\n    " + STUB + "\n"


def test_mark_scheme_regions_are_removed():
    src = "Explain why.\n### BEGIN MARK SCHEME\nGive 1 point for the flip.\n### END MARK SCHEME"
    assert strip_source(src, "markdown") == "Explain why."


def _nb(*cells, **metadata):
    return nbformat.v4.new_notebook(cells=list(cells), metadata=metadata)


def _graded(grade_id, **flags):
    meta = {"grade": False, "solution": False, "locked": False, "schema_version": 3, "task": False,
            "grade_id": grade_id}
    meta.update(flags)
    return {"nbgrader": meta}


def test_cells_are_locked_cleared_and_checksummed_as_nbgrader_does():
    nb = _nb(
        nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                                  metadata=_graded("f-impl", solution=True)),
        nbformat.v4.new_code_cell('cnnlab.check("f", f)\n### BEGIN HIDDEN TESTS\nassert f() == 1\n### END HIDDEN TESTS',
                                  metadata=_graded("f", grade=True, locked=True, points=2), execution_count=2,
                                  outputs=[nbformat.v4.new_output("stream", text="ok\n")]),
        nbformat.v4.new_code_cell("GIVEN = 3", metadata={**_graded("given", locked=True), "collapsed": True,
                                                         "scrolled": False, "tags": []}),
        nbformat.v4.new_markdown_cell("An essay.", metadata=_graded("essay", grade=True, solution=True, points=1)),
        nbformat.v4.new_markdown_cell("Plain text.", metadata={"slideshow": {"slide_type": "-"}}),
        celltoolbar="Create Assignment")
    ex = make_exercise(nb, "t.ipynb")
    impl, check_cell, given, essay, plain = ex.cells
    assert impl.source == "def f():\n    " + STUB and impl.metadata["deletable"] is False
    assert "editable" not in impl.metadata
    assert check_cell.source == 'cnnlab.check("f", f)' and check_cell.outputs == []
    assert check_cell.metadata["deletable"] is False and check_cell.metadata["editable"] is False
    assert given.metadata == {"nbgrader": given.metadata["nbgrader"], "deletable": False, "editable": False,
                              "tags": []}                     # collapsed/scrolled cleared with the output
    assert essay.source == exercises.MARKDOWN_STUB and essay.metadata["deletable"] is False
    assert plain.metadata == {"slideshow": {"slide_type": "-"}} and plain.source == "Plain text."
    for cell in (impl, check_cell, given, essay):
        assert cell.metadata["nbgrader"] == {**nb.cells[ex.cells.index(cell)].metadata["nbgrader"],
                                             "cell_type": cell.cell_type,
                                             "checksum": _nbgrader_release_metadata(
                                                 nb.cells[ex.cells.index(cell)], cell)["nbgrader"]["checksum"]}
    assert "celltoolbar" not in ex.metadata and nb.metadata["celltoolbar"] == "Create Assignment"


def test_incomplete_nbgrader_metadata_is_generated_without_a_checksum():
    nb = _nb(nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade": True}}))
    cell = make_exercise(nb).cells[0]
    assert "checksum" not in cell.metadata["nbgrader"] and cell.metadata["editable"] is False


def _documented_nbgrader_config():
    """The nbgrader_config.py that docs/authoring.md prints, executed with traitlets' Config."""
    from traitlets.config import Config

    text = (ROOT / "docs" / "authoring.md").read_text(encoding="utf-8")
    m = re.search(r"<!--\s*nbgrader-config\s*-->\s*```python\n(.*?)```", text, re.S)
    assert m, "docs/authoring.md has no ```python fence after <!-- nbgrader-config -->"
    config = Config()
    exec(textwrap.dedent(m.group(1)), {"get_config": lambda: config})
    return config


def test_the_documented_nbgrader_config_uses_these_stubs():
    config = _documented_nbgrader_config()
    assert config.ClearSolutions.code_stub == {"python": STUB}
    assert config.ClearSolutions.text_stub == exercises.MARKDOWN_STUB


def test_nbgrader_generate_assignment_makes_the_same_exercises():
    """nbgrader's own preprocessors, in generate_assignment's order, with the documented config,
    give every committed exercise cell for cell (all but the steps that need nbgrader's database,
    a kernel or header files). Runs where nbgrader is installed."""
    pytest.importorskip("nbgrader.preprocessors")
    from nbgrader.converters import GenerateAssignment

    chain = [p for p in GenerateAssignment.class_traits()["preprocessors"].default()
             if p.__name__ not in {"IncludeHeaderFooter", "InstantiateTests", "SaveCells"}]
    assert [p.__name__ for p in chain] == ["LockCells", "ClearSolutions", "ClearOutput", "CheckCellMetadata",
                                           "ComputeChecksums", "ClearHiddenTests", "ClearMarkScheme",
                                           "ComputeChecksums", "CheckCellMetadata"]
    config = _documented_nbgrader_config()
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        nb, resources = nbformat.read(path, as_version=4), {}
        for step in chain:
            nb, resources = step(config=config).preprocess(nb, resources)
        ours = nbformat.read(EXERCISE_DIR / path.name, as_version=4)
        assert nb.cells == ours.cells, path.name
        del ours.metadata["cnnlab"]
        assert nb.metadata == ours.metadata, path.name


def test_cli_check_with_root_checks_a_copy_of_the_course(tmp_path):
    root = tmp_path / "course"
    for name in ("notebooks", "solutions", "exercises"):
        shutil.copytree(ROOT / name, root / name)
    assert main(["exercises", "--root", str(root), "--check"]) == 0
    (root / "exercises" / "02_image_kernels.ipynb").unlink()
    assert main(["exercises", "--root", str(root), "--check"]) == 1
    assert main(["exercises", "--root", str(root)]) == 0
    assert (root / "exercises" / "02_image_kernels.ipynb").read_bytes() == (EXERCISE_DIR / "02_image_kernels.ipynb").read_bytes()
    assert main(["exercises", "--root", str(tmp_path / "nowhere"), "--check"]) == 2
    (root / "solutions" / "05_pooling.ipynb").write_text("[]", encoding="utf-8")
    assert main(["exercises", "--root", str(root)]) == 2              # named, no traceback
    assert main(["exercises", "--root", str(root), "--check"]) == 1


# =========================================================================== the committed notebooks

def test_every_solution_has_an_exercise():
    assert [p.name for p in EXERCISE_NBS] == sorted(p.name for p in SOLUTIONS.glob("*.ipynb"))
    assert len(EXERCISE_NBS) >= 7


@pytest.mark.parametrize("path", EXERCISE_NBS, ids=[p.name for p in EXERCISE_NBS])
def test_generated_notebook_is_stubbed_and_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    sol = nbformat.read(SOLUTIONS / path.name, as_version=4)
    assert [c.id for c in nb.cells] == [c.id for c in sol.cells]
    assert nb.metadata["cnnlab"]["generated_from"] == f"solutions/{path.name}"
    text = path.read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
        assert marker not in text
    graded = 0
    for cell, scell in zip(nb.cells, sol.cells):
        assert cell.metadata == _nbgrader_release_metadata(scell, cell)   # the rest is kept
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [] and cell.execution_count is None
        ast.parse(cell.source)                             # no SyntaxError in any cell
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            ex = EXERCISES[meta["grade_id"].removesuffix("-impl")]
            tree = ast.parse(cell.source)
            fns = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
            assert ex.function_name in [f.name for f in fns]
            fn = next(f for f in fns if f.name == ex.function_name)
            body = fn.body[-1]                             # the body ends with the stub
            assert isinstance(body, ast.Raise) and ast.unparse(body) == STUB
            sfn = next(n for n in ast.parse(scell.source).body
                       if isinstance(n, ast.FunctionDef) and n.name == ex.function_name)
            assert ast.unparse(fn.args) == ast.unparse(sfn.args)   # same signature
            graded += 1
        if meta.get("grade"):
            ex = EXERCISES[meta["grade_id"]]
            assert cell.source == f'import cnnlab\ncnnlab.check("{ex.name}", {ex.function_name})'
            assert meta["points"] == ex.points
    assert graded >= 1


def _nbgrader_release_metadata(solution_cell, exercise_cell):
    """The solution cell's metadata plus what nbgrader's LockCells and ComputeChecksums add
    (written here from nbgrader's sources, independently of cnnlab.exercises)."""
    meta = copy.deepcopy(solution_cell.metadata)
    nbg = meta.get("nbgrader")
    if not nbg:
        return meta
    grade, solution = nbg.get("grade", False), nbg.get("solution", False)
    locked = not solution and (grade or nbg.get("locked", False))
    if solution:
        meta["deletable"] = False
    elif locked:
        meta["deletable"] = meta["editable"] = False
    if grade or solution or locked:
        parts = [exercise_cell.source, exercise_cell.cell_type, str(grade), str(solution), str(locked),
                 nbg["grade_id"]] + ([str(float(nbg["points"]))] if grade else [])
        nbg["checksum"] = hashlib.md5("".join(parts).encode("utf-8")).hexdigest()
        nbg["cell_type"] = exercise_cell.cell_type
    return meta


def test_exercises_are_up_to_date_with_solutions():
    problems = exercises.check(SOLUTIONS, EXERCISE_DIR)
    assert problems == [], "\n".join(map(str, problems)) + "\nrun `cnnlab exercises`"


def test_cli_check_passes_on_the_committed_tree():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "cnnlab", "exercises", "--check"], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "up to date" in proc.stdout


def _copy_tree(tmp_path):
    sol, ex = tmp_path / "solutions", tmp_path / "exercises"
    shutil.copytree(SOLUTIONS, sol)
    shutil.copytree(EXERCISE_DIR, ex)
    return sol, ex


def test_cli_check_fails_and_names_the_drifted_file(tmp_path, capsys):
    sol, ex = _copy_tree(tmp_path)
    assert main(["exercises", "--solutions", str(sol), "--exercises", str(ex), "--check"]) == 0
    capsys.readouterr()
    # change the given (non-solution) code of one solution notebook
    path = sol / "03_stride_padding_dilation.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.id == "corr2d_strided-impl")
    cell.source = cell.source.replace("H, W = x.shape", "H, W = x.shape  # rows, columns")
    nbformat.write(nb, path)
    (ex / "01_cross_correlation.ipynb").rename(ex / "99_stray.ipynb")   # a solution was renamed
    (ex / "98_mine.ipynb").write_text("{}", encoding="utf-8")             # someone else's file
    code = main(["exercises", "--solutions", str(sol), "--exercises", str(ex), "--check"])
    err = capsys.readouterr().err
    assert code == 1
    assert "03_stride_padding_dilation.ipynb: out of date" in err
    assert "01_cross_correlation.ipynb: missing" in err
    assert "99_stray.ipynb: extra (no solution notebook of that name)" in err
    assert "98_mine.ipynb: extra (no solution notebook of that name; not generated by cnnlab" in err
    assert "run `cnnlab exercises`" in err
    # regenerating fixes it (deleting only what it generated), and a second run changes nothing
    assert main(["exercises", "--solutions", str(sol), "--exercises", str(ex)]) == 0
    assert not (ex / "99_stray.ipynb").exists()
    assert (ex / "98_mine.ipynb").exists()
    (ex / "98_mine.ipynb").unlink()
    assert exercises.check(sol, ex) == []
    assert exercises.generate(sol, ex) == []
    regenerated = nbformat.read(ex / path.name, as_version=4)
    assert "# rows, columns" in next(c for c in regenerated.cells if c.id == "corr2d_strided-impl").source


def test_generation_is_deterministic(tmp_path):
    first = exercises.render(SOLUTIONS)
    second = exercises.render(SOLUTIONS)
    assert first == second
    written = exercises.generate(SOLUTIONS, tmp_path)
    assert len(written) == len(first)
    for name, text in first.items():
        assert (tmp_path / name).read_bytes() == text.encode("utf-8") == (EXERCISE_DIR / name).read_bytes()
        assert text.endswith("}\n")


# =========================================================================== in a real kernel

@pytest.mark.slow
@pytest.mark.parametrize("path", EXERCISE_NBS, ids=[p.name for p in EXERCISE_NBS])
def test_exercise_notebook_fails_cleanly_in_a_kernel(path):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(EXERCISE_DIR)}})
    client.execute()
    errors = [(cell.id, out.ename) for cell in nb.cells if cell.cell_type == "code"
              for out in cell.outputs if out.output_type == "error"]
    assert errors, "the unsolved notebook should raise NotImplementedError somewhere"
    assert errors[0][1] == "NotImplementedError", errors
    # no NameError/ImportError: the try-it cells raise NotImplementedError, the checks fail
    assert {e for _, e in errors} == {"NotImplementedError", "CheckFailed"}, errors
    checked = 0
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            # what nbgrader reads, in order: the report (stdout), the value 0 (its partial
            # credit: none), then the failure (`nbgrader validate` reports the cell)
            kinds = [o.output_type if o.output_type != "stream" else o.name for o in cell.outputs]
            assert kinds == ["stdout", "execute_result", "error"], kinds
            assert "not implemented yet: replace `raise NotImplementedError()`" in cell.outputs[0].text
            assert cell.outputs[1].data["text/plain"] == "0"
            assert cell.outputs[2].ename == "CheckFailed"
            checked += 1
    assert checked >= 1
