"""Checkers for the Spread Site lessons (05 Spread Site, 06 Going live).

- `check_spread_factory`: your own Spread server, built again for Python 3.
- `check_nick_command`: a ``/nick NAME`` command on top of it.
- `check_idle_timeout`: a server that drops clients silent for 30 seconds,
  timed with the factory's clock (a ``twisted.internet.task.Clock`` here).
- `check_who_command`: a ``/who`` command that lists who is connected.

Each checker takes your factory *class* (it makes fresh factories, one per
scenario, by calling it with no arguments), runs it in memory rooms and
returns a `Report`.  A checker never raises because of your code: what your
code raised is shown in the report.
"""

from __future__ import annotations

import contextlib

from twisted.internet.task import Clock

from ...rooms.memory import MemoryRoom
from .report import Report, Result, expect

__all__ = ["check_spread_factory", "check_nick_command", "check_idle_timeout", "check_who_command"]


# --- helpers -------------------------------------------------------------------


@contextlib.contextmanager
def _rooms(factory_class, count: int = 1, **room_options):
    """Fresh factories in fresh rooms; closed afterwards whatever happened."""
    rooms = [MemoryRoom(factory_class(), **room_options) for _ in range(count)]
    try:
        yield rooms if count > 1 else rooms[0]
    finally:
        for room in rooms:
            room.raise_errors = False
            with contextlib.suppress(Exception):
                room.close()


def _mark(clients) -> dict:
    """How many bytes each client has received so far (to read what is new)."""
    return {c.name: len(c.received) for c in clients}


def _new_lines(client, mark: dict) -> list[str]:
    """The complete lines *client* received since *mark*, decoded."""
    data = client.received[mark[client.name]:]
    text = data.decode("utf-8", errors="replace")
    parts = text.split("\n")[:-1]
    return [p[:-1] if p.endswith("\r") else p for p in parts]


def _count(factory) -> object:
    expect(hasattr(factory, "numProtocols"), "the factory has no numProtocols attribute")
    return factory.numProtocols


def _spreads(sender, others, payload: bytes, text: str, *, chunks=None) -> None:
    """Send *payload* from *sender*; each of *others* must get exactly one new
    line ending with *text*, and the sender nothing."""
    everyone = [sender, *others]
    mark = _mark(everyone)
    sender.send(payload, chunks=chunks)
    for other in others:
        got = _new_lines(other, mark)
        expect(len(got) == 1 and got[0].endswith(text),
               f"{other.name} received {got!r} (expected one line ending with {text!r})")
    echoed = sender.received[mark[sender.name]:]
    expect(not echoed, f"the sender, {sender.name}, got back {echoed!r}")


# --- lesson 06: your Spread server -------------------------------------------------


