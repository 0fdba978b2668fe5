"""Run every benchmark and print one table with the ratios.

    python -m benchmarks.run [--quick] [--only live,memory,lessons,calls,board,lite]
                             [--before DIR] [--markdown FILE]

(``make bench``, with ``BENCH_ARGS="--quick"`` and so on.)  Each benchmark
compares against a baseline measured in the same run, so read the ratios
rather than the absolute figures, which move with the machine's load.

``--before DIR`` also measures another copy of the library (``DIR`` holds a
``spreadlab`` package, e.g. ``git archive <commit> spreadlab | tar -x -C
DIR``) in the same run: the live Spread server and the memory room, for
before/after figures.  ``--markdown FILE`` writes the table as Markdown too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time

from . import bench_calls, bench_lessons, bench_lite, bench_live, bench_memory
from ._util import ROOT, Row, machine, markdown, python, table

ALL = ("live", "memory", "lessons", "calls", "board", "lite")


def _memory_before(before: str, quick: bool) -> list[Row]:
    """bench_memory against the other copy, in a process of its own."""
    env = dict(os.environ, BENCH_SPREADLAB=os.path.join(os.path.abspath(before), "spreadlab"))
    code = ("import json, dataclasses; from benchmarks import bench_memory as b; "
            f"print(json.dumps([dataclasses.asdict(r) for r in b.run(quick={quick!r})]))")
    out = subprocess.run([python(), "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode:
        return [Row("memory", "before", "-", note=out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed")]
    rows = []
    for r in json.loads(out.stdout.strip().splitlines()[-1]):
        row = Row(**r)
        row.subject += " (before)"
        rows.append(row)
    return rows


def _board(quick: bool) -> str:
    """The board's own benchmark (someone else's script), printed as it is."""
    script = os.path.join(ROOT, "benchmarks", "bench_board.py")
    if not os.path.exists(script):
        return "(benchmarks/bench_board.py not there)"
    args = [python(), script] + (["2000", "3"] if quick else [])
    try:
        out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return "(bench_board did not finish within 600 s)"
    return (out.stdout + (out.stderr if out.returncode else "")).strip()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier figures)")
    parser.add_argument("--only", default=",".join(ALL), help=f"a comma-separated subset of {','.join(ALL)}")
    parser.add_argument("--before", metavar="DIR", help="also measure the spreadlab package in DIR")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    parser.add_argument("--clients", default="10,100,500", help="live: numbers of clients")
    parser.add_argument("--senders", default="1,4", help="live: numbers of senders")
    args = parser.parse_args(argv)
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(only) - set(ALL)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    about = machine()
    when = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(f"spreadlab benchmarks, {when}\n{about}\n", flush=True)
    rows: list[Row] = []
    board = None
    if "live" in only:
        servers = list(bench_live.SERVERS)
        if args.before:
            os.environ["BENCH_BEFORE"] = os.path.join(os.path.abspath(args.before), "spreadlab")
            servers.insert(1, "spread-before")
        rows += bench_live.run(
            clients=[int(x) for x in args.clients.split(",")],
            senders=[int(x) for x in args.senders.split(",")],
            servers=servers, quick=args.quick,
        )
    if "memory" in only:
        rows += bench_memory.run(quick=args.quick)
        if args.before:
            rows += _memory_before(args.before, args.quick)
    if "calls" in only:
        rows += bench_calls.run(quick=args.quick)
    if "lessons" in only:
        rows += bench_lessons.run(quick=args.quick)
    if "board" in only:
        board = _board(args.quick)
    if "lite" in only:
        rows += bench_lite.run(quick=args.quick)
    took = time.perf_counter() - started
    print(table(rows))
    if board is not None:
        print("\nbenchmarks/bench_board.py:\n" + board)
    print(f"\n({took:.0f} s)")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(f"Run {when}; {about}; {took:.0f} s.\n\n{markdown(rows)}\n")
            if board is not None:
                out.write(f"\n`benchmarks/bench_board.py`:\n\n```\n{board}\n```\n")


if __name__ == "__main__":
    main()
