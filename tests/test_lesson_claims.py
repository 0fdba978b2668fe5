"""What the lessons say about TCP and Twisted, checked over real TCP.

Each test backs one sentence of a lesson (named in its docstring) with
Twisted's real reactor (in spreadlab's background thread), a real listening
port on loopback and, for the client, a plain socket, as ``nc`` would be.
When a lesson's wording changes, the test beside it says what is true.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from twisted.internet import defer
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import ConnectionAborted, ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IPushProducer, ITCPTransport, ITransport
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.basic import LineReceiver
from zope.interface import implementer

from spreadlab.rooms.background import blocking_call, start_reactor

pytestmark = pytest.mark.timeout(60)


class Recorder:
    """What the server side saw: its protocols and how each connection ended."""

    def __init__(self) -> None:
        self.protocols: list[Protocol] = []
        self.reasons: list = []
        self.lost = defer.Deferred()  # fires with [the first connectionLost's reason]


def listen(factory) -> tuple[object, int]:
    """Listen on a free loopback port (in the reactor thread); the port and its number."""
    start_reactor()
    port = blocking_call(lambda: serverFromString(_reactor(), "tcp:0:interface=127.0.0.1").listen(factory))
    return port, port.getHost().port


def _reactor():
    from twisted.internet import reactor

    return reactor


def stop(port) -> None:
    blocking_call(port.stopListening)


def recording(protocol_class, recorder: Recorder):
    """A factory whose protocols record themselves and their end in *recorder*."""

    class Recorded(protocol_class):
        def connectionMade(self):
            recorder.protocols.append(self)
            super().connectionMade()

        def connectionLost(self, reason):
            recorder.reasons.append(reason)
            super().connectionLost(reason)
            if not recorder.lost.called:
                recorder.lost.callback([reason])  # in a list: a Failure would errback

    return Factory.forProtocol(Recorded)


def read_all(sock: socket.socket) -> tuple[bytes, str]:
    """Read until the connection ends: the bytes, and ``"eof"`` or ``"reset"``."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data, "reset"
        if not chunk:
            return data, "eof"
        data += chunk


class Closer(LineReceiver):
    """Lesson 04's Closer: writes ``bye``, then closes as the line asks."""

    delimiter = b"\n"

    def lineReceived(self, line):
        self.sendLine(b"bye")
        if line == b"lose":
            self.transport.loseConnection()
        elif line == b"abort":
            self.transport.abortConnection()


@pytest.mark.parametrize("how, received, ending, reason", [
    ("lose", b"bye\n", "eof", ConnectionDone),
    ("abort", b"", "reset", ConnectionAborted),
])
def test_lose_delivers_what_was_written_and_abort_sends_only_a_reset(how, received, ending, reason):
    """04-transport: after ``write``, ``loseConnection`` delivers, then end-of-file;
    ``abortConnection`` discards what is buffered: the peer gets nothing, only a reset."""
    recorder = Recorder()
    port, number = listen(recording(Closer, recorder))
    try:
        with socket.create_connection(("127.0.0.1", number), timeout=5) as client:
            client.sendall(how.encode() + b"\n")
            assert read_all(client) == (received, ending)
        assert blocking_call(lambda: recorder.lost)[0].check(reason)
    finally:
        stop(port)


def test_buildProtocol_returning_none_lets_the_connect_succeed_then_end_of_file():
    """03-factory: refusing in ``buildProtocol`` is not a TCP refusal: the
    client's connect succeeds, and then it reads end-of-file."""

    class Full(Factory):
        def buildProtocol(self, addr):
            return None

    port, number = listen(Full())
    try:
        with socket.create_connection(("127.0.0.1", number), timeout=5) as client:
            assert read_all(client) == (b"", "eof")
    finally:
        stop(port)


def test_buildProtocol_returning_none_resets_a_client_that_already_spoke():
    """03-factory: a client that sent bytes before being turned away reads a
    reset, not end-of-file: the server's system closes a socket holding
    bytes nobody read by resetting it.  (The reactor is kept busy while the
    client connects and speaks, so that its bytes are there before Twisted
    accepts: otherwise which comes first is a race.)"""

    class Full(Factory):
        def buildProtocol(self, addr):
            return None

    port, number = listen(Full())
    try:
        busy = threading.Event()
        _reactor().callFromThread(lambda: (busy.set(), time.sleep(0.5)))
        busy.wait(5)
        with socket.create_connection(("127.0.0.1", number), timeout=5) as client:
            client.sendall(b"hello\n")  # the system accepted the connection; Twisted has not yet
            assert read_all(client) == (b"", "reset")
    finally:
        stop(port)


