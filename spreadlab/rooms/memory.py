"""In-memory rooms: real protocols, real factories, no network.

A `MemoryRoom` plays the part of a listening TCP port.  It takes any
factory, builds one real protocol per client through ``buildProtocol``, and
connects each to a `RoomTransport` (a ``twisted.internet.testing.
StringTransport`` that tells the room what happens to it).  Bytes a protocol
writes reach that client's inbox when the callback that wrote them returns;
bytes a client sends are handed to the protocol's ``dataReceived`` cut into
chunks the way you choose, because TCP is a stream and a protocol must cope
with any cut.

It is the memory backend of `spreadlab.rooms.core`, and does what that module
states Twisted over TCP does: the same observations as a `LiveRoom` on
loopback (what each client receives and how its connection ends, which
protocol methods run with what, the ``connectionLost`` reasons), which
``tests/test_differential.py`` checks scenario by scenario.  It does not
model timing, packet loss, the kernel's socket buffers or a pulled cable.

Everything is recorded in one `Trace`.  Nothing here is random and nothing
uses the reactor: the same scenario always gives the same trace.  Use a room
from one thread at a time (the notebook's).
"""

from __future__ import annotations

import collections
import itertools
from typing import Callable

from twisted.internet.abstract import _dataMustBeBytes
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from ..i18n import _
from . import trace as T
from .core import (BY_CLIENT, BY_SERVER, CLOSED_BY_ITSELF, EOF_FROM_SERVER, FROM_CLIENT, READ_SIZE, SEND_BUFFER,
                   STILL_OPEN, Chunking, ClientCore, RoomCore, connect_detail, cut, describe,
                   ending_seen_by_client, error_detail, no_protocol_detail, reason)

__all__ = ["MemoryRoom", "MemoryClient", "RoomTransport", "cut", "Chunking", "HOST"]

#: Where the room pretends to listen (the seed's port).
HOST = IPv4Address("TCP", "127.0.0.1", 8007)


class _Turns:
    """The reactor turns taken by all memory rooms (a protocol of one room
    may write to a transport of another, as the seed's global list does):
    what was written in the current turn is still in Twisted's buffer."""

    now = 0


_TURNS = _Turns()


