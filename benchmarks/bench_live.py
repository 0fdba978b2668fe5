"""Live broadcast: N real TCP clients on loopback, 64-byte lines.

    python -m benchmarks.bench_live [--quick] [--clients 10,100,500] [--senders 1,4]

Each server runs in its own process: ``spread``, spreadlab's `SpreadFactory`
on the default reactor (no log observer, as in a notebook); ``spread-serve``,
``python -m spreadlab serve`` as an instructor runs it (no client or rate
limit here, its one log line per message going to a pipe); and the two
baselines of `benchmarks._servers`, ``twisted-min`` (a minimal Twisted
fan-out server: no checks, trace or logging) and ``asyncio-min`` (the same
with asyncio streams).  This process is the load generator (one thread, raw
non-blocking sockets and epoll), so the server is what is measured.  For
every N and number of senders, and for each server:

1. connect N clients (each waits for its welcome line);
2. latency: one message at a time, from a rotating sender; the time from just
   before ``send`` to the moment the last of the N-1 receivers has the whole
   line (median and p99);
3. throughput: a window of messages in flight (about 10,000 deliveries, so
   that the server always has work queued), a new message sent as soon as
   one has reached all its receivers, for a fixed time: deliveries (lines
   received by a client) per second.

All the servers of one case run at once (idle but one) and are measured in
turns, over 3 rounds in a rotated order; deliveries per second is the median
of the rounds, and each ratio the median of the per-round ratios (paired), so
that a change in the machine's load hits every server alike.

The server's CPU time per delivery (user + system, from /proc) is measured
over the same throughput phases: on a busy machine deliveries per CPU second
("cpu-capacity") is much steadier than deliveries per wall-clock second.
Ratios are of deliveries per second and of cpu-capacity, taken within the
same run (higher is better): each Spread server / twisted-min and
/ asyncio-min (the goals at N=100: at least 0.8 and at least 1), and with
``--before`` (see `benchmarks.run`) spread / spread-before.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time

from ._util import ROOT, Row, child, fmt, median, percentile, python, table

LINE = 64  # bytes on the wire per sent line, "\r\n" included
ID = re.compile(rb"m(\d{10}) ")
SERVERS = ("spread", "spread-serve", "twisted-min", "asyncio-min")
BASELINES = ("twisted-min", "asyncio-min")


def message(number: int) -> bytes:
    head = b"m%010d " % number
    return head + b"x" * (LINE - 2 - len(head)) + b"\r\n"


class Load:
    """N clients of one server, driven from this process."""

    def __init__(self, port: int, n: int, senders: int, pid: int | None = None) -> None:
        self.n = n
        self.pid = pid  # the server's, for its CPU time
        self.socks: list[socket.socket] = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socks.append(s)
        for s in self.socks:  # everyone registered: each has its welcome
            data = b""
            while not data.endswith(b"\n"):
                more = s.recv(4096)
                if not more:
                    raise ConnectionError("server closed during the welcome")
                data += more
            s.setblocking(False)
        self.senders = self.socks[:senders]
        self.by_fd = {s.fileno(): s for s in self.socks}
        self.partial = dict.fromkeys(self.by_fd, b"")
        self.poll = select.epoll()
        for fd in self.by_fd:
            self.poll.register(fd, select.EPOLLIN)
        self.counts: collections.Counter = collections.Counter()
        self.sent_at: dict[bytes, float] = {}
        self.done: list[float] = []  # latencies of completed messages
        self.next_id = 0
        self.turn = 0
        self.deliveries = 0

    def close(self) -> None:
        self.poll.close()
        for s in self.socks:
            s.close()

    def send(self, how_many: int) -> None:
        """Send *how_many* new messages, spread over the senders in turn."""
        batches: dict[int, list[bytes]] = {}
        now = time.perf_counter()
        for _ in range(how_many):
            number = self.next_id
            self.next_id += 1
            self.sent_at[b"%010d" % number] = now
            batches.setdefault(self.turn, []).append(message(number))
            self.turn = (self.turn + 1) % len(self.senders)
        for index, lines in batches.items():
            sock = self.senders[index]
            data = b"".join(lines)
            try:
                sent = sock.send(data)
            except BlockingIOError:
                sent = 0
            if sent < len(data):
                sock.setblocking(True)
                sock.sendall(data[sent:])
                sock.setblocking(False)

    def pump(self, timeout: float) -> int:
        """Read whatever arrived; returns how many messages completed."""
        events = self.poll.poll(timeout)
        now = time.perf_counter()
        seen = set()
        counts, partial, by_fd = self.counts, self.partial, self.by_fd
        for fd, _ in events:
            try:
                chunk = by_fd[fd].recv(262144)
            except BlockingIOError:
                continue
            if not chunk:
                raise ConnectionError("the server closed a client")
            chunk = partial[fd] + chunk
            end = chunk.rfind(b"\n") + 1
            partial[fd] = chunk[end:]
            ids = ID.findall(chunk, 0, end)
            self.deliveries += len(ids)
            counts.update(ids)
            seen.update(ids)
        completed = 0
        expected = self.n - 1
        for key in seen:
            if counts[key] >= expected:
                sent = self.sent_at.pop(key, None)
                if sent is not None:
                    del counts[key]
                    self.done.append(now - sent)
                    completed += 1
        return completed

    def in_flight(self) -> int:
        return len(self.sent_at)

    def latency(self, messages: int, limit: float) -> list[float]:
        """One message at a time; the latency of each."""
        self.done = []
        stop = time.perf_counter() + limit
        for _ in range(messages):
            self.send(1)
            while self.in_flight():
                self.pump(1.0)
                if time.perf_counter() > stop + 5:
                    raise TimeoutError("messages lost in the latency phase")
            if time.perf_counter() > stop:
                break
        return list(self.done)

    def cpu(self) -> float:
        """The server process's CPU seconds so far (user + system)."""
        if self.pid is None:
            return float("nan")
        fields = open(f"/proc/{self.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def throughput(self, window: int, warmup: float, seconds: float) -> tuple[float, float, list[float]]:
        """Deliveries per second with *window* messages in flight, and the
        server's CPU seconds per delivery meanwhile."""
        self.done = []
        self.send(window)
        start = time.perf_counter()
        measured_from = start + warmup
        until = measured_from + seconds
        counted_base = None
        while True:
            now = time.perf_counter()
            if counted_base is None and now >= measured_from:
                counted_base, self.done = self.deliveries, []
                cpu_from = self.cpu()
                measured_from = now
            if now >= until:
                break
            completed = self.pump(0.5)
            if completed:
                self.send(completed)
        delivered = self.deliveries - (counted_base or 0)
        rate = delivered / (time.perf_counter() - measured_from)
        cpu = (self.cpu() - cpu_from) / delivered if delivered else float("nan")
        latencies = list(self.done)
        drain_until = time.perf_counter() + 10
        while self.in_flight() and time.perf_counter() < drain_until:
            self.pump(0.5)
        if self.in_flight():
            raise TimeoutError(f"{self.in_flight()} messages never reached every receiver")
        return rate, cpu, latencies


def _drain(stream) -> None:
    with contextlib.suppress(Exception):
        while stream.read(65536):
            pass


@contextlib.contextmanager
def start_server(kind: str):
    """Start one server in a process of its own; yields its port.  The
    process is stopped (terminate, then kill) when the block ends."""
    env = dict(os.environ)
    if kind == "spread-serve":  # the command an instructor runs, its log to a pipe
        args = [python(), "-m", "spreadlab", "serve", "--port", "0", "--host", "127.0.0.1",
                "--max-clients", "0", "--rate", "0"]
    else:
        if kind == "spread-before":
            env["BENCH_SPREADLAB"] = os.environ["BENCH_BEFORE"]
            kind = "spread"
        args = [python(), "-m", "benchmarks._servers", kind]
    with child(args, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr) as proc:
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            line = proc.stdout.readline().decode("utf-8", "replace")
            if not line:
                break
            found = re.search(r"^PORT (\d+)|listening on \S*:(\d+)", line)
            if found:
                port = int(found.group(1) or found.group(2))
        if port is None:
            raise RuntimeError(f"{kind} server did not start")
        # keep reading what it prints (spread-serve logs every message)
        threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
        yield port, proc.pid


def measure_case(kinds, n: int, senders: int, quick: bool, verbose: bool) -> dict:
    """All servers of one case, started together and measured in turns:
    each round gives every server a latency phase and a throughput phase,
    in a rotated order, so a change of the machine's load hits them all."""
    rounds = 2 if quick else 3
    messages = {10: 300, 100: 200}.get(n, 100) // (2 if quick else 1)
    window = max(1, round(10000 / (n - 1)))
    results = {kind: {"rates": [], "cpu": [], "lat": [], "loaded": []} for kind in kinds}
    with contextlib.ExitStack() as stack:
        loads = {}
        for kind in kinds:
            try:
                port, pid = stack.enter_context(start_server(kind))
                loads[kind] = Load(port, n, senders, pid)
                stack.callback(loads[kind].close)
            except Exception as exc:  # a broken server is reported, not fatal
                results[kind]["error"] = f"{type(exc).__name__}: {exc}"
        live = [kind for kind in kinds if kind in loads]
        for r in range(rounds):
            shift = r % max(1, len(live))
            for kind in live[shift:] + live[:shift]:
                if "error" in results[kind]:
                    continue
                try:
                    load = loads[kind]
                    results[kind]["lat"] += load.latency(messages // rounds, limit=0.5 if quick else 1.0)
                    rate, cpu, loaded = load.throughput(window, warmup=0.15, seconds=0.4 if quick else 0.8)
                    results[kind]["rates"].append(rate)
                    results[kind]["cpu"].append(cpu)
                    results[kind]["loaded"] += loaded
                except Exception as exc:
                    results[kind]["error"] = f"{type(exc).__name__}: {exc}"
    if verbose:
        for kind, got in results.items():
            print(f"  live N={n} senders={senders} {kind}: {got.get('error') or [round(x) for x in got['rates']]}", file=sys.stderr)
    return results


def run(clients=(10, 100, 500), senders=(1, 4), servers=SERVERS, quick=False, verbose=True) -> list[Row]:
    rows = []
    for n in clients:
        for s in senders:
            if s >= n:
                continue
            case = f"N={n} senders={s}"
            results = measure_case(list(servers), n, s, quick, verbose)
            for kind, got in results.items():
                if "error" in got:
                    rows.append(Row("live", case, kind, note=got["error"]))
                    continue
                figures = {
                    "deliv/s": median(got["rates"]),
                    "srv cpu us/deliv": median(got["cpu"]) * 1e6,
                    "lat p50 ms": median(got["lat"]) * 1e3,
                    "lat p99 ms": percentile(got["lat"], 99) * 1e3,
                    "loaded p50 ms": median(got["loaded"]) * 1e3,
                }
                ratios = {}
                bases = BASELINES + (("spread-before",) if kind == "spread" else ())
                if kind not in BASELINES:
                    for base in bases:
                        other = results.get(base, {})
                        if other.get("rates") and "error" not in other:
                            # paired: the median of the ratios of each round
                            ratios[f"vs {base}"] = median([a / b for a, b in zip(got["rates"], other["rates"])])
                for base in bases:
                    other = results.get(base, {})
                    if kind not in BASELINES and other.get("cpu") and "error" not in other:
                        # deliveries per server CPU second: steadier on a busy machine
                        ratios[f"cpu-capacity vs {base}"] = median([b / a for a, b in zip(got["cpu"], other["cpu"])])
                rows.append(Row("live", case, kind, figures, ratios))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases (noisier)")
    parser.add_argument("--clients", default="10,100,500")
    parser.add_argument("--senders", default="1,4")
    parser.add_argument("--servers", default=",".join(SERVERS))
    args = parser.parse_args(argv)
    rows = run(
        clients=[int(x) for x in args.clients.split(",")],
        senders=[int(x) for x in args.senders.split(",")],
        servers=args.servers.split(","),
        quick=args.quick,
    )
    print(table(rows))


if __name__ == "__main__":
    main()
