"""Shared pytest configuration for spreadlab's tests.

Each section below is self-contained; add new sections rather than editing
someone else's.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest


# ============================================================================
# Browser gate (owner: the real-browser harness, tests/browser/).
#
# Tests marked ``@pytest.mark.browser`` drive headless Chromium through
# Playwright.  Where Chromium or Playwright is missing they are SKIPPED with a
# message saying how to enable them, except when SPREADLAB_REQUIRE_BROWSER=1
# (set by .ci/run): then a missing browser is a FAILURE, never a skip.
# The check runs in pytest_runtest_setup, i.e. before any fixture (such as the
# JupyterLab server) is started.  If you need pytest_runtest_setup for
# something else, call _browser_gate(item) from your version of the hook.
# ============================================================================

BROWSER_HOWTO = (
    "install Debian's Chromium (`apt-get install chromium`) and Playwright for Python "
    "(`pip install -e '.[test]'`); `playwright install` is not needed"
)


def _browser_missing() -> str | None:
    """Why browser tests cannot run here, or None if they can."""
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("Playwright for Python is not installed")
    explicit = os.environ.get("SPREADLAB_CHROMIUM")
    candidates = [explicit] if explicit else ["/usr/bin/chromium", shutil.which("chromium")]
    if not any(c and os.access(c, os.X_OK) for c in candidates):
        missing.append(f"Chromium not found ({explicit or 'chromium on PATH'})")
    return "; ".join(missing) or None


def _browser_gate(item: pytest.Item) -> None:
    if item.get_closest_marker("browser") is None:
        return
    reason = _browser_missing()
    if reason is None:
        return
    if os.environ.get("SPREADLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test cannot run: {reason}. SPREADLAB_REQUIRE_BROWSER=1 makes this a "
                    f"failure; {BROWSER_HOWTO}", pytrace=False)
    pytest.skip(f"browser tests disabled: {reason}. To enable them, {BROWSER_HOWTO}")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _browser_gate(item)

# ======================================================= end of browser gate


# ============================================================================
# Counts printed at the end of the run (owner: the lead).
#
# A test that wants the run to say how many of something it checked (scenarios
# run in both rooms, right and wrong answers given to a checker) calls
# ``report_count(request.config, "what was counted", n)``; the totals are
# printed in pytest's terminal summary, under "spreadlab counts".
# ============================================================================

_COUNTS_KEY = pytest.StashKey[dict]()


def report_count(config: pytest.Config, what: str, n: int = 1) -> None:
    """Add *n* to the count called *what*, printed at the end of the run."""
    counts = config.stash.setdefault(_COUNTS_KEY, {})
    counts[what] = counts.get(what, 0) + n


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    counts = config.stash.get(_COUNTS_KEY, {})
    if counts:
        terminalreporter.section("spreadlab counts")
        for what, n in sorted(counts.items()):
            terminalreporter.write_line(f"{n:6d}  {what}")

# ============================================================ end of counts


# ============================================================================
# The browser edition's site (owner: lite, tests/test_lite.py and
# tests/browser/test_lite_browser.py).
#
# ``lite_site`` builds the JupyterLite site once per test session, from the
# checkout's lessons (both editions: notebooks/ and notebooks/zh-CN/) plus one small notebook with a deliberate error and a live
# room (``zz-lite-fixture.ipynb``, so the rewriting is shown whatever the lessons
# hold today), into a temporary folder.  Downloads are cached in
# build/lite-cache (the build's default): only the first run on a machine needs
# PyPI and npm.  Without npm and the cache it skips, or fails under
# SPREADLAB_REQUIRE_BROWSER=1 (CI).
# ============================================================================

LITE_FIXTURE_NOTEBOOK = "zz-lite-fixture.ipynb"


def _lite_fixture_notebook(path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    deliberate = new_code_cell('raise ValueError("a deliberate failure, shown on purpose")')
    deliberate.metadata["tags"] = ["raises-exception"]
    nb = new_notebook(cells=[
        new_markdown_cell("# Browser edition fixture"),
        new_code_cell("from spreadlab import *\nroom = MemoryRoom(SpreadFactory())\nalice, bob = room.connect(), room.connect()"),
        deliberate,
        new_code_cell('alice.send("after the error\\r\\n")\nprint("still running:", bob.lines[-1])'),
        new_code_cell("live = LiveRoom(SpreadFactory())"),
        new_code_cell("live.connect()"),
        new_code_cell('print("the end:", len(room.trace), "events")'),
    ])
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="session")
def lite_site(tmp_path_factory):
    """A built browser edition: ``spreadlab.publish.lite.LiteSite`` (``.out`` is the folder)."""
    from pathlib import Path

    from spreadlab.publish import lite

    cache = Path(__file__).resolve().parents[1] / lite.DEFAULT_CACHE
    if shutil.which("npm") is None and not any(cache.glob("pyodide-*.tgz")):
        message = "npm is not on PATH and build/lite-cache has no Pyodide: the browser edition cannot be built"
        if os.environ.get("SPREADLAB_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    work = tmp_path_factory.mktemp("lite")
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    lessons = sorted(notebooks.glob("[0-9]*.ipynb")) + sorted((notebooks / "zh-CN").glob("[0-9]*.ipynb"))
    fixture = _lite_fixture_notebook(work / LITE_FIXTURE_NOTEBOOK)
    return lite.build([*lessons, fixture], work / "site", cache, log=lambda *a: None)

# ====================================================== end of browser edition
