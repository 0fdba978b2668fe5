"""The browser edition: the site's size, and a cold browser's wait for the first board.

    python -m benchmarks.bench_lite [--quick] [--lesson 01-start-here.ipynb]

Builds the site (``spreadlab.publish.lite``, downloads from build/lite-cache) into
benchmarks/.work/lite and reports its size, in all and by part.  Then, in headless
Chromium with a fresh browser context each time (nothing cached), opens the same lesson
(a) in the JupyterLite site served from loopback and (b) in a local JupyterLab server,
clicks Run All once the kernel is ready, and measures the seconds from opening the page
to the first board drawn (a ``.spreadlab-scene`` in the page).  Both include starting
the kernel: Pyodide and its wheels in the tab, or an ipykernel process.  The baseline is
JupyterLab; the ratio is JupyterLite's time over JupyterLab's.  Alternating runs, median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._util import ROOT, Row, python, table

WORK = Path(ROOT) / "benchmarks" / ".work"


def _size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def site_rows(out: Path) -> list[Row]:
    from spreadlab.publish import lite

    site = lite.build(None, out, Path(ROOT) / lite.DEFAULT_CACHE, log=lambda *a: None)
    pyodide = out / "static" / "pyodide"
    wheels = sum(p.stat().st_size for p in pyodide.glob("*.whl"))
    _, runtime = _size(pyodide)
    figures = {
        "MB": site.bytes / 1e6, "files": site.files,
        "app MB": sum(_size(out / d)[1] for d in ("build", "extensions", "lab")) / 1e6,
        "pyodide MB": (runtime - wheels) / 1e6, "wheels MB": wheels / 1e6,
        "lessons": sum(l.included for l in site.lessons), "build s": site.seconds,
    }
    return [Row("lite", "the site (make lite)", "build/lite", figures)]


def _lite_once(site: Path, lesson: str) -> float | None:
    """Seconds from opening the lesson in JupyterLite to its first board (a fresh process)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        driver = Path(ROOT) / "tests" / "browser" / "lite_driver.py"
        subprocess.run([python(), str(driver), str(site), str(out), lesson], cwd=ROOT, timeout=900,
                       capture_output=True, env={**os.environ, "PYTHONPATH": ROOT})
        record = json.loads(out.read_text())["lessons"][lesson]
        return record.get("first_board_s")


def _lab_once(lesson: str) -> float | None:
    """The same in a local JupyterLab (the tests' harness starts and stops the server)."""
    sys.path.insert(0, ROOT)
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS, Lab, chromium_executable, start_lab_server, stop_lab_server

    with tempfile.TemporaryDirectory() as tmp:
        server = start_lab_server(Path(tmp))
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS)
                try:
                    with Lab(server, browser).open(lesson) as nb:
                        nb.wait_for_kernel()
                        nb._click_run_all()
                        nb.page.locator(".spreadlab-scene").first.wait_for(state="attached", timeout=300_000)
                        return time.monotonic() - nb.started
                finally:
                    browser.close()
        finally:
            stop_lab_server(server)


def run(quick: bool = False, lesson: str = "01-start-here.ipynb") -> list[Row]:
    out = WORK / "lite"
    rows = site_rows(out)
    lite_times, lab_times = [], []
    for _ in range(1 if quick else 3):
        lite_times.append(_lite_once(out, lesson))
        lab_times.append(_lab_once(lesson))
    lite_s = statistics.median(t for t in lite_times if t is not None) if any(lite_times) else float("nan")
    lab_s = statistics.median(t for t in lab_times if t is not None) if any(lab_times) else float("nan")
    case = f"{lesson}: cold browser, open -> first board"
    rows.append(Row("lite", case, "jupyterlab (local server)", {"s": lab_s, "runs": len(lab_times)}))
    rows.append(Row("lite", case, "jupyterlite (browser edition)", {"s": lite_s, "runs": len(lite_times)},
                    {"time vs jupyterlab": lite_s / lab_s}, note=f"runs: {[round(t or -1, 1) for t in lite_times]}"))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of each instead of three")
    parser.add_argument("--lesson", default="01-start-here.ipynb")
    args = parser.parse_args(argv)
    print(table(run(quick=args.quick, lesson=args.lesson)))


if __name__ == "__main__":
    main()
