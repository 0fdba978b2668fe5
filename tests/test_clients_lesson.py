"""Lesson 10's checker, `check_visitor`, tested both ways: right answers
written differently from the solution are accepted, and wrong answers that
embody real misconceptions about clients are rejected, each with a hint that
names the misconception.  The checker's last step runs each answer over real
TCP against the Spread server, so every answer here is also run on a network."""

from __future__ import annotations

import re
import pytest
from conftest import report_count
from lesson_runs import run_lesson
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol
from twisted.protocols.basic import LineReceiver

import spreadlab.teaching.exercises as exercises
from spreadlab.teaching.exercises import check_visitor
from spreadlab.teaching.solutions.client import Visitor

pytestmark = pytest.mark.timeout(120)


def failed(report) -> dict[str, str]:
    """{what: hint} of the failed steps."""
    return {r.what: r.hint for r in report.failed}


class Base(LineReceiver):
    """What the lesson's starter gives: the constructor and connectionLost."""

    def __init__(self, message, wanted=1):
        self.message = message
        self.wanted = wanted
        self.welcome = None
        self.heard = []
        self.done = Deferred()

    def connectionLost(self, reason):
        self.done.callback(reason.value)


# --- right answers, written differently from the solution ----------------------------------------


class NewlineVisitor(Base):
    """delimiter b"\\n", strips the \\r itself, answers with \\n only, leaves at >= wanted."""

    delimiter = b"\n"

    def lineReceived(self, line):
        text = line.rstrip(b"\r").decode("utf-8")
        if self.welcome is not None:
            self.heard.append(text)
            if len(self.heard) >= self.wanted:
                self.transport.loseConnection()
        else:
            self.welcome = text
            self.transport.write(self.message.encode("utf-8") + b"\n")


class BufferingVisitor(Protocol):
    """No LineReceiver: its own buffer; leaves by sending the server's close command."""

    def __init__(self, message, wanted=1):
        self.message, self.wanted = message, wanted
        self.welcome, self.heard, self.buffer = None, [], b""
        self.done = Deferred()

    def dataReceived(self, data):
        self.buffer += data
        while b"\r\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            self.handle(line.decode("utf-8"))

    def handle(self, text):
        if self.welcome is None:
            self.welcome = text
            self.transport.writeSequence([self.message.encode("utf-8"), b"\r\n"])
        elif len(self.heard) < self.wanted:
            self.heard.append(text)
            if len(self.heard) == self.wanted:
                self.transport.write(b"close\r\n")

    def connectionLost(self, reason):
        self.done.callback(reason.value)


class SwitchingVisitor(Base):
    """Replaces its line handler after the welcome; counts down what it still wants."""

    def connectionMade(self):
        self.handle = self.greet
        self.left_to_hear = self.wanted

    def lineReceived(self, line):
        self.handle(line.decode("utf-8", errors="replace"))

    def greet(self, text):
        self.welcome = text
        self.handle = self.listen
        self.sendLine(bytes(self.message, "utf-8"))

    def listen(self, text):
        self.heard += [text]
        self.left_to_hear -= 1
        if not self.left_to_hear:
            self.transport.loseConnection()


RIGHT = [Visitor, NewlineVisitor, BufferingVisitor, SwitchingVisitor]


@pytest.mark.parametrize("answer", RIGHT, ids=[a.__name__ for a in RIGHT])
def test_right_answers_are_accepted(answer, request):
    report = check_visitor(answer)
    assert report, str(report)
    assert len(report.results) == 7
    if answer is not Visitor:
        report_count(request.config, "right answers accepted")


# --- wrong answers: each a misconception, rejected with a hint that names it -----------------------


class ChunkIsALine(Base):
    """Treats each dataReceived chunk as one line (TCP is a stream)."""

    def dataReceived(self, data):
        for text in data.decode("utf-8", errors="replace").splitlines():
            if self.welcome is None:
                self.welcome = text
                self.transport.write(self.message.encode("utf-8") + b"\r\n")
            else:
                self.heard.append(text)
                if len(self.heard) == self.wanted:
                    self.transport.loseConnection()


class WritesStr(Base):
    """Writes a str to the transport (bytes vs str)."""

    def lineReceived(self, line):
        if self.welcome is None:
            self.welcome = line.decode("utf-8")
            self.transport.write(self.message + "\r\n")
            return
        self.heard.append(line.decode("utf-8"))
        if len(self.heard) == self.wanted:
            self.transport.loseConnection()


class NoLineEnd(Base):
    """Thinks write() sends a message: no line end, so the server never sees a line."""

    def lineReceived(self, line):
        if self.welcome is None:
            self.welcome = line.decode("utf-8")
            self.transport.write(self.message.encode("utf-8"))
            return
        self.heard.append(line.decode("utf-8"))
        if len(self.heard) == self.wanted:
            self.transport.loseConnection()


