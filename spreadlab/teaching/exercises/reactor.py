"""Checker for lesson 09, The reactor's rules.

- `check_patient`: a Spread server whose ``/slow`` command answers its
  sender with the line ``done`` two seconds later, waiting with the
  factory's clock (``self.factory.clock.callLater`` or ``task.deferLater``)
  instead of ``time.sleep``: the reactor stays free for everyone else.

Judged on behaviour: in memory rooms whose factory clock is a
``twisted.internet.task.Clock`` the checker moves by hand (how long
``lineReceived`` really takes is measured too), then over real TCP, where a
third client's wait for a line is measured while ``/slow`` waits.
"""

from __future__ import annotations

import time

from ...i18n import N_, _
from .report import Report, expect
from .spread import _mark, _new_lines, _timed

__all__ = ["check_patient"]

#: Longer than this in one call of protocol code, and the reactor was held.
HELD = 0.5

UNRECOGNISED_HINT = N_("your lineReceived gets the line as it arrived: from telnet, b'/slow\\r' (Spreader removes "
                        "the \\r only in its own lineReceived, which runs after your test). Compare "
                        "line.strip() == b'/slow', as the starter does")


def check_patient(factory_class, seconds: float = 2) -> Report:
    """Check a server that answers ``/slow`` with ``done`` after *seconds*
    without blocking the reactor: pass the factory class."""
    report = Report(_("/slow, answered {seconds:g} s later without blocking").format(seconds=seconds))
    sleep_hint = N_("time.sleep holds the reactor's only thread: while it sleeps nobody is read, written to or "
                    "timed. Schedule the answer instead: self.factory.clock.callLater(seconds, function, "
                    "arguments...) returns at once")

    with report.step(N_("lineReceived returns at once: the reactor is free while /slow waits"), hint=sleep_hint):
        with _timed(factory_class) as room:
            alice = room.connect()
            start = time.monotonic()
            alice.send(b"/slow\r\n")
            took = time.monotonic() - start
            expect(took < HELD, _("handling /slow held the reactor for {seconds:.1f} s").format(seconds=took))

    with report.step(_("done arrives {seconds:g} s later on the factory's clock, not before").format(seconds=seconds),
                     hint=N_("take the clock from self.factory.clock (the reactor live, a Clock here), and give "
                             "callLater the function and its arguments, not the result of calling it: "
                             "callLater(2, self.sendLine, b'done'), not callLater(2, self.sendLine(b'done'))")):
        with _timed(factory_class) as room:
            alice, carol = room.connect(), room.connect()
            mark = _mark([alice, carol])
            alice.send(b"/slow\r\n")
            spread = [line for line in _new_lines(carol, mark) if line.endswith("/slow")]
            expect(not (spread and not room.clock.getDelayedCalls()),
                   _("Alice typed /slow in telnet; Carol received {line}: /slow was not recognised").format(
                       line=repr(spread[:1])),
                   _(UNRECOGNISED_HINT))
            early = _new_lines(alice, mark)
            expect(not early, _("Alice received {got} at once, before any time had passed").format(got=repr(early)))
            room.advance(seconds - 0.1)
            early = _new_lines(alice, mark)
            expect(not early, _("Alice received {got} before {seconds:g} s had passed (looked at {looked:g} s)").format(
                got=repr(early), seconds=seconds, looked=seconds - 0.1))
            try:
                room.advance(0.2)
            except TypeError as error:
                expect("bytes" not in str(error), _("when done was due: TypeError: {error}").format(error=error),
                       _("a transport carries bytes: sendLine(b'done'), not sendLine('done')"))
                raise
            got = _new_lines(alice, mark)
            expect(got == ["done"], _("{seconds:g} s later Alice has received {got}, not ['done']").format(
                seconds=seconds + 0.1, got=repr(got)))
            told = [line for line in _new_lines(carol, mark) if line == "done" or line.endswith(": done")]
            expect(not told, _("Carol, who did not ask, received {line}").format(line=repr(told[0])) if told else "",
                   _("done answers the one who asked: self.sendLine on Alice's own protocol, "
                     "not a line for every client"))

    with report.step(N_("meanwhile the others talk as usual, and /slow itself is not spread"),
                     hint=N_("a command is answered, not spread: return after scheduling the answer; the answer "
                             "goes to the sender only (self.sendLine), later")):
        with _timed(factory_class) as room:
            alice, bob, carol = room.connect(), room.connect(), room.connect()
            mark = _mark([alice, carol])
            alice.send(b"/slow\r\n")
            bob.send(b"hi\r\n")
            heard = _new_lines(carol, mark)
            expect(heard and heard[0].endswith("hi") and len(heard) == 1,
                   _("after Alice's /slow and Bob's hi, Carol received {got}").format(got=repr(heard)))
            expect(_new_lines(alice, mark)[:1] != ["done"], _("Alice was answered before the others could talk"))

    with report.step(N_("over real TCP: Carol gets Bob's line at once while Alice's /slow waits"),
                     hint=N_("with the checks above passing, this is the same live: nothing in lineReceived may "
                             "wait; the reactor (self.factory.clock live) calls your function when it is time")):
        _live(factory_class, seconds)

    return report


