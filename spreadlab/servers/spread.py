"""The Spread Site server, done right for Python 3.

What one client sends is spread to all the others.  Compared with the blog's
server (`spreadlab.servers.seed`), this one:

- frames the stream into lines (``LineReceiver``), accepting ``\\r\\n`` from
  telnet and ``\\n`` from ``nc``, so a message cut into chunks, or several
  messages merged into one chunk, still arrive as whole lines;
- keeps its clients on the factory, not in a module-global list;
- works in bytes on the wire and writes the welcome as UTF-8;
- recognises ``close`` as a line of its own (any case, surrounding spaces);
- prefixes every relayed line with its sender (``client 3: hello``);
- answers bad input clearly and without costing anyone else a message: an
  over-long line gets an error line back, invalid UTF-8 is replaced, terminal
  escape sequences are removed;
- protects itself: an optional maximum number of clients (``buildProtocol``
  returns ``None``), a cap on bytes waiting for a client that does not read,
  and an optional per-client rate limit that slows a flooding client down.

All methods run in the reactor thread (or in a `MemoryRoom`'s caller).
"""

from __future__ import annotations

from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from zope.interface import implementer
from twisted.internet.interfaces import IPushProducer

from .safety import printable_line

#: The seed's welcome: "Welcome to Spread Site, you are client user number N!"
WELCOME = "欢迎来到Spread Site, 你是第{n}个客户端用户!"

log = Logger(namespace="spreadlab")


def _buffered(transport) -> int | None:
    """The bytes *transport* holds that are not yet sent, or ``None`` if it
    does not tell.

    Twisted has no public call for this.  Its documented way to learn that a
    buffer is full is a streaming producer (``registerProducer``), but then
    the transport checks its buffer on *every* write, which cost the server
    a fifth of its CPU time per delivery at 100 clients
    (benchmarks/RESULTS.md).  So on Twisted's TCP connections
    (``abstract.FileDescriptor``) this reads the private attributes that hold
    the buffer (``dataBuffer``, sent up to ``offset``, plus ``_tempDataLen``
    bytes still in a list), and on other transports (a memory room's) it
    returns ``None``: `SendBacklog` then registers as a producer instead.
    """
    try:
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    except AttributeError:
        return None


@implementer(IPushProducer)
class SendBacklog:
    """Counts the bytes waiting to be sent to one client.

    On a TCP connection it reads the transport's buffer (`_buffered`).  On
    other transports it is registered as a streaming producer: the transport
    calls `pauseProducing` when its buffer is full (the client is not
    reading) and `resumeProducing` when it has drained, and what the client
    was sent in between is what waits.
    """

    def __init__(self, client: "Spreader") -> None:
        self.client = client
        self.paused_at: int | None = None  # client.sent when the transport paused us
        self.watch_buffer = _buffered(client.transport) is not None
        if not self.watch_buffer:
            client.transport.registerProducer(self, True)

    def waiting(self) -> int:
        if self.watch_buffer:
            return _buffered(self.client.transport)
        return 0 if self.paused_at is None else self.client.sent - self.paused_at

    def __repr__(self) -> str:
        return f"<SendBacklog for {self.client.name}: {self.waiting()} bytes waiting>"

    def pauseProducing(self) -> None:
        self.paused_at = self.client.sent

    def resumeProducing(self) -> None:
        self.paused_at = None

    def stopProducing(self) -> None:
        self.paused_at = None


