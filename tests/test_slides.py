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


@pytest.mark.browser
def test_deck_works_offline_in_chromium(built):
    if not Path(CHROMIUM).exists():
        if REQUIRE:
            pytest.fail("chromium is not installed")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    out, deck = built
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
            page.goto(deck.html.as_uri())

            # reveal.js initialised, with our slides
            page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30000)
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
        finally:
            browser.close()

    assert blocked == [], f"the deck tried to reach the network: {blocked}"
    assert failed == [], f"requests failed: {failed}"
    assert errors == [], f"errors in the page: {errors}"
