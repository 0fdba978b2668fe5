"""Build one offline reveal.js slide deck per lesson, plus an index page.

Run it as::

    python -m spreadlab.publish.slides [--theme white] [--no-code] [--out build/slides] [notebooks...]

(``make slides SLIDES_ARGS="--theme black --no-code"`` does the same from the Makefile.)

What it does, for each notebook (default: ``notebooks/[0-9]*.ipynb``):

1. executes it top to bottom in a fresh kernel (nbclient, working directory = the
   notebook's folder), keeping the widgets' final state in the notebook metadata;
2. converts it with nbconvert's reveal.js exporter and spreadlab's template
   (``spreadlab/slide_templates/spreadlab_reveal``), using the cells' slide metadata
   (``slideshow.slide_type``: slide, subslide, fragment, skip, notes);
   "notes" cells become reveal.js speaker notes (press ``s`` in the deck);
3. writes ``<out>/<notebook name>.html``, and at the end ``<out>/index.html``.

Both editions: the English lessons (``notebooks/*.ipynb``) become ``<out>/<lesson>.html``,
the Simplified Chinese ones (``notebooks/zh-CN/*.ipynb``) ``<out>/zh-CN/<lesson>.html``,
each edition with its own ``index.html`` linking to the other's, and one ``_static``
folder for both (the Chinese decks reference ``../_static``).  A notebook's edition is the
folder it lives in (`edition_of`); ``--edition`` builds one of them only.

Slides that fit: decks are 16:9 (`SLIDE_SIZE`); when a deck opens, before reveal.js
starts, a slide taller than the deck is cut between its cells (or a cell between its
input and its outputs, or its paragraphs) into slides that follow it, and a part that
cannot be cut (a board, a diagram, a long listing) and is still too big is shown smaller
on a slide of its own.  So nothing is cut off at any screen size and the presenter never
scrolls; the arrow keys walk through every slide.  In a deck a board shows its picture
only (its buttons would do nothing there).

Offline by construction: every script, style sheet and font a deck uses lives in
``<out>/_static/`` and is referenced by a relative URL, and only those files are copied
there; nothing is fetched from a CDN when the deck is shown (the widget manager is told
to look for widget code it lacks next to itself), so the folder can be copied to a USB
stick and opened from ``file://``. The front-end code comes from the npm registry at *build* time, with
``npm pack`` (pinned versions, see ``NPM_PACKAGES``) into a cache folder
(``build/slides-cache`` by default); a later build reuses the cache and needs neither
npm nor a network. So the first build needs Node's ``npm`` on PATH; without it (and
without a filled cache) the build stops with a message that says so.

What is fetched and why:

* ``reveal.js`` (the slide engine, its themes and their fonts, the speaker-notes plugin).
  Theme style sheets that import web fonts from a font CDN are copied with those
  ``@import`` lines removed, so the theme falls back to its local font stack.
* ``@jupyter-widgets/html-manager`` (its non-AMD ``dist/embed.js`` and the font files
  next to it): renders the saved widget state (schema version 2, ipywidgets 8) without
  require.js. Widgets show as they were at the end of execution; they are not live.
* ``mathjax`` (2.7) only when a deck has LaTeX math, ``mermaid`` only when a deck has
  a mermaid diagram. Without them such a deck still loads, showing the source text.

Hiding code: ``--no-code`` hides every code cell's input (outputs stay); a cell tagged
``hide-input`` / ``remove-input`` loses its input, ``remove-output`` its output,
``remove-cell`` disappears from the slides, in any mode.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from spreadlab.publish.editions import EDITIONS, NATIVE_NAMES, edition_folder, edition_of

__all__ = [
    "NPM_PACKAGES",
    "SlideBuildError",
    "Deck",
    "ensure_npm_packages",
    "install_static",
    "execute_notebook",
    "convert_notebook",
    "build",
    "edition_of",
    "main",
]

#: npm packages the decks need, pinned. html-manager 1.0.x is the one that matches
#: ipywidgets 8.1 (widget state schema 2, @jupyter-widgets/controls 5).
NPM_PACKAGES = {
    "reveal.js": "5.2.1",
    "@jupyter-widgets/html-manager": "1.0.15",
}
#: fetched only when a deck needs them
OPTIONAL_NPM_PACKAGES = {
    "mathjax": "2.7.9",
    "mermaid": "11.12.0",
}

TEMPLATE_DIR = Path(__file__).with_name("slide_templates")
TEMPLATE_NAME = "spreadlab_reveal"
STATIC = "_static"  # folder next to the decks, referenced relatively
#: a deck's own size in CSS pixels (reveal.js scales it to the screen): 16:9
SLIDE_SIZE = (1280, 720)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_NOTEBOOKS_DIR = Path("notebooks")
DEFAULT_OUT = Path("build/slides")
DEFAULT_CACHE = Path("build/slides-cache")
#: What an edition's index page says (the decks' own text comes from their lessons).
INDEX_TEXT = {
    "en": {
        "title": "spreadlab: slide decks",
        "slides": "slides",
        "earlier": "built earlier",
        "other": "This course in another language:",
        "keys": "Every deck works offline (open it from this folder). Keys: arrows or space to move,\n"
                "<code>s</code> for the speaker notes, <code>f</code> full screen, <code>o</code> overview,\n"
                "<code>Esc</code> back.",
    },
    "zh-CN": {
        "title": "spreadlab：幻灯片",
        "slides": "张幻灯片",
        "earlier": "之前生成",
        "other": "本课程的其他语言版本：",
        "keys": "每套幻灯片都可以离线使用（直接从这个文件夹打开）。按键：方向键或空格翻页，"
                "<code>s</code> 打开演讲者备注，<code>f</code> 全屏，<code>o</code> 总览，"
                "<code>Esc</code> 返回。",
    },
}

REMOVE_CELL_TAGS = {"remove-cell"}
REMOVE_INPUT_TAGS = {"hide-input", "remove-input"}
REMOVE_OUTPUT_TAGS = {"remove-output"}

_REMOTE_IMPORT = re.compile(r"@import\s+url\(\s*['\"]?(?:https?:)?//[^)]*\)\s*;?", re.I)
_MATH = re.compile(r"\$\$.+?\$\$|\\\(.+?\\\)|\\\[.+?\\\]|(?<![\\$\w])\$[^\s$][^$\n]*?(?<!\s)\$(?!\w)", re.S)
_FENCED = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")


class SlideBuildError(RuntimeError):
    """The build cannot go on; the message says why and what to do."""


@dataclass
class Deck:
    notebook: Path
    html: Path
    title: str
    slides: int
    seconds: float
    needs: set = field(default_factory=set)
    executed: object = field(default=None, repr=False)  # the executed notebook node


# --------------------------------------------------------------------------- npm assets


def _package_dir(cache: Path, name: str, version: str) -> Path:
    return cache / f"{name.replace('/', '__')}@{version}"


def ensure_npm_packages(packages: dict[str, str], cache: Path = DEFAULT_CACHE) -> dict[str, Path]:
    """Make sure each ``name: version`` npm package is unpacked in ``cache``.

    Returns ``{name: folder holding the package's files}``. Packages already in the
    cache are not fetched again (no npm, no network). Missing ones are fetched with
    ``npm pack NAME@VERSION`` (npm checks the tarball's integrity) and unpacked with
    Python's tarfile; their dependencies are not installed: the decks use only the
    packages' prebuilt bundles.
    """
    cache = Path(cache).resolve()
    found: dict[str, Path] = {}
    missing = []
    for name, version in packages.items():
        folder = _package_dir(cache, name, version)
        if (folder / ".complete").exists():
            found[name] = folder / "package"
        else:
            missing.append((name, version))
    if not missing:
        return found
    npm = shutil.which("npm")
    if npm is None:
        wanted = " ".join(f"{n}@{v}" for n, v in missing)
        raise SlideBuildError(
            "building the slides needs Node's `npm` on PATH, to fetch the decks' front-end "
            f"code from the npm registry once ({wanted}); it is then kept in {cache}.\n"
            "Install Node.js 18+ with npm (Debian/Ubuntu: `apt-get install nodejs npm`) "
            "and run the build again."
        )
    cache.mkdir(parents=True, exist_ok=True)
    for name, version in missing:
        folder = _package_dir(cache, name, version)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            cmd = [npm, "pack", f"{name}@{version}", "--pack-destination", tmp, "--json"]
            proc = subprocess.run(
                cmd, capture_output=True, text=True, cwd=tmp, timeout=600,
                env={**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"},
            )
            if proc.returncode != 0:
                raise SlideBuildError(
                    f"`npm pack {name}@{version}` failed (exit {proc.returncode}); is the npm "
                    f"registry reachable?\n{proc.stderr.strip()[-2000:]}"
                )
            tarballs = list(Path(tmp).glob("*.tgz"))
            if len(tarballs) != 1:
                raise SlideBuildError(f"`npm pack {name}@{version}` left {tarballs!r}, expected one .tgz")
            if folder.exists():
                shutil.rmtree(folder)
            unpack = Path(tmp) / "unpacked"
            with tarfile.open(tarballs[0]) as tar:
                try:
                    tar.extractall(unpack, filter="data")
                except TypeError:  # Python < 3.10.12 has no filter argument
                    tar.extractall(unpack)  # noqa: S202 - a registry tarball, checked by npm
            if not (unpack / "package" / "package.json").exists():
                raise SlideBuildError(f"{name}@{version}: the npm tarball has no package/package.json")
            unpack.rename(folder)
        (folder / ".complete").write_text(f"{name}@{version}\n")
        found[name] = folder / "package"
    return found


def _copytree(src: Path, dst: Path, *, skip=(".map",)) -> None:
    for path in src.rglob("*"):
        if path.is_dir() or path.name.endswith(tuple(skip)):
            continue
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def available_themes(reveal_pkg: Path) -> list[str]:
    return sorted(p.stem for p in (reveal_pkg / "dist" / "theme").glob("*.css"))


_CSS_REFERENCE = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]+)|url\(\s*['"]?([^'")]+?)['"]?\s*\)""")


def _copy_css_with_references(src: Path, dst: Path) -> None:
    """Copy a style sheet and, following its ``@import`` and ``url(...)``, every local
    file it loads (fonts, other sheets), keeping their places relative to it.  Remote
    ``@import``s (web fonts) are removed: decks work offline with the local font stack."""
    text = src.read_text(encoding="utf-8")
    stripped = _REMOTE_IMPORT.sub("/* web font import removed: decks work offline */", text)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(stripped, encoding="utf-8")
    for match in _CSS_REFERENCE.finditer(stripped):
        ref = (match.group(1) or match.group(2)).split("?")[0].split("#")[0]
        if not ref or ref.startswith(("data:", "http:", "https:", "//", "/")):
            continue
        target = (src.parent / ref).resolve()
        if not target.is_file() or (dst.parent / ref).exists():
            continue
        if target.suffix == ".css":
            _copy_css_with_references(target, dst.parent / ref)
        else:
            (dst.parent / ref).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, dst.parent / ref)


