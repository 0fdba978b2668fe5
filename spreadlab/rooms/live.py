"""Live rooms: a real factory listening on real TCP, with real clients.

A `LiveRoom` has the interface of a `spreadlab.rooms.memory.MemoryRoom`, over the
network: the factory listens on an endpoint string (``serverFromString``; by
default ``tcp:0:interface=127.0.0.1``, a port the system chooses, on loopback
only), ``room.connect()`` opens a real TCP connection made by Twisted in the
reactor thread (`spreadlab.rooms.background`), and everything the server's side
does is recorded in the same kind of `spreadlab.rooms.trace.Trace`, including the
connections of terminal clients (``nc``) from outside.

The server's protocols are wrapped (as ``twisted.protocols.policies.
WrappingFactory`` does) to record what happens to them, to send their prints
and errors to the notebook cell that made the room, and to tell the room when
the network has delivered what they wrote.  Each operation (``connect``,
``send``, ``close``) returns when the room is quiet again: every byte the
server wrote to this room's own clients has arrived, and every connection
that is closing has closed on both sides.  So a lesson reads the same with
either kind of room.

Running a notebook cell again stops the rooms its earlier run made (by the
cell id JupyterLab sends), and a room on a fixed port replaces the room this
process had on that port: no "address already in use".  A port held by
another program is reported with what to do.

Use a room from the notebook's thread (any thread but the reactor's).
"""

from __future__ import annotations

import concurrent.futures
import itertools
import socket
import struct
import sys
import threading
import time
from typing import Callable

from twisted.internet.abstract import _dataMustBeBytes
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, serverFromString
from twisted.internet.error import CannotListenError, ConnectBindError, ConnectionDone, ConnectionLost
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure
from zope.interface import directlyProvides, providedBy

from ..i18n import _
from . import trace as T
from .background import (CellOutput, _refuse_in_reactor, because_busy, blocking_call, reactor_busy_in,
                         start_reactor, submit)
from .core import (BY_CLIENT, BY_SERVER, CLOSED_BY_ITSELF, EOF_FROM_SERVER, FROM_CLIENT, RESET, STILL_OPEN,
                   Chunking, ClientCore, RoomCore, connect_detail, cut, describe, ending_seen_by_client,
                   error_detail, no_protocol_detail)

__all__ = ["LiveRoom", "LiveClient", "PortInUse", "DEFAULT_ENDPOINT"]

#: Loopback only, on a port the system chooses.
DEFAULT_ENDPOINT = "tcp:0:interface=127.0.0.1"

_rooms_lock = threading.Lock()
_rooms: dict[int, "LiveRoom"] = {}  # the rooms of this process, by port
_cells: dict[str, tuple[str, list["LiveRoom"]]] = {}  # cell id -> (its last run, the rooms it made)


class PortInUse(OSError):
    """The port a room should listen on is held by something else."""


# --- the server's side: wrappers that record --------------------------------------


