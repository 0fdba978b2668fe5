"""The browser edition without a browser: the build, its rule for lessons, its magics,
and spreadlab inside Pyodide run by Node from the site's own files.

The site is built once per session (the ``lite_site`` fixture in conftest.py); the Node
check loads Pyodide with ``indexURL`` = the site's ``static/pyodide/`` folder, so it uses
exactly the runtime, lock and wheels a browser would get.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import report_count
from spreadlab.publish import browser, lite, lite_lessons

REPO = Path(__file__).resolve().parents[1]
REQUIRE = os.environ.get("SPREADLAB_REQUIRE_BROWSER") == "1"

NODE_RUNNER = """\
const [, , indexURL, code] = process.argv;
const { loadPyodide } = await import(indexURL + "pyodide.mjs");
try {
  const py = await loadPyodide({ indexURL, packages: ["spreadlab"] });
  console.log(JSON.stringify({ result: JSON.parse(await py.runPythonAsync(code)) }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e.message || e).slice(-3000) }));
}
"""


def _notebook(tmp_path: Path, *sources, name="lesson.ipynb", tags=None, metadata=None) -> Path:
    cells = [new_markdown_cell("# A lesson")]
    for i, source in enumerate(sources):
        cell = new_code_cell(source)
        if tags and i in tags:
            cell.metadata["tags"] = tags[i]
        cells.append(cell)
    nb = new_notebook(cells=cells, metadata=metadata or {})
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


# ------------------------------------------------------------- the rule for lessons


def test_a_cell_that_uses_a_live_room_needs_the_network_and_so_do_the_cells_that_use_its_names(tmp_path):
    path = _notebook(
        tmp_path,
        "from spreadlab import LiveRoom, MemoryRoom, SpreadFactory",  # importing is not using
        "room = MemoryRoom(SpreadFactory())",
        "live = LiveRoom(SpreadFactory())",
        "client = live.connect()",  # uses a name the live cell made
        "client.send('hi')",  # and so on, transitively
        "client = room.connect()",  # redefined in memory: from here on it is fine
        "client.send('hi')",
        "!ls",  # a shell
        "import asyncio\nserver = await asyncio.start_server(None, '127.0.0.1', 0)",
        "print('socket, in a string, is only text')",
    )
    lesson = lite_lessons.classify(path)
    assert lesson.network_cells == [3, 4, 5, 8, 9]
    assert lesson.code_cells == 10 and lesson.included


def test_a_lesson_mostly_live_stays_out_and_metadata_decides_when_given(tmp_path):
    live = ["from spreadlab import *", "live = LiveRoom(SpreadFactory())", "live.connect()", "live.stop()"]
    assert not lite_lessons.classify(_notebook(tmp_path, *live)).included  # 3 of 4
    forced = _notebook(tmp_path, *live, name="forced.ipynb", metadata={"spreadlab": {"browser": True}})
    assert lite_lessons.classify(forced).included
    kept_out = _notebook(tmp_path, "1 + 1", name="out.ipynb", metadata={"spreadlab": {"browser": False}})
    assert not lite_lessons.classify(kept_out).included


def test_the_browser_edition_marks_cells_and_imports_spreadlab_before_its_magics(tmp_path):
    path = _notebook(tmp_path, "raise ValueError('on purpose')", "x = 1", "print(LiveRoom)",
                     tags={0: ["raises-exception"]})
    lesson, nb = lite_lessons.browser_edition(path)
    codes = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.source.splitlines()[0] for c in codes] == [
        "import spreadlab", "%%expect_error", "x = 1", "%%needs_network"]
    assert codes[1].metadata["spreadlab"]["browser"] == "expect_error"
    assert nbformat.read(path, 4).cells[1].source == "raise ValueError('on purpose')"  # the file is unchanged
    nbformat.validate(nb)


def test_todays_lessons_follow_the_rule(request):
    """Which of the checkout's lessons are in the browser edition, and why (printed)."""
    lessons = [lite_lessons.classify(p) for p in sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))]
    for lesson in lessons:
        print(f"{lesson.name}: {'in' if lesson.included else 'out'} ({lesson.reason})")
    included = {l.name for l in lessons if l.included}
    assert "01-start-here.ipynb" in included
    assert "07-going-live.ipynb" not in included  # a lesson about the reactor, over real TCP
    report_count(request.config, "lessons in the browser edition", len(included))


