"""Checkers for the Spread Site lessons (06 Spread Site, 07 Going live).

- `check_spread_factory`: your own Spread server, built again for Python 3.
- `check_nick_command`: a ``/nick NAME`` command on top of it.
- `check_idle_timeout`: a server that drops clients silent for 30 seconds,
  timed with the factory's clock (a ``twisted.internet.task.Clock`` here).
- `check_who_command`: a ``/who`` command that lists who is connected.

Each checker takes your factory *class* (it makes fresh factories, one per
scenario, by calling it with no arguments) and is a table of cases (see
`cases`).  A line may end in ``\\n`` or ``\\r\\n``, coming and going.
"""

from __future__ import annotations

import contextlib
import sys
from functools import partial

from twisted.internet.task import Clock

from ...i18n import N_, _, ngettext
from ...rooms.memory import MemoryRoom
from .cases import Case, ended, lines_in, run_cases
from .report import Report, expect

__all__ = ["check_spread_factory", "check_nick_command", "check_idle_timeout", "check_who_command"]


# --- reading what clients received -------------------------------------------------


def _mark(clients) -> dict:
    """How many bytes each client has received so far (to read what is new)."""
    return {c.name: len(c.received) for c in clients}


def _new_lines(client, mark: dict) -> list[str]:
    """The complete lines *client* received since *mark*, decoded."""
    return [line.decode("utf-8", "replace") for line in lines_in(client.received[mark[client.name]:])]


def _spreads(sender, others, payload: bytes, text: str, *, chunks=None, nothing_hint: str = "") -> None:
    """Send *payload* from *sender*; each of *others* must get exactly one new
    line ending with *text* (and no \\r in it), and the sender nothing.
    *nothing_hint* is the hint when nobody received anything at all."""
    mark = _mark([sender, *others])
    sender.send(payload, chunks=chunks)
    echoed = sender.received[mark[sender.name]:]
    heard = [_new_lines(other, mark) for other in others]
    expect(any(heard) or echoed,
           _("{sender} sent {payload}; nobody received anything").format(sender=sender.name, payload=repr(payload)),
           nothing_hint)
    for other, got in zip(others, heard):
        seen = _("{client} received {got} (expected one line ending with {text})").format(
            client=other.name, got=repr(got), text=repr(text))
        expect(not any("\r" in line for line in got), seen, _(_TELNET_HINT))
        expect(len(got) == 1 and got[0].endswith(text), seen)
    expect(not echoed, _("the sender, {sender}, got back {echoed}").format(sender=sender.name, echoed=repr(echoed)),
           _("The sender is one of the factory's clients too: skip it (client is not self)."))


_TELNET_HINT = N_("telnet ends its lines with b'\\r\\n': with delimiter b'\\n', the line still ends in b'\\r'. "
                  "Strip it before spreading, or the others' terminals jump back to the start of the line.")


def _count(factory) -> object:
    expect(hasattr(factory, "numProtocols"), _("the factory has no numProtocols attribute"),
           _("numProtocols is the blog's count of the clients connected now, and the checker reads it: keep it on "
             "the factory (self.numProtocols = 0 in its __init__), add one in connectionMade, take one off in "
             "connectionLost"))
    return factory.numProtocols


# --- lesson 06: your Spread server -------------------------------------------------


def _spreads_to_the_others(trial) -> None:
    a, b, c = trial.clients(3)
    _spreads(a, [b, c], b"hello\r\n", "hello",
             nothing_hint=_("To begin: in lineReceived, write the line, with a line end, to each client in "
                            "self.factory.clients except the sender (client is not self)."))
    _spreads(c, [a, b], b"bye\r\n", "bye")


def _received(client, got) -> str:
    """'client 2 received [...]', a 'seen' text."""
    return _("{client} received {got}").format(client=client.name, got=repr(got))


