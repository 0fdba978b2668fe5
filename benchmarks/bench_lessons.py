"""Lessons: each notebook run top to bottom in a fresh kernel.

    python -m benchmarks.bench_lessons [--quick] [notebooks/03*.ipynb ...]

Runs every ``notebooks/*.ipynb`` with nbclient in a new kernel, as "Restart
Kernel and Run All Cells" would (kernel start-up and shutdown included), and
an empty notebook the same way, before and after the lessons; the baseline is
the faster of the two empty runs.  The figures: seconds for the whole run,
seconds beyond the empty notebook (the goal: at most a few), the ratio to
the empty notebook, and the slowest cell with its time (from nbclient's
recorded timings), which is where to look first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import os
import re
import sys
import time

from ._util import ROOT, Row, table

NOTEBOOKS = os.path.join(ROOT, "notebooks")


def _run(nb, path: str) -> float:
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": path}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def _empty():
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("pass"))
    return nb


def _slowest_cell(nb) -> tuple[int, float]:
    worst, worst_s = -1, 0.0
    for index, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        try:
            began = dt.datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            ended = dt.datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
        except (KeyError, ValueError):
            continue
        seconds = (ended - began).total_seconds()
        if seconds > worst_s:
            worst, worst_s = index, seconds
    return worst, worst_s


def run(paths=None, quick: bool = False, verbose: bool = True) -> list[Row]:
    import nbformat

    paths = paths or sorted(glob.glob(os.path.join(NOTEBOOKS, "*.ipynb")))
    if not paths:
        return [Row("lessons", "-", "-", note="no notebook in notebooks/")]
    empty_runs = [_run(_empty(), NOTEBOOKS)]
    results = []
    for path in paths:
        name = os.path.basename(path)
        nb = nbformat.read(path, as_version=4)
        try:
            seconds = _run(nb, os.path.dirname(path))
            results.append((name, seconds, _slowest_cell(nb), None))
        except Exception as exc:  # a failing lesson is reported, not fatal
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # no terminal colours
            results.append((name, None, None, f"{type(exc).__name__}: {text.splitlines()[-1][:120] if text else ''}"))
        if verbose:
            print(f"  lessons {name}: {results[-1][1]}", file=sys.stderr)
    empty_runs.append(_run(_empty(), NOTEBOOKS))
    empty = min(empty_runs)
    rows = [Row("lessons", "empty notebook", "baseline", {"s": empty, "runs": " / ".join(f"{s:.2f}" for s in empty_runs)})]
    for name, seconds, slowest, error in results:
        if error:
            rows.append(Row("lessons", name, "nbclient", note=error))
            continue
        index, cell_s = slowest
        rows.append(Row("lessons", name, "nbclient",
                        {"s": seconds, "beyond empty s": seconds - empty, "slowest cell": f"#{index} {cell_s:.2f}s"},
                        {"time vs empty": seconds / empty}))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args(argv)
    print(table(run(args.notebooks or None, quick=args.quick)))


if __name__ == "__main__":
    main()
