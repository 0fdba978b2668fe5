"""The checkers of lessons 06-07, tested both ways: the worked solutions pass,
and each typical mistake fails with the hint that points at its concept."""

from __future__ import annotations

import pytest
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.basic import LineReceiver

import spreadlab.teaching.exercises as exercises
from spreadlab import MemoryRoom, SpreadFactory, WELCOME, seed
from spreadlab.teaching.exercises import (
    check_idle_timeout,
    check_nick_command,
    check_spread_factory,
    check_who_command,
    check_your_tests,
)
from spreadlab.teaching.solutions import spread as solved
from spreadlab.teaching.solutions import testing as solved_tests


def failed(report) -> dict[str, str]:
    """{what: hint} of the failed steps."""
    return {r.what: r.hint for r in report.failed}


def test_checkers_are_exported():
    for name in ("check_spread_factory", "check_nick_command", "check_idle_timeout", "check_your_tests"):
        assert name in exercises.__all__


# --- check_spread_factory ------------------------------------------------------------


def test_the_solution_and_the_library_server_pass():
    for factory_class in (solved.MySpreadFactory, SpreadFactory, solved.NickFactory):
        report = check_spread_factory(factory_class)
        assert report, str(report)
        assert len(report.results) == 15


def variant(**methods):
    """A factory like the solution's, with some protocol methods replaced."""
    protocol = type("Variant", (solved.MySpreader,), methods)
    return type("VariantFactory", (solved.MySpreadFactory,), {"protocol": protocol})


def spread_to_all(self, line):
    line = line.rstrip(b"\r")
    if line == b"close":
        self.transport.loseConnection()
        return
    for client in self.factory.clients:
        client.transport.write(line + b"\r\n")  # forgot to skip the sender


def compare_with_str(self, line):
    line = line.rstrip(b"\r")
    if line == "close":  # bytes compared with str: never equal
        self.transport.loseConnection()
        return
    for client in self.factory.clients:
        if client is not self:
            client.transport.write(line + b"\r\n")


def no_return(self, line):
    line = line.rstrip(b"\r")
    if line == b"close":
        self.transport.loseConnection()
    for client in self.factory.clients:
        if client is not self:
            client.transport.write(line + b"\r\n")


def welcome_as_str(self):
    self.factory.numProtocols += 1
    self.factory.clients.append(self)
    self.transport.write(WELCOME.format(n=self.factory.numProtocols) + "\r\n")


class ChunkSpreader(Protocol):
    """Assumes one chunk is one message (the seed's way, with the list on the factory)."""

    def connectionMade(self):
        self.factory.numProtocols += 1
        self.factory.clients.append(self)
        self.transport.write(WELCOME.format(n=self.factory.numProtocols).encode() + b"\r\n")

    def connectionLost(self, reason):
        self.factory.numProtocols -= 1
        self.factory.clients.remove(self)

    def dataReceived(self, data):
        if data.strip() == b"close":
            self.transport.loseConnection()
            return
        for client in self.factory.clients:
            if client is not self:
                client.transport.write(data)


class ChunkFactory(solved.MySpreadFactory):
    protocol = ChunkSpreader


GLOBAL_CLIENTS = []


class GlobalListSpreader(solved.MySpreader):
    def connectionMade(self):
        self.factory.numProtocols += 1
        GLOBAL_CLIENTS.append(self)
        self.transport.write(WELCOME.format(n=self.factory.numProtocols).encode() + b"\r\n")

    def connectionLost(self, reason):
        self.factory.numProtocols -= 1
        GLOBAL_CLIENTS.remove(self)

    def lineReceived(self, line):
        line = line.rstrip(b"\r")
        if line == b"close":
            self.transport.loseConnection()
            return
        for client in GLOBAL_CLIENTS:
            if client is not self:
                client.transport.write(line + b"\r\n")


class GlobalListFactory(solved.MySpreadFactory):
    protocol = GlobalListSpreader


class CountsOnCloseOnly(solved.MySpreader):
    def connectionLost(self, reason):
        pass  # forgot: connectionLost is where every ending arrives

    def lineReceived(self, line):
        line = line.rstrip(b"\r")
        if line == b"close":
            self.factory.numProtocols -= 1
            self.factory.clients.remove(self)
            self.transport.loseConnection()
            return
        super().lineReceived(line)


