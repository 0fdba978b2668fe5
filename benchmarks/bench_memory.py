"""Memory rooms: the cost of the room and its trace.

    python -m benchmarks.bench_memory [--quick]

Two cases, each run through a `MemoryRoom` (tracing on, as always) and, as
the baseline, through a raw loop that drives the same `SpreadFactory` and
`Spreader` protocols over bare ``StringTransport``s (``buildProtocol``,
``makeConnection``, ``dataReceived``, ``connectionLost``: what the room does,
without the room):

- ``1000 clients x 100 msgs``: 1,000 clients connect, then 100 lines of 64
  bytes are sent, each by the next client in turn, and each is spread to the
  999 others: about 100,000 deliveries, each a trace event;
- ``10 clients x 100 msgs, 1 byte/chunk``: the per-chunk path: every line
  arrives one byte at a time (each chunk a ``dataReceived`` and a trace event).

The figure is the best of several runs (CPU seconds of this process, which a busy machine disturbs less than wall time); the ratio is room / raw
(lower is better; the goal is at most 2x).
"""

from __future__ import annotations

import argparse
import gc
import time

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from spreadlab.rooms.memory import MemoryRoom
from spreadlab.servers.spread import SpreadFactory

from ._util import Row, table

LINE = b"m0000000000 " + b"x" * 50 + b"\r\n"  # 64 bytes
assert len(LINE) == 64


def room_run(clients: int, messages: int, chunks=None) -> tuple[float, int]:
    room = MemoryRoom(SpreadFactory(max_backlog=1 << 40))
    members = [room.connect() for _ in range(clients)]
    for i in range(messages):
        members[i % clients].send(LINE, chunks=chunks)
    delivered = sum(len(m._inbox) for m in members)
    room.close()
    return delivered, len(room.trace)


def raw_run(clients: int, messages: int, chunks=None) -> tuple[float, int]:
    factory = SpreadFactory(max_backlog=1 << 40)
    factory.doStart()
    protocols = []
    for number in range(1, clients + 1):
        peer = IPv4Address("TCP", "127.0.0.1", 50000 + number)
        protocol = factory.buildProtocol(peer)
        transport = StringTransport(hostAddress=IPv4Address("TCP", "127.0.0.1", 8007), peerAddress=peer)
        protocol.makeConnection(transport)
        protocols.append(protocol)
    pieces = [LINE] if chunks is None else [LINE[i : i + 1] for i in range(len(LINE))]
    for i in range(messages):
        protocol = protocols[i % clients]
        for piece in pieces:
            protocol.dataReceived(piece)
    delivered = sum(len(p.transport.value()) for p in protocols)
    for protocol in protocols:  # as the room's close() does
        protocol.transport.loseConnection()
        protocol.connectionLost(Failure(ConnectionDone()))
    factory.doStop()
    return delivered, 0


def best_of(fn, repeat: int, *args, **kwargs) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        result = fn(*args, **kwargs)
        best = min(best, time.process_time() - start)
    return best, result


CASES = [
    ("1000 clients x 100 msgs", 1000, 100, None),
    ("10 clients x 100 msgs, 1 byte/chunk", 10, 100, "bytes"),
]


def run(quick: bool = False, verbose: bool = True) -> list[Row]:
    rows = []
    repeat = 3 if quick else 5
    for case, clients, messages, chunks in CASES:
        room_s, (delivered, events) = best_of(room_run, repeat, clients, messages, chunks)
        raw_s, _ = best_of(raw_run, repeat, clients, messages, chunks)
        rows.append(Row("memory", case, "MemoryRoom+trace", {"s": room_s, "events": events, "per event us": room_s / events * 1e6}, {"time vs raw": room_s / raw_s}))
        rows.append(Row("memory", case, "raw StringTransport", {"s": raw_s}))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print(table(run(quick=args.quick)))


if __name__ == "__main__":
    main()