def _welcomes_with_number(trial) -> None:
    for number, client in enumerate(trial.clients(2), 1):
        expect(client.lines, _("{client} received {got}, no complete line").format(
            client=client.name, got=repr(client.received)))
        expect(str(number) in client.lines[0],
               _("{client} was welcomed with {line}").format(client=client.name, line=repr(client.lines[0])))


def _spreads_sent(payload: bytes, text: str, chunks, trial) -> None:
    a, b = trial.clients(2)
    _spreads(a, [b], payload, text, chunks=chunks)


def _waits_for_the_line_end(trial) -> None:
    a, b = trial.clients(2)
    mark = _mark([b])
    a.send(b"hel")
    early = b.received[mark[b.name]:]
    expect(not early, _("{client} already received {got} before the line was complete").format(
        client=b.name, got=repr(early)))
    a.send(b"lo\r\n")
    got = _new_lines(b, mark)
    expect(got and got[-1].endswith("hello"), _received(b, got))


def _splits_merged_lines(trial) -> None:
    a, b = trial.clients(2)
    mark = _mark([b])
    a.send(b"one\r\ntwo\r\n")
    got = _new_lines(b, mark)
    expect(len(got) == 2 and got[0].endswith("one") and got[1].endswith("two"), _received(b, got))


def _keeps_typists_apart(trial) -> None:
    a, b, c = trial.clients(3)
    mark = _mark([c])
    for sender, piece in ((a, b"hel"), (b, b"wor"), (a, b"lo\r\n"), (b, b"ld\r\n")):
        sender.send(piece)
    got = sorted(line[-5:] for line in _new_lines(c, mark))
    expect(got == ["hello", "world"],
           _("{a} sent hello and {b} world, each in two pieces, interleaved; {c} received {got}").format(
               a=a.name, b=b.name, c=c.name, got=repr(_new_lines(c, mark))))


def _servers_apart(trial) -> None:
    one, two = trial.room(), trial.room()
    a1, b1 = trial.clients(2, one)
    a2, b2 = trial.clients(2, two)
    mark = _mark([a2, b2])
    a1.send(b"only for server one\r\n")
    leaked = [c.name for c in (a2, b2) if c.received[mark[c.name]:]]
    expect(not leaked, _("a message sent to server one reached server two"))
    expect(b1.lines and b1.lines[-1].endswith("only for server one"), _received(b1, b1.lines))


def _closes(payload: bytes, trial, chunks=None) -> bool:
    """Whether a fresh client that sends *payload* is disconnected."""
    a, _other = trial.clients(2)
    a.send(payload, chunks=chunks)
    return not a.connected


def _why_close_stays(trial) -> str:
    """The hint for a close that did not disconnect, chosen by trying close
    from nc and whole from telnet: the \r, or close never recognised at all.
    Empty when both work (then it is the cutting: the case's own hint)."""
    if not _closes(b"close\n", trial):
        return _(_CLOSE_HINT)
    if not _closes(b"close\r\n", trial):
        return _(_TELNET_CLOSE_HINT)
    return ""


def _close_disconnects(payload: bytes, chunks, trial) -> None:
    a, b = trial.clients(2)
    a.send(payload, chunks=chunks)
    if a.connected:
        expect(False, _("after sending {payload}, {client} is still connected").format(
            payload=repr(payload), client=a.name), _why_close_stays(trial))


def _close_not_spread(trial) -> None:
    a, b = trial.clients(2)
    mark = _mark([b])
    a.send(b"close\r\n")
    got = _new_lines(b, mark)
    relayed = any(line.rstrip().endswith("close") for line in got)  # not a notice such as "client 1 closed"
    expect(not relayed or not a.connected,
           _("{client} received {got}, and {sender} is still connected: close was not recognised").format(
               client=b.name, got=repr(got), sender=a.name),
           _("make the close checks above pass first: {hint}").format(hint=_why_close_stays(trial) or _(_CLOSE_HINT)))
    expect(not relayed, _received(b, got))


