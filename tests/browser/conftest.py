"""The real-browser harness: JupyterLab driven by headless Chromium (Playwright).

One JupyterLab server is started for the tests of this folder, in a temporary copy of
``notebooks/`` (so nothing a run writes, outputs or checkpoints, ever reaches
the repository's clean notebooks), with its own settings, workspaces, config,
runtime and IPython folders, a random token and a free loopback port.  One
Chromium is launched for them; every notebook gets a fresh browser context,
page and JupyterLab workspace.  The kernels import the checkout under test
(``PYTHONPATH`` is the repository).

Fixtures (all need the ``browser`` marker; the gate in ``tests/conftest.py``
skips them when Chromium or Playwright is missing, or fails them when
``SPREADLAB_REQUIRE_BROWSER=1``):

``lab_server`` (package: one server for all of ``tests/browser``)
    A :class:`LabServer`: ``url``, ``token``, ``root`` (the temp copy),
    ``add_notebook(nb_or_path, name)`` to place a notebook the test made,
    ``api(method, path)`` for the REST API, ``shutdown_kernels()``.
``chromium`` (package)
    A Playwright ``Browser`` (Debian's ``/usr/bin/chromium``).  Package scope,
    not session: Playwright's sync API cannot nest, and other browser tests
    (the slide decks) start their own Playwright after this package is done.
``lab`` (function)
    A :class:`Lab`: ``lab.run_notebook(path)`` opens ``path`` (relative to the
    server's root) in a fresh workspace, waits for the kernel connection,
    runs all cells, waits until execution has finished and widgets have
    rendered, saves ``test-artifacts/screenshots/<name>.png`` and returns a
    :class:`LabRun`.  ``with lab.open(path) as nb:`` gives a :class:`LabNotebook`
    for tests that need to act on the page after the run (``nb.run_all()``,
    ``nb.collect()``, ``nb.screenshot()``, ``nb.page``).  The notebook's kernel
    is shut down when the page closes.

Timeouts are generous but bounded (the machine has 2 shared cores); set
``SPREADLAB_LAB_TIMEOUT_SCALE=2`` to double them all on a slow machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
LAB_LOGS = REPO / "test-artifacts" / "lab"

_SCALE = float(os.environ.get("SPREADLAB_LAB_TIMEOUT_SCALE", "1") or 1)
SERVER_START_TIMEOUT = 120 * _SCALE  # s: jupyter lab answering /api/status
PAGE_LOAD_TIMEOUT = 120 * _SCALE  # s: JupyterLab shell and the notebook panel
KERNEL_TIMEOUT = 120 * _SCALE  # s: kernel started, connected and idle
RUN_TIMEOUT = 300 * _SCALE  # s: all cells of one notebook executed
SETTLE_TIMEOUT = 60 * _SCALE  # s: widgets rendered, DOM quiet
SETTLE_QUIET = 1.5  # s without DOM change counts as "settled"
VIEWPORT = {"width": 1280, "height": 900}
MAX_SCREENSHOT_HEIGHT = 16000  # px; Chromium's limit is ~16384

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
]

# Console messages that are JupyterLab's own noise, not a lesson's problem.
# Keep this list short and specific: each entry hides a whole class of message.
# Each entry is (message pattern, pattern of the URL the message is about).
BENIGN_CONSOLE = [
    # JupyterLab's own optional requests when the server has no such service
    # (no language server extension) or no icon.
    (
        re.compile(r"^Failed to load resource: the server responded with a status of 404"),
        re.compile(r"/lsp/|/favicon"),
    ),
]

# User settings written into the server's private settings folder.
USER_SETTINGS = {
    # Render every cell (no virtual scrolling) so a screenshot shows the whole
    # notebook and every output is in the DOM to inspect.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    # No "would you like news?" toast, no update check (no network here).
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # No autosave: the copy is temporary anyway, and a save cannot race a run.
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}
# page_config.json: plugins that only talk to the network or nag.
DISABLED_EXTENSIONS = {
    "@jupyterlab/apputils-extension:announcements": True,
    "@jupyterlab/extensionmanager-extension": True,
}

# A stderr output that is an exception rather than a warning or a log line.
_TRACEBACK_RE = re.compile(
    r"Traceback \(most recent call last\)"
    r"|^\s*Cell In\[\d+\], line \d+"
    r"|^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)(: |$)",
    re.MULTILINE,
)
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# ---------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    proc: subprocess.Popen
    log_path: Path

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        """Call the Jupyter Server REST API (``path`` like ``/api/sessions``)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def add_notebook(self, nb: Any, name: str) -> str:
        """Write a notebook (an nbformat node, a dict or a path) under the
        server's root as ``name`` (relative, may contain folders); return the
        path to give :meth:`Lab.run_notebook`."""
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(nb, (str, Path)):
            shutil.copyfile(nb, target)
        else:
            target.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
        return target.relative_to(self.root).as_posix()

    def sessions_for(self, path: str) -> list[dict]:
        return [s for s in self.api("GET", "/api/sessions") if s.get("path") == path]

    def shutdown_sessions(self, path: str) -> None:
        with contextlib.suppress(Exception):
            for s in self.sessions_for(path):
                self.api("DELETE", f"/api/sessions/{s['id']}", timeout=30)

    def shutdown_kernels(self) -> None:
        with contextlib.suppress(Exception):
            for k in self.api("GET", "/api/kernels"):
                with contextlib.suppress(Exception):
                    self.api("DELETE", f"/api/kernels/{k['id']}", timeout=30)

    def log_tail(self, n: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""


def _write_lab_config(base: Path) -> dict[str, Path]:
    dirs = {k: base / k for k in ("settings", "workspaces", "config", "runtime", "ipython", "data")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    for plugin, values in USER_SETTINGS.items():
        f = dirs["settings"] / f"{plugin}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(values, indent=2))
    labconfig = dirs["config"] / "labconfig"
    labconfig.mkdir(exist_ok=True)
    (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": DISABLED_EXTENSIONS}))
    return dirs


def start_lab_server(base: Path, notebooks: Path = NOTEBOOKS) -> LabServer:
    """Start ``jupyter lab`` serving a fresh copy of ``notebooks`` under ``base``."""
    root = base / "root"
    if notebooks.is_dir():
        shutil.copytree(
            notebooks, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
        )
    else:
        root.mkdir(parents=True)
    dirs = _write_lab_config(base)
    port = _free_port()
    token = uuid.uuid4().hex
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        IPYTHONDIR=str(dirs["ipython"]),
        # Kernels import the checkout under test, whatever is installed.
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
        PYTHONUNBUFFERED="1",
    )
    env.pop("JUPYTER_TOKEN", None)
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.open_browser=False",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.terminals_enabled=False",
        f"--LabApp.user_settings_dir={dirs['settings']}",
        f"--LabApp.workspaces_dir={dirs['workspaces']}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    log_path = base / "jupyter-lab.log"  # copied to test-artifacts/lab/ when the server stops
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    log.close()
    server = LabServer(f"http://127.0.0.1:{port}", token, root, proc, log_path)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"jupyter lab exited with {proc.returncode} while starting:\n{server.log_tail()}"
                )
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                server.api("GET", "/api/status", timeout=5)
                return server
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"jupyter lab did not answer within {SERVER_START_TIMEOUT:.0f}s:\n{server.log_tail()}"
                )
            time.sleep(0.5)
    except BaseException:
        stop_lab_server(server)
        raise


