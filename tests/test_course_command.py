"""The README's course command opens the course.

The command is read from README.md (the bash fence after ``<!-- course-command -->``), so the
README and this test cannot drift apart. Checked here:

- it creates ``.venv``, installs this project with the ``lab`` extra, and launches
  ``jupyter lab notebooks/`` from that venv;
- the launch segment, run from the *current* venv (tests never install from the network) with
  ``--no-browser``, a free port and a token appended, serves on 127.0.0.1: every lesson notebook
  is listed by ``/api/contents/``, the lab page loads the ipywidgets and lecture-mode front-ends
  (jupyterlab-deck, jupyterlab-fonts), and the lab's settings carry lecture mode's projector
  styles and keys, read from the file the install put in ``{sys.prefix}/share/jupyter/lab/
  settings/overrides.d/`` (docs/lecturing.md);
- the server shuts down cleanly (``/api/shutdown``, exit code 0).

The full fresh-venv install is verified by hand (it needs the network).
"""
from __future__ import annotations

import html
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

import browser_helpers as bh

README = bh.REPO / "README.md"
WIDGETS_EXT = "@jupyter-widgets/jupyterlab-manager"
DECK_EXT = "@deathbeds/jupyterlab-deck"
FONTS_EXT = "@deathbeds/jupyterlab-fonts"
LECTURE_SETTINGS = bh.REPO / "lecture" / "cnnlab-lecture.json"
PRESENTING = "body[data-jp-deck-mode='presenting']"


def course_command() -> str:
    text = README.read_text()
    m = re.search(r"<!--\s*course-command\s*-->\s*```(?:bash|sh)\s*\n(.*?)\n```", text, re.S)
    assert m, "README.md has no ```bash fence right after <!-- course-command -->"
    return m.group(1).strip()


def segments(command: str) -> list[list[str]]:
    return [shlex.split(part) for part in re.split(r"\s*&&\s*", command.replace("\\\n", " "))]


def launch_segment(command: str) -> list[str]:
    for seg in segments(command):
        if len(seg) >= 2 and Path(seg[0]).name == "jupyter" and seg[1] == "lab":
            return seg
    raise AssertionError(f"no `jupyter lab` segment in the course command: {command!r}")


def test_course_command_installs_lab_extra_and_opens_the_lessons():
    command = course_command()
    segs = segments(command)
    assert segs[0][:3] == ["python3", "-m", "venv"], f"first step should create the venv: {segs[0]}"
    venv = segs[0][3]
    installs = [s for s in segs if len(s) > 2 and Path(s[0]).name == "pip" and s[1] == "install"]
    assert installs, f"the course command installs nothing: {command!r}"
    pip = installs[0]
    assert pip[0].startswith(f"{venv}/bin/"), f"pip must be the venv's: {pip[0]}"
    targets = [a for a in pip[2:] if not a.startswith("-")]
    assert any(re.fullmatch(r"\.\[(?:[\w-]+,)*lab(?:,[\w-]+)*\]", t) for t in targets), (
        f"pip install must install this project with the `lab` extra (e.g. -e \".[lab]\"): {pip}"
    )
    launch = launch_segment(command)
    assert launch[0] == f"{venv}/bin/jupyter", f"jupyter must come from the venv: {launch[0]}"
    assert launch[2:] == ["notebooks/"] or launch[2:] == ["notebooks"], f"must open notebooks/: {launch}"
    assert segs.index(launch) == len(segs) - 1, "launching the lab must be the last step"


def test_lab_extra_brings_the_front_ends():
    """`.[lab]` lists what the lab needs for the course: JupyterLab and lecture mode
    (jupyterlab-deck); widgets come with ipywidgets, a core dependency, through
    jupyterlab_widgets. No pin to old releases, and RISE is gone (it cannot show the widgets)."""
    import tomllib

    meta = tomllib.loads((bh.REPO / "pyproject.toml").read_text())["project"]
    lab = " ".join(meta["optional-dependencies"]["lab"])
    core = " ".join(meta["dependencies"])
    assert re.search(r"\bjupyterlab\b", lab) and re.search(r"jupyterlab[-_]deck\b", lab), lab
    assert not re.search(r"\brise\b", lab, re.I), f"RISE is no longer lecture mode: {lab}"
    assert re.search(r"\bipywidgets\b", core + " " + lab), "ipywidgets (and so jupyterlab_widgets) missing"
    pins = [d for d in meta["dependencies"] + meta["optional-dependencies"]["lab"] if re.search(r"==|<", d)]
    assert not pins, f"the course runs on current releases: no pins or caps: {pins}"