def _counts_down(leave, trial) -> None:
    room = trial.room()
    a, b, c = trial.clients(3, room)
    expect(_count(room.factory) == 3, _("with 3 clients connected, numProtocols is {count}").format(
        count=repr(room.factory.numProtocols)))
    leave(b)
    expect(not b.connected, _("{client} is {state}, so nothing can be counted down yet").format(
        client=b.name, state=ended(b)),
           _("close did not disconnect its sender: make the close checks above pass first"))
    expect(_count(room.factory) == 2, _("after one left, numProtocols is {count}").format(
        count=repr(room.factory.numProtocols)))


_STREAM_HINT = N_("TCP is a stream: dataReceived may get any piece of a message, or several. Let LineReceiver "
                  "collect the pieces and act in lineReceived, once per complete line.")
_CLOSE_HINT = N_("lineReceived is given bytes without the line end, and in Python 3 bytes never equal a str "
                 "(b'close' != 'close'); telnet also sends a \\r before the \\n")
_TELNET_CLOSE_HINT = N_("close from nc (close\\n) works, but from telnet the line is b'close\\r': strip the \\r "
                        "before comparing")
_LEFT_HINT = N_("every connection ends in connectionLost, whatever the reason (a close, a hang-up, a reset): "
                "count down and forget the client there, and only there")

SPREAD = [
    Case(N_("a line from one client reaches every other client, and not the sender"),
         N_("the factory knows every connection: write the line, with a line end, to each one except the sender "
            "(compare the protocol objects themselves: client is not self)"),
         _spreads_to_the_others, first=True),
    Case(N_("each new client is welcomed with a line carrying its number"),
         N_("connectionMade is where a protocol greets its client; the count lives on the factory, which every "
            "connection shares; a transport only takes bytes, so encode text first"),
         _welcomes_with_number),
    Case(N_("a line sent one byte at a time arrives whole"), _STREAM_HINT,
         partial(_spreads_sent, b"hello\r\n", "hello", "bytes")),
    Case(N_("a half line is not spread until its end arrives"),
         N_("a chunk is not a message: nothing is complete until the line's end arrives; LineReceiver keeps the "
            "beginning for you"),
         _waits_for_the_line_end),
    Case(N_("two lines merged into one chunk arrive as two lines"),
         N_("one dataReceived call can carry several messages; handle every complete line in it"),
         _splits_merged_lines),
    Case(N_("a line ended by \\n alone (as nc sends it) is spread"),
         N_("telnet ends a line with \\r\\n, nc with \\n only: LineReceiver's delimiter decides what ends a line, "
            "and a trailing \\r can be stripped"),
         partial(_spreads_sent, b"from nc\n", "from nc", None)),
    Case(N_("a line from telnet reaches the others without its \\r"), _TELNET_HINT,
         partial(_spreads_sent, b"from telnet\r\n", "from telnet", None)),
    Case(N_("Chinese text cut inside a character arrives whole"),
         N_("bytes pass through untouched when you spread whole lines; decoding a chunk that ends inside a "
            "character breaks it"),
         partial(_spreads_sent, "你好, Spread Site\r\n".encode("utf-8"), "你好, Spread Site", "split-utf8")),
    Case(N_("two clients typing at once: each one's line arrives whole"),
         N_("each connection collects its own pieces: keep a buffer on self (LineReceiver does), never one shared "
            "by every connection"),
         _keeps_typists_apart),
    Case(N_("two servers do not share their clients"),
         N_("each factory is one server; what its connections share (the list of clients) belongs on the factory, "
            "not in a global or a class attribute"),
         _servers_apart),
    Case(N_("close (from telnet: close\\r\\n) disconnects the sender"), _CLOSE_HINT,
         partial(_close_disconnects, b"close\r\n", None)),
    Case(N_("close (from nc: close\\n) disconnects the sender"), _CLOSE_HINT,
         partial(_close_disconnects, b"close\n", None)),
    Case(N_("close cut into two chunks disconnects the sender"),
         N_("a chunk is not a message: recognise close as a complete line (in lineReceived), not as the "
            "contents of one dataReceived call"),
         partial(_close_disconnects, b"close\r\n", [3])),
    Case(N_("the word close is not spread to the others"),
         N_("loseConnection only asks for a close; the rest of your method still runs unless you return"),
         _close_not_spread),
    Case(N_("numProtocols counts down when a client sends close"), _LEFT_HINT,
         partial(_counts_down, lambda c: c.send(b"close\r\n"))),
    Case(N_("numProtocols counts down when a client closes its connection (Ctrl-C in nc)"), _LEFT_HINT,
         partial(_counts_down, lambda c: c.close())),
    Case(N_("numProtocols counts down when a client is reset (its connection aborted)"), _LEFT_HINT,
         partial(_counts_down, lambda c: c.abort())),
]


