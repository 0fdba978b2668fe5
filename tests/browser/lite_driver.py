"""Drive the browser edition (a built JupyterLite site) in headless Chromium, offline.

Used by tests/browser/test_lite_browser.py and benchmarks/bench_lite.py.  Run as a
script, ``python tests/browser/lite_driver.py SITE OUT.json LESSON...``, so that it can be
started inside a network namespace with only loopback (`loopback_only_prefix`).

It serves the site from 127.0.0.1 with Python's ``http.server``; Playwright aborts (and
records) every request to any other address.  For each lesson, in a fresh browser
context (a cold cache): open it in JupyterLite, wait for the Pyodide kernel, Run All,
record each code cell's prompt and outputs and the time to the first board drawn; click
a board's "add a client" button; in a lesson whose name starts with ``zz-`` (the tests'
fixture), type a cell that makes a ``LiveRoom``; in a lesson of another edition
(``zh-CN/...``), measure how its Chinese is drawn (`glyphs`).  The other editions' landing
pages (linked from the root's) are read too.  Screenshots go to
test-artifacts/screenshots/lite-*.png.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))  # run as a script: glyphs beside it
from glyphs import cjk_rendering  # noqa: E402
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
SCALE = float(os.environ.get("SPREADLAB_LAB_TIMEOUT_SCALE", "1") or 1)
KERNEL_TIMEOUT = 180 * SCALE
RUN_TIMEOUT = 300 * SCALE

# Every code cell: prompt, first line of its source, outputs (mime type, text).
_STATE_JS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell')].map(c => ({
  prompt: ((c.querySelector('.jp-InputArea-prompt') || {}).textContent || '').trim(),
  source: ((c.querySelector('.jp-InputArea-editor .cm-line') || {}).textContent || ''),
  outputs: [...c.querySelectorAll('.jp-OutputArea-output')].map(o => [o.getAttribute('data-mime-type') || '', o.textContent.slice(0, 3000)]),
  needsNetwork: !!c.querySelector('.spreadlab-needs-network'),
  scenes: c.querySelectorAll('.spreadlab-scene').length,
  widgetErrors: [...c.querySelectorAll('.jp-OutputArea-output')].filter(o => /Error displaying widget|Click to show javascript error/.test(o.textContent)).length,
  loading: [...c.querySelectorAll('.jp-OutputArea-output')].filter(o => /^\\s*Loading widget/.test(o.textContent)).length,
}))"""
_STATUS_JS = "() => (document.querySelector('#jp-main-statusbar') || {}).textContent || ''"
_DONE = re.compile(r"^\[\d+\]:$")


# ------------------------------------------------------------------- the driver


def _serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _context(browser, base: str, refused: list[str]):
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def only_here(route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_here)
    return context


