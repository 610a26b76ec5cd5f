"""Shared machinery for the tests that look at the course the way a student does.

- :class:`LabServer` starts a real JupyterLab on 127.0.0.1 (free port, random token) in an
  isolated Jupyter home (config, data, runtime, settings and workspace dirs in a temp folder), so
  no user settings leak in and nothing persists, while the lab extensions installed in the venv's
  ``share/jupyter`` (ipywidgets' ``jupyterlab_widgets``, lecture mode's ``jupyterlab-deck``) and
  the settings the course installs there (``lab/settings/overrides.d``) are still found.
  Nothing in it reaches the network: the news feed and update check are off, the extension manager
  is read-only.
- :func:`launch_chromium` starts Debian's ``/usr/bin/chromium`` through Playwright (never a
  downloaded browser), and :func:`offline_context` makes a browser context that aborts every
  request not aimed at 127.0.0.1 and records it.
- :class:`PageProblems` collects page errors and console errors, minus the known-harmless noise
  listed in :data:`HARMLESS_CONSOLE`.

Used by tests/test_browser.py and tests/test_course_command.py; no test lives here.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Where the lessons are read from; CNNLAB_NOTEBOOKS points the browser tests at another folder
#: (debugging a single notebook, or trying the harness before the lessons exist).
NOTEBOOKS = Path(os.environ.get("CNNLAB_NOTEBOOKS") or REPO / "notebooks")
LESSON_GLOB = "0*.ipynb"
CHROMIUM = os.environ.get("CNNLAB_CHROMIUM", "/usr/bin/chromium")

#: The lessons the course promises (tests parametrize over these; absent ones skip).
LESSON_NAMES = [
    "01_discrete_convolution",
    "02_image_kernels",
    "03_stride_padding_dilation",
    "04_channels",
    "05_pooling",
    "06_activations_forward",
    "07_backpropagation",
    "08_backprop_end_to_end",
    "09_lenet5_mnist",
]

#: The environment every kernel of these tests runs with (same as the root conftest's).
KERNEL_ENV = {"CNNLAB_QUICK": "1", "CNNLAB_OFFLINE": "1", "MPLBACKEND": "Agg"}

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--metrics-recording-only",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
]


# --------------------------------------------------------------------------- small utilities


def lesson_paths() -> list[Path]:
    """The lesson notebooks present right now, sorted."""
    return sorted(NOTEBOOKS.glob(LESSON_GLOB))


def lesson_params() -> list[str]:
    """Names to parametrize over: the promised ones plus any other ``0*.ipynb`` present."""
    names = list(LESSON_NAMES)
    for p in lesson_paths():
        if p.stem not in names:
            names.append(p.stem)
    return names


def artifacts_dir(*parts: str) -> Path:
    """``$CNNLAB_ARTIFACTS`` or ``<repo>/artifacts/screenshots``, created, plus sub-folders."""
    base = Path(os.environ.get("CNNLAB_ARTIFACTS") or REPO / "artifacts" / "screenshots")
    d = base.joinpath(*parts)
    d.mkdir(parents=True, exist_ok=True)
    return d


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def venv_bin() -> Path:
    """The bin dir of the interpreter running the tests (the venv; never the network)."""
    return Path(sys.executable).parent


def browser_skip_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except Exception as exc:  # pragma: no cover - depends on the machine
        return f"playwright (Python package) is not importable: {exc}"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"{CHROMIUM} is absent (Debian package 'chromium'); the browser tests need it"
    return None


# --------------------------------------------------------------------------- JupyterLab server


def isolated_jupyter_env(home: Path, extra: dict | None = None) -> dict:
    """A copy of os.environ whose Jupyter/IPython dirs all live under ``home``.

    Only the per-user locations move: the venv's ``share/jupyter`` (sys.prefix), where
    ``jupyterlab_widgets`` and ``jupyterlab-deck`` put their lab extensions, ipykernel its
    kernelspec and the course its lecture settings, stays on Jupyter's search path.
    """
    env = dict(os.environ)
    for key in list(env):
        # A surrounding JupyterHub/Jupyter session must not steer this server.
        if key.startswith(("JUPYTERHUB_", "JPY_")) or key in {"JUPYTER_PATH", "JUPYTER_CONFIG_PATH"}:
            env.pop(key)
    if os.environ.get("CNNLAB_EXTRA_JUPYTER_PATH"):
        # Debugging hook: try other lab-extension builds (a folder holding labextensions/) first.
        env["JUPYTER_PATH"] = os.environ["CNNLAB_EXTRA_JUPYTER_PATH"]
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "IPYTHONDIR": home / "ipython",
    }
    for key, d in dirs.items():
        d.mkdir(parents=True, exist_ok=True)
        env[key] = str(d)
    env["JUPYTER_PLATFORM_DIRS"] = "1"  # silence the platformdirs migration warning
    env["PYTHONUNBUFFERED"] = "1"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    # Same switches as the root conftest, so kernels never train full scale or touch the network.
    for key, value in KERNEL_ENV.items():
        env.setdefault(key, value)
    # The venv's bin first, so `jupyter`, kernels and subprocesses all come from the venv.
    env["PATH"] = os.pathsep.join([str(venv_bin()), env.get("PATH", "")])
    if extra:
        env.update(extra)
    return env


def offline_lab_args(port: int, token: str, home: Path) -> list[str]:
    """Server options: loopback only, no browser, no network, isolated settings/workspaces."""
    settings = home / "lab-user-settings"
    workspaces = home / "lab-workspaces"
    settings.mkdir(parents=True, exist_ok=True)
    workspaces.mkdir(parents=True, exist_ok=True)
    args = [
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_remote_access=False",
        "--ServerApp.disable_check_xsrf=False",
        "--LabApp.news_url=None",  # no announcements feed fetched from the internet
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",  # no PyPI queries from the extension manager
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={workspaces}",
        # window.jupyterapp: lets the test call lab commands (notebook:run-all-cells) directly.
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--ServerApp.allow_root=True")  # CI and these sandboxes run as root
    return args


def write_lab_settings(home: Path, settings: dict[str, dict]) -> None:
    """User settings for the isolated lab: ``{"@jupyterlab/notebook-extension:tracker": {...}}``."""
    root = home / "lab-user-settings"
    for plugin_id, values in settings.items():
        pkg, plugin = plugin_id.split(":")
        target = root / pkg / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))


#: Lab user settings every test server gets: no "get notified about Jupyter news?" toast and no
#: update check (both would fetch from the internet once accepted).
QUIET_LAB_SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


@dataclass
class LabServer:
    """A JupyterLab server process on 127.0.0.1, started by :meth:`start`, ended by :meth:`stop`.

    ``argv`` defaults to ``<venv>/bin/jupyter lab <root_dir>``; the isolation/offline options are
    appended. The server's stdout/stderr go to ``log_path`` (read it when a test fails).
    """

    root_dir: Path
    argv: list[str] | None = None
    extra_args: list[str] | None = None
    cwd: Path | None = None
    extra_env: dict | None = None
    lab_settings: dict | None = None
    startup_timeout: float = 120.0
    port: int = 0
    token: str = ""
    home: Path | None = None
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    argv_used: list[str] | None = None
    final_log: str = ""
    _own_home: bool = False
    _log_file: object = None
    started_in: float = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/lab", **query) -> str:
        query = {"token": self.token, **query}
        qs = "&".join(f"{k}={v}" if v is not None else k for k, v in query.items())
        return f"{self.base_url}{path}?{qs}"

    def start(self) -> "LabServer":
        t0 = time.perf_counter()
        if self.home is None:
            self.home = Path(tempfile.mkdtemp(prefix="cnnlab-jupyter-"))
            self._own_home = True
        self.port = self.port or free_port()
        self.token = self.token or os.urandom(16).hex()
        write_lab_settings(self.home, {**QUIET_LAB_SETTINGS, **(self.lab_settings or {})})
        argv = self.argv or [str(venv_bin() / "jupyter"), "lab", str(self.root_dir)]
        argv = list(argv) + list(self.extra_args or []) + offline_lab_args(self.port, self.token, self.home)
        self.argv_used = argv
        self.log_path = self.home / "server.log"
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            argv,
            cwd=str(self.cwd or (self.root_dir if Path(self.root_dir).is_dir() else REPO)),
            env=isolated_jupyter_env(self.home, self.extra_env),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() ends it and its kernels
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                log = self.log_tail()
                self.stop()
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{log}")
            try:
                status, _ = self.http_get("/api/status")
                if status == 200:
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                log = self.log_tail()
                self.stop()
                raise TimeoutError(f"JupyterLab did not serve within {self.startup_timeout}s:\n{log}")
            time.sleep(0.3)
        self.started_in = time.perf_counter() - t0
        return self

    def http_get(self, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
        req = urllib.request.Request(self.base_url + path, headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def http_json(self, path: str):
        status, body = self.http_get(path)
        assert status == 200, f"GET {path} -> {status}: {body[:300]!r}"
        return json.loads(body)

    def log_tail(self, n: int = 60) -> str:
        if not self.log_path or not self.log_path.exists():
            return "\n".join(self.final_log.splitlines()[-n:])
        if self._log_file:
            self._log_file.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self, timeout: float = 20.0) -> int | None:
        """Ask the server to shut down (REST), then SIGTERM/SIGKILL its own process group."""
        rc = None
        if self.proc is not None and self.proc.poll() is None:
            try:
                req = urllib.request.Request(
                    self.base_url + "/api/shutdown",
                    method="POST",
                    headers={"Authorization": f"token {self.token}"},
                )
                urllib.request.urlopen(req, timeout=5).read()
            except Exception:
                pass
            try:
                rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGTERM)
                    rc = self.proc.wait(timeout=10)
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    try:
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    rc = self.proc.wait(timeout=10)
        elif self.proc is not None:
            rc = self.proc.returncode
        # Kernels live in the server's process group; make sure none outlives it.
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        self.final_log = self.log_tail(400)
        if self._own_home and self.home and not os.environ.get("CNNLAB_KEEP_JUPYTER_HOME"):
            shutil.rmtree(self.home, ignore_errors=True)
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --------------------------------------------------------------------------- browser


def launch_chromium(playwright):
    """Debian's Chromium, headless, with the network-quiet flags. Playwright gives each launch a
    fresh temporary user-data-dir (no profile is shared or kept)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@dataclass
