"""Checker for lesson 10, Clients.

- `check_visitor`: a client Protocol for Spread Site, ``Visitor(message,
  wanted)``, that keeps the server's first line (the welcome) in ``welcome``
  and answers it with ``message`` as one line, keeps every later line in
  ``heard`` (as ``str``, without line ends), and leaves cleanly once it has
  heard ``wanted`` lines.

The client is judged on what it does, two ways.  On a
``twisted.internet.testing.StringTransport`` (Twisted's own fake), the
checker plays the server and cuts what the server sends as TCP may: the
welcome one byte at a time, a Chinese character split in two, the welcome and
the next line in one chunk.  Then over real TCP, against the Spread server
(`spreadlab.servers.spread.SpreadFactory`) listening on loopback in the
reactor thread, with a terminal client (`spreadlab.rooms.terminal.Terminal`)
as the other person in the chat.

Leaving cleanly means closing with ``loseConnection``, or asking the Spread
server to close by sending the line ``close``; not ``abortConnection``.
Lines may be sent ending with ``\\r\\n`` or ``\\n``: the server takes both.
"""

from __future__ import annotations

import contextlib

from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport

from ...i18n import N_, _, ngettext
from ...servers.spread import WELCOME, SpreadFactory
from .report import Report, Result, expect

__all__ = ["check_visitor"]

MESSAGE = "你好, I am a Twisted client"
BYTES_HINT = N_("lineReceived gets each line as bytes: decode it (line.decode('utf-8')) before you keep it; "
                 "welcome and heard hold text (str)")
NO_LINE_END_HINT = N_("transport.write sends exactly the bytes it is given: a line needs its end (b'\\r\\n' or "
                       "b'\\n'), or use self.sendLine, which adds it")
WELCOME_LINE = WELCOME.format(n=3)


# --- the checker plays the server, on Twisted's StringTransport -------------------------------


class _Visit:
    """One visitor on a StringTransport, fed chunks as the server would send
    them; remembers what it had sent after each chunk."""

    def __init__(self, visitor_class, wanted: int = 1) -> None:
        self.visitor = visitor_class(MESSAGE, wanted)
        self.transport = StringTransport()
        self.sent_after: list[bytes] = []
        self.visitor.makeConnection(self.transport)
        self.sent_at_connect = self.transport.value()

    def feed(self, *chunks: bytes) -> "_Visit":
        for chunk in chunks:
            self.visitor.dataReceived(chunk)
            self.sent_after.append(self.transport.value())
        return self

    @property
    def sent(self) -> bytes:
        return self.transport.value()

    @property
    def left(self) -> str | None:
        """How it left: "lose", "close" (sent the close command), "abort", or None."""
        if self.transport.disconnected:  # abortConnection sets it
            return "abort"
        if self.transport.disconnecting:
            return "lose"
        if any(line.rstrip(b"\r").strip().lower() == b"close" for line in self.sent.split(b"\n")[1:]):
            return "close"
        return None


def _lines_sent(data: bytes) -> list[bytes]:
    """Complete lines in *data*, without ``\\n`` or ``\\r\\n``."""
    return [line.removesuffix(b"\r") for line in data.split(b"\n")[:-1]]


def _expect_message_sent(visit: _Visit, when: str) -> None:
    """The visitor sent its message once, as its first line (*when*, an `N_`
    text, says after what)."""
    expect(visit.sent, _("after {when}, your client had sent nothing").format(when=_(when)))
    lines = _lines_sent(visit.sent)
    expect(lines, _("your client sent {sent}: no line end, so the server never sees a complete line").format(
        sent=repr(visit.sent)), _(NO_LINE_END_HINT))
    expect(lines[0] == MESSAGE.encode("utf-8"),
           _("the first line your client sent is {line}, not the message {message} encoded as UTF-8").format(
               line=repr(lines[0]), message=repr(MESSAGE)))
    count = lines.count(MESSAGE.encode("utf-8"))
    expect(count == 1, ngettext("your client sent the message {n} time", "your client sent the message {n} times",
                                count).format(n=count))