class _ServerSide(ProtocolWrapper):
    """The server's side of one connection, between the transport and the
    room's real protocol: records every call in the trace and counts bytes.
    Reactor thread."""

    def __init__(self, factory: "_RecordingFactory", wrapped, client: "LiveClient") -> None:
        super().__init__(factory, wrapped)
        self.room = factory.room
        self.client = client
        self.received = 0  # bytes handed to dataReceived (and handled)
        self.written = 0  # bytes written while connected
        self.reading = True
        self.lost = False
        self._aborting = False
        self.whenLost: Deferred = Deferred()

    def makeConnection(self, transport) -> None:
        directlyProvides(self, providedBy(transport))
        Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)
        self.room.trace.record(T.MADE, self.client.name)
        self.room._call(self.client, "connectionMade", lambda: self.wrappedProtocol.makeConnection(self))

    # as the protocol's transport

    def write(self, data: bytes) -> None:
        _dataMustBeBytes(data)  # Twisted's own check and message, as without the wrapper
        if data and self.connected and self.transport.connected:
            self.room.trace.record(T.WRITE, self.client.name, data)
            self.written += len(data)
            if self.client.external:
                self.client._inbox.append(data)
        self.transport.write(data)

    def writeSequence(self, data) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        if self.connected and not self.disconnecting:
            self.room.trace.record(T.LOSE, self.client.name, detail=_(BY_SERVER))
        self.disconnecting = 1
        self.transport.loseConnection()
        self.room._changed()

    def abortConnection(self) -> None:
        if self.connected and not self._aborting:
            self.room.trace.record(T.ABORT, self.client.name, detail=_(BY_SERVER))
        self._aborting = True
        self.disconnecting = 1
        self.transport.abortConnection()
        self.room._changed()

    def pauseProducing(self) -> None:
        self.reading = False
        self.transport.pauseProducing()
        self.room._changed()

    def resumeProducing(self) -> None:
        self.reading = True
        self.transport.resumeProducing()

    def stopProducing(self) -> None:
        """On TCP the same as loseConnection (abstract.FileDescriptor)."""
        self.reading = False
        self.loseConnection()

    # as the transport's protocol

    def dataReceived(self, data: bytes) -> None:
        self.room.trace.record(T.RECEIVED, self.client.name, data)
        try:
            self.room._call(self.client, "dataReceived", lambda: self.wrappedProtocol.dataReceived(data))
        finally:
            self.received += len(data)  # after: what it wrote in answer is counted
            self.room._changed()

    def connectionLost(self, reason) -> None:
        by_client = not self.disconnecting  # the server did not close it: it came from the client
        if by_client:
            if reason.check(ConnectionDone):
                self.room.trace.record(T.EOF, self.client.name, detail=_(FROM_CLIENT))
            elif reason.check(ConnectionLost):
                self.room.trace.record(T.RESET, self.client.name, detail=_(BY_CLIENT))
        if self.client.external:  # no end of ours to ask: what the server's side saw
            self.client._ending = CLOSED_BY_ITSELF if by_client else ending_seen_by_client(reason)
        self.connected = 0
        self.disconnecting = 1
        self.lost = True
        self.room.trace.record(T.LOST, self.client.name, detail=describe(reason))
        self.factory.unregisterProtocol(self)
        try:
            wrapped = self.wrappedProtocol
            self.room._call(self.client, "connectionLost", lambda: wrapped.connectionLost(reason))
        finally:
            self.room._changed()
            self.whenLost.callback(None)


class _RecordingFactory(WrappingFactory):
    """Wraps the room's factory: names each connection, records it, and
    wraps its protocol in a `_ServerSide`.  Reactor thread."""

    protocol = _ServerSide
    noisy = False

    def __init__(self, room: "LiveRoom") -> None:
        super().__init__(room.factory)
        self.room = room

    def buildProtocol(self, addr):
        room = self.room
        client = room._accepted(addr)
        room.trace.record(T.CONNECT, client.name, detail=connect_detail(addr.host, addr.port))
        errors = len(room.errors)
        wrapped = room._call(client, "buildProtocol", lambda: self.wrappedFactory.buildProtocol(addr))
        if wrapped is None:
            # Port.doRead closes the accepted socket: the client reads end-of-file.
            # (Had the exception gone on to Port.doRead, the socket would stay open
            # for as long as the kept Failure's frames hold it: a hang and a leak.)
            why = "buildProtocol raised" if len(room.errors) > errors else "buildProtocol returned None"
            room.trace.record(T.NO_PROTOCOL, client.name, detail=no_protocol_detail(len(room.errors) > errors))
            client._refuse(why)
            return None
        server = self.protocol(self, wrapped, client)
        client._link(server)
        return server


# --- the clients' side ---------------------------------------------------------------


class _ClientEnd(Protocol):
    """Our end of a client's connection: keeps what arrives.  Reactor thread."""

    def __init__(self, client: "LiveClient") -> None:
        self.client = client

    def connectionMade(self) -> None:
        self.transport.setTcpNoDelay(True)  # each chunk leaves at once

    def dataReceived(self, data: bytes) -> None:
        self.client._inbox.append(data)
        self.client._arrived += len(data)
        self.client.room._changed()

    def connectionLost(self, reason) -> None:
        client = self.client
        if client._closing:
            client._ending = CLOSED_BY_ITSELF
        else:
            client._ending = EOF_FROM_SERVER if reason.check(ConnectionDone) else RESET
        client._end_lost = True
        client.room._changed()
        self.client._whenEndLost.callback(None)