def test_an_exception_in_connectionMade_is_logged_and_the_connection_stays_open():
    """02-protocol and 07-going-live: Twisted logs an exception from
    ``connectionMade`` and keeps the connection; only ``dataReceived``'s
    exceptions close it."""
    recorder = Recorder()

    class Careless(Protocol):
        def connectionMade(self):
            raise ValueError("oops in connectionMade")

        def dataReceived(self, data):
            self.transport.write(data.upper())

    port, number = listen(recording(Careless, recorder))
    try:
        with socket.create_connection(("127.0.0.1", number), timeout=5) as client:
            client.sendall(b"still here\n")
            assert client.recv(100) == b"STILL HERE\n"
        assert blocking_call(lambda: recorder.lost)[0].check(ConnectionDone)
    finally:
        stop(port)


def test_an_exception_in_dataReceived_closes_that_connection_only():
    """07-going-live: an exception in ``dataReceived`` (so in ``lineReceived``)
    closes that one connection, with the exception as the reason; the server
    and its other connections go on."""
    recorder = Recorder()

    class Fragile(LineReceiver):
        delimiter = b"\n"

        def lineReceived(self, line):
            self.sendLine(line.decode("ascii").upper().encode("ascii"))

    port, number = listen(recording(Fragile, recorder))
    try:
        with socket.create_connection(("127.0.0.1", number), timeout=5) as careful, \
                socket.create_connection(("127.0.0.1", number), timeout=5) as careless:
            careless.sendall("你好\n".encode("utf-8"))
            assert read_all(careless) == (b"", "eof")
            [reason] = blocking_call(lambda: recorder.lost)
            assert reason.check(UnicodeDecodeError), reason
            careful.sendall(b"still served\n")
            assert careful.recv(100) == b"STILL SERVED\n"
    finally:
        stop(port)


def test_a_crashed_client_process_closes_cleanly():
    """02-protocol and 12-broadcast-board: when a client *process* dies, its
    operating system closes its socket cleanly: ``ConnectionDone``, not a
    reset (a pulled cable gives no event at all: see the test after the next)."""
    recorder = Recorder()
    port, number = listen(recording(Protocol, recorder))
    try:
        crash = textwrap.dedent(f"""
            import os, socket
            s = socket.create_connection(("127.0.0.1", {number}))
            s.sendall(b"hello")
            os._exit(1)
        """)
        subprocess.run([sys.executable, "-c", crash], timeout=30, check=False)
        [reason] = blocking_call(lambda: recorder.lost)
        assert reason.check(ConnectionDone), reason
    finally:
        stop(port)


def test_a_crashed_client_process_that_left_bytes_unread_resets():
    """02-protocol: a client process that dies with bytes from the server
    still unread is closed by its system with a reset: ``ConnectionLost``,
    not ``ConnectionDone``."""

    class Greeter(Protocol):
        def connectionMade(self):
            self.transport.write(b"welcome\n")

    recorder = Recorder()
    port, number = listen(recording(Greeter, recorder))
    try:
        crash = textwrap.dedent(f"""
            import os, socket, time
            s = socket.create_connection(("127.0.0.1", {number}))
            time.sleep(0.5)  # the welcome arrives, and is never read
            os._exit(1)
        """)
        subprocess.run([sys.executable, "-c", crash], timeout=30, check=False)
        [reason] = blocking_call(lambda: recorder.lost)
        assert reason.check(ConnectionLost) and not reason.check(ConnectionDone), reason
    finally:
        stop(port)


PULLED_CABLE = textwrap.dedent("""
    # A server in a network namespace of its own; its one client's cable is
    # pulled by setting the namespace's loopback link down: from then on
    # nothing is delivered either way, and nothing says goodbye.
    import json, socket, subprocess, sys, time
    from twisted.internet import protocol, reactor

    how, events, server = sys.argv[1], [], []

    class Seen(protocol.Protocol):
        def connectionMade(self):
            server.append(self)

        def connectionLost(self, reason):
            events.append([time.monotonic() - pulled[0], "connectionLost", reason.type.__name__])

    port = reactor.listenTCP(0, protocol.Factory.forProtocol(Seen), interface="127.0.0.1")
    client = socket.create_connection(("127.0.0.1", port.getHost().port))
    pulled = [0.0]

    def pull_the_cable():
        subprocess.run(["ip", "link", "set", "lo", "down"], check=True)
        pulled[0] = time.monotonic()
        sock = server[0].transport.getHandle()
        if how == "write":  # a write that goes unanswered: given up after 1 s, not the default 15 minutes
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 1000)
            reactor.callLater(2, server[0].transport.write, b"are you there?\\n")
        elif how == "keepalive":  # probes after 1 s of silence, 1 s apart, given up after 2
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for option, value in ((socket.TCP_KEEPIDLE, 1), (socket.TCP_KEEPINTVL, 1), (socket.TCP_KEEPCNT, 2)):
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
        reactor.callLater(6, lambda: (events.append([time.monotonic() - pulled[0], "stop"]), reactor.stop()))

    reactor.callLater(0.3, pull_the_cable)
    reactor.run()
    print(json.dumps(events))
""")


