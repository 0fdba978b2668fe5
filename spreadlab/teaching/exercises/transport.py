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

from ...i18n import N_, _
from .cases import Case, ended, lines_in, protocol_factory, run_cases, show
from .report import Report, expect, is_learners

__all__ = ["check_goodbye", "check_peer_report"]

_ABORT_HINT = N_(
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


def _says_goodbye(client, sent: bytes, before: list[bytes], how: str = N_("whole"), hint: str = "") -> None:
    """After *sent*, the client read the lines *before* then goodbye, and its
    connection was closed (*how*, an `N_` text, says how *sent* was cut)."""
    got = client.received
    expect(lines_in(got) == [*before, b"goodbye"] and got.endswith(b"\n") and not client.connected,
           _("the client sent {sent} ({how}), received {got} and is {state}").format(
               sent=show(sent), how=_(how), got=show(got), state=ended(client)), hint)


# --- goodbye -----------------------------------------------------------------------------


def _answers_bye(trial) -> None:
    (client,) = trial.clients(1)
    reasons = _watch_close(client)
    client.send(b"bye\n")
    got = lines_in(client.received)
    expect(not reasons.called_by_learner,
           _("your code called connectionLost itself; the client received {got} and is {state}").format(
               got=show(client.received), state=ended(client)),
           _("connectionLost is Twisted's to call: it tells your protocol the connection has ended, and calling "
             "it closes nothing. To close, call self.transport.loseConnection(); Twisted then calls "
             "connectionLost for you."))
    expect(not (reasons and reasons[0].check(ConnectionAborted)),
           _("the server aborted the connection; the client received {got}").format(got=show(client.received)),
           _(_ABORT_HINT))
    expect(not (got == [b"bye"] and client.connected),
           _("the client sent b'bye\\n' and got it back; still connected"),
           _("To begin: the starting point echoes every line. In lineReceived, compare the line with b'bye' (bytes: "
             "in Python 3 b'bye' != 'bye'); answer goodbye instead of echoing it, then call "
             "self.transport.loseConnection()."))
    deaf = isinstance(client.protocol, LineReceiver) and client.protocol.delimiter == b"\r\n"
    expect(got or not deaf, _("the client sent b'bye\\n' and received nothing"),
           _("LineReceiver's delimiter is b'\\r\\n' unless you set it, and nc ends its lines with b'\\n' alone: "
             "set delimiter = b'\\n' (telnet's b'\\r' is then left at the end of the line)."))
    expect(got[:2] != [b"bye", b"goodbye"],
           _("the client received {got}: its bye came back first").format(got=show(client.received)),
           _("bye itself is not echoed: decide on a whole line before echoing it (a chunk echoed as it arrives has "
             "already sent b'bye' back before you can know the line is bye)."))
    expect(got[:1] != [b"goodbye"] or len(got) == 1,
           _("after goodbye the client also received {got}").format(got=repr(got[1:])),
           _("loseConnection does not end your method: the code after it still runs, and what it writes is still "
             "sent before the close. Return after closing."))
    expect(got != [b"goodbye"] or not client.connected, _("goodbye arrived; the connection is still open"),
           _("After the goodbye, close the connection: self.transport.loseConnection()."))
    _says_goodbye(client, b"bye\n", [])


def _echoes_other_lines(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"hello\nbye now\n")
    got = lines_in(client.received)
    seen = _("the client sent b'hello\\nbye now\\n' (in one chunk), received {got} and is {state}").format(
        got=show(client.received), state=ended(client))
    expect(b"goodbye" not in got, seen,
           _("Only the line bye itself says goodbye: compare the whole line (==), not whether it contains or "
             "starts with bye."))
    expect(got == [b"hello", b"bye now"] and client.connected, seen)


def _closes_cleanly(trial) -> None:
    (client,) = trial.clients(1)
    reasons = _watch_close(client)
    client.send(b"bye\n")
    expect(reasons, _("after b'bye\\n' the server's connectionLost was not called"))
    expect(not reasons[0].check(ConnectionAborted), _("the server called abortConnection"), _(_ABORT_HINT))


def _understands_bye_in_pieces(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"bye\n", chunks="bytes")
    _says_goodbye(client, b"bye\n", [], how=N_("one byte at a time"))


def _understands_telnet(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"hi\r\n")
    client.send(b"bye\r\n")
    _says_goodbye(client, b"hi\r\n", [b"hi"], how=N_("then b'bye\\r\\n'"))


def _stops_after_bye(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"hi\nbye\nstill there?\n")
    expect(b"goodbye" in lines_in(client.received),
           _("the client sent b'hi\\nbye\\nstill there?\\n' (in one chunk) and received {got}").format(
               got=show(client.received)),
           _("One chunk can carry several lines: split it at each line end and handle every complete line, not "
             "the chunk as one line."))
    _says_goodbye(client, b"hi\nbye\nstill there?\n", [b"hi"], how=N_("in one chunk"))


def _two_clients_apart(trial) -> None:
    one, two = trial.clients(2)
    for client, piece in ((one, b"by"), (two, b"hel"), (one, b"e\n"), (two, b"lo\n")):
        client.send(piece)
    expect(lines_in(one.received) == [b"goodbye"] and not one.connected
           and lines_in(two.received) == [b"hello"] and two.connected,
           _("client 1 sent bye and client 2 hello, each in two pieces, interleaved; client 1 received {one} and "
             "is {one_state}, client 2 received {two} and is {two_state}").format(
               one=show(one.received), one_state=ended(one), two=show(two.received), two_state=ended(two)))


GOODBYE = [
    Case(N_("bye is answered with goodbye, then the connection closes"),
         N_("Compare the whole line with b'bye'; write the goodbye, then call self.transport.loseConnection()."),
         _answers_bye, first=True),
    Case(N_("other lines are echoed, and the connection stays open"),
         N_("Write each line back with a line end (sendLine adds the delimiter); close only on bye."),
         _echoes_other_lines),
    Case(N_("the close is clean: loseConnection, not abortConnection"), _ABORT_HINT, _closes_cleanly),
    Case(N_("bye cut into pieces is still understood"),
         N_("A chunk is not a line: collect bytes until the line end (LineReceiver does this for you), then "
            "compare the whole line."),
         _understands_bye_in_pieces),
    Case(N_("lines from telnet (ending in \\r\\n) are understood, bye too"),
         N_("telnet ends lines with b'\\r\\n', nc with b'\\n': with delimiter b'\\n', the line still ends in b'\\r'. "
            "Strip it before comparing."),
         _understands_telnet),
    Case(N_("lines after bye in the same chunk are not answered"),
         N_("loseConnection does not stop your code: the lines after bye in the same chunk are still in your hands, "
            "and what you write before the close completes is still sent. Stop handling lines once you have "
            "closed (LineReceiver does, by checking self.transport.disconnecting)."),
         _stops_after_bye),
    Case(N_("two clients at once: each one's pieces make its own lines"),
         N_("Twisted builds one Protocol instance per connection: keep what you collect on self (set it in "
            "connectionMade), not on the class or in a global, which every connection shares."),
         _two_clients_apart),
]


def check_goodbye(protocol_class) -> Report:
    """Check a protocol that echoes each line and answers the line ``bye``
    with ``goodbye``, then closes with loseConnection."""
    title = _("{name}: a protocol that says goodbye").format(name=getattr(protocol_class, "__name__", "Goodbye"))
    return run_cases(title, GOODBYE, protocol_class, protocol_factory(protocol_class), "check_goodbye(Goodbye)")


# --- who am I ------------------------------------------------------------------------------


def _you_are(client) -> bytes:
    return b"you are %s:%d" % (client.peer.host.encode(), client.peer.port)


def _tells_its_address(trial) -> None:
    (client,) = trial.clients(1)
    got = client.received
    seen = _("on connecting, the client received {got}").format(got=show(got))
    expect(got, seen, _("To begin: connectionMade runs when the connection is ready and self.transport is set: "
                        "write the line there, in bytes."))
    expect(b"IPv4Address" not in got, seen,
           _("That is the whole address object printed: it has .host and .port; build the text from them."))
    expect(b":%d" % client.transport.getHost().port not in got,
           _("on connecting, the client received {got}: that is the server's port").format(got=show(got)),
           _("transport.getPeer() is the other end of the connection (the client); transport.getHost() is this "
             "end, the server's address."))
    expect(lines_in(got) == [_you_are(client)] and got.endswith(b"\n"),
           _("on connecting, the client received {got}, not {wanted}").format(got=show(got),
                                                                              wanted=show(_you_are(client))))


def _tells_each_its_own(trial) -> None:
    clients = trial.clients(3)
    wrong = [_("{client} received {got}").format(client=c.name, got=show(c.received))
             for c in clients if lines_in(c.received) != [_you_are(c)]]
    expect(not wrong, "; ".join(wrong))


PEER_REPORT = [
    Case(N_("a client is told its own address as soon as it connects"),
         N_("In connectionMade, self.transport.getPeer() is the client's address, with .host and .port: write "
            "b'you are HOST:PORT' and a line end, in bytes."),
         _tells_its_address, first=True),
    Case(N_("each client is told its own address"),
         N_("Ask each connection's own transport, in connectionMade: an address kept from an earlier client, or "
            "written out by hand, is right for one client only."),
         _tells_each_its_own),
]


def check_peer_report(protocol_class) -> Report:
    """Check a protocol that writes b"you are HOST:PORT" and a line end (the
    client's own address) as soon as a client connects."""
    title = _("{name}: a protocol that tells clients who they are").format(
        name=getattr(protocol_class, "__name__", "WhoAmI"))
    return run_cases(title, PEER_REPORT, protocol_class, protocol_factory(protocol_class),
                     "check_peer_report(WhoAmI)")
