"""Checkers for lesson 04, Transport.

- `check_goodbye`: a protocol that echoes lines and, on the line ``bye``,
  writes ``goodbye`` and closes cleanly with ``loseConnection``;
- `check_peer_report`: a protocol that tells each client, as soon as it
  connects, the client's own address (``getPeer``), as ``host:port``.

Each takes the learner's Protocol class, runs it in a `MemoryRoom` and
returns a `Report`.
"""

from __future__ import annotations

from ...rooms import trace as T
from .protocol import _expect_received, _learner_code, _name, _room_with_client
from .report import Report, expect

__all__ = ["check_goodbye", "check_peer_report"]


def check_goodbye(protocol_class) -> Report:
    """Check a protocol that echoes each line (ending in b"\\n") and answers
    the line ``bye`` with b"goodbye\\n", then closes with loseConnection."""
    report = Report(f"{_name(protocol_class)}: a protocol that says goodbye")
    with report.step(
        "other lines are echoed and the connection stays open",
        hint="Write each line back with its line end (sendLine adds the delimiter); close only on bye.",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
            client.send(b"hello\n")
        _expect_received(client, b"hello\n", sent=b"hello\n")
        expect(client.connected, "the connection was closed after hello")
    with report.step(
        "bye is answered with goodbye, then the connection closes",
        hint="Write the goodbye first, then call self.transport.loseConnection(): the transport sends "
             "what was written, then closes.",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
            client.send(b"bye\n")
        expect(b"goodbye\n" in client.received, f"after b'bye\\n' the client received {client.received!r}")
        expect(not client.connected, "after b'bye\\n' the connection is still open")
    with report.step(
        "the close is clean: loseConnection, not abortConnection",
        hint="abortConnection drops the connection at once and throws away bytes not sent yet; "
             "loseConnection closes after everything written has been sent.",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
            client.send(b"bye\n")
        aborts = [e for e in room.trace.of(T.ABORT) if "server" in e.detail]
        lost = room.trace.of(T.LOST)
        expect(not aborts, "the server called abortConnection")
        expect(lost, "the connection was not closed")
        expect(lost[-1].detail.startswith("ConnectionDone"),
               f"connectionLost was called with {lost[-1].detail}")
    with report.step(
        "bye itself is not echoed",
        hint="Decide before echoing, and remember that loseConnection does not end your method: "
             "the code after it still runs.",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
            client.send(b"bye\n")
        _expect_received(client, b"goodbye\n", sent=b"bye\n")
    with report.step(
        "bye cut into pieces is still understood",
        hint="A chunk is not a line: collect bytes until the line end (LineReceiver does this for you), "
             "then compare the whole line.",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
            client.send(b"bye\n", chunks="bytes")
        expect(b"goodbye\n" in client.received and not client.connected,
               f"b'bye\\n' sent one byte at a time: received {client.received!r}, "
               f"connection {'open' if client.connected else 'closed'}")
    with report.step(
        "bye from telnet (bye\\r\\n) is understood",
        hint="telnet ends lines with b'\\r\\n', nc with b'\\n': strip the b'\\r' before comparing the line.",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
            client.send(b"bye\r\n")
        expect(b"goodbye\n" in client.received and not client.connected,
               f"b'bye\\r\\n' sent: received {client.received!r}, "
               f"connection {'open' if client.connected else 'closed'}")
    with report.step(
        "lines after bye in the same chunk are not answered",
        hint="Once you have called loseConnection, handle no more data: stop going through the lines "
             "of the chunk (LineReceiver stops when self.transport.disconnecting is true).",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
            client.send(b"hi\nbye\nstill there?\n")
        _expect_received(client, b"hi\ngoodbye\n", sent=b"hi\nbye\nstill there?\n", how="in one chunk")
    return report


def check_peer_report(protocol_class) -> Report:
    """Check a protocol that writes b"you are HOST:PORT\\n" (the client's own
    address) as soon as a client connects."""
    report = Report(f"{_name(protocol_class)}: a protocol that tells clients who they are")
    with report.step(
        "a client gets a line as soon as it connects",
        hint="connectionMade runs when the connection is ready and self.transport is set: write there, in bytes.",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
        expect(client.received.endswith(b"\n"), f"on connecting, the client received {client.received!r}")
    with report.step(
        "the line names the client's address, not the server's",
        hint="transport.getPeer() is the other end of the connection (the client); "
             "transport.getHost() is this end (the server's address).",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
        host = client.transport.getHost()
        expect(b":%d" % host.port not in client.received,
               f"the client received {client.received!r}: {host.port} is the server's port")
        expect(b"%d" % client.peer.port in client.received,
               f"the client received {client.received!r}; its port is {client.peer.port}")
    with report.step(
        "it reads you are host:port, for each client its own",
        hint="An address object has .host and .port: build the text from them, then encode it.",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
            two = room.connect()
        for c in (client, two):
            wanted = b"you are %s:%d\n" % (c.peer.host.encode(), c.peer.port)
            expect(c.received == wanted, f"{c.name} received {c.received!r}, not {wanted!r}")
    return report