def _expect_heard(visitor, expected: list[str]) -> None:
    heard = getattr(visitor, "heard", None)
    expect(isinstance(heard, list), _("heard is {heard}, not a list").format(heard=repr(heard)))
    kinds = {type(h).__name__ for h in heard}
    expect(all(isinstance(h, str) for h in heard),
           _("heard holds {kinds} values: {heard}").format(kinds=", ".join(sorted(kinds)), heard=repr(heard)),
           _(BYTES_HINT) if "bytes" in kinds else "")
    expect(heard[:len(expected)] == expected,
           _("heard is {heard}, expected {expected}").format(heard=repr(heard), expected=repr(expected)))


def _expect_welcome(visitor) -> None:
    welcome = getattr(visitor, "welcome", None)
    expect(welcome == WELCOME_LINE,
           _("welcome is {welcome}, expected {expected}").format(welcome=repr(welcome), expected=repr(WELCOME_LINE)),
           _(BYTES_HINT) if isinstance(welcome, bytes) else "")


def _did_nothing(visitor_class) -> bool:
    """A starter stub: given the welcome and two lines, it neither kept nor
    sent anything."""
    try:
        visit = _Visit(visitor_class, 1).feed(WELCOME_LINE.encode() + b"\r\n", b"client 1: hi\r\n")
    except Exception:
        return False
    return not visit.sent and getattr(visit.visitor, "welcome", None) is None \
        and not getattr(visit.visitor, "heard", None) and visit.left is None


# --- the checker ------------------------------------------------------------------------------


def check_visitor(visitor_class) -> Report:
    """Check a Spread Site client: pass the class (``Visitor``).  The checker
    makes ``Visitor(message, wanted)`` for each scenario."""
    report = Report(N_("Your Spread Site visitor"))
    welcome = WELCOME_LINE.encode("utf-8")
    after_welcome = N_("the welcome")

    if _did_nothing(visitor_class):
        report.results.append(Result(
            N_("the visitor keeps the welcome, answers it, listens and leaves (7 checks)"), False,
            N_("your Visitor kept nothing and sent nothing: its lineReceived is still the starter"),
            N_("begin with lineReceived: the first line that arrives is the welcome; keep it (decoded) in "
               "self.welcome and send your message as a line (sendLine takes bytes)")))
        return report

    with report.step(N_("it says nothing before the welcome has arrived"),
                     hint=N_("connectionMade means TCP has connected, not that the server has greeted you: "
                             "the welcome is the server's first line; answer it in lineReceived")):
        visit = _Visit(visitor_class)
        expect(not visit.sent_at_connect,
               _("your client sent {sent} as soon as it connected, before the welcome").format(
                   sent=repr(visit.sent_at_connect)))

    with report.step(N_("it keeps the welcome and answers it with its message, as one line"),
                     hint=N_("lineReceived gets one line as bytes, without its line end (the server ends lines "
                             "with \\r\\n): decode it into self.welcome; a transport carries bytes, not str: send "
                             "self.message encoded as UTF-8, with its line end (sendLine adds it)")):
        visit = _Visit(visitor_class).feed(welcome + b"\r\n")
        _expect_welcome(visit.visitor)
        _expect_message_sent(visit, after_welcome)

    with report.step(N_("it waits for the whole welcome, even when it arrives one byte at a time"),
                     hint=N_("TCP is a stream: one dataReceived call may carry a piece of a line. Let "
                             "LineReceiver collect the pieces and answer in lineReceived, once per complete line; "
                             "decode whole lines, not chunks (a Chinese character is three bytes)")):
        data = welcome + b"\r\n"
        visit = _Visit(visitor_class).feed(*(data[i:i + 1] for i in range(len(data))))
        early = [i for i, sent in enumerate(visit.sent_after[:-1]) if len(sent) > len(visit.sent_at_connect)]
        expect(not early, _("your client sent {sent} after {count} byte(s) of the welcome, before the line was "
                            "complete").format(sent=repr(visit.sent_after[early[0]]), count=early[0] + 1)
               if early else "")
        _expect_welcome(visit.visitor)
        _expect_message_sent(visit, after_welcome)

    with report.step(N_("a welcome and the next line in one chunk are two lines"),
                     hint=N_("one dataReceived call may carry several lines: the first is the welcome, the "
                             "next is someone speaking; handle each complete line")):
        visit = _Visit(visitor_class, 2).feed(welcome + "\r\nclient 1: 早上好\r\n".encode("utf-8"))
        _expect_welcome(visit.visitor)
        _expect_message_sent(visit, after_welcome)
        _expect_heard(visit.visitor, ["client 1: 早上好"])

    with report.step(N_("later lines are kept in heard, as text, without line ends"),
                     hint=N_("the lines after the welcome are what the others say; the server ends them with "
                             "\\r\\n: decode each line (UTF-8) and keep it without its line end. The welcome is "
                             "the server's greeting, not something another client said")):
        visit = _Visit(visitor_class, 3).feed(welcome + b"\r\n", b"client 1: hi\r\n", "client 2: 你好\r\n".encode())
        _expect_heard(visit.visitor, ["client 1: hi", "client 2: 你好"])

    with report.step(N_("it leaves cleanly once it has heard `wanted` lines, and not before"),
                     hint=N_("count the lines heard, not the lines received (the welcome is not one of them); "
                             "leave with self.transport.loseConnection(), which sends what waits and then "
                             "closes; abortConnection resets the connection at once and throws away what is not "
                             "yet sent")):
        visit = _Visit(visitor_class, 2).feed(welcome + b"\r\n", b"client 1: one\r\n")
        expect(visit.left is None, _("after the welcome and one line, with wanted=2, your client left ({how})").format(
            how=visit.left))
        visit.feed(b"client 1: two\r\n")
        expect(visit.left is not None, _("after two lines heard, with wanted=2, your client is still connected"))
        expect(visit.left != "abort", _("your client left with abortConnection: the connection is reset, "
                                        "not closed, and what it wrote last may never be sent"))

    with report.step(N_("over real TCP, with the Spread server: the others hear it, it hears them, it leaves "
                        "cleanly"),
                     hint=N_("with the checks above passing, this is the same over a network: if the others "
                             "did not hear you, send a line (with its end) once the welcome has arrived; if the "
                             "connection did not end with ConnectionDone, close with loseConnection")):
        _over_tcp(visitor_class)

    return report