def check_spread_factory(factory_class) -> Report:
    """Check a Spread server: pass the factory class (``MySpreadFactory``).

    What is checked: a line from one client reaches every other client once
    and is not echoed; a welcome carrying each client's number; lines cut into
    chunks, merged, ended by ``\\r\\n`` (telnet) or ``\\n`` (nc), interleaved
    with another client's, and Chinese text split inside a character all
    arrive whole; a half line waits for its end; ``close`` on a line of its
    own disconnects the sender and is not spread; ``numProtocols`` counts
    down however a client leaves; two servers do not share clients.
    """
    return run_cases(_("Your Spread server"), SPREAD, factory_class, factory_class,
                     "check_spread_factory(MySpreadFactory)")


# --- lesson 06, going further: /nick -------------------------------------------------


def _said_by(name: str, line: str, text: str) -> bool:
    """*line* shows *text* with *name* before it (alice: hello, <alice> hello, ...)."""
    return line.endswith(text) and name in line[:-len(text)]


def _nick_then_say(nick: bytes, trial) -> list[str]:
    """Client 1 sends *nick*, then hello; what client 2 received meanwhile."""
    a, b = trial.clients(2)
    mark = _mark([b])
    a.send(nick)
    a.send(b"hello\r\n")
    return _new_lines(b, mark)


def _nick_not_spread(trial) -> None:
    got = _nick_then_say(b"/nick alice\r\n", trial)
    expect(not any("/nick" in line for line in got), _("client 2 received {got}").format(got=repr(got)))


def _nick_names_lines(nick: bytes, trial) -> None:
    got = _nick_then_say(nick, trial)
    seen = _("after {nick}, client 2 received {got}").format(nick=repr(nick), got=repr(got))
    expect(not any("/nick" in line for line in got) or any(line.startswith("alice") for line in got), seen,
           _("To begin: in lineReceived, recognise a line that starts with b'/nick', keep the rest of it as this "
             "connection's name (self.name), and stop there; put the name in front of the lines you spread."))
    expect(got and _said_by("alice", got[-1], "hello") and "\r" not in got[-1], seen)


def _names_per_client(trial) -> None:
    a, b, c = trial.clients(3)
    a.send(b"/nick alice\r\n")
    b.send(b"/nick bob\r\n")
    for sender, name in ((a, "alice"), (b, "bob")):
        mark = _mark([c])
        sender.send(b"from me\r\n")
        got = _new_lines(c, mark)
        expect(len(got) == 1 and _said_by(name, got[0], "from me"),
               _("from {name}, {client} received {got}").format(client=c.name, got=repr(got), name=name))


def _survives_empty_nick(trial) -> None:
    a, b = trial.clients(2)
    a.send(b"/nick\r\n")
    a.send(b"/nick \r\n")
    expect(a.connected, _("{client} was disconnected").format(client=a.name))


def _close_after_nick(trial) -> None:
    a, b = trial.clients(2)
    a.send(b"/nick alice\r\n")
    a.send(b"close\r\n")
    expect(not a.connected, _("after close, {client} is still connected").format(client=a.name))


