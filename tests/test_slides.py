"""The instructor's slide decks: built offline-ready, and shown in Chromium with no network.

Builds a deck from a small fixture notebook made here (markdown slides, a speaker-notes
cell, an ipywidgets IntSlider changed by a later cell, an inline SVG with its code hidden
by a tag, a fragment), so the test is fast and does not depend on the lessons. Then opens
it in headless Chromium with every request that is not a local file aborted and recorded,
and checks that reveal.js starts, slides are navigable with the keyboard, the widget is
rendered from its saved state, there are speaker notes, nothing was fetched from the
network and nothing was logged as an error. A screenshot goes to
test-artifacts/screenshots/slides-*.png.

The npm packages are cached in build/slides-cache (the build's default), so only the very
first run on a machine asks the npm registry.
"""

from __future__ import annotations

import contextlib
import html.parser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from spreadlab.publish import slides

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "slides-cache"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("SPREADLAB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
REQUIRE = os.environ.get("SPREADLAB_REQUIRE_BROWSER") == "1"

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="80">'
    '<rect width="320" height="80" fill="#4a90d9"/>'
    '<text x="12" y="46" font-size="20" fill="white">client A -&gt; server -&gt; B</text></svg>'
)


def _cell(cell, kind, tags=()):
    cell.metadata["slideshow"] = {"slide_type": kind}
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def make_fixture(path: Path) -> Path:
    nb = new_notebook(cells=[
        _cell(new_markdown_cell("# Fixture lesson\n\nOne deck, built offline."), "slide"),
        _cell(new_markdown_cell("NOTE-FOR-SPEAKER: greet the class."), "notes"),
        _cell(new_markdown_cell("## A widget"), "slide"),
        _cell(new_code_cell(
            "import ipywidgets as w\n"
            "slider = w.IntSlider(value=7, min=0, max=10, description='chunks')\n"
            "slider"), "-"),
        # runs, changes the widget, and is not on any slide: the deck shows the final state
        _cell(new_code_cell("slider.value = 3"), "skip"),
        _cell(new_markdown_cell("## A diagram"), "slide"),
        _cell(new_code_cell(f"from IPython.display import SVG\nSVG({SVG!r})"), "-", tags=["hide-input"]),
        _cell(new_markdown_cell("And one more thing."), "fragment"),
        _cell(new_markdown_cell("Not shown."), "-", tags=["remove-cell"]),
        _cell(new_markdown_cell("## A long slide\n\n" + "\n\n".join(f"line {i}" for i in range(40))), "slide"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _need_npm_or_cache():
    have_cache = all(
        (slides._package_dir(CACHE.resolve(), n, v) / ".complete").exists()
        for n, v in slides.NPM_PACKAGES.items()
    )
    if not have_cache and shutil.which("npm") is None:
        if REQUIRE:
            pytest.fail("npm is not on PATH and build/slides-cache is empty: the slide build cannot run")
        pytest.skip("npm is not on PATH and build/slides-cache is empty")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(output folder, executed notebook, urls) for the fixture deck."""
    _need_npm_or_cache()
    work = tmp_path_factory.mktemp("slides")
    nb_path = make_fixture(work / "01-fixture.ipynb")
    out = work / "out"
    decks = slides.build([nb_path], out, theme="white", cache=CACHE, timeout=120, log=lambda *a: None)
    assert [d.html.name for d in decks] == ["01-fixture.html"]
    return out, decks[0]


# --------------------------------------------------------------------------- static checks


def test_npm_missing_fails_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm anywhere
    with pytest.raises(slides.SlideBuildError, match=r"needs Node's `npm` on PATH"):
        slides.ensure_npm_packages({"reveal.js": "5.2.1"}, tmp_path / "empty-cache")
    rc = subprocess.run(
        [sys.executable, "-m", "spreadlab.publish.slides", "--cache", str(tmp_path / "c"),
         "--out", str(tmp_path / "o"), str(make_fixture(tmp_path / "x.ipynb"))],
        capture_output=True, text=True, env={**os.environ, "PATH": str(tmp_path)}, timeout=120,
    )
    assert rc.returncode == 1 and "npm" in rc.stderr and "Traceback" not in rc.stderr, rc.stderr


def test_deck_references_only_local_files(built):
    out, deck = built
    page = deck.html.read_text(encoding="utf-8")
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"'#][^"']*)["']""", page)
    assert urls, "no script or style sheet referenced at all?"
    for url in urls:
        if url.startswith("data:"):
            continue
        assert "//" not in url, f"deck references a remote URL: {url}"
        assert (out / url.split("?")[0]).is_file(), f"deck references a missing file: {url}"
    assert "_static/html-manager/embed.js" in page  # the widget manager, local
    # every theme's style sheet is free of web-font imports
    for css in (out / "_static/reveal.js/dist/theme").glob("*.css"):
        assert not re.search(r"@import\s+url\(\s*['\"]?(https?:)?//", css.read_text()), css.name


def test_notes_tags_and_no_code(built):
    out, deck = built
    page = deck.html.read_text(encoding="utf-8")
    assert re.search(r'<aside class="notes">.*?NOTE-FOR-SPEAKER', page, re.S)
    assert re.search(r">IntSlider<", page)  # code shown (highlighted) by default
    assert not re.search(r">SVG<", page)  # hide-input tag
    assert "Not shown." not in page  # remove-cell tag
    assert not re.search(r'<span class="mi">3</span>', page)  # a skip cell: slider.value = 3
    nb = deck.executed
    urls = {"reveal": "_static/reveal.js", "widgets": "_static/html-manager/embed.js"}
    no_code = slides.convert_notebook(nb, "x", urls, theme="black", no_code=True)
    assert not re.search(r">IntSlider<", no_code) and "application/vnd.jupyter.widget-view+json" in no_code
    assert "_static/reveal.js/dist/theme/black.css" in no_code


def test_optional_libraries_only_when_used():
    def needs(*sources):
        return slides.notebook_needs(new_notebook(cells=[new_markdown_cell(src) for src in sources]))

    assert needs("# Plain", "Costs $5 and $6 a seat", "```\n$ nc 127.0.0.1 8007\n```", "`$HOME`") == set()
    assert needs("Euler: $e^{i\\pi} + 1 = 0$") == {"mathjax"}
    assert needs("$$\\sum_k k$$") == {"mathjax"}
    assert needs("```mermaid\nsequenceDiagram\n  A->>B: hi\n```") == {"mermaid"}


def test_index_lists_the_decks(built):
    out, deck = built
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="01-fixture.html"' in index and "Fixture lesson" in index


def test_unknown_theme_is_refused(built, tmp_path):
    with pytest.raises(slides.SlideBuildError, match="unknown theme 'nope'"):
        slides.build([built[1].notebook], tmp_path, theme="nope", cache=CACHE, log=lambda *a: None)


# --------------------------------------------------------------------------- in Chromium, offline


@contextlib.contextmanager
def offline_deck(deck: Path):
    """Open *deck* from disk in headless Chromium with every request that is not a local
    file aborted; yield ``(page, context, blocked, failed, errors)`` once reveal.js is ready,
    and check afterwards that nothing was blocked, failed or logged as an error."""
    if not Path(CHROMIUM).exists():
        if REQUIRE:
            pytest.fail("chromium is not installed")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def route(r):
        if r.request.url.startswith(("file://", "data:", "blob:", "about:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
            page.goto(deck.as_uri())
            # reveal.js initialised, with our slides
            page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30000)
            yield page, context, blocked, failed, errors
        finally:
            browser.close()
    assert blocked == [], f"the deck tried to reach the network: {blocked}"
    assert failed == [], f"requests failed: {failed}"
    assert errors == [], f"errors in the page: {errors}"


@pytest.mark.browser
def test_deck_works_offline_in_chromium(built):
    out, deck = built
    with offline_deck(deck.html) as (page, context, blocked, failed, errors):
        page.evaluate("() => { window.__ends = 0; Reveal.on('slidetransitionend', () => window.__ends++); }")

        def press(key, h, v=0):
            """Press *key*, wait until slide (h, v) is shown and its transition is over
            (screenshots show the slide, not a blur)."""
            ends = page.evaluate("() => window.__ends")
            page.keyboard.press(key)
            page.wait_for_function(f"() => Reveal.getIndices().h === {h} && (Reveal.getIndices().v || 0) === {v}",
                                   timeout=15000)
            page.wait_for_function(f"() => window.__ends > {ends}", timeout=15000)

        total = page.evaluate("() => Reveal.getTotalSlides()")
        assert total >= 5, total  # four, the long one cut in two or more
        assert page.evaluate("() => Reveal.getIndices().h") == 0
        notes = page.evaluate("() => Reveal.getSlideNotes()")
        assert "NOTE-FOR-SPEAKER" in notes, notes
        page.screenshot(path=str(SCREENSHOTS / "slides-title.png"))

        # the speaker view (key "s", a pop-up) shows the notes, offline too
        with context.expect_page() as popup_info:
            page.keyboard.press("s")
        speaker = popup_info.value
        speaker.on("console", lambda m: m.type == "error" and errors.append(f"speaker console: {m.text}"))
        speaker.on("pageerror", lambda e: errors.append(f"speaker pageerror: {e}"))
        speaker.locator(".speaker-controls-notes").get_by_text("NOTE-FOR-SPEAKER").wait_for(timeout=30000)
        speaker.wait_for_timeout(500)
        speaker.screenshot(path=str(SCREENSHOTS / "slides-speaker-view.png"))
        speaker.close()
        page.bring_to_front()

        # keyboard navigation: to the widget slide, and back and forth
        page.locator("body").focus()
        press("ArrowRight", 1)

        # the widget is rendered from its saved state (value 3, set by a later cell)
        slider = page.locator("section.present .widget-slider")
        slider.wait_for(state="visible", timeout=30000)
        readout = page.locator("section.present .widget-readout")
        assert readout.inner_text().strip() == "3"
        assert "chunks" in page.locator("section.present .widget-label").first.inner_text()
        assert page.locator(".jupyter-widgets .widget-inline-hbox").count() >= 1
        body_text = page.locator("body").inner_text()
        assert "Error displaying widget" not in body_text
        assert "Click to show javascript error" not in body_text
        page.screenshot(path=str(SCREENSHOTS / "slides-widget.png"))

        press("ArrowRight", 2)
        img = page.locator("section.present img[src^='data:image/svg+xml']")
        img.wait_for(state="visible", timeout=15000)
        assert img.evaluate("i => i.complete && i.naturalWidth") == 320
        # the fragment is hidden until the next key press
        frag = page.locator("section.present .fragment")
        assert "visible" not in (frag.get_attribute("class") or "")
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "() => document.querySelector('section.present .fragment').classList.contains('visible')",
            timeout=15000)
        page.wait_for_timeout(500)  # the fragment's fade-in
        page.screenshot(path=str(SCREENSHOTS / "slides-diagram.png"))

        # a slide taller than the deck is cut into slides that follow it, each fitting
        # the screen, and the right arrow walks through them (no scrolling)
        press("ArrowRight", 3)
        first_line = page.locator("section.present").get_by_text("line 0", exact=True)
        assert first_line.is_visible()
        continued = page.evaluate("() => Reveal.getCurrentSlide().parentNode.querySelectorAll('section').length")
        assert continued >= 2, continued  # "line 0" .. "line 39" do not fit on one slide
        for step in range(1, continued):
            press("ArrowRight", 3, step)
            box = page.evaluate("() => { const r = Reveal.getCurrentSlide().getBoundingClientRect();"
                                " return [r.top, r.bottom, innerHeight]; }")
            assert 0 <= box[0] and box[1] <= box[2], box
        assert page.locator("section.present").get_by_text("line 39", exact=True).is_visible()
        page.screenshot(path=str(SCREENSHOTS / "slides-long-continued.png"))
        for step in reversed(range(continued - 1)):
            press("ArrowLeft", 3, step)

        press("ArrowLeft", 2)
        page.keyboard.press("ArrowLeft")  # hides the fragment again
        press("ArrowLeft", 1)
        page.wait_for_timeout(300)  # let late errors surface


# --------------------------------------------------------------------------- the Chinese edition

ZH_TITLE = "示例课程：协议与工厂"


def make_chinese_fixture(folder: Path) -> Path:
    """A small lesson of the Chinese edition (in a ``zh-CN`` folder, as ``notebooks/zh-CN/`` is)."""
    nb = new_notebook(cells=[
        _cell(new_markdown_cell(f"# {ZH_TITLE}\n\n协议（Protocol）、工厂（Factory）和传输（Transport）。"), "slide"),
        _cell(new_markdown_cell("讲师备注：先向大家问好。"), "notes"),
        _cell(new_code_cell('from spreadlab import set_language\nset_language("zh-CN")'), "skip"),
        _cell(new_markdown_cell("## 一个滑块"), "slide"),
        _cell(new_code_cell("import ipywidgets as w\nw.IntSlider(value=3, description='分块')"), "-"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "zh-CN" / "01-fixture.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def built_zh(built):
    """The Chinese fixture deck, built into the English deck's folder by a second build."""
    out, _ = built
    decks = slides.build([make_chinese_fixture(out.parent)], out, cache=CACHE, timeout=120, log=lambda *a: None)
    return decks[0]


def test_each_edition_has_its_folder_and_index_and_both_share_one_static(built, built_zh):
    out, english = built
    assert slides.edition_of(built_zh.notebook) == "zh-CN" and slides.edition_of(english.notebook) == "en"
    assert built_zh.html == out / "zh-CN" / "01-fixture.html"
    page = built_zh.html.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and f"<title>{ZH_TITLE}" in page
    assert '<html lang="en">' in english.html.read_text(encoding="utf-8")
    urls = [u for u in re.findall(r"""(?:src|href)\s*=\s*["']([^"'#][^"']*)["']""", page) if not u.startswith("data:")]
    assert urls and all(u.startswith("../_static/") for u in urls), urls
    for url in urls:
        assert (built_zh.html.parent / url.split("?")[0]).resolve().is_file(), url
    assert not (out / "zh-CN" / "_static").exists(), "one _static for both editions"
    english_index = (out / "index.html").read_text(encoding="utf-8")
    chinese_index = (out / "zh-CN" / "index.html").read_text(encoding="utf-8")
    assert 'href="zh-CN/index.html"' in english_index and "简体中文" in english_index
    assert 'href="01-fixture.html"' in english_index and "示例课程" not in english_index
    assert '<html lang="zh-CN">' in chinese_index and 'href="../index.html"' in chinese_index
    assert f'href="01-fixture.html">{ZH_TITLE}</a>' in chinese_index and "张幻灯片" in chinese_index
    assert "English" in chinese_index and "Fixture lesson" not in chinese_index


def test_make_slides_builds_both_editions_by_default(tmp_path):
    (tmp_path / "notebooks" / "zh-CN").mkdir(parents=True)
    for name in ("notebooks/00-a.ipynb", "notebooks/01-b.ipynb", "notebooks/zh-CN/00-a.ipynb", "notebooks/x.ipynb"):
        nbformat.write(new_notebook(), tmp_path / name)
    found = [p.relative_to(tmp_path).as_posix() for p in slides.default_notebooks(tmp_path)]
    assert found == ["notebooks/00-a.ipynb", "notebooks/01-b.ipynb", "notebooks/zh-CN/00-a.ipynb"]
    only = slides.default_notebooks(tmp_path, editions=("zh-CN",))
    assert [p.relative_to(tmp_path).as_posix() for p in only] == ["notebooks/zh-CN/00-a.ipynb"]


@pytest.mark.browser
def test_chinese_deck_works_offline_and_shows_chinese_not_boxes(built_zh):
    from browser.glyphs import assert_cjk_renders

    with offline_deck(built_zh.html) as (page, _context, _blocked, _failed, _errors):
        heading = page.locator("section.present h1")
        assert heading.inner_text().strip() == ZH_TITLE
        assert "讲师备注" in page.evaluate("() => Reveal.getSlideNotes()")
        measured = assert_cjk_renders(page, ZH_TITLE, "section.present h1")
        page.screenshot(path=str(SCREENSHOTS / "slides-zh-CN-title.png"))
        page.keyboard.press("ArrowRight")
        page.locator("section.present .widget-slider").wait_for(state="visible", timeout=30000)
        assert "分块" in page.locator("section.present .widget-label").first.inner_text()
        assert_cjk_renders(page, "分块", "section.present .widget-label")
        page.wait_for_timeout(800)  # the transition
        page.screenshot(path=str(SCREENSHOTS / "slides-zh-CN-widget.png"))
    print(f"Chinese drawn in {measured['font']}: {[(c['ch'], c['ink']) for c in measured['chars']]}")


# --------------------------------------------------------------------------- the lessons' decks

#: Hosts named in the decks' front-end code that a browser never loads from, and why.
NAMES_NOT_LOADED = {
    "www.w3.org": "the SVG XML namespace",
    "json-schema.org": "JSON Schema $schema names in the widget manager's validator",
    "raw.githubusercontent.com": "the $id of ajv's $data meta-schema, a name it never fetches",
}
#: The widget manager's default CDN; every deck points it at a local folder instead.
WIDGETS_CDN = "cdn.jsdelivr.net"
LOADING_ATTRIBUTES = {
    "script": ("src",), "link": ("href",), "img": ("src", "srcset"), "iframe": ("src",),
    "frame": ("src",), "embed": ("src",), "source": ("src", "srcset"), "video": ("src", "poster"),
    "audio": ("src",), "track": ("src",), "object": ("data",), "input": ("src",),
    "image": ("href", "xlink:href"), "use": ("href", "xlink:href"), "feimage": ("href", "xlink:href"),
}
_CSS_URL = re.compile(r"""@import\s+['"]([^'"]+)['"]|url\(\s*['"]?([^'")]+?)['"]?\s*\)""")
_JS_URL = re.compile(r"""["'`](?:https?:)?//([A-Za-z0-9.-]+\.[A-Za-z]{2,})""")
_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)


def _in_css_comment(text: str, at: int) -> bool:
    """Whether *at* lies inside a one-line ``/* ... */`` (a comment in a style sheet,
    also when it is held in a JavaScript string)."""
    start, end = text.rfind("/*", 0, at), text.find("*/", at)
    if start < 0 or end < 0 or "*/" in text[start:at]:
        return False
    between = text[start:end]
    return "\n" not in between and "\\n" not in between


class _Loads(html.parser.HTMLParser):
    """What an HTML (or SVG) page makes a browser load: attribute URLs, style sheets'
    ``url()``s and inline scripts' text (scanned like script files)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.css: list[str] = []
        self.scripts: list[str] = []
        self.widgets_cdn: list[str] = []
        self._in = None

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        for name in LOADING_ATTRIBUTES.get(tag, ()):
            for value in (attrs.get(name) or "").split(","):
                if value.strip():
                    self.urls.append(value.strip().split()[0])
        if "data-jupyter-widgets-cdn" in attrs:
            self.widgets_cdn.append(attrs["data-jupyter-widgets-cdn"])
        if attrs.get("style"):
            self.css.append(attrs["style"])
        self._in = tag if tag in ("style", "script") else None

    def handle_data(self, data) -> None:
        if self._in == "style":
            self.css.append(data)
        elif self._in == "script":
            self.scripts.append(data)

    def handle_endtag(self, tag) -> None:
        self._in = None


def css_urls(text: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in _CSS_URL.finditer(text) if not _in_css_comment(text, m.start())]


def network_loads(folder: Path) -> list[str]:
    """Every network URL a browser showing the decks in *folder* could load: in pages
    (attributes, style sheets, inline scripts), style sheets and scripts.  A script's URL
    counts unless its host is a name only (`NAMES_NOT_LOADED`) or it sits in a comment;
    the widget manager's CDN counts unless every page that loads it points it elsewhere."""
    found = []
    pages = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        where = path.relative_to(folder)
        text = path.read_text(encoding="utf-8", errors="replace") if path.suffix in (".html", ".svg", ".css", ".js") else ""
        urls, css, scripts = [], [], []
        if path.suffix in (".html", ".svg"):
            parsed = _Loads()
            parsed.feed(text)
            urls, css, scripts = parsed.urls, parsed.css, parsed.scripts
            pages[where] = parsed, text
            found += [f"{where}: widget CDN {u}" for u in parsed.widgets_cdn if _REMOTE.match(u)]
        elif path.suffix == ".css":
            css = [text]
        elif path.suffix == ".js":
            scripts = [text]
        urls += [u for block in css for u in css_urls(block)]
        found += [f"{where}: {u}" for u in urls if _REMOTE.match(u)]
        for script in scripts:
            for m in _JS_URL.finditer(script):
                host = m.group(1).lower()
                if host in NAMES_NOT_LOADED or _in_css_comment(script, m.start()):
                    continue
                if host == WIDGETS_CDN and path.name == "embed.js":
                    continue  # checked below, against the pages that load it
                found.append(f"{where}: {script[m.start():m.start() + 80]!r}")
    for where, (parsed, text) in pages.items():
        # loaded by a tag or by a script that makes one
        if "html-manager/embed.js" in text and not parsed.widgets_cdn:
            found.append(f"{where}: loads the widget manager without pointing it away from {WIDGETS_CDN}")
    return found


def local_references(folder: Path, path: Path) -> set[Path]:
    """The files in *folder* that *path* (a page, a style sheet, a script) makes a browser
    load, followed through style sheets and scripts."""
    text = path.read_text(encoding="utf-8", errors="replace")
    refs: list[str] = []
    if path.suffix == ".html":
        parsed = _Loads()
        parsed.feed(text)
        refs = parsed.urls + [u for block in parsed.css for u in css_urls(block)]
    elif path.suffix == ".css":
        refs = css_urls(text)
    elif path.suffix == ".js":  # a bundle names the files it loads next to it
        return {p for p in path.parent.iterdir() if p.is_file() and p != path and p.name in text}
    out = set()
    for ref in refs:
        ref = ref.split("?")[0].split("#")[0]
        if ref and not _REMOTE.match(ref) and not ref.startswith("data:"):
            target = (path.parent / ref).resolve()
            if target.is_file():
                out.add(target)
    return out


@pytest.fixture(scope="module")
def lesson_decks(tmp_path_factory):
    """Every lesson, executed and built into one folder, as `make slides` does."""
    _need_npm_or_cache()
    out = tmp_path_factory.mktemp("lesson-slides")
    decks = slides.build(slides.default_notebooks(ROOT), out, cache=CACHE, timeout=300, log=lambda *a: None)
    assert len(decks) == len(slides.default_notebooks(ROOT)) >= 9
    return out, decks


def test_the_built_folder_loads_nothing_from_the_network(lesson_decks, request):
    from conftest import report_count

    out, _ = lesson_decks
    files = [p for p in out.rglob("*") if p.is_file()]
    report_count(request.config, "files of the built decks scanned for network URLs", len(files))
    assert network_loads(out) == []


def test_the_scanner_finds_what_a_browser_would_fetch(tmp_path):
    """The check above, shown to catch each way a page, a sheet or a script loads."""
    (tmp_path / "a.html").write_text(
        '<link rel="stylesheet" href="https://cdn.example.org/x.css">'
        '<img srcset="local.png 1x, //img.example.org/y.png 2x">'
        '<a href="https://twisted.org">a link is not loaded</a>'
        '<div style="background:url(http://bg.example.org/z.png)"></div>'
        '<script src="_static/html-manager/embed.js"></script>', encoding="utf-8")
    (tmp_path / "b.css").write_text('/* @import url("https://commented.example.org"); */\n'
                                    '@import "https://fonts.example.org/f.css";', encoding="utf-8")
    (tmp_path / "c.js").write_text('var ns = "http://www.w3.org/2000/svg"; fetch("https://api.example.org/v1");',
                                   encoding="utf-8")
    found = "\n".join(network_loads(tmp_path))
    for url in ("cdn.example.org", "img.example.org", "bg.example.org", "fonts.example.org",
                "api.example.org", "without pointing it away"):
        assert url in found, (url, found)
    for url in ("twisted.org", "commented.example.org", "www.w3.org"):
        assert url not in found, (url, found)


def test_static_holds_only_what_the_decks_load(lesson_decks):
    out, decks = lesson_decks
    loaded: set[Path] = set()
    todo = [d.html.resolve() for d in decks] + [(out / "index.html").resolve()]
    while todo:
        path = todo.pop()
        for ref in local_references(out, path) - loaded:
            loaded.add(ref)
            todo.append(ref)
    static = {p.resolve() for p in (out / slides.STATIC).rglob("*") if p.is_file()}
    unused = sorted(str(p.relative_to(out.resolve())) for p in static - loaded)
    assert unused == [], f"copied into _static but loaded by no deck: {unused}"
    assert (out / slides.STATIC / "reveal.js/dist/theme/white.css").resolve() in loaded


#: How a slide's content is measured against the screen, in the page: every element
#: (speaker notes aside) must lie inside the viewport, once cut to the boxes that clip
#: it on purpose (a card's ellipsis); nothing may need scrolling.
MEASURE = r"""
() => {
  const slide = Reveal.getCurrentSlide(), vw = innerWidth, vh = innerHeight, problems = [];
  const style = (el) => getComputedStyle(el);
  const scrolls = (el) => /auto|scroll/.test(style(el).overflowX + style(el).overflowY);
  const clips = (el) => style(el).overflowX !== 'visible' || style(el).overflowY !== 'visible';
  const name = (el) => el.tagName.toLowerCase() + (typeof el.className === 'string' && el.className
      ? '.' + el.className.trim().split(/\s+/).slice(0, 2).join('.') : '');
  for (const el of [slide, ...slide.querySelectorAll('*')]) {
    if (el.closest('aside.notes')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (scrolls(el) && (el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1)) {
      problems.push(`${name(el)} must be scrolled: ${el.scrollWidth}x${el.scrollHeight} in ${el.clientWidth}x${el.clientHeight}`);
      continue;
    }
    let l = r.left, t = r.top, rt = r.right, b = r.bottom;
    for (let a = el.parentElement; a && a !== slide; a = a.parentElement) {
      if (clips(a) && !scrolls(a)) {
        const c = a.getBoundingClientRect();
        l = Math.max(l, c.left); t = Math.max(t, c.top); rt = Math.min(rt, c.right); b = Math.min(b, c.bottom);
      }
    }
    if (rt <= l || b <= t) continue;  // clipped away on purpose
    if (b > vh + 1 || rt > vw + 1 || t < -1 || l < -1) {
      problems.push(`${name(el)} [${Math.round(l)}, ${Math.round(t)}, ${Math.round(rt)}, ${Math.round(b)}] is outside ${vw}x${vh}`);
    }
  }
  const zooms = Array.from(slide.querySelectorAll('[data-spreadlab-zoom]')).map(e => parseFloat(e.dataset.spreadlabZoom));
  const boards = slide.querySelectorAll('.spreadlab-scene').length;
  return {problems: problems.slice(0, 4), count: problems.length, zooms, boards};
}
"""
#: The smallest a part too big for any slide may be shown (a board, a long listing).
SMALLEST_ZOOM = 0.5


@pytest.mark.browser
@pytest.mark.timeout(900)
@pytest.mark.parametrize("width,height", [(1280, 720), (1920, 1080)])
def test_every_slide_of_every_lesson_fits_the_screen(lesson_decks, width, height, request):
    """Every slide of every lesson deck, at a projector's and a full-HD screen's size:
    its boards, diagrams, tables and code lie inside the screen and nothing scrolls."""
    from playwright.sync_api import sync_playwright

    from conftest import report_count

    out, decks = lesson_decks
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    misfits, zooms, measured, boards = [], [], 0, 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:", "blob:", "about:"))
                          else r.abort())
            page = context.new_page()
            for deck in decks:
                page.goto(deck.html.as_uri())
                page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30000)
                page.evaluate("() => Reveal.configure({transition: 'none', backgroundTransition: 'none'})")
                slides_at = page.evaluate("() => Reveal.getSlides().map(s => Reveal.getIndices(s))")
                for at in slides_at:
                    h, v = at["h"], at.get("v") or 0
                    page.evaluate(f"() => Reveal.slide({h}, {v}, 99)")  # every fragment shown
                    page.wait_for_function(f"() => Reveal.getIndices().h === {h} && (Reveal.getIndices().v || 0) === {v}")
                    page.wait_for_timeout(60)
                    result = page.evaluate(MEASURE)
                    measured += 1
                    boards += result["boards"]
                    zooms += [(z, f"{deck.html.name} {h}.{v}") for z in result["zooms"]]
                    if result["count"]:
                        misfits.append(f"{deck.html.name} slide {h}.{v}: {result['count']} out: {result['problems']}")
                        page.screenshot(path=str(SCREENSHOTS / f"misfit-{width}-{deck.html.stem}-{h}-{v}.png"))
                if deck.html.stem.startswith("12-"):
                    page.evaluate("() => Reveal.slide(2, 1)")
                    page.wait_for_timeout(100)
                    page.screenshot(path=str(SCREENSHOTS / f"slides-board-{width}x{height}.png"))
        finally:
            browser.close()
    report_count(request.config, f"lesson slides measured at {width}x{height}", measured)
    report_count(request.config, f"boards on lesson slides at {width}x{height}", boards)
    report_count(request.config, f"parts shown smaller to fit at {width}x{height}", len(zooms))
    assert measured >= sum(d.slides for d in decks)
    assert boards >= 5  # the lessons' boards were measured too (their decks show them)
    assert misfits == [], "\n".join(misfits)
    too_small = [(z, where) for z, where in zooms if z < SMALLEST_ZOOM]
    assert too_small == [], f"shown too small to read: {too_small}"