class SpeaksFirst(Visitor):
    """Thinks connectionMade means the server has greeted it."""

    def connectionMade(self):
        self.sendLine(self.message.encode("utf-8"))
        self.welcome = ""  # as if greeted

    def lineReceived(self, line):
        if self.welcome == "":
            self.welcome = line.decode("utf-8")
            return
        super().lineReceived(line)


class WelcomeIsHeard(Visitor):
    """Counts the server's welcome among what the others said."""

    def lineReceived(self, line):
        text = line.decode("utf-8")
        if self.welcome is None:
            self.welcome = text
            self.sendLine(self.message.encode("utf-8"))
        self.heard.append(text)
        if len(self.heard) == self.wanted:
            self.transport.loseConnection()


class KeepsBytes(Visitor):
    """Keeps the lines as bytes (bytes vs str)."""

    def lineReceived(self, line):
        if self.welcome is None:
            super().lineReceived(line)
            return
        self.heard.append(line)
        if len(self.heard) == self.wanted:
            self.transport.loseConnection()


class KeepsTheWelcomeAsBytes(Visitor):
    """Keeps the welcome as bytes (bytes vs str): told to decode, not that TCP is a stream."""

    def lineReceived(self, line):
        if self.welcome is None:
            self.welcome = line
            self.sendLine(self.message.encode("utf-8"))
            return
        self.heard.append(line.decode("utf-8"))
        if len(self.heard) == self.wanted:
            self.transport.loseConnection()


class Aborts(Visitor):
    """Thinks abortConnection is the way to hang up."""

    def lineReceived(self, line):
        if self.welcome is None:
            super().lineReceived(line)
            return
        self.heard.append(line.decode("utf-8"))
        if len(self.heard) == self.wanted:
            self.transport.abortConnection()


class KeepsTheCarriageReturn(Visitor):
    """Splits on \\n and forgets that the server ends lines with \\r\\n."""

    delimiter = b"\n"


class NeverLeaves(Visitor):
    """Listens but forgets to leave."""

    def lineReceived(self, line):
        if self.welcome is None:
            super().lineReceived(line)
        else:
            self.heard.append(line.decode("utf-8"))


WRONG = [
    # (answer, a step that must fail, words its hint must contain: the misconception named)
    (ChunkIsALine, "it waits for the whole welcome, even when it arrives one byte at a time", "TCP is a stream"),
    (WritesStr, "it keeps the welcome and answers it with its message, as one line", "bytes, not str"),
    (NoLineEnd, "it keeps the welcome and answers it with its message, as one line", "a line needs its end"),
    (NoLineEnd, "it waits for the whole welcome, even when it arrives one byte at a time", "a line needs its end"),
    (SpeaksFirst, "it says nothing before the welcome has arrived", "not that the server has greeted you"),
    (WelcomeIsHeard, "later lines are kept in heard, as text, without line ends", "not something another client said"),
    (KeepsBytes, "later lines are kept in heard, as text, without line ends", "decode it"),
    (KeepsTheWelcomeAsBytes, "it keeps the welcome and answers it with its message, as one line", "decode it"),
    (KeepsTheWelcomeAsBytes, "it waits for the whole welcome, even when it arrives one byte at a time", "decode it"),
    (Aborts, "it leaves cleanly once it has heard `wanted` lines, and not before", "abortConnection resets"),
    (KeepsTheCarriageReturn, "it keeps the welcome and answers it with its message, as one line", "\\r\\n"),
    (NeverLeaves, "it leaves cleanly once it has heard `wanted` lines, and not before", "loseConnection"),
]


@pytest.mark.parametrize("answer, step, named", WRONG, ids=[f"{w[0].__name__}-{i}" for i, w in enumerate(WRONG)])
def test_wrong_answers_are_rejected_with_the_misconception_named(answer, step, named, request):
    report = check_visitor(answer)
    assert not report, f"{answer.__name__} was accepted:\n{report}"
    misses = failed(report)
    assert step in misses, f"{answer.__name__}: the step {step!r} passed:\n{report}"
    assert named in misses[step], f"{answer.__name__}: the hint does not say {named!r}: {misses[step]}"
    report_count(request.config, "wrong answers rejected")


def test_speaking_first_is_told_once_not_also_that_tcp_is_a_stream():
    report = check_visitor(SpeaksFirst)
    assert [r.what for r in report.failed] == ["it says nothing before the welcome has arrived"], str(report)


def test_the_starter_stub_scores_zero_with_a_hint_to_begin():
    class Starter(Base):
        def lineReceived(self, line):
            pass  # Your code

    report = check_visitor(Starter)
    assert not report
    assert sum(r.passed for r in report.results) == 0
    assert report.results[0].hint.startswith("begin with lineReceived")
    assert "0 of 1" in report.summary()