def _pull_the_cable(how: str) -> list:
    """Run PULLED_CABLE in a user and network namespace of its own (so this
    machine's loopback is never touched); the server's events, in seconds
    since the cable was pulled, up to its stop."""
    command = ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$0" -c "$1" "$2"',
               sys.executable, PULLED_CABLE, how]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("unshare is not installed: no network namespace to pull a cable in")
    if done.returncode != 0 and ("unshare" in done.stderr or "ip: not found" in done.stderr):
        pytest.skip(f"no user and network namespace (or no `ip`) here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    import json
    events = json.loads(done.stdout.strip().splitlines()[-1])
    return events[:[e[1] for e in events].index("stop")]


def test_a_pulled_cable_gives_no_event_until_a_write_or_a_keepalive_fails():
    """07-going-live: "A client whose network cable is pulled ... sends no
    goodbye: TCP reports nothing at all until a write goes unanswered ..., or
    a keepalive probe fails."  Six silent seconds bring no event; a write
    brings ConnectionLost once TCP gives up on it (here after 1 s); so do
    failed keepalive probes, with no write at all."""
    assert _pull_the_cable("silent") == []
    [(after, _, reason)] = _pull_the_cable("write")
    assert reason == "ConnectionLost" and after > 2, (after, reason)  # not before the write, at 2 s
    [(after, _, reason)] = _pull_the_cable("keepalive")
    assert reason == "ConnectionLost" and after < 6, (after, reason)


def test_a_client_that_resets_gives_the_server_connection_lost():
    """02-protocol: a reset from the other side ends the connection uncleanly:
    ``ConnectionLost``, not ``ConnectionDone``."""
    recorder = Recorder()
    port, number = listen(recording(Protocol, recorder))
    try:
        client = socket.create_connection(("127.0.0.1", number), timeout=5)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # with a zero linger: a reset, as abortConnection sends
        [reason] = blocking_call(lambda: recorder.lost)
        assert reason.check(ConnectionLost) and not reason.check(ConnectionDone), reason
    finally:
        stop(port)


def test_abortConnection_is_tcp_s_not_every_transport_s():
    """04-transport: ``abortConnection`` is in ``ITCPTransport``, not ``ITransport``."""
    assert "abortConnection" not in ITransport.names()
    assert "abortConnection" in ITCPTransport.names()
    assert {"write", "writeSequence", "loseConnection", "getPeer", "getHost"} <= set(ITransport.names())


def test_a_reader_that_stops_reading_pauses_a_registered_producer_and_reading_resumes_it():
    """05-flow-control: over TCP, a streaming producer registered with the
    transport is paused when the peer stops reading, and resumed when it
    reads again."""
    recorder = Recorder()
    calls: list[str] = []

    total = 8 * 1024 * 1024  # more than loopback buffers hold (about 3 MB here)
    sent_when_paused: list[int] = []

    @implementer(IPushProducer)
    class Firehose(Protocol):
        def connectionMade(self):
            self.paused = False
            self.sent = 0
            self.transport.registerProducer(self, True)
            self.pump()

        def pump(self):
            while not self.paused and self.sent < total:
                self.transport.write(b"x" * 65536)
                self.sent += 65536
            if self.sent >= total:
                self.transport.unregisterProducer()
                self.transport.loseConnection()

        def pauseProducing(self):
            calls.append("pause")
            sent_when_paused.append(self.sent)
            self.paused = True

        def resumeProducing(self):
            calls.append("resume")
            self.paused = False
            self.pump()

        def stopProducing(self):
            self.paused = True

    port, number = listen(recording(Firehose, recorder))
    try:
        with socket.create_connection(("127.0.0.1", number), timeout=10) as client:
            blocking_call(lambda: _wait(0.5))
            assert calls[-1:] == ["pause"], calls  # the client reads nothing: paused
            assert sent_when_paused[-1] < total, sent_when_paused  # and the rest was not written
            paused_so_far = len(calls)
            data, ending = read_all(client)
        assert "resume" in calls[paused_so_far:]  # reading resumed it
        assert (len(data), ending) == (total, "eof")
    finally:
        stop(port)


def _wait(seconds: float):
    from twisted.internet.task import deferLater

    return deferLater(_reactor(), seconds, lambda: None)