class Spreader(LineReceiver):
    """One client's connection to the Spread server.

    Lifecycle: ``connectionMade`` registers with the factory and writes the
    welcome; ``lineReceived`` handles one complete line; ``connectionLost``
    unregisters, however the connection ended.
    """

    delimiter = b"\n"  # and a trailing b"\r" is stripped: telnet and nc both work

    # No ``__init__(self, factory)``: Factory's own ``buildProtocol`` makes
    # ``self.protocol()`` and sets ``self.factory`` (lesson 03).  Defaults
    # live on the class; what depends on the factory's limits is set in
    # `connectionMade`, the first call that has ``self.factory``.
    number = 0
    name = "client ?"
    sent = 0  # bytes delivered to this client
    _backlog: "SendBacklog | None" = None
    _discarding = False  # inside an over-long line, skipping to its end
    _after_long = b""  # what followed an over-long line in the same chunk
    _last_refill = None
    _resume_call = None

    # --- lifecycle --------------------------------------------------------

    def connectionMade(self) -> None:
        # A chat is interactive: send each line at once rather than letting
        # Nagle's algorithm hold it back for up to 40 ms waiting for an ACK.
        # (TCP transports have setTcpNoDelay; a memory room's do not.)
        no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if no_delay is not None:
            no_delay(True)
        self.MAX_LENGTH = self.factory.max_line  # LineReceiver's limit, per server
        self._look_at = self.factory.max_backlog  # look at its backlog once `sent` passes this
        self._tokens = float(self.factory.burst or 0)
        self.factory.clientJoined(self)
        self._backlog = SendBacklog(self)
        welcome = WELCOME.format(n=self.factory.numProtocols)
        self.transport.write(welcome.encode("utf-8") + b"\r\n")

    def connectionLost(self, reason) -> None:
        if self._resume_call is not None and self._resume_call.active():
            self._resume_call.cancel()
        self.factory.clientLeft(self, reason)

    # --- receiving ----------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        while True:
            if self._discarding:
                end = data.find(self.delimiter)
                if end < 0:
                    return
                self._discarding = False
                data = data[end + 1 :]
            super().dataReceived(data)  # b"" too: resumeProducing uses it
            # LineReceiver stops at an over-long line: go on with what followed it.
            data, self._after_long = self._after_long, b""
            if not data:
                return

    def lineReceived(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.strip().lower() == b"close":
            self.transport.loseConnection()
            return
        self._take_token()
        self.factory.spread(self, printable_line(line))

    def lineLengthExceeded(self, line: bytes) -> None:
        """Answer an over-long line with an error and skip to its end; the
        lines after it are still handled (LineReceiver would drop us)."""
        self.transport.write(
            b"error: line longer than %d bytes, not sent\r\n" % self.factory.max_line
        )
        log.info("{client} sent a line over {limit} bytes; not relayed", client=self.name, limit=self.factory.max_line)
        end = line.find(self.delimiter)
        if end < 0:
            self._discarding = True
        elif end + 1 < len(line):
            self._after_long = line[end + 1 :]  # handled by dataReceived, once LineReceiver returns

    # --- rate limit (a token bucket; off unless the factory sets a rate) ------

    def _take_token(self) -> None:
        rate = self.factory.rate
        if not rate:
            return
        now = self.factory.clock.seconds()
        if self._last_refill is not None:
            self._tokens = min(float(self.factory.burst), self._tokens + (now - self._last_refill) * rate)
        self._last_refill = now
        self._tokens -= 1
        if self._tokens < 1 and not self.paused and not self.transport.disconnecting:
            # No token left for a next line: stop reading from this client
            # until one is due.  Its lines wait in TCP's buffers; nothing is
            # lost, it is slowed to `rate` lines a second after a `burst`.
            self.pauseProducing()
            self._resume_call = self.factory.clock.callLater((1 - self._tokens) / rate, self._resume)

    def _resume(self) -> None:
        self._resume_call = None
        if self.transport.connected and not self.transport.disconnecting:
            self.resumeProducing()

    # --- sending -------------------------------------------------------------

    def deliver(self, data: bytes) -> None:
        """Write *data* to this client; drop the client instead if more than
        ``max_backlog`` bytes wait for it (it has stopped reading, and its
        backlog would grow forever)."""
        self.transport.write(data)
        self.sent += len(data)
        if self.sent > self._look_at:
            self._check_backlog()

    def _check_backlog(self) -> None:
        """What waits for this client only grows by what we write to it: so
        after seeing *w* bytes waiting, look again only once more than
        ``max_backlog - w`` bytes have been written (for a client that
        reads, about once per ``max_backlog`` bytes)."""
        waiting = self._backlog.waiting()
        limit = self.factory.max_backlog
        if waiting > limit:
            log.info("{client} is not reading; dropped after {n} bytes waiting", client=self.name, n=waiting)
            self.transport.abortConnection()
            self._look_at = float("inf")  # dropped: no need to look again
        else:
            self._look_at = self.sent + limit - waiting


class SpreadFactory(Factory):
    """Builds one `Spreader` per connection and owns what they share.

    ``numProtocols`` counts the connected clients and ``clients`` lists them,
    in the order they connected.  Options: ``max_clients`` (refuse more by
    returning ``None`` from ``buildProtocol``), ``max_line`` (bytes per
    line), ``max_backlog`` (bytes waiting for a client that does not read
    before it is dropped), ``rate`` and ``burst`` (lines per second a client
    may send, and how many in a burst; ``None`` means no limit), ``clock``
    (what ``callLater`` is called on; the reactor by default).
    """

    protocol = Spreader

    def __init__(self, *, max_clients: int | None = None, max_line: int = 4096,
                 max_backlog: int = 1 << 20, rate: float | None = None,
                 burst: int | None = None, clock=None) -> None:
        self.numProtocols = 0
        self.clients: list[Spreader] = []
        self.max_clients = max_clients
        self.max_line = max_line
        self.max_backlog = max_backlog
        self.rate = rate
        self.burst = burst if burst is not None else (max(1, int(rate * 2)) if rate else None)
        self._clock = clock
        self._numbers = 0

    @property
    def clock(self):
        if self._clock is None:
            from twisted.internet import reactor

            self._clock = reactor
        return self._clock

    @clock.setter
    def clock(self, clock) -> None:
        """Schedule on *clock* from now on (a `Clock` in tests; a checker's watched reactor)."""
        self._clock = clock

    def buildProtocol(self, addr):
        if self.max_clients is not None and len(self.clients) >= self.max_clients:
            log.info("refused {peer}: {n} clients already connected (the maximum)", peer=_peer(addr), n=len(self.clients))
            return None
        return super().buildProtocol(addr)  # self.protocol(), with .factory set

    def clientJoined(self, client: Spreader) -> None:
        """Count and remember a client whose connection was just made."""
        self._numbers += 1
        client.number = self._numbers
        client.name = f"client {client.number}"
        self.numProtocols += 1
        self.clients.append(client)
        log.info("{client} connected from {peer}; {n} connected", client=client.name, peer=_peer(client.transport.getPeer()), n=self.numProtocols)

    def clientLeft(self, client: Spreader, reason) -> None:
        """Forget a client, however its connection ended."""
        if client in self.clients:
            self.clients.remove(client)
            self.numProtocols -= 1
            log.info("{client} disconnected ({why}); {n} connected", client=client.name, why=reason.getErrorMessage(), n=self.numProtocols)

    def spread(self, sender: Spreader, line: bytes) -> None:
        """Send *line* from *sender* to every other client, prefixed with the
        sender's name.  Encoded once, written as is to each receiver."""
        log.info("{client}: {line}", client=sender.name, line=line.decode("utf-8"))
        data = sender.name.encode("ascii") + b": " + line + b"\r\n"
        for client in list(self.clients):
            if client is not sender:
                client.deliver(data)


def _peer(address) -> str:
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    return f"{host}:{port}" if host is not None else str(address)