NICK = [
    Case(N_("after /nick alice, the others see alice: hello"),
         N_("the line is bytes: split off the command word, keep the rest as the name, and put the name (encoded, "
            "if you made it a str) in front of every line you spread"),
         partial(_nick_names_lines, b"/nick alice\n"), first=True),
    Case(N_("/nick alice is not spread to the others"),
         N_("a command is a line you handle yourself instead of spreading it: check for it before the spreading "
            "code, and stop there"),
         _nick_not_spread),
    Case(N_("/nick alice from telnet (\\r\\n) names alice, without the \\r"),
         N_("telnet's line ends in b'\\r': strip it before taking the name, or every line you spread carries a "
            "\\r that sends the reader's cursor back to the start of the line"),
         partial(_nick_names_lines, b"/nick alice\r\n")),
    Case(N_("each client keeps its own name"),
         N_("a name belongs to one connection: keep it on the protocol instance (self), not on the factory or the "
            "class, which every connection shares"),
         _names_per_client),
    Case(N_("/nick with no name does not crash the connection"),
         N_("an exception in lineReceived makes Twisted drop that client's connection: check the line has a name "
            "before using it"),
         _survives_empty_nick),
    Case(N_("close still works"),
         N_("the command check is one more case in lineReceived; the close case must still return"),
         _close_after_nick),
]


def check_nick_command(factory_class) -> Report:
    """Check a ``/nick NAME`` command: pass the factory class.

    After ``/nick alice`` a client's lines reach the others as
    ``alice: ...``; the command itself is not spread; each client has its
    own name; everything else still works as a Spread server."""
    return run_cases("/nick", NICK, factory_class, factory_class, "check_nick_command(NickFactory)")


# --- lesson 07: an idle timeout --------------------------------------------------------


class _TimedFactories:
    """Makes fresh factories of the learner's class, each with a new `Clock`
    as its clock; `clock` is the last one made (its room uses it too)."""

    def __init__(self, factory_class) -> None:
        self.factory_class = factory_class
        self.clock = Clock()

    def __call__(self):
        self.clock = clock = Clock()
        try:
            factory = self.factory_class(clock=clock)
        except TypeError:
            factory = self.factory_class()
            try:
                factory.clock = clock
            except AttributeError:  # a read-only property (SpreadFactory): set what it reads
                factory._clock = clock
        return factory


@contextlib.contextmanager
def _timed(factory_class):
    """A room for a fresh factory timed by a `Clock`, raising what the
    learner's code raises, and closed afterwards (for checkers written step
    by step with `Report.step`)."""
    make = _TimedFactories(factory_class)
    room = MemoryRoom(make(), clock=make.clock)
    try:
        yield room
    finally:
        room.raise_errors = False
        with contextlib.suppress(Exception):
            room.close()


def _timed_room(trial):
    factory = trial.make_factory()
    return trial.room(factory, clock=trial.make_factory.clock)


def _reactor_calls() -> set:
    """The global reactor's pending timed calls, if the learner's code has
    imported the reactor (the checker never imports it: JupyterLite has none)."""
    reactor = sys.modules.get("twisted.internet.reactor")
    return set(reactor.getDelayedCalls()) if reactor is not None else set()