def check_spread_factory(factory_class) -> Report:
    """Check a Spread server: pass the factory class (``MySpreadFactory``).

    What is checked: a welcome carrying each client's number; a line from one
    client reaches every other client once and is not echoed; lines cut into
    chunks, merged, ended by ``\\r\\n`` (telnet) or ``\\n`` (nc), and Chinese
    text split inside a character all arrive whole; a half line waits for
    its end; ``close`` on a line of its own disconnects the sender and is not
    spread; ``numProtocols`` counts down however a client leaves; two servers
    do not share clients.
    """
    report = Report("Your Spread server")

    with report.step("each new client is welcomed with a line carrying its number",
                     hint="connectionMade is where a protocol greets its client; the count lives on the "
                          "factory, which every connection shares; a transport only takes bytes, so encode text first"):
        with _rooms(factory_class) as room:
            first, second = room.connect(), room.connect()
            for number, client in ((1, first), (2, second)):
                expect(client.lines, f"{client.name} received {client.received!r}, no complete line")
                expect(str(number) in client.lines[0], f"{client.name} was welcomed with {client.lines[0]!r}")

    with report.step("a line from one client reaches every other client, and not the sender",
                     hint="the factory knows every connection: write the line, with a line end, to each one except "
                          "the sender (compare the protocol objects themselves: client is not self)"):
        with _rooms(factory_class) as room:
            a, b, c = room.connect(), room.connect(), room.connect()
            _spreads(a, [b, c], b"hello\r\n", "hello")
            _spreads(c, [a, b], b"bye\r\n", "bye")

    if not report.results[-1].passed:
        report.results.append(Result(
            "lines cut into chunks, merged, ended by \\n alone, in Chinese; two servers apart (6 checks)", False,
            "not checked yet: they need a line to reach the other clients first",
            "make the check above pass, then run the checker again"))
    else:
        _check_framing(report, factory_class)

    close_hint = ("lineReceived is given bytes without the line end, and in Python 3 bytes never equal a str "
                  "(b'close' != 'close'); telnet also sends a \\r before the \\n")
    close_works = True
    chunk_hint = ("a chunk is not a message: recognise close as a complete line (in lineReceived), "
                  "not as the contents of one dataReceived call")
    for label, payload, chunks, hint in (("close (from telnet: close\\r\\n)", b"close\r\n", None, close_hint),
                                         ("close (from nc: close\\n)", b"close\n", None, close_hint),
                                         ("close cut into two chunks", b"close\r\n", [3], chunk_hint)):
        with report.step(f"{label} disconnects the sender", hint=hint):
            with _rooms(factory_class) as room:
                a, b = room.connect(), room.connect()
                a.send(payload, chunks=chunks)
                close_works = close_works and not a.connected
                expect(not a.connected, f"after sending {payload!r}, {a.name} is still connected")

    with report.step("the word close is not spread to the others",
                     hint="loseConnection only asks for a close; the rest of your method still runs "
                          "unless you return"):
        with _rooms(factory_class) as room:
            a, b = room.connect(), room.connect()
            mark = _mark([b])
            a.send(b"close\r\n")
            got = _new_lines(b, mark)
            expect(not any("close" in line for line in got), f"{b.name} received {got!r}")

    endings = [("hangs up (Ctrl-D in nc)", lambda c: c.close()),
               ("is reset (abortConnection: a crash, a pulled cable)", lambda c: c.abort())]
    if close_works:
        endings.insert(0, ("sends close", lambda c: c.send(b"close\r\n")))
    for label, leave in endings:
        with report.step(f"numProtocols counts down when a client {label}",
                         hint="every connection ends in connectionLost, whatever the reason "
                              "(a close, a hang-up, a reset): count down and forget the client there, and only there"):
            with _rooms(factory_class) as room:
                a, b, c = room.connect(), room.connect(), room.connect()
                expect(_count(room.factory) == 3, f"with 3 clients connected, numProtocols is {room.factory.numProtocols!r}")
                leave(b)
                expect(not b.connected, f"{b.name} is still connected, so nothing can be counted down yet")
                expect(_count(room.factory) == 2, f"after one left, numProtocols is {room.factory.numProtocols!r}")

    return report


def _check_framing(report: Report, factory_class) -> None:
    """The steps that need spreading to work: how lines are cut, and two
    servers side by side."""
    with report.step("a line sent one byte at a time arrives whole",
                     hint="TCP is a stream: dataReceived may get any piece of a message. Let LineReceiver collect "
                          "the pieces and act in lineReceived, once per complete line"):
        with _rooms(factory_class) as room:
            a, b = room.connect(), room.connect()
            _spreads(a, [b], b"hello\r\n", "hello", chunks="bytes")

    with report.step("a half line is not spread until its end arrives",
                     hint="a chunk is not a message: nothing is complete until the line's end arrives; "
                          "LineReceiver keeps the beginning for you"):
        with _rooms(factory_class) as room:
            a, b = room.connect(), room.connect()
            mark = _mark([b])
            a.send(b"hel")
            early = b.received[mark[b.name]:]
            expect(not early, f"{b.name} already received {early!r} before the line was complete")
            a.send(b"lo\r\n")
            got = _new_lines(b, mark)
            expect(got and got[-1].endswith("hello"), f"{b.name} received {got!r}")

    with report.step("two lines merged into one chunk arrive as two lines",
                     hint="one dataReceived call can carry several messages; handle every complete line in it"):
        with _rooms(factory_class) as room:
            a, b = room.connect(), room.connect()
            mark = _mark([b])
            a.send(b"one\r\ntwo\r\n")
            got = _new_lines(b, mark)
            expect(len(got) == 2 and got[0].endswith("one") and got[1].endswith("two"),
                   f"{b.name} received {got!r}")

    with report.step("a line ended by \\n alone (as nc sends it) is spread",
                     hint="telnet ends a line with \\r\\n, nc with \\n only: LineReceiver's delimiter decides what "
                          "ends a line, and a trailing \\r can be stripped"):
        with _rooms(factory_class) as room:
            a, b = room.connect(), room.connect()
            _spreads(a, [b], b"from nc\n", "from nc")

    with report.step("Chinese text cut inside a character arrives whole",
                     hint="bytes pass through untouched when you spread whole lines; decoding a chunk that ends "
                          "inside a character breaks it"):
        with _rooms(factory_class) as room:
            a, b = room.connect(), room.connect()
            _spreads(a, [b], "你好, Spread Site\r\n".encode("utf-8"), "你好, Spread Site", chunks="split-utf8")

    with report.step("two servers do not share their clients",
                     hint="each factory is one server; what its connections share (the list of clients) "
                          "belongs on the factory, not in a global or a class attribute"):
        with _rooms(factory_class, 2) as (one, two):
            a1, b1 = one.connect(), one.connect()
            a2, b2 = two.connect(), two.connect()
            mark = _mark([a2, b2])
            a1.send(b"only for server one\r\n")
            leaked = [c.name for c in (a2, b2) if c.received[mark[c.name]:]]
            expect(not leaked, "a message sent to server one reached server two")
            expect(b1.lines and b1.lines[-1].endswith("only for server one"), f"{b1.name} received {b1.lines!r}")


