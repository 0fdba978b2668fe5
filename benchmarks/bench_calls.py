"""Calls into the reactor thread, and kernel shutdown with a live room.

    python -m benchmarks.bench_calls [--quick]

1. ``spreadlab.rooms.background.blocking_call`` round trip (a call that does
   nothing, from this thread into the background reactor thread and back):
   median and p99, against Twisted's own ``blockingCallFromThread`` measured
   in the same process, interleaved;
2. a live room operation: ``LiveRoom`` with 10 Spread clients, one
   ``send`` of a line that reaches the 9 others (the call returns when the
   room is quiet), against the same send in a ``MemoryRoom``;
3. kernel shutdown: a fresh Jupyter kernel runs a cell that starts a live
   room with 10 connected clients, then ``shutdown_kernel()`` (the polite
   shutdown a notebook's "Shut Down Kernel" sends) is timed, against a kernel
   that only ran ``pass``.  A kernel kept alive by a non-daemon thread would
   show here as the 5 s jupyter_client waits before killing it.
"""

from __future__ import annotations

import argparse
import sys
import time

from ._util import Row, median, percentile, table


def _calls(rounds: int) -> list[Row]:
    from twisted.internet import reactor, threads

    from spreadlab import background

    background.start_reactor()
    background.blocking_call(lambda: None)  # warm
    ours, twisted = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        background.blocking_call(lambda: None)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        threads.blockingCallFromThread(reactor, lambda: None)
        twisted.append(time.perf_counter() - start)
    case = f"round trip x{rounds}"
    return [
        Row("calls", case, "blocking_call",
            {"p50 us": median(ours) * 1e6, "p99 us": percentile(ours, 99) * 1e6},
            {"p50 vs blockingCallFromThread": median(ours) / median(twisted)}),
        Row("calls", case, "blockingCallFromThread",
            {"p50 us": median(twisted) * 1e6, "p99 us": percentile(twisted, 99) * 1e6}),
    ]


def _room_sends(rounds: int) -> list[Row]:
    from spreadlab.rooms.live import LiveRoom
    from spreadlab.rooms.memory import MemoryRoom
    from spreadlab.servers.spread import SpreadFactory

    results = {}
    for kind, make in (("LiveRoom", lambda: LiveRoom(SpreadFactory())), ("MemoryRoom", lambda: MemoryRoom(SpreadFactory()))):
        room = make()
        try:
            members = [room.connect() for _ in range(10)]
            times = []
            for i in range(rounds):
                start = time.perf_counter()
                members[i % 10].send(b"hello everyone\r\n")
                times.append(time.perf_counter() - start)
        finally:
            room.close()
        results[kind] = times
    live, memory = results["LiveRoom"], results["MemoryRoom"]
    case = f"send to 9 others x{rounds}"
    return [
        Row("calls", case, "LiveRoom.send", {"p50 ms": median(live) * 1e3, "p99 ms": percentile(live, 99) * 1e3},
            {"p50 vs MemoryRoom": median(live) / median(memory)}),
        Row("calls", case, "MemoryRoom.send", {"p50 ms": median(memory) * 1e3, "p99 ms": percentile(memory, 99) * 1e3}),
    ]


LIVE_CELL = """
from spreadlab.servers.spread import SpreadFactory
from spreadlab.rooms.live import LiveRoom
room = LiveRoom(SpreadFactory())
members = [room.connect() for _ in range(10)]
members[0].send("hello\\r\\n")
assert len(members[1].lines) == 2, members[1].lines
"""


def _shutdown_once(code: str) -> float:
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}")
        kc.stop_channels()
        start = time.perf_counter()
        km.shutdown_kernel(now=False)
        return time.perf_counter() - start
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)


def _shutdowns(rounds: int) -> list[Row]:
    empty, live = [], []
    for _ in range(rounds):
        empty.append(_shutdown_once("pass"))
        live.append(_shutdown_once(LIVE_CELL))
    case = f"kernel shutdown x{rounds}"
    return [
        Row("calls", case, "live room running", {"p50 s": median(live), "max s": max(live)},
            {"vs idle kernel": median(live) / median(empty)}),
        Row("calls", case, "idle kernel", {"p50 s": median(empty), "max s": max(empty)}),
    ]


def run(quick: bool = False, verbose: bool = True) -> list[Row]:
    rows = []
    for name, part, arg in (("blocking_call", _calls, 500 if quick else 2000),
                            ("room sends", _room_sends, 50 if quick else 200),
                            ("kernel shutdown", _shutdowns, 2 if quick else 3)):
        try:
            rows += part(arg)
        except Exception as exc:  # something not there yet, or broken: reported
            rows.append(Row("calls", name, "-", note=f"{type(exc).__name__}: {exc}"))
        if verbose:
            print(f"  calls {name} done", file=sys.stderr)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print(table(run(quick=args.quick)))


if __name__ == "__main__":
    main()