class PageProblems:
    """Page errors and console errors seen on a page, with harmless noise filtered out."""

    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def clear(self):
        for lst in (self.page_errors, self.console_errors, self.ignored, self.blocked_requests, self.failed_requests):
            lst.clear()

    def real(self) -> list[str]:
        return [f"pageerror: {e}" for e in self.page_errors] + [f"console.error: {e}" for e in self.console_errors]


#: Console errors that are not the course's fault, with why:
HARMLESS_CONSOLE = [
    # Chromium logs every request our offline route aborts (an external URL, e.g. a font) and
    # every 404 of a probe JupyterLab makes on purpose; the request itself is recorded in
    # blocked_requests / failed_requests and judged there.
    (re.compile(r"Failed to load resource"), "a failed/blocked resource fetch (recorded separately)"),
    # JupyterLab's announcements/extension-manager plugins, when their endpoints answer 404/empty.
    (re.compile(r"/lab/api/(news|update|extensions)"), "lab news/update/extension-manager endpoint"),
    # Chromium without a GPU.
    (re.compile(r"WebGL|GPU stall|GroupMarkerNotSet", re.I), "no GPU in headless Chromium"),
]


def is_harmless(text: str) -> str | None:
    for rx, why in HARMLESS_CONSOLE:
        if rx.search(text):
            return why
    return None