def stop_lab_server(server: LabServer) -> None:
    """Shut the kernels down, then the server, by its PID (SIGTERM, then SIGKILL)."""
    if server.proc.poll() is None:
        server.shutdown_kernels()
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait(timeout=10)
    with contextlib.suppress(OSError):
        LAB_LOGS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(server.log_path, LAB_LOGS / "jupyter-lab.log")


# ------------------------------------------------------------- the results


@dataclass
class LabRun:
    """What one notebook did in JupyterLab."""

    notebook: str
    code_cells: int = 0
    executed_cells: int = 0
    error_outputs: list[str] = field(default_factory=list)  # exceptions shown as outputs
    printed_tracebacks: list[str] = field(default_factory=list)  # tracebacks written to stderr
    kernel_errors: list[str] = field(default_factory=list)  # kernel errors not shown in the DOM
    kernel_messages: list[str] = field(default_factory=list)  # every iopub "error" seen (informational)
    widget_errors: list[str] = field(default_factory=list)
    render_errors: list[str] = field(default_factory=list)  # e.g. a Mermaid diagram that failed
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)  # JupyterLab dialogs left open
    stderr: list[str] = field(default_factory=list)  # every stderr output (informational)
    screenshot: Path | None = None
    seconds: float = 0.0

    def problems(self) -> list[str]:
        """Everything that should fail a lesson, one line (or block) each."""
        out = []
        out += [f"error output: {e}" for e in self.error_outputs]
        out += [
            f"traceback printed to stderr (tag the cell `raises-exception` if the lesson means it): {e}"
            for e in self.printed_tracebacks
        ]
        out += [f"kernel error not shown in the page: {e}" for e in self.kernel_errors]
        out += [f"widget error: {e}" for e in self.widget_errors]
        out += [f"render error: {e}" for e in self.render_errors]
        out += [f"console error: {e}" for e in self.console_errors]
        out += [f"dialog: {e}" for e in self.dialogs]
        if self.executed_cells < self.code_cells and not (
            self.error_outputs or self.kernel_errors or self.printed_tracebacks
        ):
            out.append(f"only {self.executed_cells} of {self.code_cells} code cells ran")
        return out

    def report(self) -> str:
        lines = [
            f"{self.notebook}: {self.executed_cells}/{self.code_cells} code cells ran "
            f"in {self.seconds:.1f}s; screenshot {self.screenshot}"
        ]
        lines += ["  " + p.replace("\n", "\n    ") for p in self.problems()]
        return "\n".join(lines)