class RoomTransport(StringTransport):
    """The server side of one in-memory connection.

    A StringTransport (so ``value()``, ``clear()`` and the other test helpers
    work) that behaves as ``tcp.Connection`` does: what is written in one
    callback leaves when the callback returns (a reactor turn), so
    ``abortConnection`` or an exception in ``dataReceived`` discards it;
    ``loseConnection`` sends it and then closes; and the room finishes every
    close with ``connectionLost``.
    """

    def __init__(self, room: "MemoryRoom", client: "MemoryClient") -> None:
        self._room = room
        self._client = client
        self._trace = room.trace
        # Where writes go: the client's inbox; None once they are not sent
        # (aborting, lost, the client gone) or wait (the client not reading).
        self._sink: list[bytes] | None = client._inbox
        self._turn = -1  # the turn of the last write, and where its writes start in the sink:
        self._unsent_from = 0  # what was written since is still in Twisted's buffer
        self._dropped: list[bytes] = []  # written but never sent
        self._aborting = False
        self._cleared = 0
        self.lost = False  # connectionLost was called
        self.disconnected = False
        # lenient: pausing or resuming after loseConnection is allowed, as on TCP
        super().__init__(hostAddress=HOST, peerAddress=client.peer, lenient=True)

    def write(self, data: bytes) -> None:
        if type(data) is not bytes:
            _dataMustBeBytes(data)  # refuses str with TypeError, as TCP does
            data = bytes(data)  # a subclass of bytes: keep plain bytes
        if not data:
            return
        if self.lost:  # after connectionLost: dropped silently
            self._dropped.append(data)
            return
        self._trace.add(T.WRITE, self._client.name, data)
        sink = self._sink
        if sink is None:
            self._write_elsewhere(data)
            return
        if self._turn != _TURNS.now:
            self._turn = _TURNS.now
            self._unsent_from = len(sink)
        sink.append(data)

    def writeSequence(self, data) -> None:
        self.write(b"".join(data))

    def _write_elsewhere(self, data: bytes) -> None:
        client = self._client
        if self._aborting or client._ending != STILL_OPEN:
            self._dropped.append(data)
            return
        # the client does not read: it waits, and a streaming producer is paused
        client._unread.append(data)
        client._unread_size += len(data)
        if (self.producer is not None and self.streaming and not self._producer_paused
                and client._unread_size > SEND_BUFFER):
            self._producer_paused = True
            self.producer.pauseProducing()

    _producer_paused = False

    def _discard_unsent(self) -> None:
        """Twisted's buffer is thrown away: what this turn wrote never leaves."""
        sink = self._sink
        if sink is not None and self._turn == _TURNS.now and self._room._in_turn():
            self._dropped.extend(sink[self._unsent_from:])
            del sink[self._unsent_from:]
        self._sink = None

    def value(self) -> bytes:
        """Everything written since the last `clear` (StringTransport's test
        helper), what was never sent included."""
        client = self._client
        everything = b"".join([*client._inbox, *client._unread, *self._dropped])
        return everything[self._cleared:]

    def clear(self) -> None:
        """Forget what `value` returns so far (the client keeps what it received)."""
        self._cleared += len(self.value())

    def unregisterProducer(self) -> None:
        """As on TCP, allowed when none is registered (after connectionLost)."""
        self.producer = self.streaming = None

    def loseConnection(self) -> None:
        if self.lost or self.disconnecting:
            return
        self._trace.record(T.LOSE, self._client.name, detail=_(BY_SERVER))
        self.disconnecting = True  # stops reading; writes still go out
        self._room._later(self._close_in_order)

    def _close_in_order(self) -> None:
        if not (self._aborting or self.lost):
            self._room._lost(self._client, reason("clean"))

    def abortConnection(self) -> None:
        if self.lost or self._aborting:
            return
        self._trace.record(T.ABORT, self._client.name, detail=_(BY_SERVER))
        self._aborting = self.disconnecting = True
        self._discard_unsent()
        self._room._later(lambda: self._room._lost(self._client, reason("aborted")))

    def stopProducing(self) -> None:
        """As on TCP, the same as `loseConnection`."""
        self.loseConnection()

    def resumeProducing(self) -> None:
        super().resumeProducing()
        self._room._later(lambda: self._room._deliver_held(self._client))

    @property
    def reading(self) -> bool:
        """Does the transport read what the client sends?  Not after a
        close was asked for, nor while paused."""
        return not self.disconnecting and not self.lost and self.producerState == "producing"


class MemoryClient(ClientCore):
    """One client of a `MemoryRoom`, seen from the client's side.

    ``received`` is every byte that arrived from the server; ``lines`` the
    complete lines in it, decoded; ``ending`` how the connection ended;
    ``protocol`` and ``transport`` the server's side of the connection
    (``None`` if the factory built no protocol: ``refused``).
    """

    def __init__(self, room: "MemoryRoom", name: str, peer: IPv4Address) -> None:
        super().__init__(room, name, peer)
        self.transport: RoomTransport | None = None
        self.made = True  # the room listens: the kernel accepts every connect
        self._held = bytearray()  # sent, not read by the server yet
        self._eof_held = False  # closed cleanly after what is held
        self._reading = True
        self._unread: list[bytes] = []  # arrived while this client was not reading
        self._unread_size = 0

    @property
    def connected(self) -> bool:
        """True from connectionMade until either side closes."""
        transport = self.transport
        return transport is not None and not transport.lost and self._ending == STILL_OPEN

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
        """Close from the client's side (like Ctrl-D in ``nc``): the server
        reads end-of-file and its protocol gets ``connectionLost`` with
        ``ConnectionDone``."""
        self.room._client_close(self, abort=False)

    def abort(self) -> None:
        """Reset from the client's side (a crash: a TCP RST): the server's
        protocol gets ``connectionLost`` with ``ConnectionLost``."""
        self.room._client_close(self, abort=True)

    def stop_reading(self) -> None:
        """Stop reading what the server sends (a client that hangs): it
        waits, and past 64 KiB the server's streaming producer is paused."""
        self._reading = False
        if self.connected:
            self.transport._sink = None

    def resume_reading(self) -> None:
        """Read again: what waited arrives."""
        self._reading = True
        self._inbox.extend(self._unread)
        self._unread, self._unread_size = [], 0
        transport = self.transport
        if self.connected and not transport._aborting:
            transport._sink = self._inbox
            if transport._producer_paused:
                transport._producer_paused = False
                self.room._guarded(self, "resumeProducing", transport.producer.resumeProducing)
        self.room._run()