class CountsOnCloseOnlyFactory(solved.MySpreadFactory):
    protocol = CountsOnCloseOnly


MISTAKES = {
    "forgot to skip the sender": (
        variant(lineReceived=spread_to_all),
        "a line from one client reaches every other client, and not the sender", "except the sender"),
    "compares bytes with str": (
        variant(lineReceived=compare_with_str),
        "close (from telnet: close\\r\\n) disconnects the sender", "bytes never equal a str"),
    "no return after loseConnection": (
        variant(lineReceived=no_return),
        "the word close is not spread to the others", "unless you return"),
    "writes str to the transport": (
        variant(connectionMade=welcome_as_str),
        "each new client is welcomed with a line carrying its number", "encode text first"),
    "one chunk = one message": (
        ChunkFactory, "a half line is not spread until its end arrives", "a chunk is not a message"),
    "clients in a global list": (
        GlobalListFactory, "two servers do not share their clients", "not in a global"),
    "does not count down on abort": (
        CountsOnCloseOnlyFactory,
        "numProtocols counts down when a client is reset (abortConnection: a crash, a pulled cable)",
        "every connection ends in connectionLost"),
    "telnet's line end only": (
        variant(delimiter=b"\r\n"), "a line ended by \\n alone (as nc sends it) is spread", "nc with \\n only"),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_each_typical_mistake_fails_with_its_hint(mistake):
    factory_class, step, hint_words = MISTAKES[mistake]
    report = check_spread_factory(factory_class)
    assert not report
    misses = failed(report)
    assert step in misses, f"{mistake}: expected {step!r} to fail; failed: {list(misses)}"
    assert hint_words in misses[step]
    GLOBAL_CLIENTS.clear()


def test_the_str_mistake_shows_the_type_error():
    report = check_spread_factory(MISTAKES["writes str to the transport"][0])
    seen = [r.seen for r in report.failed if r.what.startswith("each new client")][0]
    assert "TypeError" in seen


def test_the_blogs_server_fails_where_the_lesson_says(capsys):
    report = check_spread_factory(seed.SpreadFactory)
    seed.clients.clear()
    misses = failed(report)
    for step in ("a half line is not spread until its end arrives",
                 "close cut into two chunks disconnects the sender",
                 "the word close is not spread to the others",
                 "two servers do not share their clients"):
        assert step in misses


def test_a_checker_survives_a_protocol_that_raises():
    def explode(self, line):
        raise RuntimeError("boom")

    report = check_spread_factory(variant(lineReceived=explode))
    assert not report
    assert any("RuntimeError: boom" in r.seen for r in report.failed)
    assert "_repr_html_" in dir(report) and "boom" in report._repr_html_()


def test_a_factory_that_is_not_a_factory_is_reported_not_raised():
    report = check_spread_factory(Factory)  # buildProtocol makes a bare Protocol: nothing works
    assert not report


# --- check_nick_command -----------------------------------------------------------------


def test_nick_solution_passes():
    assert check_nick_command(solved.NickFactory)


def nick_on_factory(self, line):
    line = line.rstrip(b"\r")
    if line.startswith(b"/nick"):
        self.factory.name = line[6:].strip() or b"anonymous"  # shared by every client
        return
    for client in self.factory.clients:
        if client is not self:
            client.transport.write(getattr(self.factory, "name", b"anonymous") + b": " + line + b"\r\n")


def nick_crashes_on_empty(self, line):
    line = line.rstrip(b"\r")
    if line.startswith(b"/nick"):
        self.name = line.split()[1]  # IndexError on a bare /nick
        return
    solved.NickSpreader.lineReceived(self, line)


@pytest.mark.parametrize("methods, step, words", [
    ({}, "/nick alice is not spread to the others", "handle yourself"),
    ({"lineReceived": nick_on_factory}, "each client keeps its own name", "protocol instance"),
    ({"lineReceived": nick_crashes_on_empty}, "/nick with no name does not crash the connection", "exception"),
])
def test_nick_mistakes(methods, step, words):
    protocol = type("Nick", (solved.NickSpreader,), methods) if methods else solved.MySpreader
    factory_class = type("NickFactory", (solved.MySpreadFactory,), {"protocol": protocol})
    misses = failed(check_nick_command(factory_class))
    assert step in misses and words in misses[step]


# --- check_idle_timeout ---------------------------------------------------------------------


def test_idle_solution_passes():
    report = check_idle_timeout(solved.IdleFactory)
    assert report, str(report)


def test_idle_timeout_with_another_length():
    class QuickIdle(solved.IdleSpreader):
        idle = 5

    class QuickFactory(SpreadFactory):
        protocol = QuickIdle

    assert check_idle_timeout(QuickFactory, seconds=5)
    assert not check_idle_timeout(solved.IdleFactory, seconds=5)


class NoReset(solved.IdleSpreader):
    def lineReceived(self, line):
        solved.Spreader.lineReceived(self, line)


class TimerOnFactory(solved.IdleSpreader):
    def connectionMade(self):
        solved.Spreader.connectionMade(self)
        if getattr(self.factory, "timer", None) is not None and self.factory.timer.active():
            self.factory.timer.cancel()
        self.factory.timer = self.timer = self.factory.clock.callLater(self.idle, self.transport.loseConnection)


class NoCancel(solved.IdleSpreader):
    def connectionLost(self, reason):
        solved.Spreader.connectionLost(self, reason)


class CancelWithoutAsking(solved.IdleSpreader):
    def connectionLost(self, reason):
        self.timer.cancel()  # AlreadyCalled when the timer itself closed the connection
        solved.Spreader.connectionLost(self, reason)


@pytest.mark.parametrize("protocol, step, words", [
    (NoReset, "a line starts the countdown again", "reset"),
    (TimerOnFactory, "each client has its own countdown", "protocol instance"),
    (NoCancel, "no timer is left behind when a client leaves", "cancel it in connectionLost"),
    (CancelWithoutAsking, "a silent client is still there just before 30 s, and gone just after", ".active()"),
    (solved.Spreader, "a silent client is still there just before 30 s, and gone just after", "factory.clock"),
])
def test_idle_mistakes(protocol, step, words):
    factory_class = type("F", (SpreadFactory,), {"protocol": protocol})
    misses = failed(check_idle_timeout(factory_class))
    assert step in misses and words in misses[step]


def test_idle_checker_accepts_a_factory_without_a_clock_option():
    class PlainFactory(Factory):
        protocol = solved.IdleSpreader

        def __init__(self):
            self.numProtocols = 0
            self.clients = []
            self.clock = None  # the checker sets it

    # IdleSpreader builds on the library's Spreader, which needs SpreadFactory's
    # hooks; a plain factory fails the checks but the checker does not raise.
    report = check_idle_timeout(PlainFactory)
    assert not report


# --- check_your_tests ---------------------------------------------------------------------


ALL_TESTS = [getattr(solved_tests, name) for name in solved_tests.__all__]


def test_the_solution_tests_pass_on_correct_and_catch_every_bug():
    report = check_your_tests(*ALL_TESTS)
    assert report, str(report)
    assert check_your_tests(ALL_TESTS)  # a list works too


@pytest.mark.parametrize("name", solved_tests.__all__)
def test_the_solution_tests_pass_on_the_correct_server(name):
    getattr(solved_tests, name)(SpreadFactory)


def test_each_planted_bug_is_caught_by_some_solution_test():
    for what, make, _hint in exercises.MUTANTS:
        caught = []
        for test in ALL_TESTS:
            try:
                test(make())
            except AssertionError:
                caught.append(test.__name__)
        assert caught, what


def test_too_few_tests_leave_bugs_unnoticed_with_hints():
    report = check_your_tests(solved_tests.test_no_echo)
    misses = failed(report)
    assert "a test fails on a server that sends every line back to its sender too" not in misses
    assert "a test fails on a server that treats each chunk as a whole message" in misses
    assert "chunks=" in misses["a test fails on a server that treats each chunk as a whole message"]


def test_a_test_that_fails_on_correct_code_is_reported_first():
    def test_wrong(factory_class):
        room = MemoryRoom(factory_class())
        alice, bob = room.connect(), room.connect()
        alice.send(b"hi\r\n")
        assert bob.received.endswith("hi\r\n")  # str vs bytes: TypeError

    report = check_your_tests(test_wrong, solved_tests.test_close)
    misses = failed(report)
    assert list(misses) == ["test_wrong passes on the correct server"]
    assert "bytes with bytes" in misses["test_wrong passes on the correct server"]


def test_an_empty_test_catches_nothing():
    def test_nothing(factory_class):
        pass

    report = check_your_tests(test_nothing)
    assert len(report.failed) == len(exercises.MUTANTS)


def test_no_tests_is_reported():
    assert not check_your_tests()
    assert not check_your_tests("test_no_echo")


def test_a_server_that_spreads_nothing_gets_one_blocked_line_not_five_failures():
    def nothing(self, line):
        pass

    report = check_spread_factory(variant(lineReceived=nothing))
    whats = [r.what for r in report.failed]
    assert "a line from one client reaches every other client, and not the sender" in whats
    assert "a line sent one byte at a time arrives whole" not in whats
    assert "two servers do not share their clients" not in whats
    assert any("(6 checks)" in w for w in whats)
    assert "numProtocols counts down when a client sends close" not in whats  # close fails already
    assert len(report.results) == 9


# --- the notebooks' folded solutions pass their checkers ---------------------------------

import pathlib
import re

import nbformat
from twisted.internet.protocol import Factory as _Factory
from twisted.protocols.basic import LineReceiver as _LineReceiver

import spreadlab

NOTEBOOKS = pathlib.Path(__file__).parent.parent / "notebooks"


def folded_solutions(name: str) -> list[str]:
    """The Python code of each <details> Solution block of a notebook."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    blocks = []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "<summary>Solution</summary>" in cell.source:
            blocks += re.findall(r"```python\n(.*?)```", cell.source, flags=re.S)
    return blocks


def namespace() -> dict:
    ns = {name: getattr(spreadlab, name) for name in spreadlab.__all__}
    ns.update(Factory=_Factory, LineReceiver=_LineReceiver, MemoryRoom=MemoryRoom,
              check_your_tests=check_your_tests)
    return ns


def test_lesson_05_folded_solutions_pass():
    spreader, nick = folded_solutions("06-spread-site.ipynb")
    ns = namespace()
    exec(spreader, ns)
    assert check_spread_factory(ns["MySpreadFactory"]), "the folded Spreader solution"
    exec(nick, ns)
    assert check_nick_command(ns["NickFactory"]), "the folded /nick solution"


def test_lesson_06_folded_solutions_pass():
    idle, who = folded_solutions("07-going-live.ipynb")
    ns = namespace()
    exec(idle, ns)
    assert check_idle_timeout(ns["IdleFactory"])
    exec(who, ns)
    assert check_who_command(ns["WhoFactory"])


def test_lesson_07_folded_solution_passes():
    (tests,) = folded_solutions("11-testing-your-protocols.ipynb")
    ns = namespace()
    exec(tests, ns)
    found = [f for name, f in ns.items() if name.startswith("test_") and callable(f)]
    assert len(found) == len(exercises.MUTANTS)
    assert check_your_tests(*found)


# --- check_who_command ----------------------------------------------------------------------



def test_who_solution_passes_and_the_plain_server_does_not():
    assert check_who_command(solved.WhoFactory)
    assert not check_who_command(SpreadFactory)


def who_without_strip(self, line):
    if line == b"/who":  # telnet's \r is still there
        self.transport.write(", ".join(c.name for c in self.factory.clients).encode() + b"\r\n")
        return
    solved.Spreader.lineReceived(self, line)


def who_to_everyone(self, line):
    if line.rstrip(b"\r") == b"/who":
        names = ", ".join(c.name for c in self.factory.clients).encode() + b"\r\n"
        for client in self.factory.clients:
            client.transport.write(names)
        return
    solved.Spreader.lineReceived(self, line)


def who_counts_only(self, line):
    if line.rstrip(b"\r") == b"/who":
        self.transport.write(b"%d connected\r\n" % len(self.factory.clients))
        return
    solved.Spreader.lineReceived(self, line)


@pytest.mark.parametrize("method, step, words", [
    (who_without_strip, "/who from telnet (ended by \\r\\n) works too", "trailing \\r"),
    (who_to_everyone, "/who is not spread to the others", "stop there"),
    (who_counts_only, "/who answers the sender with one line naming everyone connected", "name"),
])
def test_who_mistakes(method, step, words):
    factory_class = type("F", (SpreadFactory,), {"protocol": type("P", (solved.Spreader,), {"lineReceived": method})})
    misses = failed(check_who_command(factory_class))
    assert step in misses and words in misses[step]
