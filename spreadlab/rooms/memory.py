"""In-memory rooms: real protocols, real factories, no network.

A `MemoryRoom` plays the part of a listening TCP port.  It takes any
factory, builds one real protocol per client through ``buildProtocol``, and
connects each to a `RoomTransport` (a ``twisted.internet.testing.
StringTransport`` that tells the room what happens to it).  Bytes a protocol
writes land in that client's inbox; bytes a client sends are handed to the
protocol's ``dataReceived`` cut into chunks the way you choose, because TCP
is a stream and a protocol must cope with any cut.

Closing behaves as on real TCP, which plain StringTransport does not do:
``loseConnection`` (by either side) ends in ``connectionLost`` with
``ConnectionDone``, ``abortConnection`` with ``ConnectionAborted`` (a kind of
``ConnectionLost``; a reset by the client gives ``ConnectionLost``), and neither
happens inside the call that asked for it but just after the current
callback returns, as the reactor would do it.  After ``loseConnection`` the
transport stops reading, so later chunks from that client are not delivered.
A transport paused with ``pauseProducing`` holds the client's chunks until it
is resumed.

Everything is recorded in one `Trace`.  Nothing here is random and nothing
uses the reactor: the same scenario always gives the same trace.  Use a room
from one thread at a time (the notebook's).
"""

from __future__ import annotations

import collections
import itertools
from typing import Callable, Iterable, Union

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionAborted, ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.abstract import _dataMustBeBytes
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from . import trace as T

Chunking = Union[None, str, int, Iterable[int]]

#: Where the room pretends to listen (the seed's port).
HOST = IPv4Address("TCP", "127.0.0.1", 8007)


def cut(data: bytes, chunks: Chunking = None) -> list[bytes]:
    """Cut *data* into the chunks a receiver's ``dataReceived`` will see.

    - ``None`` or ``"whole"``: one chunk;
    - ``"bytes"``: one byte at a time;
    - an ``int`` n: chunks of n bytes;
    - a list of ints: chunks of those sizes, the rest as a last chunk;
    - ``"split-utf8"``: two chunks, cut inside the first multi-byte UTF-8
      character (a Chinese character arriving in two halves).
    """
    if not data:
        return []
    if chunks is None or chunks == "whole":
        return [data]
    if chunks == "bytes":
        chunks = 1
    if chunks == "split-utf8":
        for index, byte in enumerate(data):
            if byte >= 0xC0:  # the lead byte of a multi-byte character
                return [data[: index + 1], data[index + 1 :]]
        return [data]
    if isinstance(chunks, str):
        raise ValueError(
            f"unknown chunking {chunks!r}: use 'whole', 'bytes', 'split-utf8', "
            "a chunk size or a list of sizes"
        )
    if isinstance(chunks, int):
        if chunks < 1:
            raise ValueError("a chunk size must be at least 1 byte")
        return [data[i : i + chunks] for i in range(0, len(data), chunks)]
    pieces, start = [], 0
    for size in chunks:
        if size < 1:
            raise ValueError("chunk sizes must be at least 1 byte")
        if start >= len(data):
            break
        pieces.append(data[start : start + size])
        start += size
    if start < len(data):
        pieces.append(data[start:])
    return pieces


class RoomTransport(StringTransport):
    """The server side of one in-memory connection.

    A StringTransport (so ``value()``, ``clear()`` and the other test helpers
    work) that also delivers what is written to the client's inbox, records
    writes and closes in the room's trace, and has the room finish a close
    with ``connectionLost`` as a real TCP transport does.  What was written
    is kept once, in the inbox (``value()`` is served from it), not a second
    time in StringTransport's buffer.
    """

    def __init__(self, room: "MemoryRoom", client: "MemoryClient") -> None:
        self._room = room
        self._client = client
        self._trace = room.trace
        super().__init__(hostAddress=HOST, peerAddress=client.peer)

    def write(self, data: bytes) -> None:
        if type(data) is not bytes:
            _dataMustBeBytes(data)  # refuses str with TypeError, as TCP does
            data = bytes(data)  # a subclass of bytes: keep plain bytes
        if not data:
            return
        if self.connected and not self.disconnected:
            client = self._client
            self._trace.add(T.WRITE, client.name, data)
            client._inbox.append(data)
        else:  # a closed or aborted transport drops writes silently
            self._dropped.append(data)  # (value() shows them, as StringTransport's does)

    def value(self) -> bytes:
        """Everything written since the last `clear` (StringTransport's test
        helper), the writes after a close included."""
        return b"".join(self._client._inbox[self._cleared:]) + b"".join(self._dropped)

    def clear(self) -> None:
        """Forget what `value` returns so far (the client keeps what it received)."""
        self._cleared = len(self._client._inbox)
        self._dropped: list[bytes] = []

    def writeSequence(self, data) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        if self.disconnecting or not self.connected:
            return
        self._room.trace.record(T.LOSE, self._client.name, detail="by the server")
        super().loseConnection()
        self._room._later(lambda: self._room._lost(self._client, ConnectionDone()))

    def abortConnection(self) -> None:
        if self.disconnected or not self.connected:
            return
        self._room.trace.record(T.ABORT, self._client.name, detail="by the server")
        already_closing = self.disconnecting
        self.disconnected = True  # not super(): its loseConnection would close cleanly
        self.disconnecting = True
        if not already_closing:
            self._room._later(lambda: self._room._lost(self._client, ConnectionAborted()))
        else:
            self._room._abort_pending(self._client)

    def resumeProducing(self) -> None:
        super().resumeProducing()
        self._room._later(lambda: self._room._deliver_held(self._client))


