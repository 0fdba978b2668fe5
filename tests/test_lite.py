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
import re
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


def _translated(source: str) -> str:
    """*source* as a translator may write it: every plain string and comment in Chinese
    (f-strings kept: their expressions are code); cells with IPython syntax unchanged."""
    import io
    import tokenize

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source
    out = []
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            tok = tok._replace(string="# 中文注释：协议、工厂、传输")
        elif tok.type == tokenize.STRING and not re.match(r"(?i)[rb]*f", tok.string):
            prefix = re.match(r"(?i)[rbu]*", tok.string).group(0)
            rest = tok.string[len(prefix):]
            quote = rest[:3] if rest[:3] in ('"""', "'''") else rest[0]
            body = "客户端 1：你好" if "b" not in prefix.lower() else "hello"
            tok = tok._replace(string=f"{prefix}{quote}{body}{quote}")
        out.append((tok.type, tok.string))
    return tokenize.untokenize(out)  # spacing aside, the same code


def _network_ids(path: Path, nb=None) -> tuple[set[str], bool]:
    nb = nb if nb is not None else nbformat.read(path, 4)
    lesson = lite_lessons.classify(path, nb)
    return {nb.cells[i].id for i in lesson.network_cells}, lesson.included


def test_a_lesson_with_its_strings_and_comments_translated_gets_the_same_magics_by_cell_id(tmp_path, request):
    """The rule reads code, not text: every lesson, its strings and comments put into Chinese as a
    translator would, has the same cells (by id) needing the network, and the same place in the site."""
    (tmp_path / "zh-CN").mkdir()
    changed = 0
    for path in sorted((REPO / "notebooks").glob("[0-9]*.ipynb")):
        nb = nbformat.read(path, 4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                translated = _translated(cell.source)
                changed += translated != cell.source
                cell.source = translated
        copy = tmp_path / "zh-CN" / path.name
        nbformat.write(nb, copy)
        assert lite_lessons.classify(copy).edition == "zh-CN"
        assert _network_ids(copy) == _network_ids(path), path.name
    assert changed > 50, "the stand-in translation changed almost nothing"
    report_count(request.config, "code cells translated by the stand-in and classified alike", changed)


CHINESE_LESSONS = sorted((REPO / "notebooks" / "zh-CN").glob("[0-9]*.ipynb"))


@pytest.mark.parametrize("chinese", CHINESE_LESSONS, ids=[p.stem for p in CHINESE_LESSONS])
def test_a_chinese_lesson_gets_the_magics_of_its_english_lesson_by_cell_id(chinese):
    english = REPO / "notebooks" / chinese.name
    assert english.exists(), f"{chinese.name}: no English lesson of that name"
    assert _network_ids(chinese) == _network_ids(english)
    lesson, nb = lite_lessons.browser_edition(chinese)
    _, english_nb = lite_lessons.browser_edition(english)
    magics = lambda book: {c.id: c.source.splitlines()[0] for c in book.cells  # noqa: E731
                           if c.cell_type == "code" and c.source.startswith("%%")}
    assert magics(nb) == magics(english_nb)


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


@pytest.mark.parametrize("edition", ["en", "zh-CN"])
def test_the_landing_page_lists_the_lessons_and_the_download_holds_them_all(lite_site, edition):
    mine = [l for l in lite_site.lessons if l.edition == edition]
    if not mine:
        pytest.skip(f"no lessons of the {edition} edition in the checkout")
    folder, up = (lite_site.out, "") if edition == "en" else (lite_site.out / edition, "../")
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert f'<html lang="{edition}">' in page
    for lesson in mine:
        if lesson.included:
            assert f'href="{up}lab/index.html?path={lesson.path}"' in page
            assert (lite_site.out / "files" / lesson.path).exists()
        else:
            assert f'data-lesson="{lesson.name}"' in page
            assert ("in JupyterLab only" if edition == "en" else "仅在 JupyterLab 中") in page
            assert not (lite_site.out / "files" / lesson.path).exists()
    with zipfile.ZipFile(folder / lite_lessons.zip_name(edition)) as archive:
        assert sorted(archive.namelist()) == sorted(f"spreadlab-lessons/{l.path}" for l in mine)
    # JupyterLab's apps read the root's config: only the root page carries it
    assert ('id="jupyter-config-data"' in page) == (edition == "en")


def test_each_edition_links_to_the_other(tmp_path):
    english, chinese = _notebook(tmp_path, "1 + 1", name="00-a.ipynb"), None
    (tmp_path / "zh-CN").mkdir()
    chinese = _notebook(tmp_path / "zh-CN", "1 + 1", name="00-a.ipynb")
    lessons = lite_lessons.write_browser_edition([english, chinese], tmp_path / "files")
    assert [l.path for l in lessons] == ["00-a.ipynb", "zh-CN/00-a.ipynb"]
    assert (tmp_path / "files" / "zh-CN" / "00-a.ipynb").exists()
    site = tmp_path / "site"
    site.mkdir()
    lite_lessons.write_landing(site, lessons)
    assert 'href="zh-CN/index.html" hreflang="zh-CN"' in (site / "index.html").read_text(encoding="utf-8")
    page = (site / "zh-CN" / "index.html").read_text(encoding="utf-8")
    assert 'href="../index.html" hreflang="en" lang="en">English</a>' in page
    assert 'href="../lab/index.html?path=zh-CN/00-a.ipynb"' in page
    listed = json.loads((site / "lessons.json").read_text(encoding="utf-8"))
    assert [(l["path"], l["edition"]) for l in listed] == [("00-a.ipynb", "en"), ("zh-CN/00-a.ipynb", "zh-CN")]


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


# ------------------------------------------------------- the learner's language in the browser


def test_spreadlab_wheel_carries_the_compiled_catalogs(tmp_path, monkeypatch):
    """Whatever spreadlab/locale/ holds (the compiled .mo catalogs) goes into the wheel the site
    loads, readable by gettext: shown with a catalog compiled here into a copy of the package."""
    import gettext
    import io

    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    package = tmp_path / "checkout" / "spreadlab"
    shutil.copytree(REPO / "spreadlab", package, ignore=shutil.ignore_patterns("__pycache__"))
    mo = package / "locale" / "zh_CN" / "LC_MESSAGES" / "spreadlab-wheel-test.mo"
    mo.parent.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(locale="zh_CN")
    catalog.add("Protocol", "协议")
    with open(mo, "wb") as out:
        write_mo(out, catalog)
    monkeypatch.setattr(lite, "PACKAGE_DIR", package)
    monkeypatch.setattr(lite, "REPO_ROOT", package.parent)
    with zipfile.ZipFile(lite.spreadlab_wheel(tmp_path)) as wheel:
        names = set(wheel.namelist())
        every_mo = {p.relative_to(package.parent).as_posix() for p in package.rglob("*.mo")}
        assert every_mo <= names and "spreadlab/locale/zh_CN/LC_MESSAGES/spreadlab-wheel-test.mo" in names
        carried = gettext.GNUTranslations(io.BytesIO(wheel.read("spreadlab/locale/zh_CN/LC_MESSAGES/spreadlab-wheel-test.mo")))
        assert carried.gettext("Protocol") == "协议"


def test_the_sites_wheel_holds_the_checkouts_catalogs(lite_site):
    wheel = next((lite_site.out / "static" / "pyodide").glob("spreadlab-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    checkout = {p.relative_to(REPO).as_posix() for p in (REPO / "spreadlab").rglob("*.mo")}
    assert checkout <= names, checkout - names


def test_a_checker_answers_in_the_learners_language_in_pyodide_as_on_cpython(lite_site, tmp_path):
    code = """
        import json
        from spreadlab import set_language
        from spreadlab.teaching.exercises import check_shouting_echo
        from spreadlab.teaching.solutions.protocol import ShoutingEcho
        answer = {}
        for tag in ("zh-CN", "en"):
            set_language(tag)
            answer[tag] = str(check_shouting_echo(ShoutingEcho)).splitlines()[0]
        json.dumps(answer)
    """
    in_browser = run_in_pyodide(lite_site.out, code, tmp_path)
    from spreadlab import i18n
    from spreadlab.teaching.exercises import check_shouting_echo
    from spreadlab.teaching.solutions.protocol import ShoutingEcho

    here = {}
    try:
        for tag in ("zh-CN", "en"):
            i18n.set_language(tag)
            here[tag] = str(check_shouting_echo(ShoutingEcho)).splitlines()[0]
    finally:
        i18n.set_language(None)
    assert in_browser == here
    if any((REPO / "spreadlab" / "locale").glob("zh_CN/LC_MESSAGES/*.mo")):
        assert here["zh-CN"] != here["en"], "a Chinese catalog is in the checkout, and the checker still speaks English"
    print(f"in Pyodide: {in_browser}")