# --- over real TCP ---------------------------------------------------------------------------


class _WatchedSpreadFactory(SpreadFactory):
    """The Spread server, telling the checker when a client has left, and why.
    Reactor thread."""

    def __init__(self) -> None:
        super().__init__()
        from twisted.internet.defer import Deferred

        self.gone = {number: Deferred() for number in (1, 2)}

    def clientLeft(self, client, reason) -> None:
        super().clientLeft(client, reason)
        waiting = self.gone.get(client.number)
        if waiting is not None and not waiting.called:
            waiting.callback(reason.value)  # a Failure given to callback() would run the errbacks


def _over_tcp(visitor_class, timeout: float = 5.0) -> None:
    """The visitor against the Spread server on loopback, with a terminal
    client for company.  Notebook's thread (any thread but the reactor's)."""
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, serverFromString

    from ...rooms.background import blocking_call, start_reactor
    from ...rooms.terminal import Terminal

    start_reactor()
    factory = _WatchedSpreadFactory()
    factory.noisy = False
    port = blocking_call(serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen, factory, timeout=timeout)
    number = port.getHost().port
    visitor = None
    try:
        with Terminal("127.0.0.1", number, timeout=timeout) as other:
            other.read_line()  # its welcome
            visitor = visitor_class(MESSAGE, 1)
            endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", number, timeout=timeout)
            blocking_call(connectProtocol, endpoint, visitor, timeout=timeout)
            try:
                said = other.read_line()
            except (TimeoutError, ConnectionError):
                said = None
            expect(said == f"client 2: {MESSAGE}",
                   _("the other client received {said}, expected {expected}").format(
                       said=repr(said), expected=repr(f"client 2: {MESSAGE}")))
            other.type("welcome, visitor")
            try:
                why = blocking_call(lambda: factory.gone[2], timeout=timeout)
            except TimeoutError:
                expect(False, _("{timeout:g} s after hearing a line (wanted=1), your client was still "
                                "connected").format(timeout=timeout))
            _expect_heard(visitor, ["client 1: welcome, visitor"])
            expect(isinstance(why, ConnectionDone),
                   _("the server saw the connection end with {error}, not ConnectionDone (a clean close)").format(
                       error=f"{type(why).__name__}: {why}"))
    finally:
        def clean_up():
            transport = getattr(visitor, "transport", None)
            if transport is not None and transport.connected:
                transport.abortConnection()
            return port.stopListening()

        with contextlib.suppress(Exception):
            blocking_call(clean_up, timeout=timeout)