class MemoryClient:
    """One client of a `MemoryRoom`, seen from the client's side.

    ``received`` is every byte the server wrote to it; ``lines`` the complete
    lines in it, decoded; ``protocol`` and ``transport`` the server's side of
    the connection (``None`` if the server refused it).
    """

    def __init__(self, room: "MemoryRoom", name: str, peer: IPv4Address) -> None:
        self.room = room
        self.name = name
        self.peer = peer
        self.protocol = None
        self.transport: RoomTransport | None = None
        self.refused = False
        self.connected = False
        self._abort_requested = False
        self._inbox: list[bytes] = []
        self._held: collections.deque[bytes] = collections.deque()

    # --- what the client sees ----------------------------------------------

    @property
    def received(self) -> bytes:
        """All bytes the server wrote to this client, joined."""
        return b"".join(self._inbox)

    @property
    def text(self) -> str:
        """What was received, decoded as UTF-8 (undecodable bytes as U+FFFD)."""
        return self.received.decode("utf-8", errors="replace")

    @property
    def lines(self) -> list[str]:
        """The complete lines received so far, decoded, without line ends."""
        parts = self.text.split("\n")[:-1]
        return [part[:-1] if part.endswith("\r") else part for part in parts]

    # --- what the client does ------------------------------------------------

    def send(self, *parts: bytes | str, chunks: Chunking = None) -> "MemoryClient":
        """Send bytes to the server, cut into chunks as *chunks* says.

        Several *parts* are merged into one stream before cutting, as TCP
        merges sends that follow each other quickly.  ``str`` is encoded as
        UTF-8, as a terminal would.  Returns the client, for chaining."""
        data = b"".join(p.encode("utf-8") if isinstance(p, str) else bytes(p) for p in parts)
        self.room._send(self, cut(data, chunks))
        return self

    def close(self) -> None:
        """Close from the client's side (like Ctrl-D in ``nc``): the server's
        protocol gets ``connectionLost`` with ``ConnectionDone``."""
        self.room._client_close(self, abort=False)

    def abort(self) -> None:
        """Reset from the client's side (a crash, a pulled cable): the
        server's protocol gets ``connectionLost`` with ``ConnectionLost``."""
        self.room._client_close(self, abort=True)

    def __repr__(self) -> str:
        state = "refused" if self.refused else ("connected" if self.connected else "closed")
        return f"<{self.name} {state}, {len(self.received)} bytes received>"


