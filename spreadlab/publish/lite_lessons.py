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

Both editions: a Chinese lesson (``notebooks/zh-CN/``) goes through the same rule (its
code differs from the English one's only in strings and comments, which the rule does
not read, so the same cells, by id, get the same magics) into ``zh-CN/`` of the site,
and gets a landing page of its own in Chinese, ``zh-CN/index.html``, linked from the
English one and back.

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

from .editions import EDITIONS, NATIVE_NAMES, edition_folder, edition_of, edition_path

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
    edition: str = "en"  # the folder it comes from: notebooks/ or notebooks/zh-CN/

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def path(self) -> str:
        """Where it is in the site's files: ``01-start-here.ipynb``, ``zh-CN/01-start-here.ipynb``."""
        return edition_path(self.name, self.edition)


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
    lesson = Lesson(Path(path), _title(nb) or Path(path).stem, 0, edition=edition_of(path))
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
    text = PAGE_TEXT[lesson.edition]
    if chosen is not None:
        lesson.included = bool(chosen)
        lesson.reason = text["chosen"]
    else:
        lesson.included = 2 * len(lesson.network_cells) <= lesson.code_cells
        lesson.reason = text["counted"].format(n=len(lesson.network_cells), of=lesson.code_cells)
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
    """Write the browser edition of the lessons that are in it into ``folder`` (a Chinese
    lesson into ``folder/zh-CN/``)."""
    lessons = []
    for path in notebooks:
        lesson, nb = browser_edition(Path(path))
        if lesson.included:
            (folder / lesson.path).parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, folder / lesson.path)
        lessons.append(lesson)
    return lessons


#: What each edition's landing page says (the lessons' titles come from the lessons).
PAGE_TEXT = {
    "en": {
        "title": "spreadlab in the browser",
        "heading": "spreadlab: Twisted's Protocol, Factory and Transport, in your browser",
        "intro": "These lessons run here, in this tab: Python, Twisted and the lessons' boards, with nothing to\n"
                 "install. Open a lesson, then <b>Run &rsaquo; Run All Cells</b> (or Shift+Enter, cell by cell).\n"
                 "Your edits are kept in this browser; <b>File &rsaquo; Download</b> saves your copy of a lesson.\n"
                 "The first start of Python takes a few seconds.",
        "columns": ("lesson", "runs here?"),
        "no_sockets": "A browser tab has no network sockets, so Twisted's reactor and real TCP connections cannot\n"
                      "run in it: the cells that need them say so instead of running, and the lessons built on them\n"
                      "run in JupyterLab (see the project's README: <code>make lab</code>).",
        "download": "Download all the lessons",
        "download_note": "(the notebooks for JupyterLab, every lesson included)",
        "other": "This course in another language:",
        "elsewhere": "in JupyterLab only: {reason}",
        "yes": "yes",
        "some_cells": lambda n: f" ({n} cell{'s' * (n > 1)} need{'s' * (n == 1)} a real network and say{'s' * (n == 1)} so)",
        "chosen": "chosen in the lesson's metadata",
        "counted": "{n} of {of} code cells need Twisted's reactor and real TCP",
    },
    "zh-CN": {
        "title": "spreadlab 浏览器版",
        "heading": "spreadlab：在浏览器里学习 Twisted 的 Protocol（协议）、Factory（工厂）和 Transport（传输）",
        "intro": "这些课程就在这个标签页里运行：Python、Twisted 和课程里的广播看板，什么都不用安装。"
                 "打开一课，然后点 <b>Run &rsaquo; Run All Cells</b>（或者逐个单元按 Shift+Enter）。"
                 "你的修改保存在这个浏览器里；<b>File &rsaquo; Download</b> 可以把一课下载成你自己的副本。"
                 "第一次启动 Python 需要几秒钟。",
        "columns": ("课程", "能在这里运行吗？"),
        "no_sockets": "浏览器标签页里没有网络套接字，所以 Twisted 的反应器（reactor）和真实的 TCP 连接无法在这里运行："
                      "需要它们的单元不会运行，而是说明原因；以它们为主的课程请在 JupyterLab 里学习"
                      "（见项目的中文 README：<code>make lab EDITION=zh-CN</code>）。",
        "download": "下载全部课程",
        "download_note": "（供 JupyterLab 使用的笔记本，包含每一课）",
        "other": "本课程的其他语言版本：",
        "elsewhere": "仅在 JupyterLab 中：{reason}",
        "yes": "可以",
        "some_cells": lambda n: f"（其中 {n} 个单元需要真实网络，会说明原因）",
        "chosen": "由课程的元数据决定",
        "counted": "{of} 个代码单元中有 {n} 个需要 Twisted 的反应器和真实的 TCP",
    },
}