def test_the_over_tcp_step_catches_what_only_a_network_shows():
    """A visitor that aborts passes nothing over TCP: the server sees a reset
    (ConnectionLost), not ConnectionDone."""
    report = check_visitor(Aborts)
    misses = failed(report)
    tcp = "over real TCP, with the Spread server: the others hear it, it hears them, it leaves cleanly"
    assert tcp in misses
    seen = next(r.seen for r in report.results if r.what == tcp)
    assert "ConnectionLost" in seen and "not ConnectionDone" in seen, seen


def test_a_checker_never_raises_because_of_the_learners_code():
    class Explodes(Base):
        def __init__(self, message, wanted=1):
            raise ValueError("boom")

    report = check_visitor(Explodes)
    assert not report
    assert all("ValueError" in r.seen for r in report.failed)


def test_exported():
    assert "check_visitor" in exercises.__all__


# --- the lesson itself, with the folded solution typed in ------------------------------------------

def test_the_lesson_with_its_solution_sends_the_visitor_into_the_chat(tmp_path):
    """Lesson 10 run as a learner who typed the folded solution: the checker
    passes, and the live cell shows the visitor heard and leaving cleanly
    over real TCP."""
    printed, shown = run_lesson("10-clients", tmp_path, solved=True)
    assert "Your Spread Site visitor: all 7 checks passed" in shown
    assert re.search(r"Bob hears: client \d+: 你好, I am new here", printed), printed
    assert "the visitor heard: ['client 1: welcome, visitor!']" in printed, printed
    assert "and left with: ConnectionDone" in printed, printed
    assert "ConnectionRefusedError: Connection was refused" in printed, printed
    assert re.search(r"Bob hears: client \d+: hello from a program", printed), printed


def test_the_chinese_lesson_with_its_solution_sends_the_visitor_into_the_chat(tmp_path):
    """The same run in the Chinese edition (notebooks/zh-CN/10-clients): its folded
    solution passes every check, and its live cells say in Chinese what happened,
    with the bytes on the wire (the visitor's message, Bob's answer) unchanged."""
    printed, shown = run_lesson("10-clients", tmp_path, solved=True, edition="zh-CN")
    assert shown.count("✔") == 7 and "✘" not in shown, shown  # the checker's report, in either language
    assert re.search(r"Bob 听到： client \d+: 你好, I am new here", printed), printed
    assert "访客听到的： ['client 1: welcome, visitor!']" in printed, printed
    assert "离开时的原因： ConnectionDone" in printed, printed
    assert "ConnectionRefusedError: Connection was refused" in printed, printed
    assert "服务器说： 欢迎来到Spread Site" in printed, printed
    assert re.search(r"Bob 听到： client \d+: hello from a program", printed), printed


def test_the_older_way_client_factory_and_connect_tcp_does_what_the_lesson_says():
    """connectTCP returns a connector, not a Deferred; the ClientFactory builds
    the protocol, hears clientConnectionLost when a connection ends and
    clientConnectionFailed when nobody listens."""
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred
    from twisted.internet.error import ConnectionDone, ConnectionRefusedError
    from twisted.internet.interfaces import IConnector
    from twisted.internet.protocol import ClientFactory

    from spreadlab import LiveRoom, SpreadFactory, blocking_call

    class Greeted(LineReceiver):
        def __init__(self):
            self.welcomed = Deferred()

        def lineReceived(self, line):
            self.transport.loseConnection()
            self.welcomed.callback(line.decode("utf-8"))

    class GreetedFactory(ClientFactory):
        protocol = Greeted

        def __init__(self):
            self.ended = Deferred()

        def buildProtocol(self, addr):
            self.built = super().buildProtocol(addr)
            return self.built

        def clientConnectionFailed(self, connector, reason):
            self.ended.callback(("failed", reason.value))

        def clientConnectionLost(self, connector, reason):
            self.ended.callback(("lost", reason.value))

    with LiveRoom(SpreadFactory()) as room:
        factory = GreetedFactory()
        connector = blocking_call(reactor.connectTCP, room.host, room.port, factory)
        assert IConnector.providedBy(connector)
        how, why = blocking_call(lambda: factory.ended)
        assert how == "lost" and isinstance(why, ConnectionDone)
        assert factory.built.welcomed.called
        port = room.port
    refused = GreetedFactory()
    blocking_call(reactor.connectTCP, "127.0.0.1", port, refused)
    how, why = blocking_call(lambda: refused.ended)
    assert how == "failed" and isinstance(why, ConnectionRefusedError)


def test_connect_protocols_deferred_fires_once_connection_made_has_run():
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    from spreadlab import LiveRoom, SpreadFactory, blocking_call

    class Noting(Protocol):
        made = False

        def connectionMade(self):
            self.made = True

    with LiveRoom(SpreadFactory()) as room:
        protocol = blocking_call(lambda: connectProtocol(TCP4ClientEndpoint(reactor, room.host, room.port), Noting())
                                 .addCallback(lambda p: (p, p.made)))
        assert protocol[1] is True
        blocking_call(protocol[0].transport.loseConnection)
