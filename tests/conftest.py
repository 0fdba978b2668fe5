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