# --------------------------------------------------------------- the page

_STATE_JS = r"""
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const cells = [...panel.querySelectorAll('.jp-Notebook .jp-Cell')];
  const text = (e) => (e.innerText || e.textContent || '').trim();
  return {
    cells: cells.map((c) => ({
      code: c.classList.contains('jp-CodeCell'),
      prompt: c.querySelector(':scope .jp-InputArea .jp-InputPrompt') ? text(c.querySelector(':scope .jp-InputArea .jp-InputPrompt')) : '',
      stderr: [...c.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')].map(text),
      widgetErrors: [
        ...[...c.querySelectorAll('.jupyter-widgets-error-widget')].map(text),
        ...[...c.querySelectorAll('.jp-OutputArea-output')]
          .filter((e) => !e.querySelector('.jupyter-widgets-error-widget'))
          .map(text).filter((t) => /Error displaying widget|Click to show javascript error/.test(t)),
      ],
      loading: [...c.querySelectorAll('.jp-OutputArea-output')].filter((e) => text(e) === 'Loading widget...').length,
      renderErrors: [
        ...[...c.querySelectorAll('.jp-RenderedMermaid.jp-mod-warning')].map(text),
        ...[...c.querySelectorAll('img')].filter((i) => i.complete && i.naturalWidth === 0)
          .map((i) => `broken image ${(i.getAttribute('src') || '').slice(0, 80)} (alt: ${i.alt || ''})`),
      ],
    })),
    dialogs: [...document.querySelectorAll('.jp-Dialog')].map(text),
    status: (document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator') || {}).dataset?.status || null,
    size: document.body.innerHTML.length,
  };
}
"""

_BUSY_PROMPT = "[*]:"
_DONE_PROMPT_RE = re.compile(r"^\[\d+\]:$")