def offline_context(browser, problems: PageProblems, viewport=(1280, 900)):
    """A browser context that may only talk to 127.0.0.1; anything else is aborted and recorded."""
    ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=1)

    def route(route):
        url = route.request.url
        host = re.sub(r"^[a-z]+://", "", url).split("/")[0].split("@")[-1]
        host = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        if url.startswith(("data:", "blob:", "about:")) or host in LOCAL_HOSTS:
            return route.continue_()
        problems.blocked_requests.append(url)
        return route.abort("blockedbyclient")

    ctx.route("**/*", route)
    return ctx


def watch_page(page, problems: PageProblems) -> None:
    page.on("pageerror", lambda exc: problems.page_errors.append(str(exc)))

    def on_console(msg):
        if msg.type != "error":
            return
        text = msg.text
        loc = msg.location or {}
        if loc.get("url"):
            text = f"{text} @ {loc.get('url')}"
        why = is_harmless(text)
        if why:
            problems.ignored.append(f"{text}  [{why}]")
        else:
            problems.console_errors.append(text)

    page.on("console", on_console)
    page.on(
        "requestfailed",
        lambda req: problems.failed_requests.append(f"{req.url} ({req.failure})"),
    )


# --------------------------------------------------------------------------- serving a lesson copy


def make_served_copy(dest: Path, notebooks: list[Path] | None = None) -> Path:
    """A throwaway view of the repo whose ``notebooks/`` holds *copies* of the lessons.

    Running a lesson in JupyterLab dirties it (outputs, execution counts) and the lab autosaves;
    the committed lessons must stay clean, so the server is pointed at copies. Every other entry
    (top-level repo folders, files next to the lessons) is a symlink, so relative paths a lesson
    uses (``images/…``, ``../data``) still resolve. Returns the copy's ``notebooks`` folder.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for entry in REPO.iterdir():
        if entry.name in {"notebooks", ".git", ".venv", "artifacts"}:
            continue
        link = dest / entry.name
        if not link.exists():
            link.symlink_to(entry, target_is_directory=entry.is_dir())
    nb_dir = dest / "notebooks"
    nb_dir.mkdir(exist_ok=True)
    if NOTEBOOKS.is_dir():
        for entry in NOTEBOOKS.iterdir():
            if entry.name in {".ipynb_checkpoints"}:
                continue
            target = nb_dir / entry.name
            if entry.is_file():               # lessons and files next to them: the server
                shutil.copy2(entry, target)   # refuses symlinks that leave its root
            elif not target.exists():
                target.symlink_to(entry, target_is_directory=entry.is_dir())
    for extra in notebooks or []:
        shutil.copy2(extra, nb_dir / extra.name)
    return nb_dir


#: Lab user settings for the lesson runs: no autosave (we run copies anyway; nothing is written
#: back while the test looks at the page).
TEST_LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
}


# --------------------------------------------------------------------------- driving a notebook

#: Text that means a widget did NOT render as a widget (its Python repr, or a front-end failure).
WIDGET_AS_TEXT = re.compile(
    r"\b(?:Int|Float|FloatLog|IntRange|FloatRange|Selection)?Slider\(|IntSlider\(|FloatSlider\(|"
    r"interactive\(children=|VBox\(children=|HBox\(children=|GridBox\(children=|Tab\(children=|"
    r"Dropdown\(|ToggleButtons\(|Output\(\)|Error displaying widget|model not found|"
    r"A Jupyter widget could not be displayed"
)

JS_OPENED = """(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return false;
  const w = app.shell.currentWidget;
  return !!(w && w.context && w.context.path === path && w.content && w.content.model);
}"""

JS_READY = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.context.ready;
  await panel.sessionContext.ready;
  await app.restored;
  return panel.context.path;
}"""

