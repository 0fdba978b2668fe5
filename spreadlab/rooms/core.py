"""The room core: what a connection does, stated once, as Twisted over TCP does it.

Both rooms (`spreadlab.rooms.memory`, in memory; `spreadlab.rooms.live`, real
TCP on loopback) are backends of what this module states, and the shared
interface is written down here as `Room` and `Client` (``typing.Protocol``),
which is what views, checkers and lessons should rely on.  Everything below
was read from Twisted's own code (``twisted/internet/tcp.py``,
``abstract.py``, the reactors' ``_doReadOrWrite``) and checked with sockets:

- **accepting**: the client's TCP connect succeeds before the server's
  factory is asked (the kernel completes the handshake).  ``buildProtocol``
  returning ``None`` makes ``Port.doRead`` close the accepted socket: the
  client reads end-of-file, it is not a refusal.  ``buildProtocol`` raising
  is logged (``log.deferr``) and the socket is closed too (a room closes it
  at once; Twisted leaves it to the garbage collector).
- **connectionMade** raising is logged by ``Port.doRead``; the connection
  stays open and keeps working, and what it wrote before raising is sent.
- **dataReceived** raising: the reactor logs it and calls
  ``connectionLost`` at once with that exception as the reason; the socket
  is closed in order (the client reads end-of-file), and what the protocol
  wrote in that callback, still in Twisted's buffer, is never sent.
- **connectionLost** raising is logged; nothing else happens.
- **write** buffers: bytes leave when the callback returns to the reactor.
- **loseConnection**: reading stops, what was written (even after the call,
  in the same callback) is sent, then the socket is closed in order: the
  client reads end-of-file; ``connectionLost(ConnectionDone)``.
- **abortConnection**: reading and writing stop at once and Twisted's
  buffer is discarded (what was written in the same callback is never
  sent); ``connectionLost(ConnectionAborted)`` on the next reactor turn; the
  socket is closed with ``SO_LINGER`` 0: the client sees a reset.
- **writes after the connection is lost** are dropped silently.
- **pauseProducing** stops reading: what the client sends waits in TCP's
  buffers and arrives merged into one ``dataReceived`` (up to 64 KiB, one
  ``recv``) after ``resumeProducing``.
- **the peer closing cleanly** (FIN): ``connectionLost(ConnectionDone)``;
  **the peer resetting** (RST): ``connectionLost(ConnectionLost)``.

The reasons are Twisted's own exceptions with their default messages (see
`reason`).  Nothing here imports the reactor: the memory room never needs it
(and JupyterLite's Pyodide cannot import it).

The words a learner reads (how a connection ended, the trace's details) are
marked for the catalog (`spreadlab.i18n`); the trace's details are recorded in
the learner's language, the endings kept in English and translated where shown.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, Protocol, Union, runtime_checkable

from twisted.internet.error import ConnectionAborted, ConnectionDone, ConnectionLost
from twisted.python.failure import Failure

from ..i18n import N_, _
from . import trace as T

__all__ = [
    "STILL_OPEN", "CLOSED_BY_ITSELF", "EOF_FROM_SERVER", "RESET", "ENDINGS",
    "READ_SIZE", "SEND_BUFFER", "reason", "describe", "ending_seen_by_client",
    "ProtocolErrors", "Client", "Room", "ClientCore", "RoomCore", "cut", "Chunking",
    "connect_detail", "no_protocol_detail", "error_detail", "BY_SERVER", "FROM_CLIENT", "BY_CLIENT",
]

Chunking = Union[None, str, int, Iterable[int]]

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


# --- how a client's connection ended, as the client sees it -------------------------

STILL_OPEN = N_("still open")
CLOSED_BY_ITSELF = N_("closed by itself")  # the client closed (or reset) it
EOF_FROM_SERVER = N_("end-of-file from the server")  # the server closed in order (FIN)
RESET = N_("reset")  # the server reset it (RST): abortConnection, or a dropped client
ENDINGS = (STILL_OPEN, CLOSED_BY_ITSELF, EOF_FROM_SERVER, RESET)

#: What one ``recv`` reads at most (``tcp.Connection.bufferSize``).
READ_SIZE = 2**16
#: Bytes in Twisted's write buffer beyond which a streaming producer is
#: paused (``abstract.FileDescriptor.bufferSize``).
SEND_BUFFER = 2**16

# --- the trace's details, in the learner's language (recorded so) ----------------------

# Translators: who asked for a close (a detail in the trace, after loseConnection or abortConnection).
BY_SERVER = N_("by the server")
# Translators: a detail in the trace, after end-of-file: the client closed its side.
FROM_CLIENT = N_("from the client")
# Translators: a detail in the trace, after reset: the client reset the connection.
BY_CLIENT = N_("by the client")


def connect_detail(host: str, port: int) -> str:
    """Where a connection came from: "from 127.0.0.1:50001"."""
    return _("from {address}").format(address=f"{host}:{port}")


def no_protocol_detail(raised: bool) -> str:
    """Why a connection got no protocol, and what the server then did."""
    if raised:
        return _("buildProtocol raised: the server closed the connection")
    return _("buildProtocol returned None: the server closed the connection")


def error_detail(where: str, failure: Failure) -> str:
    """What the learner's code raised and in which call: "in dataReceived: ZeroDivisionError: ..."."""
    # Translators: {where} is a method's name (dataReceived); {reason} is Python's exception.
    return _("in {where}: {reason}").format(where=where, reason=describe(failure))