def _drops_the_silent(seconds: float, trial) -> None:
    room = _timed_room(trial)
    on_the_reactor = _reactor_calls()
    a = room.connect()
    on_the_reactor = _reactor_calls() - on_the_reactor
    scheduled = room.clock.getDelayedCalls()
    delays = sorted(call.getTime() - room.clock.seconds() for call in scheduled)
    wrong_delay = (_("the countdown was set for {delay:g} s: callLater takes seconds (a float), and the silence "
                     "allowed is {seconds:g} s").format(delay=delays[0], seconds=seconds)
                   if delays and abs(delays[0] - seconds) > 1 else "")
    expect(a.connected, _("{client} was dropped as soon as it connected, before any time passed").format(client=a.name),
           _("callLater takes the function to call later, without calling it: self.transport.loseConnection, "
             "not self.transport.loseConnection() (that closes the connection now, and schedules its result, None)"))
    room.advance(seconds - 0.5)
    expect(a.connected, _dropped_after(a, seconds - 0.5), wrong_delay)
    room.advance(1)
    if on_the_reactor and not scheduled:
        missing = _("your countdown went to the reactor (reactor.callLater), which this checker's Clock does not "
                    "move: take the clock from the factory, self.factory.clock.callLater, so a test can drive it.")
    elif not scheduled:
        missing = _("To begin: nothing was scheduled on self.factory.clock when the client connected. In "
                    "connectionMade, start the countdown: self.timer = self.factory.clock.callLater(self.idle, ...) "
                    "with the call that closes the connection.")
    else:
        missing = wrong_delay
    expect(not a.connected, _still_there(a, seconds + 0.5), missing)
    expect(room.factory.numProtocols == 0, _("after the timeout, numProtocols is {count}").format(
        count=repr(room.factory.numProtocols)))


def _dropped_after(client, seconds: float) -> str:
    return _("{client} was dropped after {seconds:g} s").format(client=client.name, seconds=seconds)


def _still_there(client, seconds: float) -> str:
    return _("{client} is still connected after {seconds:g} s of silence").format(client=client.name, seconds=seconds)


def _a_line_restarts(seconds: float, trial) -> None:
    room = _timed_room(trial)
    a, b = trial.clients(2, room)
    room.advance(seconds * 2 / 3)
    a.send(b"still here\r\n")
    room.advance(seconds * 2 / 3)
    expect(a.connected, _("{client} spoke {seconds:g} s ago and was dropped").format(
        client=a.name, seconds=seconds * 2 / 3))
    expect(not b.connected, _("{client} stayed silent for {seconds:g} s and is still connected").format(
        client=b.name, seconds=seconds * 4 / 3))


def _own_countdowns(seconds: float, trial) -> None:
    room = _timed_room(trial)
    a = room.connect()
    room.advance(seconds / 3)
    b = room.connect()
    room.advance(seconds * 2 / 3 + 0.5)
    expect(not a.connected, _still_there(a, seconds + 0.5))
    expect(b.connected, _dropped_after(b, seconds * 2 / 3 + 0.5))
    room.advance(seconds / 3)
    expect(not b.connected, _still_there(b, seconds + 0.5))


def _no_timer_left(seconds: float, trial) -> None:
    room = _timed_room(trial)
    a, b, c = trial.clients(3, room)
    expect(room.clock.getDelayedCalls(), _("no timed call was pending while 3 clients were connected"))
    a.send(b"close\r\n")
    b.close()
    c.abort()
    left = room.clock.getDelayedCalls()
    expect(not left, ngettext("{n} timed call still pending after every client left",
                              "{n} timed calls still pending after every client left", len(left)).format(n=len(left)))


def check_idle_timeout(factory_class, seconds: float = 30) -> Report:
    """Check that clients silent for *seconds* are disconnected: pass the
    factory class.  Your protocol must take time from ``self.factory.clock``
    (the reactor when live; a ``Clock`` here, moved by the checker)."""
    title = _("Drop clients idle for {seconds:g} s").format(seconds=seconds)
    time_hint = N_("schedule with self.factory.clock.callLater, not with the reactor directly, so a Clock can drive "
                   "it; a DelayedCall that already fired cannot be cancelled or reset: ask .active() first")
    cases = [
        Case(_("a silent client is still there just before {seconds:g} s, and gone just after").format(seconds=seconds),
             time_hint, partial(_drops_the_silent, seconds), first=True),
        Case(N_("a line starts the countdown again"),
             N_("each complete line is a sign of life: push the timer back (DelayedCall.reset) when a line arrives"),
             partial(_a_line_restarts, seconds)),
        Case(N_("each client has its own countdown"),
             N_("a timer belongs to one connection: keep it on the protocol instance (self), not on the factory"),
             partial(_own_countdowns, seconds)),
        Case(N_("no timer is left behind when a client leaves"),
             N_("a pending DelayedCall outlives its connection: cancel it in connectionLost, which runs however the "
                "connection ends"),
             partial(_no_timer_left, seconds)),
    ]
    return run_cases(title, cases, factory_class, _TimedFactories(factory_class),
                     "check_idle_timeout(IdleFactory)")