JS_KERNEL_STATUS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const s = panel.sessionContext.session;
  return s && s.kernel ? s.kernel.status : 'no-kernel';
}"""

#: Per code cell: index, execution count, errors (model), stderr text, whether its prompt is "[*]".
JS_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    const outputs = c.outputs ? c.outputs.toJSON() : [];
    const errors = [], stderr = [], mimes = [];
    for (const o of outputs) {
      if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue + '\\n' + (o.traceback || []).join('\\n').replace(/\\x1b\\[[0-9;]*m/g, ''));
      if (o.output_type === 'stream' && o.name === 'stderr') stderr.push(Array.isArray(o.text) ? o.text.join('') : o.text);
      if (o.data) mimes.push(...Object.keys(o.data));
    }
    const node = panel.content.widgets[i].node;
    const prompt = node.querySelector('.jp-InputPrompt');
    out.push({index: i, count: c.executionCount, errors, stderr, mimes,
              running: !!(prompt && prompt.textContent.includes('*')),
              source: c.sharedModel.getSource().slice(0, 200)});
  }
  const s = panel.sessionContext.session;
  return {cells: out, kernel: s && s.kernel ? s.kernel.status : 'no-kernel'};
}"""

#: What the student sees of each code cell with widgets or figures (DOM of the cell node).
JS_VIEW = """(badTextSource) => {
  const bad = new RegExp(badTextSource);
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const res = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    const node = panel.content.widgets[i].node;
    const outs = node.querySelector('.jp-Cell-outputArea, .jp-OutputArea');
    if (!outs) continue;
    const outputs = c.outputs ? c.outputs.toJSON() : [];
    const widgetViews = outputs.filter(o => o.data && o.data['application/vnd.jupyter.widget-view+json']).length;
    const text = outs.innerText || '';
    const m = text.match(bad);
    res.push({
      index: i,
      widgetViews,
      widgets: outs.querySelectorAll('.jupyter-widgets').length,
      sliders: outs.querySelectorAll('.widget-slider, .widget-hslider, .widget-vslider').length,
      handles: outs.querySelectorAll('.noUi-handle').length,
      controls: outs.querySelectorAll('.noUi-handle, .widget-dropdown select, .widget-toggle-buttons button').length,
      images: outs.querySelectorAll('img').length,
      svgs: outs.querySelectorAll('.jp-RenderedSVG svg, .jp-RenderedImage svg').length,
      badText: m ? text.slice(Math.max(0, m.index - 40), m.index + 120) : null,
      stderrErrors: Array.from(outs.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]'))
        .map(e => e.innerText).filter(t => /Traceback|Error/.test(t)).map(t => t.slice(0, 400)),
      height: node.getBoundingClientRect().height,
    });
  }
  return res;
}"""