def test_installed_lab_extensions_are_found(tmp_path):
    """`jupyter labextension list` in an isolated Jupyter home still finds the venv's widgets and
    lecture-mode extensions (they live in <venv>/share/jupyter, not in a user dir)."""
    env = bh.isolated_jupyter_env(tmp_path)
    proc = subprocess.run(
        [str(bh.venv_bin() / "jupyter"), "labextension", "list"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert proc.returncode == 0, out
    for ext in (WIDGETS_EXT, DECK_EXT, FONTS_EXT):
        line = next((ln for ln in out.splitlines() if ext in ln), None)
        assert line, f"{ext} not listed by `jupyter labextension list`:\n{out}"
        assert "enabled" in line and "OK" in line, f"{ext} not enabled/OK: {line!r}"


def test_the_installed_lecture_settings_are_the_repository_s():
    """`pip install -e` copies lecture/cnnlab-lecture.json into the venv at install time: after
    an edit, the course command must be run again (this names the stale copy)."""
    installed = bh.venv_bin().parent / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "cnnlab-lecture.json"
    assert installed.exists(), f"{installed} is missing: run the README's course command (pip install -e \".[lab]\")"
    assert installed.read_bytes() == LECTURE_SETTINGS.read_bytes(), (
        f"{installed} is an old copy of {LECTURE_SETTINGS}: run the README's course command again")
    settings = json.loads(LECTURE_SETTINGS.read_text())
    assert set(settings) == {"@deathbeds/jupyterlab-fonts:fonts", "@jupyterlab/shortcuts-extension:shortcuts"}


@pytest.mark.slow
def test_course_command_serves_every_lesson():
    launch = launch_segment(course_command())
    # The README's `.venv/bin/jupyter`, taken from the venv running the tests (no install here).
    argv = [str(bh.venv_bin() / "jupyter"), *launch[1:]]
    server = bh.LabServer(root_dir=bh.REPO, argv=argv, cwd=bh.REPO, extra_args=["--no-browser"])
    server.start()
    try:
        lessons = sorted(p.name for p in (bh.REPO / "notebooks").glob(bh.LESSON_GLOB))
        listing = server.http_json("/api/contents/")
        assert listing["type"] == "directory"
        served = {item["name"]: item["type"] for item in listing["content"]}
        assert "pyproject.toml" not in served, f"the lab's root is the repo, not notebooks/: {sorted(served)}"
        missing = [n for n in lessons if served.get(n) != "notebook"]
        assert not missing, f"lessons not served as notebooks at the lab's root: {missing}; served {served}"

        for name in lessons:
            model = server.http_json(f"/api/contents/{name}?content=1&type=notebook")
            on_disk = json.loads((bh.REPO / "notebooks" / name).read_text())
            assert len(model["content"]["cells"]) == len(on_disk["cells"]), name

        # The lab page the student lands on loads both front-ends, from the venv.
        status, body = server.http_get("/lab")
        assert status == 200
        m = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', body.decode(), re.S)
        assert m, "no jupyter-config-data in /lab"
        config = json.loads(html.unescape(m.group(1)))
        federated = {ext["name"] for ext in config.get("federated_extensions", [])}
        assert {WIDGETS_EXT, DECK_EXT, FONTS_EXT} <= federated, f"lab front-ends loaded: {sorted(federated)}"

        # Lecture mode's settings, installed by the course command, are the lab's defaults.
        fonts = server.http_json("/lab/api/settings/@deathbeds/jupyterlab-fonts:fonts")
        styles = fonts["schema"]["properties"]["styles"]["default"]
        assert styles[PRESENTING]["--jp-content-font-size1"] == "22px", styles
        assert all(selector.startswith(PRESENTING) for selector in styles), (
            f"a lecture style outside presenting mode changes the students' notebooks: {list(styles)}")
        keys = server.http_json("/lab/api/settings/@jupyterlab/shortcuts-extension:shortcuts")
        bound = {(k["command"], k["keys"][0]) for k in keys["schema"]["properties"]["shortcuts"]["default"]
                 if k["selector"].startswith(PRESENTING)}
        assert {("deck:go", "Space"), ("deck:go", "PageDown"), ("deck:forward", "ArrowRight")} <= bound, bound
    finally:
        rc = server.stop()
    assert rc == 0, f"jupyter lab did not shut down cleanly (exit {rc}):\n{server.log_tail()}"