# --- lesson 06, going further: /nick -------------------------------------------------


def check_nick_command(factory_class) -> Report:
    """Check a ``/nick NAME`` command: pass the factory class.

    After ``/nick alice`` a client's lines reach the others as
    ``alice: ...``; the command itself is not spread; each client has its
    own name; everything else still works as a Spread server."""
    report = Report("/nick")

    with report.step("/nick alice is not spread to the others",
                     hint="a command is a line you handle yourself instead of spreading it: "
                          "check for it before the spreading code, and stop there"):
        with _rooms(factory_class) as room:
            a, b = room.connect(), room.connect()
            mark = _mark([b])
            a.send(b"/nick alice\r\n")
            got = _new_lines(b, mark)
            expect(not any("/nick" in line for line in got), f"{b.name} received {got!r}")

    with report.step("after /nick alice, the others see alice: hello",
                     hint="the line is bytes: split off the command word, keep the rest as the name, and "
                          "put the name (encoded, if you made it a str) in front of every line you spread"):
        with _rooms(factory_class) as room:
            a, b = room.connect(), room.connect()
            a.send(b"/nick alice\r\n")
            mark = _mark([b])
            a.send(b"hello\r\n")
            got = _new_lines(b, mark)
            expect(len(got) == 1 and got[0].startswith("alice") and got[0].endswith("hello"),
                   f"{b.name} received {got!r}")

    with report.step("each client keeps its own name",
                     hint="a name belongs to one connection: keep it on the protocol instance (self), "
                          "not on the factory or the class, which every connection shares"):
        with _rooms(factory_class) as room:
            a, b, c = room.connect(), room.connect(), room.connect()
            a.send(b"/nick alice\r\n")
            b.send(b"/nick bob\r\n")
            mark = _mark([b, c])
            a.send(b"from a\r\n")
            got = _new_lines(c, mark)
            expect(len(got) == 1 and got[0].startswith("alice"), f"{c.name} received {got!r} from alice")
            mark = _mark([a, c])
            b.send(b"from b\r\n")
            got = _new_lines(c, mark)
            expect(len(got) == 1 and got[0].startswith("bob"), f"{c.name} received {got!r} from bob")

    with report.step("/nick with no name does not crash the connection",
                     hint="an exception in protocol code drops that client's connection: check the line "
                          "has a name before using it"):
        with _rooms(factory_class) as room:
            a, b = room.connect(), room.connect()
            a.send(b"/nick\r\n")
            a.send(b"/nick \r\n")
            expect(a.connected, f"{a.name} was disconnected")

    with report.step("close still works",
                     hint="the command check is one more case in lineReceived; the close case must still return"):
        with _rooms(factory_class) as room:
            a, b = room.connect(), room.connect()
            a.send(b"/nick alice\r\n")
            a.send(b"close\r\n")
            expect(not a.connected, f"after close, {a.name} is still connected")

    return report


# --- lesson 07: an idle timeout --------------------------------------------------------


def _timed_room(factory_class):
    """A room whose factory's clock is the room's Clock."""
    clock = Clock()
    try:
        factory = factory_class(clock=clock)
    except TypeError:
        factory = factory_class()
        try:
            factory.clock = clock
        except AttributeError:  # a read-only property (SpreadFactory): set what it reads
            factory._clock = clock
    return MemoryRoom(factory, clock=clock)


@contextlib.contextmanager
def _timed(factory_class):
    room = _timed_room(factory_class)
    try:
        yield room
    finally:
        room.raise_errors = False
        with contextlib.suppress(Exception):
            room.close()


