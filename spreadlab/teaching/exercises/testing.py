"""Checkers for lesson 11 (Testing your protocols).

`check_your_tests` checks tests, not a server: it runs the test functions you
wrote against the correct Spread server (every test must pass) and against
servers with one bug planted each (some test must fail on each).  This is
mutation testing in miniature: a bug that no test notices is a gap in the
tests.

A test is a function that takes the factory class to test and raises (an
``assert`` that does not hold) when something is wrong::

    def test_no_echo(factory_class):
        room = MemoryRoom(factory_class())
        alice, bob = room.connect(), room.connect()
        ...
"""

from __future__ import annotations

import traceback

from twisted.internet.error import ConnectionDone

from ...servers.safety import printable_line
from ...servers.spread import SpreadFactory, Spreader
from .report import Report, expect

__all__ = ["check_your_tests", "MUTANTS"]


# --- the planted bugs ------------------------------------------------------------
# Each maker returns a fresh factory class (fresh, so a shared list starts empty).


def _echoes_the_sender():
    class EchoingFactory(SpreadFactory):
        def spread(self, sender, line):
            data = sender.name.encode("ascii") + b": " + line + b"\r\n"
            for client in list(self.clients):
                client.deliver(data)  # the sender too

    return EchoingFactory


def _chunk_is_a_message():
    class ChunkSpreader(Spreader):
        def dataReceived(self, data):
            for line in data.splitlines():  # as if every chunk held whole lines
                self.lineReceived(line)

    class ChunkFactory(SpreadFactory):
        protocol = ChunkSpreader

    return ChunkFactory


def _spreads_close():
    class NoReturnSpreader(Spreader):
        def lineReceived(self, line):
            line = line.rstrip(b"\r")
            if line.strip().lower() == b"close":
                self.transport.loseConnection()  # and no return
            self.factory.spread(self, printable_line(line))

    class NoReturnFactory(SpreadFactory):
        protocol = NoReturnSpreader

    return NoReturnFactory


def _forgets_a_reset_client():
    class CleanCloseOnlyFactory(SpreadFactory):
        def clientLeft(self, client, reason):
            if reason.check(ConnectionDone):  # a reset (abort) is not counted
                super().clientLeft(client, reason)

    return CleanCloseOnlyFactory


def _shares_one_list():
    shared = []

    class SharedListFactory(SpreadFactory):
        def __init__(self, **options):
            super().__init__(**options)
            self.clients = shared  # every server in the process uses this one list

    return SharedListFactory


#: (what the bug is, how to make it, the hint when no test notices it)
MUTANTS = [
    ("sends every line back to its sender too", _echoes_the_sender,
     "what should the sender itself receive after it sends a line?"),
    ("treats each chunk as a whole message", _chunk_is_a_message,
     "TCP may cut a line anywhere: what if a line arrives in pieces (the room's chunks= option)?"),
    ("spreads the word close to the others before closing", _spreads_close,
     "when a client leaves with close, what should the others see, and what should they not see?"),
    ("counts down only on a clean close, not on a reset", _forgets_a_reset_client,
     "a connection can also end with abort(): what should numProtocols be afterwards?"),
    ("keeps every server's clients in one shared list", _shares_one_list,
     "two servers can run in one process: can a message cross from one to the other?"),
]


def _run(test, factory_class) -> str | None:
    """Run one test; None if it passed, else what went wrong."""
    try:
        test(factory_class)
    except AssertionError as error:
        where = traceback.extract_tb(error.__traceback__)[-1]
        return f"assert failed at line {where.lineno}: {error}" if str(error) else f"assert failed at line {where.lineno}"
    except Exception as error:
        where = traceback.extract_tb(error.__traceback__)[-1]
        return f"{type(error).__name__}: {error} (line {where.lineno}, in {where.name})"
    return None


def check_your_tests(*tests) -> Report:
    """Check your tests: pass the test functions (or one list of them).

    Every test must pass on the correct Spread server
    (``spreadlab.SpreadFactory``); for each planted bug in `MUTANTS`, at least
    one test must fail."""
    if len(tests) == 1 and isinstance(tests[0], (list, tuple)):
        tests = tuple(tests[0])
    report = Report("Your tests")
    names = [getattr(t, "__name__", repr(t)) for t in tests]

    with report.step("you gave at least one test function",
                     hint="pass the functions themselves: check_your_tests(test_one, test_two)"):
        expect(tests and all(callable(t) for t in tests), f"got {tests!r}")
    if not report.passed:
        return report

    for name, test in zip(names, tests):
        with report.step(f"{name} passes on the correct server",
                         hint="a test must pass on correct code: look at what the real server sends "
                              "(a welcome line first, then 'client N: ...' lines), and compare bytes with bytes"):
            problem = _run(test, SpreadFactory)
            expect(problem is None, problem or "")
    if not report.passed:
        return report  # a test that fails on correct code would 'catch' every bug

    for what, make, hint in MUTANTS:
        with report.step(f"a test fails on a server that {what}", hint=hint):
            caught = [n for n, t in zip(names, tests) if _run(t, make()) is not None]
            expect(caught, "every test passed on that server: the bug went unnoticed")
    return report