def _run_all(page, record: dict) -> None:
    started = time.monotonic()
    page.wait_for_function("() => /\\| Idle/.test(" + _STATUS_JS[6:] + ")", timeout=KERNEL_TIMEOUT * 1000)
    record["kernel_ready_s"] = round(time.monotonic() - record["t0"], 1)
    page.locator(".jp-NotebookPanel .jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    quiet_since = None
    while time.monotonic() - started < RUN_TIMEOUT:
        page.wait_for_timeout(500)
        cells = page.evaluate(_STATE_JS)
        if "first_board_s" not in record and any(c["scenes"] for c in cells):
            record["first_board_s"] = round(time.monotonic() - record["t0"], 1)
        if all(_DONE.match(c["prompt"]) for c in cells):
            break
        # JupyterLite cancels the queued cells after an error: nothing busy, kernel idle.
        idle = "| Idle" in page.evaluate(_STATUS_JS) and not any(c["prompt"] == "[*]:" for c in cells)
        quiet_since = (quiet_since or time.monotonic()) if idle else None
        if quiet_since and time.monotonic() - quiet_since > 10:
            break
    for _ in range(60):  # widgets rendered
        if not any(c["loading"] for c in page.evaluate(_STATE_JS)):
            break
        page.wait_for_timeout(500)
    record["run_s"] = round(time.monotonic() - started, 1)


#: The board's "add a client" button, as each edition's lessons label it (spreadlab's catalog).
ADD_A_CLIENT = {"en": "add a client", "zh-CN": "添加客户端"}


def _click_add_client(page, edition: str = "en") -> dict:
    """Click the first board's "add a client"; return its text before and after."""
    scene = page.locator(".spreadlab-scene").first
    before = scene.text_content()
    board = page.locator(".jp-OutputArea-output", has=page.locator(".spreadlab-scene")).first
    board.get_by_role("button", name=ADD_A_CLIENT[edition]).click()
    after = before
    for _ in range(40):
        page.wait_for_timeout(250)
        after = page.locator(".spreadlab-scene").first.text_content()
        if after != before:
            break
    return {"before": before, "after": after}


def _typed_cell(page, source: str) -> list:
    """Add a cell at the end, type ``source``, run it; return its outputs."""
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type(source)
    page.keyboard.press("Shift+Enter")
    for _ in range(60):
        page.wait_for_timeout(500)
        cells = page.evaluate(_STATE_JS)
        typed = [c for c in cells if c["source"].startswith(source.split("\n")[0])]
        if typed and _DONE.match(typed[-1]["prompt"]) and typed[-1]["outputs"]:
            return typed[-1]["outputs"]
    return []


def _landing(page, base: str) -> dict:
    """A landing page's lesson links, text and whether its download answers."""
    return {
        "links": page.locator("#lessons a").evaluate_all("as => as.map(a => a.getAttribute('href'))"),
        "text": page.locator("body").text_content(),
        "lang": page.locator("html").get_attribute("lang"),
        "download": page.request.get(base + page.locator("#download").get_attribute("href")).status,
    }


def drive(site: Path, lessons: list[str], out: Path) -> None:
    from playwright.sync_api import sync_playwright

    server, base = _serve(site)
    results: dict = {"base": base, "refused": [], "page_errors": [], "lessons": {}}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=os.environ.get("SPREADLAB_CHROMIUM", "/usr/bin/chromium"),
                                         headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            context = _context(browser, base, results["refused"])
            page = context.new_page()
            page.goto(base)
            results["landing"] = _landing(page, base)
            for other in page.locator("#editions a").evaluate_all("as => as.map(a => a.getAttribute('href'))"):
                page.goto(base + other)  # another edition's landing page (zh-CN/index.html)
                results[f"landing {other}"] = _landing(page, base + other.rsplit("/", 1)[0] + "/")
                results[f"landing {other}"]["cjk"] = cjk_rendering(page, page.locator("h1").text_content(), "h1")
                page.screenshot(path=str(SCREENSHOTS / f"lite-landing-{other.split('/')[0]}.png"), full_page=True)
            context.close()
            for name in lessons:
                record: dict = {"t0": time.monotonic()}
                context = _context(browser, base, results["refused"])
                page = context.new_page()
                page.on("pageerror", lambda e, n=name: results["page_errors"].append(f"{n}: {e}"))
                try:
                    page.goto(f"{base}lab/index.html?path={name}")
                    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=120_000 * SCALE)
                    record["rendered_s"] = round(time.monotonic() - record["t0"], 1)
                    if "/" in name:  # another edition's lesson (zh-CN/...): its text drawn as glyphs,
                        # measured at the top, before Run All scrolls the first cells away
                        page.wait_for_function("() => { const m = document.querySelector("
                                               "'.jp-NotebookPanel .jp-RenderedMarkdown'); "
                                               "return m && m.textContent.trim().length > 0; }",
                                               timeout=60_000 * SCALE)  # rendered, not only attached
                        record["text"] = page.locator(".jp-NotebookPanel .jp-RenderedMarkdown").first.inner_text()
                        chinese = "".join(dict.fromkeys(c for c in record["text"] if "\u4e00" <= c <= "\u9fff"))
                        record["cjk"] = cjk_rendering(page, chinese[:12], ".jp-NotebookPanel .jp-RenderedMarkdown")
                    _run_all(page, record)
                    record["cells"] = page.evaluate(_STATE_JS)
                    if any(c["scenes"] for c in record["cells"]):
                        record["click"] = _click_add_client(page, "zh-CN" if name.startswith("zh-CN/") else "en")
                    if name.startswith("zz-"):
                        record["typed_live_room"] = _typed_cell(page, "LiveRoom(SpreadFactory())")
                except Exception as error:  # keep what was seen, for the test to report
                    record["failure"] = f"{type(error).__name__}: {error}"
                    with contextlib.suppress(Exception):
                        record["cells"] = page.evaluate(_STATE_JS)
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(SCREENSHOTS / f"lite-{name.removesuffix('.ipynb').replace('/', '-')}.png"),
                                    full_page=True)
                record.pop("t0")
                results["lessons"][name] = record
                context.close()
            browser.close()
    finally:
        server.shutdown()
        out.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")


def loopback_only_prefix() -> list[str]:
    """A command prefix that runs in a new network namespace with only loopback up,
    or [] where the machine does not allow it (not root, no unshare)."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if not unshare or not ip:
        return []
    probe = subprocess.run([unshare, "-n", ip, "link", "set", "lo", "up"], capture_output=True)
    if probe.returncode != 0:
        return []
    return [unshare, "-n", "sh", "-c", f'{ip} link set lo up && exec "$@"', "sh"]


if __name__ == "__main__":
    drive(Path(sys.argv[1]), sys.argv[3:], Path(sys.argv[2]))
    sys.exit(0)