_REASONS = {"clean": ConnectionDone, "reset": ConnectionLost, "aborted": ConnectionAborted}


def reason(kind: str) -> Failure:
    """The ``connectionLost`` reason Twisted gives, with its own message:
    ``"clean"`` (a clean close by either side: ``ConnectionDone``), ``"reset"``
    (the peer reset: ``ConnectionLost``), ``"aborted"`` (``abortConnection``:
    ``ConnectionAborted``)."""
    return Failure(_REASONS[kind]())


def describe(failure: Failure) -> str:
    """``"ConnectionDone: Connection was closed cleanly."``: a reason in one line."""
    return f"{failure.type.__name__}: {failure.getErrorMessage()}"


def ending_seen_by_client(why: Failure) -> str:
    """How the client sees a close the server's side made, given the reason
    its protocol got: an abort closes the socket with a reset
    (``tcp.Connection._closeSocket(orderly=False)``); anything else (a clean
    close, an exception in dataReceived) closes it in order: end-of-file."""
    return RESET if why.check(ConnectionAborted) else EOF_FROM_SERVER


# --- errors: every one kept, every one raised ------------------------------------------

if sys.version_info >= (3, 11):
    class ProtocolErrors(ExceptionGroup):  # noqa: F821 (a builtin from 3.11)
        """Several errors from protocol code at once; each with its traceback."""
else:  # pragma: no cover - Python 3.10
    class ProtocolErrors(Exception):
        """Several errors from protocol code at once (``.exceptions`` holds them)."""

        def __init__(self, message: str, exceptions: list) -> None:
            super().__init__(message + ": " + "; ".join(f"{type(e).__name__}: {e}" for e in exceptions))
            self.exceptions = tuple(exceptions)


# --- the shared interface ---------------------------------------------------------------


@runtime_checkable
class Client(Protocol):
    """One client of a room, as the board, the checkers and the lessons see it."""

    name: str
    refused: bool  # the factory built no protocol for it (returned None or raised)
    external: bool  # connected from outside the room (a terminal's nc), not by connect()
    protocol: Any  # the server's protocol for this connection (None if not built)
    transport: Any  # what that protocol writes to

    @property
    def made(self) -> bool: ...  # its TCP connect succeeded
    @property
    def connected(self) -> bool: ...  # both sides still open
    @property
    def ending(self) -> str: ...  # one of ENDINGS
    @property
    def received(self) -> bytes: ...
    @property
    def text(self) -> str: ...
    @property
    def lines(self) -> list[str]: ...

    def send(self, *parts: bytes | str, chunks: Chunking = None) -> "Client": ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