class MemoryRoom:
    """A pretend listening port for *factory*, with in-memory clients.

    ``room.connect()`` adds a client; ``room.clients`` lists the connected
    ones; ``room.trace`` is the record of everything.  The factory's
    ``doStart`` runs when the room opens and ``doStop`` when it is closed,
    as a listening port does, so ``startFactory``/``stopFactory`` run.
    ``room.clock`` is a ``twisted.internet.task.Clock`` for protocols that
    need time (pass your own with ``clock=``, the one you gave the factory);
    move it with `advance`, which also delivers what became due.

    Exceptions raised by protocol code close that connection as Twisted
    does, and are then raised again to the caller (set
    ``raise_errors=False`` to only record them), so a learner sees the
    traceback in the cell that caused it.
    """

    def __init__(self, factory, *, trace: T.Trace | None = None, raise_errors: bool = True,
                 clock: Clock | None = None) -> None:
        self.factory = factory
        self.trace = trace if trace is not None else T.Trace()
        self.clock = clock if clock is not None else Clock()
        self.raise_errors = raise_errors
        self.all_clients: list[MemoryClient] = []
        self.errors: list[Failure] = []
        self._numbers = itertools.count(1)
        self._pending: collections.deque[Callable[[], None]] = collections.deque()
        self._running = False
        self.listening = True
        factory.doStart()

    # --- public interface (shared with the live room) -------------------------

    @property
    def clients(self) -> list[MemoryClient]:
        """The clients connected now."""
        return [c for c in self.all_clients if c.connected]

    def client(self, name: str) -> MemoryClient:
        """The client called *name* (``"client 2"``)."""
        for c in self.all_clients:
            if c.name == name:
                return c
        raise KeyError(f"no client called {name!r} in this room")

    def connect(self, name: str | None = None) -> MemoryClient:
        """Connect a new client; returns it (check ``.refused``)."""
        if not self.listening:
            raise RuntimeError("this room is closed; make a new one")
        number = next(self._numbers)
        client = MemoryClient(self, name or f"client {number}", IPv4Address("TCP", "127.0.0.1", 50000 + number))
        self.all_clients.append(client)
        self.trace.record(T.CONNECT, client.name, detail=f"from {client.peer.host}:{client.peer.port}")
        protocol = self._guarded(client, lambda: self.factory.buildProtocol(client.peer))
        if protocol is None:
            client.refused = True
            self.trace.record(T.REFUSED, client.name, detail="buildProtocol returned None")
            self._run()
            return client
        client.protocol = protocol
        client.transport = RoomTransport(self, client)
        client.connected = True
        self.trace.record(T.MADE, client.name)
        self._guarded(client, lambda: protocol.makeConnection(client.transport))
        self._run()
        return client

    def advance(self, seconds: float) -> None:
        """Move the room's clock forward by *seconds*, as real time passes:
        every timed call that falls due in that interval fires at its time,
        in order, including calls scheduled by earlier ones along the way
        (``Clock.advance`` alone jumps to the end and fires only those that
        were already scheduled)."""
        clock = self.clock
        target = clock.seconds() + seconds
        for _ in range(1_000_000):
            due = [call.getTime() for call in clock.getDelayedCalls()]
            if not due or min(due) > target:
                break
            clock.advance(max(0.0, min(due) - clock.seconds()))
            self._run()
        else:
            raise RuntimeError("timed calls keep scheduling more calls without time passing")
        clock.advance(max(0.0, target - clock.seconds()))
        self._run()

    def settle(self, timeout: float | None = None) -> "MemoryRoom":
        """Nothing to wait for in memory; here for the live room's interface."""
        self._run()
        return self

    def close(self) -> None:
        """Disconnect every client (as if each closed) and stop listening."""
        for client in self.clients:
            client.close()
        if self.listening:
            self.listening = False
            self.factory.doStop()

    stop = close

    def __enter__(self) -> "MemoryRoom":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<MemoryRoom {type(self.factory).__name__}: {len(self.clients)} connected, {len(self.trace)} events>"

    # --- the machinery ---------------------------------------------------------

    def _later(self, action: Callable[[], None]) -> None:
        """Run *action* after the current callback returns (a reactor turn)."""
        self._pending.append(action)

    def _run(self) -> None:
        if self._running:
            return
        self._running = True
        try:
            while self._pending:
                self._pending.popleft()()
        finally:
            self._running = False
        if self.errors and self.raise_errors:
            failure, self.errors = self.errors[0], []
            failure.raiseException()

    def _guarded(self, client: MemoryClient, call: Callable[..., object], *args):
        """Call protocol code, ``call(*args)``; an exception drops the
        connection, as the reactor does, and is kept to be raised again by
        `_run`."""
        try:
            return call(*args)
        except Exception:
            failure = Failure()
            self.errors.append(failure)
            if client.connected:
                self.trace.record(T.ABORT, client.name, detail=f"by the room: {failure.type.__name__} in protocol code")
                self._later(lambda: self._lost(client, failure))
            return None

    def _send(self, client: MemoryClient, pieces: list[bytes]) -> None:
        if client.refused or not client.connected:
            raise RuntimeError(f"{client.name} is not connected")
        client._held.extend(pieces)
        self._deliver_held(client)
        self._run()

    def _deliver_held(self, client: MemoryClient) -> None:
        transport = client.transport
        while client._held and client.connected:
            if transport.disconnecting or transport.producerState != "producing":
                return  # not reading: after loseConnection, or paused
            chunk = client._held.popleft()
            self.trace.add(T.RECEIVED, client.name, chunk)
            self._guarded(client, client.protocol.dataReceived, chunk)

    def _client_close(self, client: MemoryClient, abort: bool) -> None:
        if not client.connected:
            return
        kind = T.ABORT if abort else T.LOSE
        self.trace.record(kind, client.name, detail="by the client")
        client._held.clear()
        reason = ConnectionLost("the connection was reset by the peer") if abort else ConnectionDone()
        self._lost(client, reason)
        self._run()

    def _abort_pending(self, client: MemoryClient) -> None:
        # an abort after loseConnection: the pending clean close becomes a reset
        client._abort_requested = True

    def _lost(self, client: MemoryClient, reason) -> None:
        if not client.connected:
            return
        if client._abort_requested and not isinstance(reason, Failure):
            reason = ConnectionAborted()
        failure = reason if isinstance(reason, Failure) else Failure(reason)
        client.connected = False
        transport = client.transport
        transport.connected = False
        transport.disconnecting = True
        self.trace.record(T.LOST, client.name, detail=f"{failure.type.__name__}: {failure.getErrorMessage()}")
        if transport.producer is not None:
            producer = transport.producer
            self._guarded(client, producer.stopProducing)
        self._guarded(client, lambda: client.protocol.connectionLost(failure))