# ---------------------------------------------------------------- the magics (IPython)


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    browser.register(shell)
    yield shell
    InteractiveShell.clear_instance()


def test_expect_error_shows_the_traceback_and_the_cell_succeeds(shell, capsys):
    result = shell.run_cell("%%expect_error\nx = 41\nraise ValueError('on purpose')\n")
    out = capsys.readouterr()
    assert result.success, result.error_in_exec
    assert "ValueError" in out.err and "on purpose" in out.err and "Traceback" in out.err
    assert "next cells still run" in out.out
    assert shell.user_ns["x"] == 41  # it ran in the notebook's namespace
    assert not shell.run_cell("1 / 0").success  # and tracebacks are errors again afterwards


def test_needs_network_does_not_run_the_cell_and_says_why(shell, capsys):
    result = shell.run_cell("%%needs_network\nran = True\n")
    assert result.success and "ran" not in shell.user_ns
    assert "browser tab" in capsys.readouterr().out


# ---------------------------------------------------------------------- the build


def test_the_site_is_offline_and_its_lock_names_exactly_its_wheels(lite_site, request):
    out = lite_site.out
    config = json.loads((out / "jupyter-lite.json").read_text())
    settings = config["jupyter-config-data"]["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    assert settings["pyodideUrl"] == "./static/pyodide/pyodide.mjs"
    assert settings["disablePyPIFallback"] is True
    assert settings["loadPyodideOptions"]["packages"] == ["spreadlab"]
    pyodide = out / "static" / "pyodide"
    lock = json.loads((pyodide / "pyodide-lock.json").read_text())
    wheels = {p.name for p in pyodide.glob("*.whl")}
    assert {e["file_name"] for e in lock["packages"].values()} == wheels
    for entry in lock["packages"].values():
        assert hashlib.sha256((pyodide / entry["file_name"]).read_bytes()).hexdigest() == entry["sha256"]
        assert all(d in lock["packages"] for d in entry["depends"]), entry
    assert {"spreadlab", "twisted", "zope-interface", "ipywidgets", "ipython"} <= set(lock["packages"])
    report_count(request.config, "wheels in the browser edition", len(wheels))
    print(f"site: {lite_site.files} files, {lite_site.bytes / 1e6:.1f} MB, built in {lite_site.seconds:.1f} s")


def test_the_landing_page_lists_the_lessons_and_the_download_holds_them_all(lite_site):
    page = (lite_site.out / "index.html").read_text()
    names = [l.name for l in lite_site.lessons]
    for lesson in lite_site.lessons:
        if lesson.included:
            assert f'href="lab/index.html?path={lesson.name}"' in page
            assert (lite_site.out / "files" / lesson.name).exists()
        else:
            assert f'data-lesson="{lesson.name}"' in page and "in JupyterLab only" in page
            assert not (lite_site.out / "files" / lesson.name).exists()
    with zipfile.ZipFile(lite_site.out / "spreadlab-lessons.zip") as archive:
        assert sorted(Path(n).name for n in archive.namelist()) == sorted(names)
    assert 'id="jupyter-config-data"' in page  # JupyterLite's apps read the root's config


def test_a_build_starts_clean(lite_site, tmp_path):
    """A file left in the output folder by an earlier build is gone after the next one."""
    out = tmp_path / "site"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier build")
    site = lite.build([REPO / "notebooks" / "01-start-here.ipynb"], out, REPO / lite.DEFAULT_CACHE, log=lambda *a: None)
    assert not (out / "stale.txt").exists()
    assert [l.name for l in site.lessons] == ["01-start-here.ipynb"]
    assert not out.with_name("site-work").exists()


def test_without_npm_or_a_cached_pyodide_the_build_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm anywhere
    with pytest.raises(lite.LiteBuildError, match=r"missing: Pyodide .*npm"):
        lite.ensure_pyodide(tmp_path / "empty-cache", "314.0.6")
    rc = subprocess.run([sys.executable, "-m", "spreadlab.publish.lite", "--cache", str(tmp_path / "c"),
                         "--out", str(tmp_path / "o")], capture_output=True, text=True,
                        env={**os.environ, "PATH": str(tmp_path), "PYTHONPATH": str(REPO)})
    assert rc.returncode == 1 and "missing: Pyodide" in rc.stderr and "Traceback" not in rc.stderr, rc.stderr


# --------------------------------------------------------------- Pyodide in Node


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        if REQUIRE:
            pytest.fail("node is not on PATH: the Pyodide check cannot run")
        pytest.skip("node is not on PATH")
    return node


def run_in_pyodide(site_out: Path, code: str, tmp_path: Path) -> dict:
    runner = tmp_path / "run.mjs"
    runner.write_text(NODE_RUNNER)
    index_url = (site_out / "static" / "pyodide").as_posix() + "/"
    proc = subprocess.run([_node(), str(runner), index_url, textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=240)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    assert lines, f"no answer from Pyodide (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    answer = json.loads(lines[-1])
    assert "error" not in answer, answer["error"]
    return answer["result"]


def test_spreadlab_runs_a_memory_room_in_pyodide(lite_site, tmp_path):
    started = time.monotonic()
    result = run_in_pyodide(lite_site.out, """
        import json, sys
        import spreadlab
        from spreadlab import MemoryRoom, SpreadFactory, Board, Timeline, sequence_svg, LiveRoom
        from spreadlab.teaching.exercises import check_shouting_echo
        from spreadlab.teaching.solutions.protocol import ShoutingEcho
        from spreadlab.teaching.quiz import quiz
        room = MemoryRoom(SpreadFactory())
        alice, bob = room.connect(), room.connect()
        alice.send("你好, Spread Site!\\r\\n", chunks="split-utf8")
        answer = {"platform": sys.platform, "bob": bob.lines[-1], "events": len(room.trace),
                  "board": type(Board(room)).__name__, "timeline": type(Timeline(room)).__name__,
                  "svg": "<svg" in sequence_svg(room.trace),
                  "checker": str(check_shouting_echo(ShoutingEcho)).splitlines()[0],
                  "quiz": type(quiz("?", ["a", "b"], 0, "why")).__name__,
                  "reactor_imported": "twisted.internet.reactor" in sys.modules}
        try:
            LiveRoom(SpreadFactory())
        except Exception as error:
            answer["live"] = f"{type(error).__name__}: {error}"
            answer["live_shown"] = error._render_traceback_()
        json.dumps(answer)
    """, tmp_path)
    assert result["platform"] == "emscripten"
    assert result["bob"] == "client 1: 你好, Spread Site!"
    assert result["board"] == "Board" and result["timeline"] == "Timeline" and result["svg"]
    # the same checker, run here on CPython, gives the same first line in the browser
    from spreadlab.teaching.exercises import check_shouting_echo
    from spreadlab.teaching.solutions.protocol import ShoutingEcho
    here = str(check_shouting_echo(ShoutingEcho)).splitlines()[0]
    assert "checks passed" in here and result["checker"] == here
    assert result["quiz"] == "VBox"
    assert result["reactor_imported"] is False
    assert result["live"].startswith("NoReactorInBrowser: this needs Twisted's reactor")
    assert result["live_shown"] == [result["live"]]  # one line, no traceback
    print(f"Pyodide in Node: {time.monotonic() - started:.1f} s")
