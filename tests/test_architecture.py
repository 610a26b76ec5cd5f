"""The house rules of docs/api.md, checked on the source: layering, private names, sizes.

- Data flows one way (docs/api.md, "Layering"): a module may import cnnlab modules of its own
  layer or a lower one, never a higher one.
- No module reaches into another module's private (`_underscore`) names. Private *modules*
  (`cnnlab._args`, `cnnlab._files`, `cnnlab._windows`, `cnnlab._fast`) are shared infrastructure:
  their public names may be imported by any module at or above them.
- A module reads in one sitting (<= 600 lines) and a function fits on a screen or two (<= 80
  lines); the few exceptions are listed here with the reason.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "cnnlab"

# Lowest first. The first matching prefix wins (more specific prefixes first).
LAYERS = [
    ("infrastructure", ("cnnlab._files", "cnnlab._args", "cnnlab._windows", "cnnlab._fast")),
    ("functional ops", ("cnnlab.functional", "cnnlab.reference", "cnnlab.gradcheck")),
    ("layers", ("cnnlab.nn",)),
    ("models and optimisers", ("cnnlab.models", "cnnlab.optim")),
    ("data", ("cnnlab.data",)),
    ("training", ("cnnlab.train",)),
    ("kernels and examples", ("cnnlab.kernels",)),
    ("views", ("cnnlab.viz",)),
    ("widgets", ("cnnlab.widgets",)),
    ("checks", ("cnnlab.checks",)),
    ("grader and authoring", ("cnnlab.grade", "cnnlab.exercises", "cnnlab.notebook_rules", "cnnlab.slide_views")),
    ("command line", ("cnnlab.__main__",)),
]

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
# module (relative path) -> why it may be longer
LONG_MODULES: dict[str, str] = {}
# "path:function" -> why it may be longer
LONG_FUNCTIONS: dict[str, str] = {}


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


MODULES = dict(_modules())


def _layer(module: str) -> int | None:
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if module == p or module.startswith(p + "."):
                return i
    return None


def _resolve(module: str, node: ast.ImportFrom, path: Path) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path):
    """(line, imported cnnlab module, imported names) for every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("cnnlab"):
                    yield node.lineno, a.name, ()
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node, path)
            if not target.startswith("cnnlab"):
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in MODULES:                 # `from cnnlab import functional`
                    yield node.lineno, sub, ()
                else:
                    yield node.lineno, target, (a.name,)


def test_every_module_has_a_layer():
    missing = [m for m in MODULES if m != "cnnlab" and _layer(m) is None]
    assert not missing, f"add these modules to LAYERS (and to docs/api.md): {missing}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "cnnlab"))
def test_nothing_lower_imports_anything_higher(module):
    path, mine = MODULES[module], _layer(module)
    bad = []
    for line, target, _ in _imports(module, path):
        theirs = _layer(target)
        if target != "cnnlab" and theirs is not None and theirs > mine:
            bad.append(f"line {line}: imports {target} ({LAYERS[theirs][0]}) from "
                       f"{LAYERS[mine][0]}")
    assert not bad, f"{path.relative_to(ROOT)}: " + "; ".join(bad)


def _top(module: str) -> str:
    return ".".join(module.split(".")[:2])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_names_of_other_modules(module):
    path = MODULES[module]
    bad = []
    for line, target, names in _imports(module, path):
        for name in names:
            if name.startswith("_") and not name.startswith("__") and _top(target) != _top(module):
                bad.append(f"line {line}: from {target} import {name}")
    tree = ast.parse(path.read_text())
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                full = (a.name if isinstance(node, ast.Import)
                        else f"{_resolve(module, node, path)}.{a.name}")
                if full in MODULES and _top(full) != _top(module):
                    aliases[a.asname or a.name.split(".")[0]] = full
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            bad.append(f"line {node.lineno}: {node.value.id}.{node.attr} "
                       f"({aliases[node.value.id]})")
    assert not bad, f"{path.relative_to(ROOT)} uses private names: " + "; ".join(bad)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_reads_in_one_sitting(module):
    path = MODULES[module]
    rel = str(path.relative_to(ROOT))
    n = len(path.read_text().splitlines())
    if rel in LONG_MODULES:
        return
    assert n <= MAX_MODULE_LINES, f"{rel} has {n} lines (> {MAX_MODULE_LINES}): split it by concept"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_functions_fit_on_a_screen(module):
    path = MODULES[module]
    rel = str(path.relative_to(ROOT))
    long = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            if n > MAX_FUNCTION_LINES and f"{rel}:{node.name}" not in LONG_FUNCTIONS:
                long.append(f"{node.name} ({n} lines, line {node.lineno})")
    assert not long, f"{rel}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_checker_can_fail(tmp_path):
    """The private-name and layering detectors really fire on a planted violation."""
    src = "from cnnlab.functional import _max_pool2d_with_taps\nfrom cnnlab import viz\n"
    p = tmp_path / "planted.py"
    p.write_text(src)
    found = list(_imports("cnnlab.nn.planted", p))
    assert (1, "cnnlab.functional", ("_max_pool2d_with_taps",)) in found
    assert any(t == "cnnlab.viz" for _, t, _ in found)
    assert _layer("cnnlab.viz") > _layer("cnnlab.nn.planted")
