"""Small helpers shared by the benchmarks: statistics, a result row, and
subprocesses that are always stopped."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Row:
    """One line of the final table."""

    bench: str  # "live", "memory", ...
    case: str  # what was run ("N=100 senders=1")
    subject: str  # what was measured ("spread", "twisted-min", ...)
    figures: dict = field(default_factory=dict)  # name -> number
    ratios: dict = field(default_factory=dict)  # "deliv/s vs asyncio-min" -> 1.2
    note: str = ""


def percentile(values, p: float) -> float:
    """The p-th percentile (0..100) by nearest rank; nan if empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: list[Row]) -> str:
    """A plain-text table: one row per measurement, figures joined."""
    lines = []
    header = ("bench", "case", "subject", "figures", "ratio")
    cells = []
    for r in rows:
        figs = "  ".join(f"{k}={fmt(v)}" for k, v in r.figures.items())
        ratio = ", ".join(f"{v:.2f}x {k}" for k, v in r.ratios.items())
        if r.note:
            figs = f"{figs}  [{r.note}]" if figs else f"[{r.note}]"
        cells.append((r.bench, r.case, r.subject, figs, ratio))
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(header)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for c in cells:
        lines.append("  ".join(x.ljust(w) for x, w in zip(c, widths)).rstrip())
    return "\n".join(lines)


def markdown(rows: list[Row]) -> str:
    out = ["| bench | case | subject | figures | ratio |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        figs = ", ".join(f"{k} {fmt(v)}" for k, v in r.figures.items())
        if r.note:
            figs = f"{figs} ({r.note})" if figs else r.note
        ratio = ", ".join(f"**{v:.2f}x** {k}" for k, v in r.ratios.items())
        out.append(f"| {r.bench} | {r.case} | {r.subject} | {figs} | {ratio} |")
    return "\n".join(out)


def machine() -> str:
    """A one-paragraph description of this machine."""
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout.strip()
        except Exception:
            return "?"

    try:
        import twisted

        tw = twisted.__version__
    except Exception:
        tw = "?"
    cpu = "?"
    with contextlib.suppress(Exception):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = run(["free", "-h"]).splitlines()
    mem = mem[1].split()[1] if len(mem) > 1 else "?"
    load = " ".join(open("/proc/loadavg").read().split()[:3]) if os.path.exists("/proc/loadavg") else "?"
    return (
        f"nproc {run(['nproc'])}, {cpu}, memory {mem} (free -h), "
        f"Python {platform.python_version()}, Twisted {tw}, {platform.system()} {platform.release()}, "
        f"load average at start {load}"
    )


@contextlib.contextmanager
def child(args: list[str], **kwargs):
    """Start a subprocess and make sure it is gone when the block ends:
    terminate, then kill after a grace period.  Yields the Popen."""
    proc = subprocess.Popen(args, **kwargs)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()


def python() -> str:
    return sys.executable


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