# --- lesson 07, going further: /who ------------------------------------------------------


def _name_of(client) -> str:
    """The name the server's protocol gives *client* (its ``name``
    attribute), else the room's name for it."""
    name = getattr(client.protocol, "name", None) or client.name
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)


def _who_answer(trial, command: bytes = b"/who\n", leave=None) -> tuple[list[str], list, dict]:
    """Three clients; *leave* (if given) ends client 2's connection; client 1
    sends *command*.  Returns client 1's new lines, the clients and what each
    had received before."""
    clients = trial.clients(3)
    if leave is not None:
        leave(clients[1])
    mark = _mark(clients)
    clients[0].send(command)
    return _new_lines(clients[0], mark), clients, mark


def _who_names_everyone(trial) -> None:
    got, clients, _mark_before = _who_answer(trial)
    expect(got, _("client 1 sent b'/who\\n' and received nothing back"),
           _("To begin: in lineReceived, when the line is /who, write one line to self.transport naming every "
             "client in self.factory.clients (each protocol's .name), and stop there."))
    expect(len(got) == 1, _("client 1 received {got} (expected one line)").format(got=repr(got)))
    missing = [_name_of(x) for x in clients if _name_of(x) not in got[0]]
    expect(not missing, _("the line {line} does not name {names}").format(line=repr(got[0]), names=", ".join(missing)))


def _who_not_spread(trial) -> None:
    _got, clients, mark = _who_answer(trial)
    heard = {c.name: _new_lines(c, mark) for c in clients[1:] if _new_lines(c, mark)}
    expect(not heard, _("the others received {heard}").format(heard=repr(heard)))


def _who_from_telnet(trial) -> None:
    got, clients, _mark_before = _who_answer(trial, b"/who\r\n")
    expect(len(got) == 1 and _name_of(clients[1]) in got[0], _("client 1 received {got}").format(got=repr(got)))


def _who_forgets_the_gone(trial) -> None:
    got, clients, _mark_before = _who_answer(trial, leave=lambda client: client.abort())
    expect(len(got) == 1 and _name_of(clients[1]) not in got[0] and _name_of(clients[2]) in got[0],
           _("client 2's connection was reset; client 1 received {got}").format(got=repr(got)))


WHO = [
    Case(N_("/who answers the sender with one line naming everyone connected"),
         N_("the factory knows every connection and each protocol knows its own name: join the names into one "
            "line and write it to this client only"),
         _who_names_everyone, first=True),
    Case(N_("/who is not spread to the others"),
         N_("a command is a line you answer yourself instead of spreading it: stop there"),
         _who_not_spread),
    Case(N_("/who from telnet (ended by \\r\\n) works too"),
         N_("telnet ends a line with \\r\\n: compare the line once a trailing \\r is stripped"),
         _who_from_telnet),
    Case(N_("a client that has left is not listed"),
         N_("list the clients the factory holds now; a connection that ended, however it ended, left the list in "
            "connectionLost"),
         _who_forgets_the_gone),
]


def check_who_command(factory_class) -> Report:
    """Check a ``/who`` command: pass the factory class.

    ``/who`` answers its sender, and only its sender, with one line naming
    every client connected now (the names the protocols use: their ``name``
    attribute)."""
    return run_cases("/who", WHO, factory_class, factory_class, "check_who_command(WhoFactory)")
