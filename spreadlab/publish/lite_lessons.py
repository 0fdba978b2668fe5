"""Which lessons, and which cells, run in a browser tab; the browser edition of them.

A browser tab has Python (Pyodide) but no sockets and no threads, so Twisted's reactor
cannot run there: memory rooms work, live rooms do not.  The rule the build applies to
every lesson (today's and the ones added later):

* A code cell **needs a real network** when it uses the reactor or real sockets
  (``LiveRoom``, ``start_reactor``, ``blocking_call``, ``submit``, ``reactor``, asyncio's
  ``create_server`` / ``open_connection``, a ``socket``, a ``subprocess``, a thread), runs a shell
  command (``!cmd``, ``%%bash``), or uses a name that such a cell defined (and no
  in-memory cell redefined since).  Found from the cell's syntax tree, not its text.
* A lesson is in the browser edition when at most half of its code cells need a real
  network; its notebook metadata can decide instead: ``{"spreadlab": {"browser": true}}``
  or ``false``.
* In the browser edition, a cell that needs a real network starts with
  ``%%needs_network``: it does not run, and says why and where it does run.  A cell
  tagged ``raises-exception`` (a deliberate failure) starts with ``%%expect_error``: its
  error is shown and Run All goes on (JupyterLite would cancel every later cell).  Both
  magics come from `spreadlab.publish.browser`, registered when spreadlab is imported
  in Pyodide.

Plain Python, no kernel: the build calls it, and so can a test.
"""

from __future__ import annotations

import ast
import functools
import html
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = ["Lesson", "NETWORK_NAMES", "classify", "browser_edition", "write_browser_edition", "write_landing"]

#: Names whose use means Twisted's reactor or real sockets.
NETWORK_NAMES = frozenset({
    "LiveRoom", "LiveClient", "start_reactor", "blocking_call", "submit", "reactor",
    "serverFromString", "clientFromString", "listenTCP", "connectTCP",
    "create_server", "start_server", "open_connection", "create_connection", "socket", "subprocess",
    "deferToThread", "callInThread", "Thread", "ThreadPoolExecutor",  # no threads in a tab
})
#: Cell magics that run a shell.
SHELL_MAGICS = frozenset({"bash", "sh", "script", "system", "sx"})
NEEDS_NETWORK = "needs_network"
EXPECT_ERROR = "expect_error"
DELIBERATE = "raises-exception"


@dataclass
class Lesson:
    """One lesson and what the browser can do with it."""

    source: Path
    title: str
    code_cells: int
    network_cells: list[int] = field(default_factory=list)  # indexes into nb.cells
    deliberate_cells: list[int] = field(default_factory=list)
    included: bool = True
    reason: str = ""

    @property
    def name(self) -> str:
        return self.source.name


@functools.lru_cache(maxsize=1)
def _transformer():
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def _python(source: str) -> ast.AST | None:
    """The cell's syntax tree, IPython syntax (magics, ``!cmd``) turned into Python."""
    try:
        return ast.parse(_transformer().transform_cell(source))
    except SyntaxError:
        return None


def _uses_network(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in NETWORK_NAMES and isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, ast.Attribute) and node.attr in NETWORK_NAMES:
            return True
        if isinstance(node, ast.ImportFrom) and any(a.name == "reactor" for a in node.names):
            return True
        if isinstance(node, ast.Attribute) and node.attr in ("system", "getoutput"):
            if isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "get_ipython":
                return True
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "run_cell_magic":
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and first.value in SHELL_MAGICS:
                return True
    return False