class _WatchedReactor:
    """The reactor as the factory's clock, remembering what it scheduled, so that the checker can
    cancel the learner's timers still pending when it is done: a timer given the wrong thing
    (``callLater(2, self.sendLine(b"done"))``) must not fail seconds later in another cell.
    ``callLater`` and ``seconds`` are called in the reactor thread (from the learner's protocol);
    ``cancel_pending`` there too, through ``blocking_call``."""

    def __init__(self, reactor) -> None:
        self._reactor = reactor
        self._calls = []

    def callLater(self, delay, function, *args, **kwargs):
        call = self._reactor.callLater(delay, function, *args, **kwargs)
        self._calls.append(call)
        return call

    def seconds(self) -> float:
        return self._reactor.seconds()

    def getDelayedCalls(self):
        return [call for call in self._calls if call.active()]

    def cancel_pending(self) -> None:
        for call in self.getDelayedCalls():
            call.cancel()


def _live(factory_class, seconds: float) -> None:
    """The server on loopback, three terminal clients; measures what Carol
    waits.  Notebook's thread."""
    from twisted.internet import reactor

    from ...rooms.background import blocking_call
    from ...rooms.live import LiveRoom
    from ...servers.spread import SpreadFactory

    factory = factory_class()
    watched = None
    if isinstance(factory, SpreadFactory) and factory.clock is reactor:
        watched = factory.clock = _WatchedReactor(reactor)
    try:
        _talk(LiveRoom(factory), seconds)
    finally:
        if watched is not None:
            blocking_call(watched.cancel_pending)


def _talk(room, seconds: float) -> None:
    """Alice's /slow, Bob's line, what Carol waits, in *room*; closes it.  Notebook's thread."""
    from ...rooms.terminal import Terminal

    with room:
        alice, bob, carol = (Terminal(room.host, room.port, timeout=seconds + 5) for _ in range(3))
        try:
            for terminal in (alice, bob, carol):
                terminal.read_line()
            asked = time.monotonic()
            alice.type("/slow")
            time.sleep(0.2)  # the server has it (and, with time.sleep in lineReceived, is asleep)
            start = time.monotonic()
            bob.type("are you there?")
            line = carol.read_line()
            waited = time.monotonic() - start
            expect(waited < HELD, _("Carol waited {seconds:.1f} s for Bob's line while /slow waited").format(
                seconds=waited))
            expect(line.endswith("are you there?"), _("Carol received {line}").format(line=repr(line)))
            answer = None
            while answer != "done":
                try:
                    answer = alice.read_line()
                except TimeoutError:
                    expect(False, _("Alice received no done within {seconds:g} s of her /slow").format(
                        seconds=seconds + 5))
                expect(not answer.endswith("/slow"), _("Alice's /slow was spread"))
            after = time.monotonic() - asked
            expect(seconds - 0.5 < after < seconds + 2, _("Alice got done after {after:.1f} s, not {seconds:g} s").format(
                after=after, seconds=seconds))
        finally:
            for terminal in (alice, bob, carol):
                terminal.close()