#: A signature of the figures in one cell: hashes of every <img> src and inline SVG, plus sizes.
JS_FIGURE_SIG = """(index) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const node = panel.content.widgets[index].node;
  const parts = [], sizes = [];
  const h = (s) => { let x = 0; for (let k = 0; k < s.length; k++) { x = (x * 31 + s.charCodeAt(k)) | 0; } return x; };
  node.querySelectorAll('.jp-OutputArea img').forEach(img => {
    parts.push('img:' + img.src.length + ':' + h(img.src));
    sizes.push([img.naturalWidth, img.naturalHeight, Math.round(img.getBoundingClientRect().width), Math.round(img.getBoundingClientRect().height)]);
  });
  node.querySelectorAll('.jp-OutputArea svg').forEach(svg => { const s = svg.outerHTML; if (s.length > 2000) parts.push('svg:' + h(s)); });
  node.querySelectorAll('.jp-OutputArea canvas').forEach(cv => { try { parts.push('canvas:' + h(cv.toDataURL())); } catch (e) {} });
  return {sig: parts.join('|'), n: parts.length, sizes, cellHeight: Math.round(node.getBoundingClientRect().height),
          text: (node.querySelector('.jp-OutputArea') || {innerText: ''}).innerText.slice(0, 300)};
}"""


#: Markdown cells that render a code block although their source has no code fence: an indented
#: source (e.g. an un-dedented triple-quoted string in a notebook generator) turns headings and
#: text into a grey monospace block, literally showing "## Check yourself" and "**1.**".
JS_ACCIDENTAL_CODE_BLOCKS = """async () => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'markdown') continue;
    const src = c.sharedModel.getSource();
    if (/```|~~~|<pre/.test(src)) continue;
    const w = panel.content.widgets[i];
    if (w.rendered === false) { w.rendered = true; }
    if (w.ready) { await w.ready; }
    const pre = w.node.querySelector('.jp-RenderedMarkdown pre');
    if (pre) out.push({index: i, shows: pre.innerText.slice(0, 120)});
  }
  return out;
}"""