def themes_in_use(out: Path, skip: set[str] = frozenset()) -> set[str]:
    """The reveal.js themes the decks already in *out* (and its editions' folders) use
    (but those named in *skip*, paths relative to *out*, which are about to be rebuilt)."""
    used = set()
    for page in [*Path(out).glob("*.html"), *Path(out).glob("*/*.html")]:
        if page.relative_to(out).as_posix() not in skip:
            head = page.read_text(encoding="utf-8", errors="replace")
            used.update(re.findall(rf"{STATIC}/reveal\.js/dist/theme/([\w-]+)\.css", head))
    return used


def install_static(out: Path, needs: set[str] = frozenset(), cache: Path = DEFAULT_CACHE,
                   themes: set[str] = frozenset({"white"})) -> dict[str, str]:
    """Copy into ``out/_static`` what the decks load, and only that; return the decks'
    relative URLs.

    That is reveal.js's script, its style sheet, the *themes* asked for (with the fonts
    they load), the speaker-notes plugin, and the widget manager with the fonts it
    loads; ``needs`` may add "mathjax" and/or "mermaid".  Nothing else of the npm
    packages (their sources, ES modules, demo and test pages) is copied.
    """
    wanted = dict(NPM_PACKAGES)
    for extra in sorted(needs):
        wanted[extra] = OPTIONAL_NPM_PACKAGES[extra]
    pkgs = ensure_npm_packages(wanted, cache)
    static = Path(out) / STATIC
    urls: dict[str, str] = {}

    reveal = pkgs["reveal.js"]
    dst = static / "reveal.js"
    if dst.exists():
        shutil.rmtree(dst)
    for rel in ("dist/reveal.js", "plugin/notes/notes.js"):
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(reveal / rel, dst / rel)
    _copy_css_with_references(reveal / "dist" / "reveal.css", dst / "dist" / "reveal.css")
    for theme in sorted(themes):
        _copy_css_with_references(reveal / "dist" / "theme" / f"{theme}.css", dst / "dist" / "theme" / f"{theme}.css")
    urls["reveal"] = f"{STATIC}/reveal.js"

    manager = pkgs["@jupyter-widgets/html-manager"]
    dst = static / "html-manager"
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    embed = (manager / "dist" / "embed.js").read_text(encoding="utf-8")
    shutil.copyfile(manager / "dist" / "embed.js", dst / "embed.js")
    for path in (manager / "dist").iterdir():
        # the font files embed.js's style sheets load, by their (hashed) names next to it
        if path.is_file() and path.suffix in (".woff2", ".woff", ".ttf", ".eot", ".svg") and path.name in embed:
            shutil.copyfile(path, dst / path.name)
    urls["widgets"] = f"{STATIC}/html-manager/embed.js"

    if "mathjax" in pkgs:
        mj = pkgs["mathjax"]
        dst = static / "mathjax"
        if not dst.exists():
            for sub in ("MathJax.js", "config", "extensions", "jax/input/TeX", "jax/output/CommonHTML",
                        "jax/element", "fonts/HTML-CSS/TeX/woff", "localization/en"):
                src = mj / sub
                if src.is_dir():
                    _copytree(src, dst / sub)
                elif src.exists():
                    (dst / sub).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dst / sub)
        urls["mathjax"] = f"{STATIC}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
    if "mermaid" in pkgs:
        dst = static / "mermaid"
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pkgs["mermaid"] / "dist" / "mermaid.min.js", dst / "mermaid.min.js")
        urls["mermaid"] = f"{STATIC}/mermaid/mermaid.min.js"
    return urls