class LiveClient(ClientCore):
    """One client of a `LiveRoom`.

    A client made by ``room.connect()`` is a real TCP connection whose
    ``received`` bytes are what arrived over the network.  A client
    connected from outside (``nc``, ``telnet``) has ``external`` set; it
    cannot `send` from here, and its ``received`` is what the server wrote
    to it.  ``protocol`` is the server's protocol for this connection (as
    in a memory room); ``transport`` what that protocol writes to.
    Read it from any thread; call its methods from the notebook's thread.
    """

    def __init__(self, room: "LiveRoom", name: str, peer, external: bool) -> None:
        super().__init__(room, name, peer)
        self.transport: _ServerSide | None = None
        self.external = external
        self.refusal = ""
        self.made = external  # our connect succeeded (set when it does)
        self._arrived = 0
        self._sent = 0
        self._end: _ClientEnd | None = None
        self._end_lost = external
        self._closing = False  # our end was asked to close
        self._reading = True  # our end reads what arrives (stop_reading)
        self._whenEndLost: Deferred = Deferred()
        self._decided = threading.Event()  # linked to its server side, or refused

    # reactor thread

    def _link(self, server: _ServerSide) -> None:
        self.transport = server
        self.protocol = server.wrappedProtocol
        self._decided.set()
        self.room._changed()

    def _refuse(self, why: str) -> None:
        self.refused = True
        self.refusal = why
        self._decided.set()
        self.room._changed()

    # --- what the client sees ----------------------------------------------

    @property
    def connected(self) -> bool:
        """True from the server's ``connectionMade`` until either side
        sees the connection lost.  Any thread."""
        server = self.transport
        return server is not None and not server.lost and (self.external or not self._end_lost)

    def wait_for_lines(self, n: int, timeout: float | None = None) -> list[str]:
        """Wait until at least *n* complete lines have arrived; return the
        lines.  ``TimeoutError`` (saying what did arrive) after *timeout*
        seconds (the room's ``timeout`` by default).  Notebook's thread."""
        self.room._wait(lambda: len(self.lines) >= n, timeout,
                        lambda: f"{self.name} has {len(self.lines)} lines, not {n}: {self.lines!r}")
        return self.lines

    # --- what the client does ------------------------------------------------

    def send(self, *parts: bytes | str, chunks: Chunking = None, timeout: float | None = None) -> "LiveClient":
        """Send bytes to the server, cut into chunks as *chunks* says (see
        `spreadlab.rooms.memory.cut`), then wait until the room is quiet.

        Each chunk is written once the server has read the one before, so
        that its ``dataReceived`` sees the cut you chose as far as TCP
        allows.  ``str`` is encoded as UTF-8.  Returns the client, for
        chaining.  Notebook's thread."""
        if self.external:
            raise RuntimeError(_("{name} is connected from outside; it sends from its own terminal").format(
                name=self.name))
        if self.refused or not self.connected:
            raise RuntimeError(_("{name} is not connected").format(name=self.name))
        data = b"".join(p.encode("utf-8") if isinstance(p, str) else bytes(p) for p in parts)
        server = self.transport
        for chunk in cut(data, chunks):
            if not self.connected:
                break
            blocking_call(self._end.transport.write, chunk, timeout=timeout or self.room.timeout)
            self._sent += len(chunk)
            target = self._sent
            self.room._wait(
                lambda: (server.received >= target or not server.reading
                         or server.disconnecting or not self.connected),
                timeout, lambda: _("the server did not read what {name} sent").format(name=self.name),
            )
        self.room.settle(timeout)
        return self

    def close(self, timeout: float | None = None) -> None:
        """Close from the client's side (like quitting ``nc``) and wait
        until both sides have closed: the server's protocol gets
        ``connectionLost`` with ``ConnectionDone``.  A client from outside
        is closed by the server instead.  Notebook's thread."""
        self._close(abort=False, timeout=timeout)

    def abort(self, timeout: float | None = None) -> None:
        """Reset the connection from the client's side (as a crashed
        program's kernel does: a TCP RST): the server's protocol gets
        ``connectionLost`` with ``ConnectionLost``.  A client from outside is aborted by the
        server instead.  Notebook's thread."""
        self._close(abort=True, timeout=timeout)

    def stop_reading(self, timeout: float | None = None) -> None:
        """Stop reading what the server sends (a client that hangs): it
        waits in TCP's buffers, then in Twisted's.  Notebook's thread."""
        if self._end is not None and self._reading:
            self._reading = False
            blocking_call(self._end.transport.pauseProducing, timeout=timeout or self.room.timeout)

    def resume_reading(self, timeout: float | None = None) -> None:
        """Read again: what waited arrives, then the room settles.
        Notebook's thread."""
        if self._end is not None and not self._reading:
            self._reading = True
            blocking_call(self._end.transport.resumeProducing, timeout=timeout or self.room.timeout)
        self.room.settle(timeout)

    def _close(self, abort: bool, timeout: float | None) -> None:
        if not self.connected:
            return
        blocking_call(self._close_in_reactor, abort, timeout=timeout or self.room.timeout)
        self.room.settle(timeout)

    def _close_in_reactor(self, abort: bool) -> None:
        server = self.transport
        if self.external:
            server.abortConnection() if abort else server.loseConnection()
            return
        if self._end_lost or server.lost:
            return
        self._closing = True
        transport = self._end.transport
        if abort:
            # Linger 0: close() sends a reset instead of a clean FIN.
            handle = transport.getHandle()
            try:
                handle.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:  # Windows' struct linger is two shorts
                handle.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("HH", 1, 0))
            transport.abortConnection()
        else:
            transport.loseConnection()

    def __repr__(self) -> str:
        where = " from outside" if self.external else ""
        return f"<{self.name}{where} {self._state()}, {len(self.received)} bytes received>"