def wait_for_notebook(page, path: str, timeout_s: float = 90.0) -> None:
    page.wait_for_function(JS_OPENED, arg=path, timeout=timeout_s * 1000)
    page.evaluate(JS_READY)


def wait_for_kernel_idle(page, timeout_s: float = 60.0) -> str:
    deadline = time.monotonic() + timeout_s
    status = "unknown"
    while time.monotonic() < deadline:
        status = page.evaluate(JS_KERNEL_STATUS)
        if status == "idle":
            return status
        page.wait_for_timeout(250)
    raise TimeoutError(f"kernel not idle after {timeout_s}s (status {status!r})")


@dataclass
class RunResult:
    state: dict
    seconds: float
    timed_out: bool = False

    @property
    def code_cells(self):
        return self.state["cells"]

    @property
    def errors(self) -> list[str]:
        return [f"cell {c['index']}: {e}" for c in self.code_cells for e in c["errors"]] + [
            f"cell {c['index']} (stderr): {s}" for c in self.code_cells for s in c["stderr"] if "Traceback" in s
        ]

    @property
    def unexecuted(self) -> list[int]:
        return [c["index"] for c in self.code_cells if not c["count"]]

    @property
    def stderr_noise(self) -> list[str]:
        return [f"cell {c['index']}: {s.strip()[:300]}" for c in self.code_cells for s in c["stderr"] if "Traceback" not in s]


def run_all_cells(page, timeout_s: float = 300.0, poll_s: float = 0.5) -> RunResult:
    """Run All Cells via the lab's own command, then wait until every code cell has an execution
    count, no prompt shows ``[*]`` and the kernel is idle — or an error output appears (execution
    stops there, so waiting longer would only burn the timeout)."""
    t0 = time.perf_counter()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + timeout_s
    idle_streak = 0
    while True:
        page.wait_for_timeout(int(poll_s * 1000))
        state = page.evaluate(JS_STATE)
        cells = state["cells"]
        if any(c["errors"] for c in cells):
            # Let the queue drain (the lab cancels the rest) before reporting.
            page.wait_for_timeout(500)
            return RunResult(page.evaluate(JS_STATE), time.perf_counter() - t0)
        done = all(c["count"] for c in cells) and not any(c["running"] for c in cells)
        idle_streak = idle_streak + 1 if (done and state["kernel"] == "idle") else 0
        if idle_streak >= 2:
            return RunResult(state, time.perf_counter() - t0)
        if time.monotonic() > deadline:
            return RunResult(state, time.perf_counter() - t0, timed_out=True)


def widget_views(page) -> list[dict]:
    return page.evaluate(JS_VIEW, WIDGET_AS_TEXT.pattern)


def wait_for_widgets_rendered(page, timeout_s: float = 30.0) -> list[dict]:
    """Wait until every cell with widget-view outputs shows widget DOM (or a failure text)."""
    deadline = time.monotonic() + timeout_s
    while True:
        views = widget_views(page)
        pending = [v for v in views if v["widgetViews"] and not v["widgets"] and not v["badText"]]
        if not pending or time.monotonic() > deadline:
            return views
        page.wait_for_timeout(300)


def wait_for_layout_stable(page, quiet_ms: int = 600, timeout_s: float = 15.0) -> None:
    """Wait until no output area changes height for ``quiet_ms`` (widgets draw their first figure
    asynchronously after the kernel went idle)."""
    js = """() => { const p = window.jupyterapp.shell.currentWidget;
        return Array.from(p.content.node.querySelectorAll('.jp-OutputArea'))
            .map(o => Math.round(o.getBoundingClientRect().height) + ':' + o.querySelectorAll('img').length).join(','); }"""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = page.evaluate(js)
        if now != last:
            last, since = now, time.monotonic()
        elif (time.monotonic() - since) * 1000 >= quiet_ms:
            return
        page.wait_for_timeout(150)


def figure_signature(page, cell_index: int) -> dict:
    return page.evaluate(JS_FIGURE_SIG, cell_index)


def cell_locator(page, cell_index: int):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(cell_index)


