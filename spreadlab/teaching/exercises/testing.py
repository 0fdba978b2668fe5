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

import inspect
import traceback

from twisted.internet.error import ConnectionDone

from ...i18n import N_, _
from ...servers.safety import printable_line
from ...servers.spread import SpreadFactory, Spreader
from .cases import Case, run_table
from .report import Report, Result, describe_error, expect, is_learners

__all__ = ["check_your_tests", "MUTANTS"]


# --- the planted bugs ------------------------------------------------------------
# Each maker returns a fresh factory class (fresh, so a shared list starts empty),
# a subclass of SpreadFactory; the checker disguises it (`_disguised`) before a
# test sees it.


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
    (N_("sends every line back to its sender too"), _echoes_the_sender,
     N_("what should the sender itself receive after it sends a line?")),
    (N_("treats each chunk as a whole message"), _chunk_is_a_message,
     N_("TCP may cut a line anywhere: what if a line arrives in pieces (the room's chunks= option)?")),
    (N_("spreads the word close to the others before closing"), _spreads_close,
     N_("when a client leaves with close, what should the others see, and what should they not see?")),
    (N_("counts down only on a clean close, not on a reset"), _forgets_a_reset_client,
     N_("a connection can also end with abort(): what should numProtocols be afterwards?")),
    (N_("keeps every server's clients in one shared list"), _shares_one_list,
     N_("two servers can run in one process: can a message cross from one to the other?")),
]


def _disguised(factory_class) -> type:
    """A fresh class that behaves as *factory_class*, named ``SpreadFactory``
    (its protocol ``Spreader``) as the real server is, and that counts the
    connections it builds a protocol for.  The correct server is given to the
    tests disguised too, so that a test can tell servers apart only by what
    they do, never by which class, or which name, it was given."""
    protocol = type("Spreader", (factory_class.protocol,),
                    {"__qualname__": "Spreader", "__module__": Spreader.__module__})

    def buildProtocol(self, addr):
        type(self).connections += 1
        return super(disguised, self).buildProtocol(addr)

    disguised = type("SpreadFactory", (factory_class,), {
        "__qualname__": "SpreadFactory", "__module__": SpreadFactory.__module__,
        "protocol": protocol, "buildProtocol": buildProtocol, "connections": 0})
    return disguised


_NO_PARAMETER = N_("it does not take the factory class to test as its one parameter: def test_...(factory_class):")


def _run(test, factory_class) -> str | None:
    """Run one test; None if it passed, else what went wrong (`_NO_PARAMETER`
    as it is, when the test cannot take the class)."""
    try:
        inspect.signature(test).bind(factory_class)
    except TypeError:
        return _NO_PARAMETER
    except ValueError:  # no signature to read (a builtin): let the call tell
        pass
    try:
        test(factory_class)
    except AssertionError as error:
        return _failed_assert(error)
    except Exception as error:
        return describe_error(error)
    return None


def _failed_assert(error: AssertionError) -> str:
    """'an assert failed: MESSAGE (line 7, in test_no_echo)', naming the
    learner's line (a notebook cell's lines count from the cell's top)."""
    theirs = [frame for frame in traceback.extract_tb(error.__traceback__) if is_learners(frame.filename)]
    if not theirs:
        return describe_error(error)
    line, function = theirs[-1].lineno, theirs[-1].name
    if str(error).strip():
        return _("an assert failed: {message} (line {line}, in {function})").format(
            message=error, line=line, function=function)
    return _("an assert failed (line {line}, in {function})").format(line=line, function=function)


_UNEXERCISED_HINT = N_(
    "None of your tests connected a client to the server it was given, so none can notice a bug: make the factory "
    "from factory_class (not SpreadFactory itself), connect clients, send, and assert on what they receive. "
    "Naming or identifying the class catches no bug.")


def _on_the_correct_server(test) -> tuple[str | None, str, int]:
    """Run *test* on the correct server (disguised): what went wrong (or
    None), the hint for it when a particular one applies, and how many
    connections the test made to the server it was given."""
    server = _disguised(SpreadFactory)
    problem, hint = _run(test, server), ""
    if problem == _NO_PARAMETER:
        problem = _(_NO_PARAMETER)
        hint = _("Each test takes the factory class to test as its parameter (pytest passes it from the fixture; "
                 "the checker passes the correct server, then each planted bug) and makes its factory from it.")
    elif problem is not None and _run(test, SpreadFactory) is None:
        problem = _("it passes only when given the class SpreadFactory itself ({problem})").format(problem=problem)
        hint = _("A test must check what the server does, not which class it was given: a correct server can be "
                 "any class that behaves right. Connect clients, send, and assert on what they receive.")
    return problem, hint, server.connections


def _caught_by_some(tests, make, exercised: bool) -> None:
    caught = [t for t in tests if _run(t, _disguised(make())) is not None]
    expect(caught, _("every test passed on that server: the bug went unnoticed"),
           "" if exercised else _(_UNEXERCISED_HINT))


def check_your_tests(*tests) -> Report:
    """Check your tests: pass the test functions (or one list of them).

    Every test must pass on the correct Spread server (``SpreadFactory``,
    given as a class of its own that behaves as it does); for each planted
    bug in `MUTANTS`, at least one test must fail."""
    if len(tests) == 1 and isinstance(tests[0], (list, tuple)):
        tests = tuple(tests[0])
    if not tests or not all(callable(t) for t in tests):
        report = Report(N_("Your tests"))
        report.results.append(Result(
            N_("you gave at least one test function"), False, _("got {tests}").format(tests=repr(tests)),
            N_("pass the functions themselves: check_your_tests(test_one, test_two)")))
        return report
    runs = [_on_the_correct_server(test) for test in tests]
    exercised = any(connections for *_rest, connections in runs)
    cases = [Case(_("{test} passes on the correct server").format(test=getattr(test, "__name__", repr(test))),
                  N_("A test must pass on correct code: look at what the real server sends (a welcome line first, "
                     "then 'client N: ...' lines), and compare bytes with bytes, str with str."),
                  lambda trial, problem=problem, hint=hint: expect(problem is None, problem or "", hint), first=True)
             for test, (problem, hint, _connections) in zip(tests, runs)]
    cases += [Case(_("a test fails on a server that {bug}").format(bug=_(what)), hint,
                   lambda trial, make=make: _caught_by_some(tests, make, exercised))
              for what, make, hint in MUTANTS]
    return run_table(N_("Your tests"), cases, make_factory=lambda: None)
