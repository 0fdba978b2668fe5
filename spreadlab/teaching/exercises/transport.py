"""Checkers for lesson 04, Transport.

- `check_goodbye`: a protocol that echoes lines and, on the line ``bye``,
  answers ``goodbye`` and closes cleanly with ``loseConnection``;
- `check_peer_report`: a protocol that tells each client, as soon as it
  connects, the client's own address (``getPeer``), as ``host:port``.

Each takes the learner's Protocol class and is a table of cases (see
`cases`); lines may end in ``\\n`` or ``\\r\\n``, coming and going.
"""

from __future__ import annotations

import sys

from twisted.internet.error import ConnectionAborted
from twisted.protocols.basic import LineReceiver

from .cases import Case, ended, lines_in, protocol_factory, run_cases, show
from .report import Report, expect, is_learners

__all__ = ["check_goodbye", "check_peer_report"]

_ABORT_HINT = (
    "abortConnection resets the connection at once and throws away what was written but not sent yet (over "
    "TCP the client never reads your goodbye, only a reset); loseConnection sends everything written, then "
    "closes."
)


class _Closes(list):
    """The reasons Twisted gave the server's protocol in connectionLost, and
    whether the learner's own code called connectionLost (which closes nothing)."""

    called_by_learner = False


def _watch_close(client) -> _Closes:
    """The reasons the server's protocol will be given in connectionLost."""
    reasons = _Closes()
    protocol = client.protocol
    lost = protocol.connectionLost

    def record(reason):
        if is_learners(sys._getframe(1).f_code.co_filename):
            reasons.called_by_learner = True
        else:
            reasons.append(reason)
        return lost(reason)

    protocol.connectionLost = record
    return reasons


def _says_goodbye(client, sent: bytes, before: list[bytes], how: str = "whole", hint: str = "") -> None:
    """After *sent*, the client read the lines *before* then goodbye, and its
    connection was closed."""
    got = client.received
    expect(lines_in(got) == [*before, b"goodbye"] and got.endswith(b"\n") and not client.connected,
           f"the client sent {show(sent)} ({how}), received {show(got)} and is {ended(client)}", hint)


# --- goodbye -----------------------------------------------------------------------------


def _answers_bye(trial) -> None:
    (client,) = trial.clients(1)
    reasons = _watch_close(client)
    client.send(b"bye\n")
    got = lines_in(client.received)
    expect(not reasons.called_by_learner,
           f"your code called connectionLost itself; the client received {show(client.received)} and is "
           f"{ended(client)}",
           "connectionLost is Twisted's to call: it tells your protocol the connection has ended, and calling "
           "it closes nothing. To close, call self.transport.loseConnection(); Twisted then calls "
           "connectionLost for you.")
    expect(not (reasons and reasons[0].check(ConnectionAborted)),
           f"the server aborted the connection; the client received {show(client.received)}", _ABORT_HINT)
    expect(not (got == [b"bye"] and client.connected), "the client sent b'bye\\n' and got it back; still connected",
           "To begin: the starting point echoes every line. In lineReceived, compare the line with b'bye' (bytes: "
           "in Python 3 b'bye' != 'bye'); answer goodbye instead of echoing it, then call "
           "self.transport.loseConnection().")
    deaf = isinstance(client.protocol, LineReceiver) and client.protocol.delimiter == b"\r\n"
    expect(got or not deaf, "the client sent b'bye\\n' and received nothing",
           "LineReceiver's delimiter is b'\\r\\n' unless you set it, and nc ends its lines with b'\\n' alone: "
           "set delimiter = b'\\n' (telnet's b'\\r' is then left at the end of the line).")
    expect(got[:2] != [b"bye", b"goodbye"], f"the client received {show(client.received)}: its bye came back first",
           "bye itself is not echoed: decide on a whole line before echoing it (a chunk echoed as it arrives has "
           "already sent b'bye' back before you can know the line is bye).")
    expect(got[:1] != [b"goodbye"] or len(got) == 1, f"after goodbye the client also received {got[1:]!r}",
           "loseConnection does not end your method: the code after it still runs, and what it writes is still "
           "sent before the close. Return after closing.")
    expect(got != [b"goodbye"] or not client.connected, "goodbye arrived; the connection is still open",
           "After the goodbye, close the connection: self.transport.loseConnection().")
    _says_goodbye(client, b"bye\n", [])


def _echoes_other_lines(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"hello\nbye now\n")
    got = lines_in(client.received)
    seen = (f"the client sent b'hello\\nbye now\\n' (in one chunk), received {show(client.received)} and is "
            f"{ended(client)}")
    expect(b"goodbye" not in got, seen,
           "Only the line bye itself says goodbye: compare the whole line (==), not whether it contains or starts "
           "with bye.")
    expect(got == [b"hello", b"bye now"] and client.connected, seen)


def _closes_cleanly(trial) -> None:
    (client,) = trial.clients(1)
    reasons = _watch_close(client)
    client.send(b"bye\n")
    expect(reasons, "after b'bye\\n' the server's connectionLost was not called")
    expect(not reasons[0].check(ConnectionAborted), "the server called abortConnection", _ABORT_HINT)


def _understands_bye_in_pieces(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"bye\n", chunks="bytes")
    _says_goodbye(client, b"bye\n", [], how="one byte at a time")


