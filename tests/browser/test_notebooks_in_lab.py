"""Every lesson runs in real JupyterLab, in headless Chromium.

Each ``notebooks/*.ipynb`` and each Chinese lesson, ``notebooks/zh-CN/*.ipynb``
(found when the tests are collected, so lessons added later are covered without
touching this file) is opened in a fresh workspace of one JupyterLab server, run
with "Run All Cells", and must show no error output, no widget error and no
browser console error.  A full-notebook screenshot of each is saved to
``test-artifacts/screenshots/<notebook>.png`` (``zh-CN-<notebook>.png`` for the
Chinese edition) for people to look at; in a Chinese lesson, the Chinese of its
text must be drawn as Chinese, not as empty boxes (`glyphs`).

The harness tests at the end prove the harness itself: a tiny notebook with a
widget passes, and a notebook with an exception and a broken widget is caught.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import NOTEBOOKS, SCREENSHOTS
from .glyphs import assert_cjk_renders

pytestmark = pytest.mark.browser

LESSONS = sorted(NOTEBOOKS.glob("*.ipynb"))
CHINESE_LESSONS = sorted((NOTEBOOKS / "zh-CN").glob("*.ipynb"))


@pytest.mark.timeout(900)
@pytest.mark.parametrize("notebook", LESSONS, ids=[p.stem for p in LESSONS])
def test_notebook_runs_clean_in_jupyterlab(lab, notebook: Path):
    run = lab.run_notebook(notebook.name)
    print(run.report())
    assert not run.problems(), run.report()
    assert run.executed_cells == run.code_cells, run.report()
    assert run.screenshot is not None and run.screenshot.stat().st_size > 10_000


def _chinese_is_drawn(page) -> None:
    """The Chinese characters of the lesson's rendered text are drawn as Chinese."""
    text = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMarkdown").first.inner_text()
    chinese = "".join(dict.fromkeys(ch for ch in text if "\u4e00" <= ch <= "\u9fff"))[:12]
    assert chinese, f"the lesson's first markdown cell has no Chinese: {text[:200]!r}"
    assert_cjk_renders(page, chinese, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMarkdown")


@pytest.mark.timeout(900)
@pytest.mark.parametrize("notebook", CHINESE_LESSONS, ids=[f"zh-CN/{p.stem}" for p in CHINESE_LESSONS])
def test_chinese_lesson_runs_clean_in_jupyterlab(lab, notebook: Path):
    run = lab.run_notebook(f"zh-CN/{notebook.name}", screenshot=f"zh-CN-{notebook.stem}", check=_chinese_is_drawn)
    print(run.report())
    assert not run.problems(), run.report()
    assert run.executed_cells == run.code_cells, run.report()
    assert run.screenshot == SCREENSHOTS / f"zh-CN-{notebook.stem}.png"
    assert run.screenshot.stat().st_size > 10_000


# ------------------------------------------------------- the harness itself


@pytest.mark.timeout(900)
def test_harness_passes_a_healthy_notebook(lab, lab_server, notebook_factory):
    nb = notebook_factory(
        ("md", "# Harness check\n\nA slider and a print."),
        "import ipywidgets as widgets\nslider = widgets.IntSlider(value=7, description='harness')\nslider",
        "print('hello from the kernel', slider.value)",
        "import sys; print('a warning-like line', file=sys.stderr)",
    )
    path = lab_server.add_notebook(nb, "_harness/healthy.ipynb")
    with lab.open(path) as page:
        page.run_all()
        run = page.collect()
        text = page.page.locator(".jp-Notebook").inner_text()
        sliders = page.page.locator(".jp-Notebook .widget-slider").count()
        run.screenshot = page.screenshot("_harness-healthy")
    print(run.report())
    assert not run.problems(), run.report()
    assert run.code_cells == run.executed_cells == 3
    assert "hello from the kernel 7" in text
    assert sliders >= 1, "the IntSlider did not render"
    assert run.stderr == ["a warning-like line"], "stderr is collected but is not an error"
    assert run.screenshot == SCREENSHOTS / "_harness-healthy.png"
    assert run.screenshot.stat().st_size > 10_000
    # Nothing was written back into the repository's notebooks.
    assert not (NOTEBOOKS / "_harness").exists()


@pytest.mark.timeout(900)
def test_harness_catches_errors_and_broken_widgets(lab, lab_server, notebook_factory):
    nb = notebook_factory(
        # A widget whose front-end module does not exist: JupyterLab shows
        # "Click to show javascript error." in place of it.
        "import ipywidgets as widgets, traitlets\n"
        "class Broken(widgets.DOMWidget):\n"
        "    _view_name = traitlets.Unicode('NoSuchView').tag(sync=True)\n"
        "    _view_module = traitlets.Unicode('spreadlab-no-such-module').tag(sync=True)\n"
        "    _view_module_version = traitlets.Unicode('0.0.1').tag(sync=True)\n"
        "Broken()",
        # Allowed to fail (tag): run all goes on, and the harness excuses it.
        "raise KeyError('tagged, expected')",
        "x = 1 +",  # SyntaxError: no 'Traceback' line in IPython's output
        "print('never runs')",
        tags={1: ["raises-exception"]},
    )
    path = lab_server.add_notebook(nb, "_harness/broken.ipynb")
    run = lab.run_notebook(path, screenshot="_harness-broken")
    print(run.report())
    problems = "\n".join(run.problems())
    assert any("SyntaxError" in e for e in run.error_outputs), problems
    assert not run.printed_tracebacks and not run.kernel_errors, problems
    assert not any("KeyError" in e for e in run.error_outputs), "a raises-exception cell is excused"
    assert [w for w in run.widget_errors if "Click to show javascript error" in w] == [
        "cell 1: Click to show javascript error."
    ], problems
    assert any("spreadlab-no-such-module" in c for c in run.console_errors), problems
    assert run.executed_cells == 3 and run.code_cells == 4, run.report()
    # The kernel's own error messages are seen on the websocket too.
    assert [m.split(":")[0] for m in run.kernel_messages] == ["KeyError", "SyntaxError"], run.kernel_messages
    assert run.screenshot.exists()


@pytest.mark.timeout(900)
def test_harness_catches_an_error_inside_an_output_widget(lab, lab_server, notebook_factory):
    # An exception in a widget callback lands in an Output widget, not in a
    # cell's own outputs: the DOM check still sees it, and the console check
    # sees a page error raised by the front end.
    nb = notebook_factory(
        "import ipywidgets as widgets\n"
        "out = widgets.Output()\n"
        "with out:\n"
        "    raise RuntimeError('inside an Output widget')\n",
        "out",
        "from IPython.display import HTML\n"
        "HTML('<img src=x onerror=\"console.error(\\'spreadlab harness console check\\')\">')",
        # A traceback printed to stderr (as the reactor thread's errors are).
        "import traceback\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n    traceback.print_exc()",
        ("md", "A picture that is not there: ![a missing picture](no-such-picture.png)"),
    )
    path = lab_server.add_notebook(nb, "_harness/output_widget.ipynb")
    run = lab.run_notebook(path, screenshot="_harness-output-widget")
    print(run.report())
    assert any("RuntimeError" in e for e in run.error_outputs + run.kernel_errors), run.report()
    assert any("spreadlab harness console check" in e for e in run.console_errors), run.report()
    assert any("ZeroDivisionError" in e for e in run.printed_tracebacks), run.report()
    assert not any("ZeroDivisionError" in e for e in run.error_outputs), "printed, not raised"
    assert any("no-such-picture.png" in e for e in run.render_errors), run.report()