def check_idle_timeout(factory_class, seconds: float = 30) -> Report:
    """Check that clients silent for *seconds* are disconnected: pass the
    factory class.  Your protocol must take time from ``self.factory.clock``
    (the reactor when live; a ``Clock`` here, moved by the checker)."""
    report = Report(f"Drop clients idle for {seconds:g} s")
    time_hint = ("schedule with self.factory.clock.callLater, not with the reactor directly, so a Clock can drive "
                 "it; a DelayedCall that already fired cannot be cancelled or reset: ask .active() first")

    with report.step(f"a silent client is still there just before {seconds:g} s, and gone just after",
                     hint=time_hint):
        with _timed(factory_class) as room:
            a = room.connect()
            room.advance(seconds - 0.5)
            expect(a.connected, f"{a.name} was dropped after {seconds - 0.5:g} s")
            room.advance(1)
            expect(not a.connected, f"{a.name} is still connected after {seconds + 0.5:g} s of silence")
            expect(room.factory.numProtocols == 0,
                   f"after the timeout, numProtocols is {room.factory.numProtocols!r}")

    with report.step("a line starts the countdown again",
                     hint="each complete line is a sign of life: push the timer back (DelayedCall.reset) "
                          "when a line arrives"):
        with _timed(factory_class) as room:
            a, b = room.connect(), room.connect()
            room.advance(seconds * 2 / 3)
            a.send(b"still here\r\n")
            room.advance(seconds * 2 / 3)
            expect(a.connected, f"{a.name} spoke {seconds * 2 / 3:g} s ago and was dropped")
            expect(not b.connected, f"{b.name} stayed silent for {seconds * 4 / 3:g} s and is still connected")

    with report.step("each client has its own countdown",
                     hint="a timer belongs to one connection: keep it on the protocol instance (self), "
                          "not on the factory"):
        with _timed(factory_class) as room:
            a = room.connect()
            room.advance(seconds / 3)
            b = room.connect()
            room.advance(seconds * 2 / 3 + 0.5)
            expect(not a.connected, f"{a.name} is still connected after {seconds + 0.5:g} s of silence")
            expect(b.connected, f"{b.name} was dropped after {seconds * 2 / 3 + 0.5:g} s")
            room.advance(seconds / 3)
            expect(not b.connected, f"{b.name} is still connected after {seconds + 0.5:g} s of silence")

    with report.step("no timer is left behind when a client leaves",
                     hint="a pending DelayedCall outlives its connection: cancel it in connectionLost, "
                          "which runs however the connection ends"):
        with _timed(factory_class) as room:
            a, b, c = room.connect(), room.connect(), room.connect()
            a.send(b"close\r\n")
            b.close()
            c.abort()
            left = room.clock.getDelayedCalls()
            expect(not left, f"{len(left)} timed call(s) still pending after every client left")

    return report


# --- lesson 07, going further: /who ------------------------------------------------------


def _name_of(client) -> str:
    """The name the server's protocol gives *client* (its ``name``
    attribute), else the room's name for it."""
    name = getattr(client.protocol, "name", None) or client.name
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)


def check_who_command(factory_class) -> Report:
    """Check a ``/who`` command: pass the factory class.

    ``/who`` answers its sender, and only its sender, with one line naming
    every client connected now (the names the protocols use: their ``name``
    attribute)."""
    report = Report("/who")
    hint_list = ("the factory knows every connection and each protocol knows its own name: "
                 "join the names into one line and write it to this client only")

    with report.step("/who answers the sender with one line naming everyone connected", hint=hint_list):
        with _rooms(factory_class) as room:
            a, b, c = room.connect(), room.connect(), room.connect()
            mark = _mark([a])
            a.send(b"/who\n")
            got = _new_lines(a, mark)
            expect(len(got) == 1, f"{a.name} received {got!r} (expected one line)")
            missing = [_name_of(x) for x in (a, b, c) if _name_of(x) not in got[0]]
            expect(not missing, f"the line {got[0]!r} does not name {', '.join(missing)}")

    with report.step("/who is not spread to the others",
                     hint="a command is a line you answer yourself instead of spreading it: stop there"):
        with _rooms(factory_class) as room:
            a, b = room.connect(), room.connect()
            mark = _mark([b])
            a.send(b"/who\n")
            got = _new_lines(b, mark)
            expect(not got, f"{b.name} received {got!r}")

    with report.step("/who from telnet (ended by \\r\\n) works too",
                     hint="telnet ends a line with \\r\\n: compare the line once a trailing \\r is stripped"):
        with _rooms(factory_class) as room:
            a, b = room.connect(), room.connect()
            mark = _mark([a])
            a.send(b"/who\r\n")
            got = _new_lines(a, mark)
            expect(len(got) == 1 and _name_of(b) in got[0], f"{a.name} received {got!r}")

    with report.step("a client that has left is not listed",
                     hint="list the clients the factory holds now; a connection that ended, however it "
                          "ended, left the list in connectionLost"):
        with _rooms(factory_class) as room:
            a, b, c = room.connect(), room.connect(), room.connect()
            gone = _name_of(b)
            b.abort()
            mark = _mark([a])
            a.send(b"/who\n")
            got = _new_lines(a, mark)
            expect(len(got) == 1 and gone not in got[0] and _name_of(c) in got[0], f"{a.name} received {got!r}")

    return report