def _understands_telnet(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"hi\r\n")
    client.send(b"bye\r\n")
    _says_goodbye(client, b"hi\r\n then b'bye\\r\\n'", [b"hi"])


def _stops_after_bye(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"hi\nbye\nstill there?\n")
    expect(b"goodbye" in lines_in(client.received),
           f"the client sent b'hi\\nbye\\nstill there?\\n' (in one chunk) and received {show(client.received)}",
           "One chunk can carry several lines: split it at each line end and handle every complete line, not the "
           "chunk as one line.")
    _says_goodbye(client, b"hi\nbye\nstill there?\n", [b"hi"], how="in one chunk")


def _two_clients_apart(trial) -> None:
    one, two = trial.clients(2)
    for client, piece in ((one, b"by"), (two, b"hel"), (one, b"e\n"), (two, b"lo\n")):
        client.send(piece)
    expect(lines_in(one.received) == [b"goodbye"] and not one.connected
           and lines_in(two.received) == [b"hello"] and two.connected,
           f"client 1 sent bye and client 2 hello, each in two pieces, interleaved; client 1 received "
           f"{show(one.received)} and is {ended(one)}, client 2 received {show(two.received)} and is {ended(two)}")


GOODBYE = [
    Case("bye is answered with goodbye, then the connection closes",
         "Compare the whole line with b'bye'; write the goodbye, then call self.transport.loseConnection().",
         _answers_bye, first=True),
    Case("other lines are echoed, and the connection stays open",
         "Write each line back with a line end (sendLine adds the delimiter); close only on bye.",
         _echoes_other_lines),
    Case("the close is clean: loseConnection, not abortConnection", _ABORT_HINT, _closes_cleanly),
    Case("bye cut into pieces is still understood",
         "A chunk is not a line: collect bytes until the line end (LineReceiver does this for you), then "
         "compare the whole line.",
         _understands_bye_in_pieces),
    Case("lines from telnet (ending in \\r\\n) are understood, bye too",
         "telnet ends lines with b'\\r\\n', nc with b'\\n': with delimiter b'\\n', the line still ends in b'\\r'. "
         "Strip it before comparing.",
         _understands_telnet),
    Case("lines after bye in the same chunk are not answered",
         "loseConnection does not stop your code: the lines after bye in the same chunk are still in your hands, "
         "and what you write before the close completes is still sent. Stop handling lines once you have "
         "closed (LineReceiver does, by checking self.transport.disconnecting).",
         _stops_after_bye),
    Case("two clients at once: each one's pieces make its own lines",
         "Twisted builds one Protocol instance per connection: keep what you collect on self (set it in "
         "connectionMade), not on the class or in a global, which every connection shares.",
         _two_clients_apart),
]


def check_goodbye(protocol_class) -> Report:
    """Check a protocol that echoes each line and answers the line ``bye``
    with ``goodbye``, then closes with loseConnection."""
    title = f"{getattr(protocol_class, '__name__', 'Goodbye')}: a protocol that says goodbye"
    return run_cases(title, GOODBYE, protocol_class, protocol_factory(protocol_class), "check_goodbye(Goodbye)")


# --- who am I ------------------------------------------------------------------------------


def _you_are(client) -> bytes:
    return b"you are %s:%d" % (client.peer.host.encode(), client.peer.port)


def _tells_its_address(trial) -> None:
    (client,) = trial.clients(1)
    got = client.received
    seen = f"on connecting, the client received {show(got)}"
    expect(got, seen, "To begin: connectionMade runs when the connection is ready and self.transport is set: "
                      "write the line there, in bytes.")
    expect(b"IPv4Address" not in got, seen,
           "That is the whole address object printed: it has .host and .port; build the text from them.")
    expect(b":%d" % client.transport.getHost().port not in got, f"{seen}: that is the server's port",
           "transport.getPeer() is the other end of the connection (the client); transport.getHost() is this "
           "end, the server's address.")
    expect(lines_in(got) == [_you_are(client)] and got.endswith(b"\n"), f"{seen}, not {show(_you_are(client))}")


def _tells_each_its_own(trial) -> None:
    clients = trial.clients(3)
    wrong = [f"{c.name} received {show(c.received)}" for c in clients if lines_in(c.received) != [_you_are(c)]]
    expect(not wrong, "; ".join(wrong))


PEER_REPORT = [
    Case("a client is told its own address as soon as it connects",
         "In connectionMade, self.transport.getPeer() is the client's address, with .host and .port: write "
         "b'you are HOST:PORT' and a line end, in bytes.",
         _tells_its_address, first=True),
    Case("each client is told its own address",
         "Ask each connection's own transport, in connectionMade: an address kept from an earlier client, or "
         "written out by hand, is right for one client only.",
         _tells_each_its_own),
]


def check_peer_report(protocol_class) -> Report:
    """Check a protocol that writes b"you are HOST:PORT" and a line end (the
    client's own address) as soon as a client connects."""
    title = f"{getattr(protocol_class, '__name__', 'WhoAmI')}: a protocol that tells clients who they are"
    return run_cases(title, PEER_REPORT, protocol_class, protocol_factory(protocol_class),
                     "check_peer_report(WhoAmI)")