class LabNotebook:
    """One notebook open in its own page and workspace."""

    def __init__(self, lab: "Lab", path: str, page: Any):
        self.lab = lab
        self.server = lab.server
        self.path = path
        self.page = page
        self.console_errors: list[str] = []
        self.ignored_console: list[str] = []  # matched BENIGN_CONSOLE, kept for debugging
        self.kernel_errors: list[str] = []
        self.started = time.monotonic()
        self.tags = _cell_tags(self.server.root / path)
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.console_errors.append(f"uncaught: {exc}"))
        page.on("websocket", self._on_websocket)

    # -- event collection
    def _on_console(self, msg: Any) -> None:
        if msg.type != "error":
            return
        text = msg.text
        url = ""
        with contextlib.suppress(Exception):
            url = msg.location.get("url", "") or ""
        if any(p.search(text) and u.search(url) for p, u in BENIGN_CONSOLE):
            self.ignored_console.append(f"{text} ({url})")
            return
        self.console_errors.append(f"{text} ({url})" if url and "Failed to load resource" in text else text)

    def _on_websocket(self, ws: Any) -> None:
        if "/api/kernels/" not in ws.url:
            return
        ws.on("framereceived", self._on_frame)

    def _on_frame(self, payload: Any) -> None:
        raw = payload if isinstance(payload, str) else bytes(payload).decode("utf-8", "replace")
        if '"msg_type"' not in raw or '"error"' not in raw:
            return
        for m in re.finditer(r'"msg_type":\s*"error"', raw):
            # Only the header's msg_type counts (parent_header's is the request's).
            ename = re.search(r'"ename":\s*"((?:[^"\\]|\\.)*)"', raw[m.end():])
            evalue = re.search(r'"evalue":\s*"((?:[^"\\]|\\.)*)"', raw[m.end():])
            if ename:
                self.kernel_errors.append(
                    f"{_unjson(ename.group(1))}: {_unjson(evalue.group(1)) if evalue else ''}"
                )
                break

    # -- waiting
    def state(self) -> dict:
        return self.page.evaluate(_STATE_JS) or {"cells": [], "dialogs": [], "status": None, "size": 0}

    def wait_for_kernel(self, timeout: float = KERNEL_TIMEOUT) -> None:
        """Wait until the notebook's kernel is started, connected and idle.

        The toolbar says "idle" before the kernel is connected, so the server's
        view (a websocket connection on the session's kernel) is checked too.
        """
        deadline = time.monotonic() + timeout
        last = "no session yet"
        while time.monotonic() < deadline:
            self._dismiss_kernel_dialog()
            with contextlib.suppress(Exception):
                sessions = self.server.sessions_for(self.path)
                if sessions and sessions[0].get("kernel"):
                    k = self.server.api("GET", f"/api/kernels/{sessions[0]['kernel']['id']}")
                    last = f"kernel {k.get('execution_state')}, {k.get('connections')} connection(s)"
                    if k.get("connections", 0) >= 1 and k.get("execution_state") == "idle":
                        status = self.state().get("status")
                        last += f", toolbar {status}"
                        if status in (None, "idle"):
                            return
            time.sleep(0.5)
        raise TimeoutError(f"{self.path}: kernel not ready after {timeout:.0f}s ({last})")

    def _dismiss_kernel_dialog(self) -> None:
        # A notebook without kernelspec metadata asks which kernel: take the default.
        dialog = self.page.locator(".jp-Dialog")
        if dialog.count() and "Select Kernel" in (dialog.first.inner_text() or ""):
            self.page.locator(".jp-Dialog .jp-mod-accept").first.click()

    def run_all(self, timeout: float = RUN_TIMEOUT) -> None:
        """Run all cells (Run menu) and wait until execution has finished."""
        deadline = time.monotonic() + timeout
        self.wait_for_kernel()
        codes = [c for c in self.state()["cells"] if c["code"]]
        if not codes:
            return
        for attempt in range(3):
            self._click_run_all()
            # Did anything start? (a click can be lost while the shell settles)
            started_by = time.monotonic() + 20 * _SCALE
            while time.monotonic() < started_by:
                cells = [c for c in self.state()["cells"] if c["code"]]
                if any(c["prompt"] == _BUSY_PROMPT or _DONE_PROMPT_RE.match(c["prompt"]) for c in cells):
                    break
                time.sleep(0.3)
            else:
                continue
            break
        else:
            raise TimeoutError(f"{self.path}: Run All did not start any cell")
        while True:
            st = self.state()
            cells = [c for c in st["cells"] if c["code"]]
            busy = any(c["prompt"] == _BUSY_PROMPT for c in cells)
            done = all(_DONE_PROMPT_RE.match(c["prompt"]) for c in cells)
            if not busy and (done or self.kernel_errors or any(c["stderr"] for c in cells)):
                if st.get("status") in (None, "idle"):
                    break
            if st["dialogs"] and not busy:
                break  # a dialog (e.g. kernel died) stops the run; collect() reports it
            if time.monotonic() > deadline:
                ran = sum(bool(_DONE_PROMPT_RE.match(c["prompt"])) for c in cells)
                raise TimeoutError(
                    f"{self.path}: still running after {timeout:.0f}s ({ran}/{len(cells)} cells done)"
                )
            time.sleep(0.5)
        self.settle()

    def _click_run_all(self) -> None:
        page = self.page
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first.click(
            position={"x": 5, "y": 5}
        )
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

    def settle(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait until widgets have rendered and the page stops changing."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            st = self.state()
            loading = sum(c["loading"] for c in st["cells"])
            key = (st["size"], loading)
            if key != last:
                last, since = key, time.monotonic()
            elif loading == 0 and time.monotonic() - since >= SETTLE_QUIET:
                return
            time.sleep(0.25)

    # -- results
    def collect(self) -> LabRun:
        st = self.state()
        run = LabRun(self.path)
        unmatched = [m.split(":")[0] for m in self.kernel_errors]  # enames not yet found in the DOM
        for i, c in enumerate(st["cells"]):
            excused = "raises-exception" in (self.tags[i] if i < len(self.tags) else ())
            if c["code"]:
                run.code_cells += 1
                run.executed_cells += bool(_DONE_PROMPT_RE.match(c["prompt"]))
            for s in c["stderr"]:
                s = _ANSI_RE.sub("", s)
                run.stderr.append(s)
                # An error output (the kernel sent an "error" message) or a
                # traceback someone printed (e.g. from the reactor thread)?
                ename = next((e for e in unmatched if re.search(rf"(?m)^\s*{re.escape(e)}\b", s)), None)
                if ename is not None:
                    unmatched.remove(ename)
                    if not excused:
                        run.error_outputs.append(f"cell {i + 1}: {_tail(s)}")
                elif _TRACEBACK_RE.search(s) and not excused:
                    run.printed_tracebacks.append(f"cell {i + 1}: {_tail(s)}")
            run.widget_errors += [f"cell {i + 1}: {_tail(w)}" for w in c["widgetErrors"]]
            if c["loading"]:
                run.widget_errors.append(f"cell {i + 1}: {c['loading']} widget(s) never rendered")
            run.render_errors += [f"cell {i + 1}: {_tail(m)}" for m in c["renderErrors"]]
        run.kernel_messages = list(self.kernel_errors)
        # Exceptions the kernel reported that no output in the page shows
        # (e.g. in an Output widget that was never displayed).
        for m in self.kernel_errors:
            if m.split(":")[0] in unmatched:
                unmatched.remove(m.split(":")[0])
                run.kernel_errors.append(m)
        run.console_errors = list(self.console_errors)
        run.dialogs = [d for d in st["dialogs"] if d]
        run.seconds = time.monotonic() - self.started
        return run

    def screenshot(self, name: str | None = None) -> Path:
        """Save the whole notebook (not just the viewport) as a PNG."""
        name = name or Path(self.path).stem
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        out = SCREENSHOTS / f"{name}.png"
        page = self.page
        # JupyterLab scrolls inside its own panel: grow the viewport to fit it.
        extra = page.evaluate(
            """() => {
              const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
              const s = panel && (panel.querySelector('.jp-WindowedPanel-outer') || panel.querySelector('.jp-Notebook'));
              if (!s) return 0;
              const cells = panel.querySelectorAll('.jp-Notebook .jp-Cell');
              if (!cells.length) return Math.max(0, s.scrollHeight - s.clientHeight);
              // Up to the last cell's bottom (not JupyterLab's scroll-past-end space).
              const bottom = cells[cells.length - 1].getBoundingClientRect().bottom + s.scrollTop;
              return Math.max(0, Math.ceil(bottom - s.getBoundingClientRect().bottom) + 24);
            }"""
        )
        height = min(VIEWPORT["height"] + int(extra) + 40, MAX_SCREENSHOT_HEIGHT)
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        page.wait_for_timeout(500)
        with contextlib.suppress(Exception):
            page.evaluate(
                """() => { const s = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
                           if (s) s.scrollTop = 0; }"""
            )
        page.screenshot(path=str(out), full_page=True, timeout=60_000 * _SCALE)
        page.set_viewport_size(VIEWPORT)
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.page.context.close()
        self.server.shutdown_sessions(self.path)


class Lab:
    """Open notebooks of the session's JupyterLab server in the session's Chromium."""

    def __init__(self, server: LabServer, browser: Any):
        self.server = server
        self.browser = browser

    @contextlib.contextmanager
    def open(self, path: str) -> Iterator[LabNotebook]:
        """Open ``path`` (relative to the server's root) in a fresh workspace and
        context; close the page and shut its kernel down afterwards."""
        context = self.browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        context.set_default_timeout(30_000 * _SCALE)
        page = context.new_page()
        nb = LabNotebook(self, path, page)
        try:
            workspace = f"test-{uuid.uuid4().hex[:12]}"
            quoted = urllib.request.quote(path)
            page.goto(
                f"{self.server.url}/lab/workspaces/{workspace}/tree/{quoted}?token={self.server.token}",
                wait_until="domcontentloaded",
                timeout=PAGE_LOAD_TIMEOUT * 1000,
            )
            page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(
                state="attached", timeout=PAGE_LOAD_TIMEOUT * 1000
            )
            # Fold the file browser away: more room for the notebook.
            with contextlib.suppress(Exception):
                tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
                if tab.count():
                    tab.first.click(timeout=5_000)
            yield nb
        finally:
            nb.close()

    def run_notebook(self, path: str, screenshot: str | None = None,
                     check: Callable[[Any], None] | None = None) -> LabRun:
        """Open, run all, collect, screenshot: the whole check for one notebook; *check*,
        if given, is called with the page after the run (an assertion about what it shows)."""
        with self.open(path) as nb:
            try:
                nb.run_all()
            except Exception as exc:  # keep what the page showed, for a person to look at
                shot, partial = None, ""
                with contextlib.suppress(Exception):
                    shot = nb.screenshot(screenshot)
                with contextlib.suppress(Exception):
                    partial = nb.collect().report()
                pytest.fail(f"{type(exc).__name__}: {exc}\nscreenshot: {shot}\n{partial}", pytrace=False)
            run = nb.collect()
            run.screenshot = nb.screenshot(screenshot)
            run.seconds = time.monotonic() - nb.started
            if check is not None:
                check(nb.page)
            return run


def _cell_tags(path: Path) -> list[tuple[str, ...]]:
    with contextlib.suppress(Exception):
        nb = json.loads(path.read_text(encoding="utf-8"))
        return [tuple(c.get("metadata", {}).get("tags", ())) for c in nb.get("cells", [])]
    return []


def _unjson(s: str) -> str:
    with contextlib.suppress(Exception):
        return json.loads(f'"{s}"')
    return s


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# --------------------------------------------------------------- fixtures


def chromium_executable() -> str | None:
    """Debian's Chromium (or ``$SPREADLAB_CHROMIUM``), or None."""
    explicit = os.environ.get("SPREADLAB_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="package")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    for attempt in range(3):
        try:
            server = start_lab_server(tmp_path_factory.mktemp("jupyterlab"))
            break
        except RuntimeError as error:  # e.g. the free port was taken meanwhile
            if attempt == 2 or "exited" not in str(error):
                raise
    try:
        yield server
    finally:
        stop_lab_server(server)


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    if executable is None:  # the gate in tests/conftest.py normally catches this
        pytest.fail("Chromium not found (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS, timeout=120_000 * _SCALE
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def lab(lab_server: LabServer, chromium: Any) -> Lab:
    return Lab(lab_server, chromium)


@pytest.fixture
def notebook_factory() -> Callable[..., dict]:
    """Build a small notebook dict from cell sources (str = code, ("md", s) = markdown)."""

    def make(*cells: Any, tags: dict[int, list[str]] | None = None) -> dict:
        out = []
        for i, c in enumerate(cells):
            if isinstance(c, tuple) and c[0] == "md":
                cell = {"cell_type": "markdown", "id": f"c{i}", "metadata": {}, "source": c[1]}
            else:
                cell = {
                    "cell_type": "code", "id": f"c{i}", "metadata": {}, "source": c,
                    "outputs": [], "execution_count": None,
                }  # fmt: skip
            if tags and i in tags:
                cell["metadata"]["tags"] = tags[i]
            out.append(cell)
        return {
            "cells": out,
            "metadata": {
                "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }

    return make
