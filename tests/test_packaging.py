"""The README's two commands, .ci/run and the package metadata agree with each other."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _command(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- {marker} -->\s*```bash\n(.+?)\n```", text, re.S)
    assert m, f"README.md has no bash block after <!-- {marker} -->"
    return m.group(1).strip()


def test_readme_has_exactly_two_setup_commands():
    course, tests = _command("course-command"), _command("test-command")
    assert "pip install" in course and '".[lab]"' in course and "jupyter lab notebooks/" in course
    assert "pip install" in tests and '".[test]"' in tests and "pytest" in tests
    assert course.count("\n") == 0 and tests.count("\n") == 0, "each command is one line"


def test_ci_runs_exactly_the_readme_test_command():
    """.ci/run extracts the command with awk; run that extraction and compare."""
    script = (ROOT / ".ci" / "run").read_text()
    awk = re.search(r"TEST_COMMAND=\"\$\(awk '(.+?)' README.md\)\"", script)
    assert awk, ".ci/run must read the test command from README.md"
    out = subprocess.run(["awk", awk.group(1), "README.md"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == _command("test-command")
    assert "torch==2.13.0" in script, "CI installs the torch oracle so those tests run"
    assert "chromium" in script and "dataset-fashion-mnist" in script


def test_torch_is_never_a_runtime_dependency():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    every = meta["dependencies"] + [d for ds in meta["optional-dependencies"].values() for d in ds]
    assert not [d for d in every if d.lower().startswith("torch")]
    offenders = [p.relative_to(ROOT) for p in (ROOT / "cnnlab").rglob("*.py")
                 if re.search(r"^\s*(import torch|from torch)", p.read_text(), re.M)]
    assert not offenders, f"cnnlab must not import torch: {offenders}"


def test_import_is_light_and_cli_answers():
    code = ("import sys, cnnlab; assert 'matplotlib' not in sys.modules; "
            "assert 'torch' not in sys.modules; print(cnnlab.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    cli = subprocess.run([sys.executable, "-m", "cnnlab", "--help"], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    for sub in ("train", "grade", "exercises"):
        assert sub in cli.stdout


def test_quick_switch_is_documented():
    readme = (ROOT / "README.md").read_text()
    assert "CNNLAB_QUICK" in readme and "CNNLAB_DATA" in readme


LECTURE_SETTINGS = ROOT / "lecture" / "cnnlab-lecture.json"
#: Where JupyterLab reads it from (``{sys.prefix}/share/jupyter/lab/settings/overrides.d/``).
SETTINGS_TARGET = Path("share", "jupyter", "lab", "settings", "overrides.d", "cnnlab-lecture.json")


def _pip_install_offline(target: Path, *what: str) -> None:
    """``pip install --target TARGET WHAT`` with this venv's build backend, nothing downloaded.
    (``--target``, not ``--prefix``: with ``--prefix`` pip first uninstalls the cnnlab of the
    environment running the tests.) TARGET then holds ``cnnlab/``, ``share/`` and ``bin/``."""
    for tool in ("hatchling", "editables"):
        if importlib.util.find_spec(tool) is None:
            pytest.skip(f"{tool} is not installed (the `test` extra brings it)")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                           "--no-index", "--disable-pip-version-check", "--target", str(target), *what],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_every_subpackage_and_the_lecture_settings_ship_in_a_wheel(tmp_path):
    """A plain `pip install .` (JupyterHub images) installs every subpackage of cnnlab, its data
    (the checksums of MNIST), the console script, and lecture mode's settings where JupyterLab
    reads them."""
    _pip_install_offline(tmp_path, ".")
    site = tmp_path
    wanted = {p.relative_to(ROOT) for p in (ROOT / "cnnlab").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    installed = {p.relative_to(site) for p in (site / "cnnlab").rglob("*") if p.is_file()}
    missing = sorted(str(p) for p in wanted - installed)
    assert not missing, f"not installed by `pip install .`: {missing}"
    packages = {p.parent.relative_to(ROOT) for p in (ROOT / "cnnlab").rglob("__init__.py")}
    assert len(packages) > 5 and Path("cnnlab", "data", "checksums.json") in installed
    entry_points = next(site.glob("cnnlab-*.dist-info/entry_points.txt")).read_text()
    assert "cnnlab = cnnlab.__main__:main" in entry_points and (tmp_path / "bin" / "cnnlab").exists()
    assert (tmp_path / SETTINGS_TARGET).read_bytes() == LECTURE_SETTINGS.read_bytes()


def test_an_editable_install_installs_the_lecture_settings_too(tmp_path):
    """The README's course command installs with `pip install -e`: lecture mode's settings must
    land in the environment then too (setuptools' data-files do not; hatchling's shared-data
    do), a copy taken at install time."""
    _pip_install_offline(tmp_path, "-e", ".")
    assert (tmp_path / SETTINGS_TARGET).read_bytes() == LECTURE_SETTINGS.read_bytes()
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["build-system"]["build-backend"] == "hatchling.build"
    shared = meta["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert shared == {"lecture/cnnlab-lecture.json": SETTINGS_TARGET.as_posix()}