# --- the room -------------------------------------------------------------------------


class LiveRoom(RoomCore):
    """*factory* listening on *endpoint* (loopback, a free port, by default),
    with real TCP clients.

    Same interface as `spreadlab.rooms.memory.MemoryRoom`: ``connect()``,
    ``clients``, ``client(name)``, ``trace``, ``errors``, ``settle()``,
    ``close()``/``stop()``, a context manager; plus ``port``, ``host``,
    ``address`` and ``connect_command`` (what a terminal user types).
    ``timeout`` is how long an operation waits for the network before
    raising ``TimeoutError``.

    An exception in the factory's or a protocol's code is shown under the
    cell that made the room, with its traceback, and kept in ``errors``;
    Twisted then drops that connection and keeps serving.  With
    ``raise_errors=True`` it is also raised by the next operation, as a
    memory room does.  Prints from the protocols appear under that cell too.

    Make it, use it and stop it from the notebook's thread (any thread but
    the reactor's); its attributes can be read from any thread.
    """

    def __init__(self, factory, endpoint: str = DEFAULT_ENDPOINT, *, trace: T.Trace | None = None,
                 raise_errors: bool = False, timeout: float = 5.0) -> None:
        _refuse_in_reactor("LiveRoom")
        self.factory = factory
        self.endpoint = endpoint
        self.trace = trace if trace is not None else T.Trace()
        self.raise_errors = raise_errors
        self.timeout = timeout
        self.all_clients: list[LiveClient] = []
        self.errors: list[Failure] = []
        self.listening = False
        self._raised = 0
        self._numbers = itertools.count(1)
        self._expected: dict[tuple[str, int], tuple[LiveClient, str | None]] = {}
        self._condition = threading.Condition()
        self._output = CellOutput.here(keep=self.errors.append)  # and timers' errors
        self._port = None
        self.reactor = start_reactor(claim_output=False)
        self.clock = self.reactor
        self._stop_earlier_runs()
        self._listen()

    # --- listening ---------------------------------------------------------------

    def _stop_earlier_runs(self) -> None:
        """Stop the rooms that an earlier run of this notebook cell made: the
        cell was run again, and its variables now name the new ones."""
        cell, run = self._output.cell_id, self._output.run_id
        if not cell or not run:
            return
        with _rooms_lock:
            last_run, rooms = _cells.get(cell, (None, []))
            if last_run == run:
                rooms.append(self)  # a second room made by the same run
                return
            _cells[cell] = (run, [self])
        for earlier in rooms:
            if earlier.listening:
                earlier.stop()
                print(_("(stopped the room on {address} that an earlier run of this cell made)").format(
                    address=earlier.address))

    def _listen(self) -> None:
        wrapper = _RecordingFactory(self)
        try:
            self._port = blocking_call(
                lambda: serverFromString(self.reactor, self.endpoint).listen(wrapper), timeout=self.timeout
            )
        except CannotListenError as error:
            with _rooms_lock:
                previous = _rooms.get(error.port)
            if previous is None:
                raise self._cannot_listen(error) from None
            previous.stop()
            print(_("(stopped the room that was on port {port} before, to start this one)").format(port=error.port))
            try:
                self._port = blocking_call(
                    lambda: serverFromString(self.reactor, self.endpoint).listen(wrapper), timeout=self.timeout
                )
            except CannotListenError as again:
                raise self._cannot_listen(again) from None
        self.listening = True
        address = self._port.getHost()
        self.port = address.port
        self.interface = address.host
        self.host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(address.host, address.host)
        with _rooms_lock:
            _rooms[self.port] = self
        if self.interface in ("0.0.0.0", "::", ""):
            print(_("warning: this room listens on all network interfaces: anyone who can reach this "
                    "machine on port {port} can connect, read what is said and send text to "
                    "everyone.  Use interface=127.0.0.1 unless others must connect.").format(port=self.port),
                  file=sys.stderr)

    def _cannot_listen(self, error: CannotListenError) -> OSError:
        port, why = error.port, error.socketError
        errno = getattr(why, "errno", None)
        if errno == 13:  # EACCES
            return PermissionError(_(
                "cannot listen on port {port}: permission denied.  Ports below 1024 "
                "need administrator rights; use a port above 1024, or port 0 to let "
                "the system choose one.").format(port=port))
        here = blocking_call(_listening_here, port, timeout=self.timeout)
        if here:
            message = _("port {port} is already in use by a listening port in this kernel that is not a room "
                        "(an earlier cell called listen): stop it with port.stopListening(), or restart the "
                        "kernel, or choose another port (port 0 lets the system choose a free one).  [{why}]")
        else:
            message = _("port {port} is already in use by another program (another notebook's kernel, or a "
                        "`python -m spreadlab serve` in a terminal?  `ss -ltnp 'sport = :{port}'` or "
                        "`lsof -i :{port}` shows which): stop that program, or choose another port (port 0 lets "
                        "the system choose a free one).  [{why}]")
        return PortInUse(message.format(port=port, why=why))

    # --- public interface (shared with the memory room) ------------------------------

    @property
    def address(self) -> str:
        """``host:port`` to connect to.  Any thread."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def connect_command(self) -> str:
        """What a terminal user types to join: ``nc 127.0.0.1 PORT``.  Any thread."""
        return f"nc {self.host} {self.port}"

    def connect(self, name: str | None = None) -> LiveClient:
        """Open a real TCP connection to the room and wait until the server
        has accepted it (or refused it: check ``.refused``) and the room is
        quiet, so its welcome has arrived.  Notebook's thread."""
        if not self.listening:
            raise RuntimeError(_("this room is stopped; make a new one"))
        for attempt in range(3):
            local = (self.host, _free_port(self.host))
            client = LiveClient(self, name or "", IPv4Address("TCP", *local) if ":" not in self.host
                                else IPv6Address("TCP", *local), external=False)
            try:
                blocking_call(self._connect_in_reactor, client, local, name, timeout=self.timeout)
                break
            except ConnectBindError:  # someone took the local port meanwhile: try another
                with self._condition:
                    self._expected.pop(local, None)
                if attempt == 2:
                    raise
        self._wait(client._decided.is_set, None, lambda: _("the server did not accept the connection"))
        self.settle()
        return client

    def settle(self, timeout: float | None = None) -> "LiveRoom":
        """Wait until every byte the server wrote to this room's own clients
        has arrived, and every connection that is closing has closed on both
        sides.  Then, with ``raise_errors``, raise the first error from
        protocol code not raised yet.  Notebook's thread."""
        _refuse_in_reactor("settle")
        self._wait(self._quiet, timeout, self._what_is_pending)
        self._raise_new_errors()
        return self

    def advance(self, seconds: float) -> "LiveRoom":
        """Let *seconds* of real time pass (a memory room moves its clock
        instead), then settle.  Notebook's thread."""
        time.sleep(seconds)
        return self.settle()

    def close(self, timeout: float | None = None) -> None:
        """Stop listening and disconnect every client (this room's own close
        from their side; clients from outside, and connections whose
        protocol paused reading, are closed by the server; whatever has not
        gone after a second, or half the timeout, is reset), and wait for
        all of it.  The factory's ``stopFactory`` runs.  If the reactor
        thread is kept busy past the timeout, raises ``TimeoutError`` saying
        so, and the room goes on stopping when the reactor is free.
        Notebook's thread."""
        if not self.listening:
            return
        self.listening = False
        with _rooms_lock:
            if _rooms.get(self.port) is self:
                del _rooms[self.port]
        limit = timeout or self.timeout
        try:
            submit(self._stop_in_reactor).result(limit)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(because_busy(reactor_busy_in(), _(
                "the room on {address} did not finish stopping within {limit} s (it goes on stopping as soon "
                "as the reactor can)").format(address=self.address, limit=limit))) from None

    stop = close

    def __repr__(self) -> str:
        state = f"on {self.address}" if self.listening else "stopped"
        return (f"<LiveRoom {type(self.factory).__name__} {state}: {len(self.clients)} connected, "
                f"{len(self.trace)} events>")

    # --- the machinery (reactor thread unless said) -----------------------------------

    def _connect_in_reactor(self, client: LiveClient, local, name) -> Deferred:
        with self._condition:
            self._expected[local] = (client, name)
        endpoint_class = TCP6ClientEndpoint if ":" in self.host else TCP4ClientEndpoint
        endpoint = endpoint_class(self.reactor, self.host, self.port, timeout=self.timeout, bindAddress=local)
        factory = Factory.forProtocol(lambda: _ClientEnd(client))
        factory.noisy = False
        connecting = endpoint.connect(factory)

        def connected(end):
            client._end = end
            client.made = True

        def failed(failure):
            if client.refused:
                client._end_lost = True  # refused before we saw it connect
                return None
            return failure

        return connecting.addCallbacks(connected, failed)

    def _accepted(self, addr) -> LiveClient:
        """The client an accepted connection belongs to: one of ours, or a
        new one from outside."""
        number = next(self._numbers)
        with self._condition:
            expected = self._expected.pop((addr.host, addr.port), None)
        if expected is not None:
            client, name = expected
            client.name = name or f"client {number}"
        else:
            client = LiveClient(self, f"client {number}", addr, external=True)
        self.all_clients.append(client)
        return client

    def _call(self, client: LiveClient, where: str, call: Callable[[], object]):
        """Call the room's factory or protocol code with its output routed to
        the room's cell; show an exception there, keep it and record it.  An
        exception in dataReceived is raised again, for the reactor to drop
        the connection; elsewhere Twisted would only log it, so it ends here
        (the value is then None)."""
        with self._output.routed():
            try:
                return call()
            except Exception as exc:
                failure = Failure()
                self.errors.append(failure)
                self.trace.record(T.ERROR, client.name, detail=error_detail(where, failure))
                self._output.show_exception(exc, _("{error} in {where} of {name} (room on {address})").format(
                    error=type(exc).__name__, where=where, name=client.name, address=self.address))
                if where != "dataReceived":
                    return None
                if client.transport is not None:
                    client.transport.disconnecting = 1  # the reactor drops it now
                raise

    def _stop_in_reactor(self) -> Deferred:
        """Close every connection and stop listening.  Our own clients close
        from their side, unless the server's side is paused (it would never
        read their end-of-file): then, as for clients from outside, the
        server closes.  Whatever is still open after a grace period (a peer
        that does not read) is reset, so stopping ends within the room's
        timeout.  The Deferred it returns may be cancelled (by
        `blocking_call` on a timeout) without disturbing the connections'
        own Deferreds."""
        waits = [_fired_when(maybeDeferred(self._port.stopListening))]
        for client in list(self.all_clients):
            server = client.transport
            if server is None or server.lost:
                if not client._end_lost and client._end is not None:
                    client._end.transport.abortConnection()
                    waits.append(_fired_when(client._whenEndLost))
                continue
            waits.append(_fired_when(server.whenLost))
            if not client.external and not client._end_lost:
                waits.append(_fired_when(client._whenEndLost))
            if client.external or client._end_lost or not server.reading:
                if not server.disconnecting:
                    self.trace.record(T.LOSE, client.name, detail=_("by the server: the room is stopping"))
                    server.disconnecting = 1
                    server.transport.loseConnection()
            else:  # our own client closes from its side: the server reads end-of-file
                client._closing = True
                client._end.transport.loseConnection()

        def reset_stragglers() -> None:
            for client in list(self.all_clients):
                server = client.transport
                if server is not None and not server.lost:
                    server.abortConnection()
                if not client._end_lost and client._end is not None:
                    client._end.transport.abortConnection()

        grace = self.reactor.callLater(min(1.0, self.timeout / 2), reset_stragglers)
        done = gatherResults(waits, consumeErrors=True)
        done.addBoth(lambda result: (grace.cancel() if grace.active() else None, result)[1])
        return done

    def _changed(self) -> None:
        with self._condition:
            self._condition.notify_all()

    def _quiet(self) -> bool:
        for client in list(self.all_clients):
            if client.external:
                continue
            server = client.transport
            if server is None:
                if not client._end_lost and client.refused and client._end is not None:
                    return False  # refused: wait for our end to see it
                continue
            if not client._reading:  # what it is sent waits; its end learns nothing until it reads
                if server.disconnecting and not server.lost:
                    return False
                continue
            if server.lost or client._end_lost or server.disconnecting or client._closing:
                if not (server.lost and client._end_lost):
                    return False
            elif client._arrived < server.written:
                return False
        return True

    def _what_is_pending(self) -> str:
        pending = []
        for client in list(self.all_clients):
            server = client.transport
            if client.external or server is None:
                continue
            closing = server.disconnecting or client._closing
            if server.lost != client._end_lost or (closing and not server.lost):
                pending.append(_("{name} is still closing").format(name=client.name))
            elif client._arrived < server.written:
                pending.append(_("{name} has {arrived} of the {written} bytes written to it").format(
                    name=client.name, arrived=client._arrived, written=server.written))
        return _("the room did not settle: {pending}").format(pending="; ".join(pending) or "?")

    def _wait(self, predicate: Callable[[], bool], timeout: float | None, explain: Callable[[], str]) -> None:
        """Wait until *predicate* holds.  Notebook's thread."""
        _refuse_in_reactor("waiting on a live room")
        limit = self.timeout if timeout is None else timeout
        with self._condition:
            if self._condition.wait_for(predicate, limit):
                return
        busy = reactor_busy_in()  # the likely reason, if so
        raise TimeoutError(because_busy(busy, _("{what} (after {limit} s)").format(what=explain(), limit=limit)))


def _fired_when(deferred: Deferred) -> Deferred:
    """A new Deferred that fires (with None, or the failure) when
    *deferred* does.  Cancelling it leaves *deferred* alone, so that
    whoever fires *deferred* later does not meet ``AlreadyCalledError``.
    Reactor thread."""
    mine = Deferred()

    def fire(result):
        if not mine.called:
            mine.errback(result) if isinstance(result, Failure) else mine.callback(None)
        return None  # handed on to *mine*

    deferred.addBoth(fire)
    return mine


def _free_port(host: str) -> int:
    """A port free on *host* now, for a client to bind to (so that the
    server can tell our connection from one made from outside)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _listening_here(port: int) -> bool:
    """Does a listening port of this process's reactor hold *port*?  Reactor thread."""
    from twisted.internet import reactor
    from twisted.internet.tcp import Port

    return any(isinstance(r, Port) and r.getHost().port == port for r in reactor.getReaders())