class MemoryRoom(RoomCore):
    """A pretend listening port for *factory*, with in-memory clients.

    ``room.connect()`` adds a client; ``room.clients`` lists the connected
    ones; ``room.trace`` is the record of everything.  The factory's
    ``doStart`` runs when the room opens and ``doStop`` when it is closed,
    as a listening port does, so ``startFactory``/``stopFactory`` run.
    ``room.clock`` is a ``twisted.internet.task.Clock`` for protocols that
    need time (pass your own with ``clock=``, the one you gave the factory);
    move it with `advance`, which also delivers what became due.

    An exception raised by the factory's or a protocol's code has the
    effect it has in Twisted (`spreadlab.rooms.core`), is kept in
    ``errors`` and recorded in the trace, and is then raised to the caller
    (several at once together, as a `ProtocolErrors`; set
    ``raise_errors=False`` to only keep them), so a learner sees every
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
        self._raised = 0
        self._numbers = itertools.count(1)
        self._pending: collections.deque[Callable[[], None]] = collections.deque()
        self._running = False
        self._depth = 0  # how deep in calls to the factory's or a protocol's code
        self.listening = True
        factory.doStart()

    def connect(self, name: str | None = None) -> MemoryClient:
        """Connect a new client; returns it.  If the factory builds no
        protocol (``buildProtocol`` returns ``None`` or raises), the
        connection is closed at once: the client reads end-of-file
        (``.refused`` is set, ``.ending`` says so)."""
        if not self.listening:
            raise RuntimeError(_("this room is closed; make a new one"))
        number = next(self._numbers)
        client = MemoryClient(self, name or f"client {number}", IPv4Address("TCP", "127.0.0.1", 50000 + number))
        self.all_clients.append(client)
        self.trace.record(T.CONNECT, client.name, detail=connect_detail(client.peer.host, client.peer.port))
        errors = len(self.errors)
        protocol = self._guarded(client, "buildProtocol", self.factory.buildProtocol, client.peer)
        if protocol is None:
            client.refused = True
            client._ending = EOF_FROM_SERVER
            self.trace.record(T.NO_PROTOCOL, client.name, detail=no_protocol_detail(len(self.errors) > errors))
        else:
            client.protocol = protocol
            client.transport = RoomTransport(self, client)
            self.trace.record(T.MADE, client.name)
            self._guarded(client, "connectionMade", protocol.makeConnection, client.transport)
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
        for _step in range(1_000_000):
            due = [call.getTime() for call in clock.getDelayedCalls()]
            if not due or min(due) > target:
                break
            self._fire(min(due) - clock.seconds())
        else:
            raise RuntimeError(_("timed calls keep scheduling more calls without time passing"))
        self._fire(target - clock.seconds())
        self._run()

    def _fire(self, seconds: float) -> None:
        """Move the clock, firing what falls due, then take a reactor turn.
        An exception in a timed call is kept (the reactor logs it and goes
        on with the next call) and raised with the others by `_run`."""
        try:
            self.clock.advance(max(0.0, seconds))
        except Exception:
            self.errors.append(Failure())
        self._turn()

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

    def __repr__(self) -> str:
        return f"<MemoryRoom {type(self.factory).__name__}: {len(self.clients)} connected, {len(self.trace)} events>"

    # --- the machinery: a reactor, in order, with no time --------------------------

    def _later(self, action: Callable[[], None]) -> None:
        """Run *action* on the next reactor turn (after the current callback);
        asked from outside any callback the room made (a timer on the
        factory's own clock, a notebook cell), that turn is now."""
        self._pending.append(action)
        if not self._in_turn():
            self._run()

    def _in_turn(self) -> bool:
        """Is the room inside a callback it made, or running its scheduled actions?"""
        return self._running or self._depth > 0

    def _turn(self) -> None:
        """A reactor turn between two callbacks: what they wrote has left
        (a new turn begins), then what was scheduled runs (a close, an
        abort's connectionLost), each in a turn of its own."""
        _TURNS.now += 1
        if self._running:  # inside a scheduled action: the outer turn goes on
            return
        self._running = True
        try:
            while self._pending:
                self._pending.popleft()()
                _TURNS.now += 1
        finally:
            self._running = False

    def _run(self) -> None:
        """Take the turn, then raise the errors it brought (with raise_errors)."""
        self._turn()
        self._raise_new_errors()

    def _guarded(self, client: MemoryClient, where: str, call: Callable[..., object], *args):
        """Call the factory's or a protocol's code, ``call(*args)``: an
        exception is kept and recorded and has the effect it has in Twisted
        (in dataReceived: the connection is lost at once, with the exception
        as the reason; elsewhere it is only logged)."""
        if not self._depth:
            _TURNS.now += 1  # a callback of its own: what it writes is buffered until it returns
        self._depth += 1
        try:
            return call(*args)
        except Exception:
            failure = Failure()
            self.errors.append(failure)
            self.trace.record(T.ERROR, client.name, detail=error_detail(where, failure))
            if where == "dataReceived":
                self._lost(client, failure)
            return None
        finally:
            self._depth -= 1

    def _send(self, client: MemoryClient, pieces: list[bytes]) -> None:
        if not client.connected:
            raise RuntimeError(_("{name} is not connected ({ending})").format(name=client.name, ending=_(client.ending)))
        transport, held = client.transport, client._held
        for piece in pieces:
            if held or not transport.reading:
                held += piece
                self._deliver_held(client)
            else:  # nothing waits: this piece is one read
                self._read(client, piece)
        self._run()

    def _read(self, client: MemoryClient, chunk: bytes) -> None:
        """One read: *chunk* to dataReceived, then a reactor turn."""
        self.trace.add(T.RECEIVED, client.name, chunk)
        self._guarded(client, "dataReceived", client.protocol.dataReceived, chunk)
        _TURNS.now += 1
        if self._pending and not self._running:
            self._turn()

    def _deliver_held(self, client: MemoryClient) -> None:
        """The transport reads what waits for it, at most `READ_SIZE` bytes a
        read, while it reads; then the client's end-of-file, if it closed."""
        transport = client.transport
        held = client._held
        while held and transport.reading:
            chunk = bytes(held[:READ_SIZE])
            del held[:READ_SIZE]
            self._read(client, chunk)
        if client._eof_held and not held and transport.reading:
            self.trace.record(T.EOF, client.name, detail=_(FROM_CLIENT))
            self._lost(client, reason("clean"))

    def _client_close(self, client: MemoryClient, abort: bool) -> None:
        if not client.connected:
            return
        client._ending = CLOSED_BY_ITSELF
        client.transport._sink = None  # what the server writes now is not received
        if abort:
            client._held.clear()
            self.trace.record(T.RESET, client.name, detail=_(BY_CLIENT))
            self._lost(client, reason("reset"))
        else:
            client._eof_held = True  # read after what the server has not read yet
            self._deliver_held(client)
        self._run()

    def _lost(self, client: MemoryClient, why: Failure) -> None:
        """The connection is gone: tcp.Connection.connectionLost."""
        transport = client.transport
        if transport.lost:
            return
        transport.lost = transport.disconnecting = transport.disconnected = True
        transport.connected = False
        transport._discard_unsent()  # (a clean close sent it in an earlier turn)
        if client._ending == STILL_OPEN:
            client._ending = ending_seen_by_client(why)
        self.trace.record(T.LOST, client.name, detail=describe(why))
        producer, transport.producer = transport.producer, None
        if producer is not None:
            self._guarded(client, "stopProducing", producer.stopProducing)
        self._guarded(client, "connectionLost", client.protocol.connectionLost, why)