@dataclass
class ControlMove:
    """What happened when the test operated one control of a widget cell."""

    cell: int
    changed: bool
    kind: str = ""  # "slider", "dropdown", "toggle"
    label: str = ""
    action: str = ""
    seconds: float = 0.0
    before: dict | None = None
    after: dict | None = None

    @property
    def jumped(self) -> str | None:
        """How the figure's layout moved under the student's cursor, if it did."""
        if not (self.before and self.after):
            return None
        notes = []
        if self.before["sizes"] != self.after["sizes"]:
            notes.append(f"image sizes {self.before['sizes']} -> {self.after['sizes']}")
        if abs(self.before["cellHeight"] - self.after["cellHeight"]) > 2:
            notes.append(f"cell height {self.before['cellHeight']} -> {self.after['cellHeight']} px")
        return "; ".join(notes) or None

    def as_dict(self) -> dict:
        return {"cell": self.cell, "kind": self.kind, "label": self.label, "action": self.action,
                "changed": self.changed, "response_s": round(self.seconds, 2), "jump": self.jumped}


JS_CONTROL_LABEL = """el => { const w = el.closest('.widget-slider, .widget-hslider, .widget-vslider, .widget-dropdown, .widget-toggle-buttons');
    const l = w && w.querySelector('.widget-label'); return l ? (l.textContent || l.title || '').trim() : ''; }"""


def _first_visible(locator):
    for i in range(locator.count()):
        item = locator.nth(i)
        if item.is_visible():
            return item
    return None