def _names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(names the cell defines, names it reads)."""
    defined, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else defined).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
    return defined, read


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def classify(path: Path, nb=None) -> Lesson:
    """Apply the rule to one lesson (``nb``: the notebook, if already read)."""
    nb = nb if nb is not None else nbformat.read(path, 4)
    lesson = Lesson(Path(path), _title(nb) or Path(path).stem, 0)
    tainted: set[str] = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        lesson.code_cells += 1
        tree = _python(cell.source)
        defined, read = _names(tree) if tree is not None else (set(), set())
        if tree is not None and (_uses_network(tree) or read & tainted):
            lesson.network_cells.append(i)
            tainted |= defined
        else:
            tainted -= defined
            if DELIBERATE in cell.metadata.get("tags", ()):
                lesson.deliberate_cells.append(i)
    chosen = nb.metadata.get("spreadlab", {}).get("browser")
    if chosen is not None:
        lesson.included = bool(chosen)
        lesson.reason = "chosen in the lesson's metadata"
    else:
        lesson.included = 2 * len(lesson.network_cells) <= lesson.code_cells
        lesson.reason = (f"{len(lesson.network_cells)} of {lesson.code_cells} code cells need "
                         "Twisted's reactor and real TCP")
    return lesson


def _mark(cell, magic: str) -> None:
    cell.source = f"%%{magic}\n{cell.source}"
    cell.metadata.setdefault("spreadlab", {})["browser"] = magic


def browser_edition(path: Path) -> tuple[Lesson, object]:
    """The lesson and its browser edition (a new notebook; the file is not changed)."""
    nb = nbformat.read(path, 4)
    lesson = classify(path, nb)
    for i in lesson.network_cells:
        _mark(nb.cells[i], NEEDS_NETWORK)
    for i in lesson.deliberate_cells:
        _mark(nb.cells[i], EXPECT_ERROR)
    marked = sorted(lesson.network_cells + lesson.deliberate_cells)
    imports = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "spreadlab" in c.source]
    if marked and (not imports or imports[0] > marked[0]):
        # The magics come with spreadlab: import it before the first cell that uses one.
        nb.cells.insert(marked[0], nbformat.v4.new_code_cell("import spreadlab"))
    nb.metadata["kernelspec"] = {"name": "python", "display_name": "Python (Pyodide)", "language": "python"}
    return lesson, nb


def write_browser_edition(notebooks: list[Path], folder: Path) -> list[Lesson]:
    """Write the browser edition of the lessons that are in it into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    lessons = []
    for path in notebooks:
        lesson, nb = browser_edition(Path(path))
        if lesson.included:
            nbformat.write(nb, folder / lesson.name)
        lessons.append(lesson)
    return lessons


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>spreadlab in the browser</title>
<!-- JupyterLite's apps read this page's config (the site's root); no redirect to the app here -->
<script id="jupyter-config-data" type="application/json" data-jupyter-lite-root=".">{{}}</script>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }}
.note {{ color: #555; font-size: .9em; }} .elsewhere {{ color: #777; }}
a.button {{ display: inline-block; padding: .4rem .8rem; border: 1px solid #888; border-radius: 4px; text-decoration: none; }}
</style></head>
<body>
<h1>spreadlab: Twisted's Protocol, Factory and Transport, in your browser</h1>
<p>These lessons run here, in this tab: Python, Twisted and the lessons' boards, with nothing to
install. Open a lesson, then <b>Run &rsaquo; Run All Cells</b> (or Shift+Enter, cell by cell).
Your edits are kept in this browser; <b>File &rsaquo; Download</b> saves your copy of a lesson.
The first start of Python takes a few seconds.</p>
<table id="lessons">
<tr><th>lesson</th><th>runs here?</th></tr>
{rows}
</table>
<p>A browser tab has no network sockets, so Twisted's reactor and real TCP connections cannot
run in it: the cells that need them say so instead of running, and the lessons built on them
run in JupyterLab (see the project's README: <code>make lab</code>).</p>
<p><a class="button" id="download" href="{zip_name}" download>Download all the lessons</a>
<span class="note">(the notebooks for JupyterLab, every lesson included)</span></p>
</body></html>
"""


def _row(lesson: Lesson) -> str:
    title = html.escape(lesson.title)
    if not lesson.included:
        return (f'<tr class="elsewhere" data-lesson="{html.escape(lesson.name)}"><td>{title}</td>'
                f"<td>in JupyterLab only: {html.escape(lesson.reason)}</td></tr>")
    link = f'lab/index.html?path={html.escape(lesson.name)}'
    status = "yes"
    if lesson.network_cells:
        n = len(lesson.network_cells)
        status += f" ({n} cell{'s' * (n > 1)} need{'s' * (n == 1)} a real network and say{'s' * (n == 1)} so)"
    return (f'<tr data-lesson="{html.escape(lesson.name)}"><td><a href="{link}">{title}</a></td>'
            f"<td>{status}</td></tr>")


def write_landing(out: Path, lessons: list[Lesson], zip_name: str = "spreadlab-lessons.zip") -> Path:
    """``out/index.html`` listing the lessons, and the zip of the original notebooks."""
    with zipfile.ZipFile(out / zip_name, "w", zipfile.ZIP_DEFLATED) as archive:
        for lesson in lessons:
            archive.write(lesson.source, f"spreadlab-lessons/{lesson.name}")
    page = out / "index.html"
    page.write_text(_PAGE.format(rows="\n".join(_row(l) for l in lessons), zip_name=zip_name), encoding="utf-8")
    (out / "lessons.json").write_text(json.dumps([
        {"name": l.name, "title": l.title, "included": l.included, "network_cells": l.network_cells,
         "deliberate_cells": l.deliberate_cells, "reason": l.reason} for l in lessons], indent=1), encoding="utf-8")
    return page
