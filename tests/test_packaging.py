"""The README's two commands, .ci/run and the package metadata agree with each other."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

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


def test_every_subpackage_ships_in_a_wheel():
    """A plain `pip install .` must include cnnlab's subpackages, not only the top folder."""
    from setuptools import find_packages

    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    include = conf["packages"]["find"]["include"]
    found = set(find_packages(str(ROOT), include=include))
    wanted = {".".join(p.relative_to(ROOT).parts[:-1]) for p in (ROOT / "cnnlab").rglob("__init__.py")}
    assert wanted <= found, f"not packaged: {sorted(wanted - found)}"