def wait_for_figure_change(page, cell_index: int, before: dict, timeout_s: float) -> dict | None:
    """The cell's figure signature once it differs from ``before`` (and has settled), or None
    after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page.wait_for_timeout(150)
        after = figure_signature(page, cell_index)
        if after["sig"] and after["sig"] != before["sig"] and after["n"] >= before["n"]:
            page.wait_for_timeout(400)  # let the redraw settle (Output widgets clear, then draw)
            return figure_signature(page, cell_index)
    return None


def operate_control_and_watch(page, cell_index: int, timeout_s: float = 20.0) -> ControlMove:
    """Operate one control of the widget in this cell the way a student would and wait for the
    cell's figure to change. A visible slider first (focus its handle, ArrowRight; ArrowLeft when
    that changes nothing, as at the maximum); without one, the next option of a dropdown, or a
    toggle button not yet selected."""
    cell = cell_locator(page, cell_index)
    cell.scroll_into_view_if_needed()
    before = figure_signature(page, cell_index)

    handle = _first_visible(cell.locator(".noUi-handle"))
    if handle is not None:
        handle.scroll_into_view_if_needed()
        label = handle.evaluate(JS_CONTROL_LABEL)
        wait = timeout_s
        for key in ("ArrowRight", "ArrowLeft", "ArrowLeft"):
            t0 = time.perf_counter()
            handle.focus()
            page.keyboard.press(key)
            after = wait_for_figure_change(page, cell_index, before, wait)
            if after:
                return ControlMove(cell_index, True, "slider", label, key, time.perf_counter() - t0, before, after)
            wait = min(wait, 8.0)
        return ControlMove(cell_index, False, "slider", label, "ArrowRight/ArrowLeft", 0.0, before,
                           figure_signature(page, cell_index))

    select = _first_visible(cell.locator(".widget-dropdown select"))
    if select is not None:
        label = select.evaluate(JS_CONTROL_LABEL)
        options = select.evaluate("s => Array.from(s.options).map(o => o.value)")
        current = select.evaluate("s => s.selectedIndex")
        if len(options) > 1:
            target = (current + 1) % len(options)
            t0 = time.perf_counter()
            select.select_option(index=target)
            after = wait_for_figure_change(page, cell_index, before, timeout_s)
            return ControlMove(cell_index, bool(after), "dropdown", label, f"option {target}",
                               time.perf_counter() - t0 if after else 0.0, before, after or figure_signature(page, cell_index))

    button = _first_visible(cell.locator(".widget-toggle-buttons button:not(.mod-active)"))
    if button is not None:
        label = button.evaluate(JS_CONTROL_LABEL)
        text = button.inner_text()
        t0 = time.perf_counter()
        button.click()
        after = wait_for_figure_change(page, cell_index, before, timeout_s)
        return ControlMove(cell_index, bool(after), "toggle", label, f"click {text!r}",
                           time.perf_counter() - t0 if after else 0.0, before, after or figure_signature(page, cell_index))

    return ControlMove(cell_index, False, "", "", "no visible slider, dropdown or toggle", 0.0, before, before)


def lesson_screenshots(page, folder: Path, stem: str = "lesson_after_run", page_height: int = 6000) -> list[Path]:
    """The whole notebook as the student scrolls through it, in tall pages: the viewport grows to
    ``page_height`` (or the notebook's height if smaller; re-measured until stable, since
    off-screen cells only get their real height once rendered), then the notebook is scrolled one
    page at a time. Writes ``<stem>_00.png``, ``<stem>_01.png``…; restores the viewport."""
    vp = page.viewport_size
    js_metrics = """(top) => {
        const outer = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
        if (!outer) return null;
        if (top !== null) outer.scrollTop = top;
        // The notebook adds blank "scroll past end" room below the last cell: measure to the last cell.
        const cells = outer.querySelectorAll('.jp-Cell');
        const last = cells.length ? cells[cells.length - 1] : null;
        const end = last ? last.getBoundingClientRect().bottom - outer.getBoundingClientRect().top + outer.scrollTop + 24
                         : outer.scrollHeight;
        return {scrollHeight: Math.min(outer.scrollHeight, Math.ceil(end)), clientHeight: outer.clientHeight, scrollTop: outer.scrollTop};
    }"""
    chrome = 140  # menu bar, tab bar, toolbar, status bar
    for old in folder.glob(f"{stem}_*.png"):
        old.unlink()
    written: list[Path] = []
    try:
        target = vp["height"]
        for _ in range(4):
            m = page.evaluate(js_metrics, 0)
            if not m:
                break
            want = int(min(page_height, max(vp["height"], m["scrollHeight"] + chrome)))
            if abs(want - target) < 8:
                break
            target = want
            page.set_viewport_size({"width": vp["width"], "height": target})
            page.wait_for_timeout(700)
        m = page.evaluate(js_metrics, 0)
        top, n = 0, 0
        while m is not None:
            page.wait_for_timeout(350)
            out = folder / f"{stem}_{n:02d}.png"
            page.screenshot(path=str(out))
            written.append(out)
            n += 1
            top += max(200, m["clientHeight"] - 40)  # a little overlap between pages
            m2 = page.evaluate(js_metrics, None)
            if top >= m2["scrollHeight"] - 2 or n >= 40:
                break
            m = page.evaluate(js_metrics, top)
    finally:
        page.set_viewport_size(vp)
        page.wait_for_timeout(200)
    return written


def shutdown_current_kernel(page, lab: LabServer) -> None:
    """Delete the notebook's session through the REST API (the kernel goes with it)."""
    try:
        sid = page.evaluate(
            "() => { const p = window.jupyterapp.shell.currentWidget; return p && p.sessionContext.session ? p.sessionContext.session.id : null; }"
        )
    except Exception:
        sid = None
    if sid:
        req = urllib.request.Request(
            f"{lab.base_url}/api/sessions/{sid}", method="DELETE", headers={"Authorization": f"token {lab.token}"}
        )
        try:
            urllib.request.urlopen(req, timeout=15).read()
        except Exception:
            pass


def first_heading(nb_path: Path) -> str | None:
    """The text of the notebook's first markdown heading (``# Title`` or ``<h1>``)."""
    nb = json.loads(nb_path.read_text())
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        src = "".join(cell.get("source", []))
        m = re.search(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", src, re.M) or re.search(r"<h[1-6][^>]*>(.*?)</h[1-6]>", src, re.S)
        if m:
            return strip_markdown(m.group(1))
    return None


def strip_markdown(text: str) -> str:
    """Heading text as rendered: no emphasis/code markers, links reduced to their text, no math delimiters."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"[*_`]", "", text)
    return re.sub(r"\s+", " ", text).strip()