_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{config}<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }}
.note {{ color: #555; font-size: .9em; }} .elsewhere {{ color: #777; }}
a.button {{ display: inline-block; padding: .4rem .8rem; border: 1px solid #888; border-radius: 4px; text-decoration: none; }}
</style></head>
<body>
<h1>{heading}</h1>
{editions}<p>{intro}</p>
<table id="lessons">
<tr><th>{columns[0]}</th><th>{columns[1]}</th></tr>
{rows}
</table>
<p>{no_sockets}</p>
<p><a class="button" id="download" href="{zip_name}" download>{download}</a>
<span class="note">{download_note}</span></p>
</body></html>
"""
#: Only the site's root page carries it: JupyterLite's apps read the root's config (no redirect to the app here).
_ROOT_CONFIG = '<script id="jupyter-config-data" type="application/json" data-jupyter-lite-root=".">{}</script>\n'


def _row(lesson: Lesson, up: str) -> str:
    text = PAGE_TEXT[lesson.edition]
    title = html.escape(lesson.title)
    if not lesson.included:
        return (f'<tr class="elsewhere" data-lesson="{html.escape(lesson.name)}"><td>{title}</td>'
                f"<td>{html.escape(text['elsewhere'].format(reason=lesson.reason))}</td></tr>")
    link = f'{up}lab/index.html?path={html.escape(lesson.path)}'
    status = text["yes"]
    if lesson.network_cells:
        status += text["some_cells"](len(lesson.network_cells))
    return (f'<tr data-lesson="{html.escape(lesson.name)}"><td><a href="{link}">{title}</a></td>'
            f"<td>{status}</td></tr>")


def zip_name(edition: str) -> str:
    """The download of an edition's lessons, beside its landing page."""
    return "spreadlab-lessons.zip" if edition == "en" else f"spreadlab-lessons-{edition}.zip"


def write_landing(out: Path, lessons: list[Lesson]) -> Path:
    """A landing page per edition that has lessons (``out/index.html``, ``out/zh-CN/index.html``),
    each listing its lessons, linking to the other editions' pages and offering a zip of the
    original notebooks beside it; and ``out/lessons.json``.  Returns the English page."""
    present = [e for e in EDITIONS if any(l.edition == e for l in lessons)]
    for edition in present:
        folder = edition_folder(out, edition)
        folder.mkdir(parents=True, exist_ok=True)
        mine = [l for l in lessons if l.edition == edition]
        with zipfile.ZipFile(folder / zip_name(edition), "w", zipfile.ZIP_DEFLATED) as archive:
            for lesson in mine:
                archive.write(lesson.source, f"spreadlab-lessons/{lesson.path}")
        up = "" if edition == "en" else "../"
        text = PAGE_TEXT[edition]
        others = " ".join(
            f'<a href="{up}{edition_path("index.html", other)}" '
            f'hreflang="{other}" lang="{other}">{html.escape(NATIVE_NAMES[other])}</a>'
            for other in present if other != edition)
        (folder / "index.html").write_text(_PAGE.format(
            lang=edition, config=_ROOT_CONFIG if edition == "en" else "", rows="\n".join(_row(l, up) for l in mine),
            zip_name=zip_name(edition), editions=f'<p id="editions">{text["other"]} {others}</p>\n' if others else "",
            **{k: v for k, v in text.items() if isinstance(v, (str, tuple))}), encoding="utf-8")
    (out / "lessons.json").write_text(json.dumps([
        {"name": l.name, "path": l.path, "edition": l.edition, "title": l.title, "included": l.included,
         "network_cells": l.network_cells, "deliberate_cells": l.deliberate_cells, "reason": l.reason}
        for l in lessons], indent=1, ensure_ascii=False), encoding="utf-8")
    return out / "index.html"