# --------------------------------------------------------------------------- notebooks


def notebook_needs(nb) -> set[str]:
    """Which optional libraries a deck of this (executed) notebook needs."""
    needs = set()
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            src = cell.get("source", "")
            if re.search(r"^(```|~~~)\s*mermaid", src, re.M):
                needs.add("mermaid")
            prose = _INLINE_CODE.sub("", _FENCED.sub("", src))
            if _MATH.search(prose):
                needs.add("mathjax")
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/vnd.mermaid" in data:
                needs.add("mermaid")
            if "text/latex" in data and not ({"text/html", "image/svg+xml", "image/png"} & set(data)):
                needs.add("mathjax")
    return needs


def execute_notebook(path: Path, *, timeout: int = 300, kernel_name: str = "", allow_errors: bool = False):
    """Run ``path`` top to bottom in a fresh kernel and return the executed notebook.

    The kernel's working directory is the notebook's folder; the widgets' final state
    is stored in ``nb.metadata.widgets`` (what the deck renders). A cell tagged
    ``raises-exception`` may fail; any other failing cell stops the build, unless
    ``allow_errors``.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name or nb.metadata.get("kernelspec", {}).get("name", "python3"),
        allow_errors=allow_errors,
        store_widget_state=True,
        resources={"metadata": {"path": str(Path(path).resolve().parent)}},
    )
    try:
        client.execute()
    except Exception as exc:  # CellExecutionError, DeadKernelError, timeouts
        raise SlideBuildError(f"{path}: executing the notebook failed:\n{exc}") from exc
    return nb


def notebook_title(nb, fallback: str) -> str:
    if nb.metadata.get("title"):
        return str(nb.metadata["title"])
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            m = re.search(r"^\s*#{1,3}\s+(.+?)\s*#*\s*$", cell.get("source", ""), re.M)
            if m:
                return re.sub(r"[*_`]", "", m.group(1))
    return fallback


def convert_notebook(nb, name: str, urls: dict[str, str], *, theme: str = "white",
                     no_code: bool = False, transition: str = "slide",
                     slide_number: str = "c/t", language: str = "en") -> str:
    """Return the deck's HTML for an (executed) notebook, every URL relative and local;
    *language* is the edition's tag, the page's ``<html lang>`` (fonts and hyphenation follow it).

    The deck is 16:9 (`SLIDE_SIZE`, as projectors and screens are) and, when shown, cuts
    a slide taller than that into slides that follow it (the template's "Slides that
    fit"), so that nothing is cut off and nobody has to scroll."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = set(REMOVE_CELL_TAGS)
    c.TagRemovePreprocessor.remove_input_tags = set(REMOVE_INPUT_TAGS)
    c.TagRemovePreprocessor.remove_all_outputs_tags = set(REMOVE_OUTPUT_TAGS)
    exporter = SlidesExporter(
        config=c,
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        template_name=TEMPLATE_NAME,
        reveal_url_prefix=urls["reveal"],
        reveal_theme=theme,
        reveal_transition=transition,
        reveal_scroll=False,
        reveal_width=str(SLIDE_SIZE[0]),
        reveal_height=str(SLIDE_SIZE[1]),
        reveal_number=slide_number,
        widget_renderer_url=urls["widgets"],
        # never used by our template, but keep any stray reference local-or-nothing
        require_js_url="",
        jquery_url="",
        mathjax_url=urls.get("mathjax", ""),
        mermaid_js_url=urls.get("mermaid", ""),
        jupyter_widgets_base_url="",
        exclude_input=no_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        language_code=language.split("-")[0],  # nbconvert takes ISO 639-1 only ("zh")
    )
    resources = {
        "metadata": {"name": name},
        "spreadlab": {
            "mathjax_url": urls.get("mathjax", ""),
            "mermaid_url": urls.get("mermaid", ""),
            # where the widget manager would fetch widget code it lacks: next to itself
            "widgets_cdn": urls["widgets"].rsplit("/", 1)[0] + "/",
        },
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    # the edition's whole tag ("zh-CN": Simplified Chinese fonts, not Japanese or Traditional)
    return re.sub(r'<html lang="[^"]*">', f'<html lang="{language}">', body, count=1)


def count_slides(nb) -> int:
    n = 0
    for cell in nb.cells:
        kind = cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")
        if kind in ("slide", "subslide"):
            n += 1
    return max(n, 1)


def _decks_on_disk(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.glob("*.html")) if p.name != "index.html"
            and "reveal" in p.read_text(encoding="utf-8", errors="replace")[:4000]]


def write_index(out: Path, decks: list[Deck], theme: str, edition: str = "en") -> Path:
    """Write the *edition*'s ``index.html`` (in `edition_folder`) listing every deck there,
    with links to the other editions' indexes that exist in *out*.

    Decks built now come with their slide count; decks left by an earlier build of other
    lessons (``python -m spreadlab.publish.slides notebooks/03-*.ipynb`` rebuilds one) stay listed,
    titled from their ``<title>``.
    """
    folder = edition_folder(out, edition)
    text = INDEX_TEXT[edition]
    known = {d.html.name: d for d in decks}
    entries = []
    for page in _decks_on_disk(folder):
        deck = known.get(page.name)
        if deck is not None:
            entries.append((page.name, deck.title,
                            f"{html.escape(deck.notebook.name)} &middot; {deck.slides} {text['slides']}"))
            continue
        head = page.read_text(encoding="utf-8", errors="replace")[:4000]
        m = re.search(r"<title>(.*?)(?: slides)?</title>", head, re.S)
        title = html.unescape(m.group(1).strip()) if m else page.stem
        entries.append((page.name, title, text["earlier"]))
    rows = "\n".join(
        f'    <li><a href="{html.escape(href)}">{html.escape(title)}</a> <span class="meta">{meta}</span></li>'
        for href, title, meta in entries
    )
    others = [
        f'<a href="{os.path.relpath(edition_folder(out, other) / "index.html", folder)}" hreflang="{other}" '
        f'lang="{other}">{html.escape(NATIVE_NAMES[other])}</a>'
        for other in EDITIONS if other != edition and _decks_on_disk(edition_folder(out, other))
    ]
    editions = f'<p class="editions">{text["other"]} {" ".join(others)}</p>\n' if others else ""
    page = f"""<!DOCTYPE html>
<html lang="{edition}">
<head>
<meta charset="utf-8">
<title>{text["title"]}</title>
<style>
  body {{ font-family: system-ui, sans-serif; max-width: 46em; margin: 3em auto; padding: 0 1em; line-height: 1.5; }}
  li {{ margin: .4em 0; font-size: 1.2em; }}
  .meta {{ color: #666; font-size: .8em; }}
  code {{ background: #f3f3f3; padding: 0 .2em; }}
</style>
</head>
<body>
<h1>{text["title"]}</h1>
{editions}<ol>
{rows}
</ol>
<p>{text["keys"]}</p>
</body>
</html>
"""
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def default_notebooks(root: Path = Path("."), editions=EDITIONS) -> list[Path]:
    """The lessons of *editions*: ``notebooks/[0-9]*.ipynb`` and ``notebooks/<tag>/[0-9]*.ipynb``."""
    found = []
    for edition in editions:
        found += sorted(edition_folder(root / DEFAULT_NOTEBOOKS_DIR, edition).glob("[0-9]*.ipynb"))
    return found


def build(notebooks: list[Path], out: Path = DEFAULT_OUT, *, theme: str = "white", no_code: bool = False,
          cache: Path = DEFAULT_CACHE, timeout: int = 300, allow_errors: bool = False,
          log=print) -> list[Deck]:
    """Execute and convert ``notebooks`` into ``out`` (each in its edition's folder); return the decks built."""
    if not notebooks:
        raise SlideBuildError("no notebooks to build (looked for notebooks/[0-9]*.ipynb and notebooks/zh-CN/)")
    for path in notebooks:
        if not Path(path).is_file():
            raise SlideBuildError(f"{path}: no such notebook")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # The core assets first: a missing npm is reported before minutes of execution.
    reveal_pkg = ensure_npm_packages(NPM_PACKAGES, cache)["reveal.js"]
    themes = available_themes(reveal_pkg)
    if theme not in themes:
        raise SlideBuildError(f"unknown theme {theme!r}; reveal.js has: {', '.join(themes)}")

    executed = []
    for path in notebooks:
        path = Path(path)
        t0 = time.monotonic()
        log(f"executing {path} ...")
        nb = execute_notebook(path, timeout=timeout, allow_errors=allow_errors)
        executed.append((path, nb, time.monotonic() - t0))

    def target(path: Path) -> Path:
        return edition_folder(out, edition_of(path)) / f"{path.stem}.html"

    needs = set().union(*(notebook_needs(nb) for _, nb, _ in executed))
    themes = {theme} | themes_in_use(out, skip={target(Path(p)).relative_to(out).as_posix() for p in notebooks})
    urls = install_static(out, needs, cache, themes)

    decks = []
    for path, nb, seconds in executed:
        t0 = time.monotonic()
        edition = edition_of(path)
        title = notebook_title(nb, path.stem)
        nb.metadata.setdefault("title", title)  # the deck's <title>
        up = os.path.relpath(out, target(path).parent)  # "." or "..": where _static is
        local = {k: v if up == "." else f"{up}/{v}" for k, v in urls.items()}
        body = convert_notebook(nb, path.stem, local, theme=theme, no_code=no_code, language=edition)
        target(path).parent.mkdir(parents=True, exist_ok=True)
        target(path).write_text(body, encoding="utf-8")
        deck = Deck(path, target(path), title, count_slides(nb),
                    seconds + time.monotonic() - t0, notebook_needs(nb), nb)
        log(f"wrote {target(path)} ({deck.slides} slides, {deck.seconds:.1f}s)")
        decks.append(deck)
    # Every edition's index, so that each links to the others that exist now.
    for edition in EDITIONS:
        if _decks_on_disk(edition_folder(out, edition)):
            index = write_index(out, [d for d in decks if edition_of(d.notebook) == edition], theme, edition)
            log(f"wrote {index}")
    return decks


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spreadlab.publish.slides",
        description="Execute each lesson in a fresh kernel and write one offline reveal.js deck per "
                    "lesson, plus index.html. The first build fetches reveal.js and the widget "
                    "manager from the npm registry (needs npm); later builds use the cache.",
    )
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to build (default: every lesson of the editions chosen, "
                             "notebooks/[0-9]*.ipynb and notebooks/zh-CN/[0-9]*.ipynb)")
    parser.add_argument("--edition", choices=[*EDITIONS, "all"], default="all",
                        help="which edition's lessons to build when none are named: en (build/slides/), "
                             "zh-CN (build/slides/zh-CN/) or all (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--theme", default="white",
                        help="reveal.js theme: white, black, league, beige, sky, night, serif, simple, "
                             "solarized, blood, moon, dracula, ... (default: %(default)s)")
    parser.add_argument("--no-code", action="store_true", help="hide the input of every code cell")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="where npm packages are kept between builds (default: %(default)s)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell (default: %(default)s)")
    parser.add_argument("--allow-errors", action="store_true",
                        help="keep going when a cell not tagged raises-exception fails")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    try:
        editions = EDITIONS if args.edition == "all" else (args.edition,)
        decks = build(args.notebooks or default_notebooks(editions=editions), args.out, theme=args.theme,
                      no_code=args.no_code, cache=args.cache, timeout=args.timeout,
                      allow_errors=args.allow_errors)
    except SlideBuildError as exc:
        print(f"spreadlab.publish.slides: error: {exc}", file=sys.stderr)
        return 1
    index = edition_folder(args.out, edition_of(decks[0].notebook)) / "index.html"  # the first edition built
    print(f"{len(decks)} deck(s) in {time.monotonic() - t0:.1f}s; open {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