@runtime_checkable
class Room(Protocol):
    """A listening port for a factory, with clients: a memory room or a live room."""

    factory: Any
    trace: T.Trace
    errors: list  # every Failure raised by the factory's or a protocol's code
    all_clients: list
    clock: Any  # what advance() moves (the reactor, for a live room)

    @property
    def clients(self) -> list: ...  # connected now
    @property
    def connect_command(self) -> str | None: ...  # what a terminal user types to join, if one can

    def client(self, name: str) -> Client: ...
    def connect(self, name: str | None = None) -> Client: ...
    def settle(self, timeout: float | None = None) -> "Room": ...
    def advance(self, seconds: float) -> Any: ...
    def close(self) -> None: ...
    def stop(self) -> None: ...


# --- what both backends share -------------------------------------------------------------


class ClientCore:
    """What every client has: its inbox read as bytes, text and lines, and
    the words for how its connection ended.  The backends keep ``_inbox``
    (the bytes that arrived, in order), ``made`` and ``_ending``.  Read from
    any thread."""

    name: str
    refused: bool = False
    external: bool = False
    made: bool = False
    _ending: str = STILL_OPEN
    _inbox: list

    def __init__(self, room, name: str, peer) -> None:
        self.room = room
        self.name = name
        self.peer = peer
        self.protocol = None  # the server's protocol, once the factory built one
        self.transport = None  # what that protocol writes to
        self.refused = False
        self._ending = STILL_OPEN
        self._inbox: list[bytes] = []

    @property
    def ending(self) -> str:
        """How the connection ended, as this client saw it: ``"still open"``,
        ``"closed by itself"``, ``"end-of-file from the server"`` or ``"reset"``."""
        return self._ending

    @property
    def received(self) -> bytes:
        """All bytes that arrived from the server, joined."""
        return b"".join(list(self._inbox))

    @property
    def text(self) -> str:
        """What was received, decoded as UTF-8 (undecodable bytes as U+FFFD)."""
        return self.received.decode("utf-8", errors="replace")

    @property
    def lines(self) -> list[str]:
        """The complete lines received so far, decoded, without line ends."""
        parts = self.text.split("\n")[:-1]
        return [part[:-1] if part.endswith("\r") else part for part in parts]

    def _state(self) -> str:
        if self.connected:
            return "connected"
        return "no protocol, " + self.ending if self.refused else self.ending

    def __repr__(self) -> str:
        return f"<{self.name} {self._state()}, {len(self.received)} bytes received>"


class RoomCore:
    """What every room has: its clients by name, every error kept and shown,
    and use as a context manager.  The backends set ``all_clients``,
    ``errors``, ``raise_errors`` and ``_raised``."""

    all_clients: list
    errors: list[Failure]
    raise_errors: bool
    connect_command: str | None = None  # a live room says how a terminal joins it
    _raised: int = 0

    @property
    def clients(self) -> list:
        """The clients connected now."""
        return [c for c in list(self.all_clients) if c.connected]

    def client(self, name: str):
        """The client called *name* (``"client 2"``)."""
        for c in list(self.all_clients):
            if c.name == name:
                return c
        raise KeyError(_("no client called {name} in this room").format(name=repr(name)))

    def _raise_new_errors(self) -> None:
        """Raise the errors not raised yet (with ``raise_errors``): one as
        itself, several together as a `ProtocolErrors`, so none is hidden.
        They stay in ``errors``.  The caller's thread."""
        if not self.raise_errors or self._raised >= len(self.errors):
            return
        new = self.errors[self._raised:]
        self._raised = len(self.errors)
        if len(new) == 1:
            new[0].raiseException()
        exceptions = [f.value.with_traceback(f.getTracebackObject()) for f in new]
        raise ProtocolErrors(_("{count} errors in protocol code").format(count=len(new)), exceptions)

    def close(self) -> None:  # pragma: no cover - each backend closes its own way
        raise NotImplementedError

    def stop(self, *args, **kwargs) -> None:
        """The same as `close`."""
        self.close(*args, **kwargs)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
