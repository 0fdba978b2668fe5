"""The browser edition in headless Chromium, offline: every in-memory lesson runs to the end.

The site (built once per session by the ``lite_site`` fixture) is served from loopback;
Chromium may reach nothing else (Playwright aborts every other request, and they are
counted).  Where the machine allows it (root, ``unshare``), the server and the browser run
in a network namespace that has only loopback, so not even a request Playwright cannot
see could leave.  `lite_driver` does the browsing in a subprocess, for that reason; the
tests read what it saw: each lesson ran every cell (JupyterLite cancels the rest after
an error, so all cells run means no error), no traceback printed, boards drawn, a board
button working, checkers reporting, a deliberate error shown with Run All going on, and
a ``LiveRoom`` typed by hand explaining itself in one line.  The Chinese lessons
(``zh-CN/``) run the same way, with their Chinese drawn as glyphs, and have a landing
page of their own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import LITE_FIXTURE_NOTEBOOK, report_count

from . import lite_driver
from .lite_driver import _DONE, REPO, SCALE, loopback_only_prefix

# The driver's run (every lesson, cold) happens in the first test's setup: allow for it.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(int(2400 * SCALE))]

_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\w*(Error|Exception): ", re.M)


@pytest.fixture(scope="module")
def lite_run(lite_site, tmp_path_factory) -> dict:
    """Run the driver once over every lesson of the browser edition."""
    lessons = [l.path for l in lite_site.lessons if l.included]
    out = tmp_path_factory.mktemp("lite-run") / "results.json"
    prefix = loopback_only_prefix()
    started = time.monotonic()
    proc = subprocess.run([*prefix, sys.executable, lite_driver.__file__, str(lite_site.out), str(out), *lessons],
                          capture_output=True, text=True, timeout=(600 + 240 * len(lessons)) * SCALE,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.exists(), f"the driver wrote nothing (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    results = json.loads(out.read_text(encoding="utf-8"))
    results["namespace"] = bool(prefix)
    results["seconds"] = time.monotonic() - started
    print(f"browser edition: {len(lessons)} lessons in {results['seconds']:.0f} s, "
          f"{'in a loopback-only network namespace' if prefix else 'Playwright refusing other hosts only'}")
    return results


def _lessons_in_edition() -> list[str]:
    from spreadlab.publish.lite_lessons import classify

    lessons = [classify(p) for p in [*sorted((REPO / "notebooks").glob("[0-9]*.ipynb")),
                                      *sorted((REPO / "notebooks" / "zh-CN").glob("[0-9]*.ipynb"))]]
    return [*(l.path for l in lessons if l.included), LITE_FIXTURE_NOTEBOOK]


def test_nothing_is_fetched_from_another_host_and_the_landing_page_lists_the_lessons(lite_run, lite_site):
    assert lite_run["refused"] == []
    landing = lite_run["landing"]
    included = [l for l in lite_site.lessons if l.included and l.edition == "en"]
    assert landing["links"] == [f"lab/index.html?path={l.name}" for l in included]
    assert landing["lang"] == "en"
    for lesson in lite_site.lessons:
        if not lesson.included and lesson.edition == "en":
            assert lesson.title in landing["text"] and "in JupyterLab only" in landing["text"]
    assert landing["download"] == 200
    assert lite_run["page_errors"] == []


@pytest.mark.parametrize("name", _lessons_in_edition())
def test_a_lesson_runs_to_the_end_in_the_browser(lite_run, lite_site, name, request):
    record = lite_run["lessons"][name]
    assert "failure" not in record, record["failure"]
    lesson = next(l for l in lite_site.lessons if l.path == name)
    cells = record["cells"]
    not_run = [i for i, c in enumerate(cells) if not _DONE.match(c["prompt"])]
    assert not not_run, f"cells not run (JupyterLite stops after an error): {[cells[i]['source'] for i in not_run]}"
    for cell in cells:
        marked = cell["source"].startswith("%%")
        for mime, text in cell["outputs"]:
            if cell["source"] == "%%expect_error":
                continue  # its traceback is the point
            assert not (mime.endswith("stderr") and _TRACEBACK.search(text)), f"{cell['source']!r}: {text[-800:]}"
        assert cell["widgetErrors"] == 0 and cell["loading"] == 0, cell
        if cell["source"] == "%%needs_network":
            note = {"en": "browser tab", "zh-CN": "浏览器标签页"}[lesson.edition]  # in the lesson's language
            assert cell["needsNetwork"] and note in " ".join(t for _, t in cell["outputs"])
        elif not marked:
            assert not cell["needsNetwork"]
    assert sum(c["source"] == "%%needs_network" for c in cells) == len(lesson.network_cells)
    if lesson.edition != "en":
        cjk = record["cjk"]
        assert cjk["chars"], f"no Chinese in the lesson's first markdown cell: {record['text'][:300]!r}"
        assert not cjk["tofu"], f"Chinese drawn as boxes in {cjk['font']!r}: {cjk['tofu']}"
    report_count(request.config, "browser-edition code cells run in Chromium", len(cells))
    if "click" in record:
        assert record["click"]["after"] != record["click"]["before"], "the board did not change after the click"
    print(f"{name}: rendered {record.get('rendered_s')} s, kernel {record.get('kernel_ready_s')} s, "
          f"first board {record.get('first_board_s', '-')} s, run {record.get('run_s')} s")


def test_the_chinese_edition_has_its_landing_page_linked_both_ways(lite_run, lite_site):
    chinese = [l for l in lite_site.lessons if l.edition == "zh-CN"]
    if not chinese:
        pytest.skip("notebooks/zh-CN/ holds no lessons: no Chinese edition to put in the site")
    assert 'href="zh-CN/index.html"' in (lite_site.out / "index.html").read_text(encoding="utf-8")
    landing = lite_run["landing zh-CN/index.html"]
    assert landing["lang"] == "zh-CN" and landing["download"] == 200
    assert landing["links"] == [f"../lab/index.html?path=zh-CN/{l.name}" for l in chinese if l.included]
    assert "能在这里运行吗" in landing["text"] and "English" in landing["text"]
    for lesson in chinese:
        assert lesson.title in landing["text"]
        if not lesson.included:
            assert "仅在 JupyterLab 中" in landing["text"]
    assert not landing["cjk"]["tofu"], landing["cjk"]


def test_boards_render_checkers_report_and_a_board_button_works(lite_run):
    lessons = lite_run["lessons"]
    boards = [n for n, r in lessons.items() if any(c["scenes"] for c in r.get("cells", []))]
    assert "01-start-here.ipynb" in boards
    clicked = lessons["01-start-here.ipynb"]["click"]
    protocols = [int(re.search(r"numProtocols = (\d+)", clicked[k]).group(1)) for k in ("before", "after")]
    assert protocols[1] == protocols[0] + 1, clicked  # the factory built one more protocol
    reports = [t for r in lessons.values() for c in r.get("cells", []) if c["source"].startswith("check_")
               for _, t in c["outputs"] if re.search(r"checks? passed", t)]
    assert reports, "no checker reported in any lesson"


def test_a_deliberate_error_is_shown_and_run_all_goes_on(lite_run):
    cells = lite_run["lessons"][LITE_FIXTURE_NOTEBOOK]["cells"]
    shown = next(c for c in cells if c["source"] == "%%expect_error")
    text = " ".join(t for _, t in shown["outputs"])
    assert "ValueError" in text and "a deliberate failure" in text and "next cells still run" in text
    after = " ".join(t for c in cells for _, t in c["outputs"])
    assert "still running: client 1: after the error" in after and "the end:" in after


def test_a_live_room_typed_in_the_browser_explains_itself_without_a_traceback(lite_run):
    outputs = lite_run["lessons"][LITE_FIXTURE_NOTEBOOK]["typed_live_room"]
    text = " ".join(t for _, t in outputs)
    assert "NoReactorInBrowser" in text and "cannot run in a browser tab" in text, outputs
    assert "Traceback" not in text and "File " not in text
