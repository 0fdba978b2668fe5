"""The differential table: every scenario runs in a MemoryRoom and in a
LiveRoom over real loopback TCP, and both must observe the same thing.

What is observed, for each scenario: for every client, whether its connect
succeeded, how its connection ended, every byte it received, and the
room's trace of it (the protocol's calls, its writes, closes and the
connectionLost reasons); the calls the factory and the protocols got, with
their arguments, recorded by a probe outside the rooms; and every error.
Each row also pins a few facts a user would see (checked on the live room,
so on real TCP), so that two rooms wrong in the same way do not pass.
"""

from __future__ import annotations

import pytest
from conftest import report_count
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.protocols.basic import LineReceiver

from spreadlab import trace as T
from spreadlab.rooms import core
from spreadlab.rooms.core import CLOSED_BY_ITSELF, EOF_FROM_SERVER, RESET, STILL_OPEN
from spreadlab.rooms.live import LiveRoom
from spreadlab.rooms.memory import MemoryRoom
from spreadlab.servers import seed
from spreadlab.servers.spread import WELCOME, SpreadFactory

pytestmark = pytest.mark.timeout(120)


def welcome(n: int) -> bytes:
    return WELCOME.format(n=n).encode("utf-8") + b"\r\n"


# --- a probe: the calls a factory and its protocols get, seen from outside the rooms -----


class Probe:
    """Wraps a factory's buildProtocol and its protocols' three callbacks
    (top-level calls only: a protocol calling its own dataReceived is not
    the transport calling it) and notes each call with its arguments."""

    def __init__(self, factory) -> None:
        self.factory = factory
        self.builds: list[str] = []
        self.calls: list[list[tuple]] = []
        build = factory.buildProtocol

        def buildProtocol(addr):
            try:
                protocol = build(addr)
            except Exception as exc:
                self.builds.append(f"raised {type(exc).__name__}")
                raise
            self.builds.append("None" if protocol is None else type(protocol).__name__)
            if protocol is not None:
                self._watch(protocol)
            return protocol

        factory.buildProtocol = buildProtocol

    def _watch(self, protocol) -> None:
        calls: list[tuple] = []
        self.calls.append(calls)
        depth = [0]

        def watched(name, describe_args):
            method = getattr(protocol, name)

            def call(*args):
                if depth[0] == 0:
                    calls.append((name, *describe_args(*args)))
                depth[0] += 1
                try:
                    return method(*args)
                finally:
                    depth[0] -= 1

            setattr(protocol, name, call)

        watched("connectionMade", lambda: ())
        watched("dataReceived", lambda data: (bytes(data),))
        watched("connectionLost", lambda reason: (core.describe(reason),))


def observe(room, probe: Probe, hidden: tuple = ()) -> dict:
    """What a user could see of a room, in terms both rooms share.
    *hidden* clients (what TCP's own buffers decide, which a memory room
    does not model) are compared only by how they ended and by their last
    two trace events."""
    clients = {}
    for client in room.all_clients:
        events = [(e.kind, e.data, "" if e.kind == T.CONNECT else e.detail)
                  for e in room.trace.of(client=client.name)]
        seen = {"made": client.made, "ending": client.ending, "refused": client.refused,
                "connected": client.connected}
        if client.name in hidden:
            seen["last events"] = [(kind, detail) for kind, _, detail in events[-2:]]
        else:
            seen.update(received=client.received, trace=events)
        clients[client.name] = seen
    calls = [c for i, c in enumerate(probe.calls) if f"client {i + 1}" not in hidden]
    return {"clients": clients, "builds": probe.builds, "calls": calls,
            "errors": [core.describe(f) for f in room.errors]}


# --- protocols the scenarios use -------------------------------------------------------


class Echo(Protocol):
    def dataReceived(self, data):
        self.transport.write(data)


class Greeter(Protocol):
    def connectionMade(self):
        self.transport.write(b"hi\r\n")


class ByeThenAbort(Greeter):
    def dataReceived(self, data):
        self.transport.write(b"bye\r\n")
        self.transport.abortConnection()


class ByeThenLose(Greeter):
    def dataReceived(self, data):
        self.transport.write(b"bye\r\n")
        self.transport.loseConnection()


class LoseThenWrite(Greeter):
    def dataReceived(self, data):
        self.transport.loseConnection()
        self.transport.write(b"written after loseConnection\r\n")


class AbortThenWrite(Greeter):
    def dataReceived(self, data):
        self.transport.abortConnection()
        self.transport.write(b"written after abortConnection\r\n")


class LoseThenAbort(Greeter):
    def dataReceived(self, data):
        self.transport.write(b"bye\r\n")
        self.transport.loseConnection()
        self.transport.abortConnection()


class RaisesInMade(Echo):
    def connectionMade(self):
        self.transport.write(b"hi\r\n")
        raise ValueError("connectionMade failed")


class RaisesInData(Greeter):
    def dataReceived(self, data):
        self.transport.write(b"never sent\r\n")
        raise ValueError(f"cannot handle {data!r}")


class RaisesInDataAndLost(RaisesInData):
    def connectionLost(self, reason):
        raise AttributeError("connectionLost failed too")


class RaisesInLost(Echo):
    def connectionLost(self, reason):
        raise AttributeError("connectionLost failed")


class AbortThenRaise(Greeter):
    def dataReceived(self, data):
        self.transport.abortConnection()
        raise ValueError("after abortConnection")


class WritesInLost(Greeter):
    def connectionLost(self, reason):
        self.transport.write(b"too late\r\n")


class Relay(Greeter):
    """Writes what it gets to every other connection of its factory."""

    def connectionMade(self):
        self.factory.peers.append(self)
        super().connectionMade()

    def connectionLost(self, reason):
        self.factory.peers.remove(self)

    def dataReceived(self, data):
        for peer in self.factory.peers:
            if peer is not self:
                peer.transport.write(data)


class PausesOnce(Echo):
    """Pauses its transport on the first chunk and resumes 0.3 s later."""

    def dataReceived(self, data):
        self.transport.write(data)
        if not getattr(self, "paused_once", False):
            self.paused_once = True
            self.transport.pauseProducing()
            self.factory.clock.callLater(0.3, self.transport.resumeProducing)


class Closer(LineReceiver):
    """Lesson 04's: says bye, then closes cleanly or aborts."""

    delimiter = b"\n"

    def lineReceived(self, line):
        self.sendLine(b"bye")
        if line == b"lose":
            self.transport.loseConnection()
        elif line == b"abort":
            self.transport.abortConnection()


class WritesStr(seed.Spreader):
    """Lesson 06's Python 2 welcome: a str written to the transport."""

    def connectionMade(self):
        self.factory.numProtocols += 1
        self.transport.write("欢迎来到Spread Site, 你是第%s个客户端用户!\n" % self.factory.numProtocols)


class Py2Factory(seed.SpreadFactory):
    def buildProtocol(self, addr):
        return WritesStr(self)


class CloseOnCommand(Protocol):
    """Lesson 02's: compares a whole chunk with a command."""

    def dataReceived(self, data):
        if data == b"close\n":
            self.transport.loseConnection()


class Member(Greeter):
    def connectionMade(self):
        self.factory.count += 1
        super().connectionMade()

    def connectionLost(self, reason):
        self.factory.count -= 1


class AtMostThree(Factory):
    """Lesson 03's exercise: count in connectionMade/connectionLost, refuse a fourth."""

    protocol = Member
    count = 0

    def buildProtocol(self, addr):
        return None if self.count >= 3 else super().buildProtocol(addr)


class EveryOther(Factory):
    """Builds an Echo for odd connections; for even ones, *what* happens."""

    def __init__(self, what: str) -> None:
        self.what, self.count = what, 0

    def buildProtocol(self, addr):
        self.count += 1
        if self.count % 2:
            return Echo()
        if self.what == "raise":
            raise RuntimeError("no protocol for you")
        return None


def factory_of(protocol, clock=None) -> Factory:
    factory = Factory.forProtocol(protocol)
    factory.peers = []
    factory.clock = clock
    return factory


# --- the scenarios ------------------------------------------------------------------------
# Each: (id, make_factory(clock), play(room), facts(room) -> dict pinned below, hidden clients)


def one_sends(data, chunks=None):
    def play(room):
        room.connect().send(data, chunks=chunks)
    return play


def connect_send_then(action):
    def play(room):
        a, b = room.connect(), room.connect()
        a.send(b"x\r\n")
        getattr(a, action)()
        b.send(b"still here\r\n")
    return play


def ending(name):
    return lambda room: room.client(name).ending


def received(name):
    return lambda room: room.client(name).received


def flood(room):
    a, slow, c = room.connect(), room.connect(), room.connect()
    slow.stop_reading()
    line = b"y" * 3999 + b"\n"
    for batch in range(40):  # 8 MB: past what loopback's buffers hold, and past 200 kB more
        a.send(line * 50, chunks=len(line))  # a line a read (how TCP cuts 200 kB is its business)
    slow.resume_reading()
    room.settle()


def rate_limited(room):
    a, b = room.connect(), room.connect()
    a.send(b"".join(b"m%d\n" % i for i in range(6)))
    room.advance(1.5)


def pause_then_resume(room):
    a = room.connect()
    a.send(b"first")
    a.send(b"sec", b"ond")
    a.send(b"third")
    room.advance(1.5)  # the resume is due after 0.3 s: a wide margin on a busy machine


SCENARIOS = [
    # chunking and UTF-8 (a stream has no message boundaries)
    ("echo whole", lambda clock: factory_of(Echo), one_sends("hello\r\n"),
     {"received": received("client 1")}, {"received": b"hello\r\n"}),
    ("echo one byte at a time", lambda clock: factory_of(Echo), one_sends("欢迎 close\r\n", "bytes"),
     {"received": received("client 1")}, {"received": "欢迎 close\r\n".encode()}),
    ("echo chunks of 1, 3 and the rest", lambda clock: factory_of(Echo), one_sends("你好 world\n", [1, 3]),
     {}, {}),
    ("a UTF-8 character split in two", lambda clock: factory_of(Echo), one_sends("你好\n", "split-utf8"),
     {}, {}),
    ("two sends merged into one stream",
     lambda clock: factory_of(Echo), lambda room: room.connect().send(b"one\n", b"two\n"), {}, {}),
    # the server closing
    ("write then abortConnection in one callback", lambda clock: factory_of(ByeThenAbort), one_sends("x"),
     {"received": received("client 1"), "ending": ending("client 1")}, {"received": b"hi\r\n", "ending": RESET}),
    ("write then loseConnection", lambda clock: factory_of(ByeThenLose), one_sends("x"),
     {"received": received("client 1"), "ending": ending("client 1")},
     {"received": b"hi\r\nbye\r\n", "ending": EOF_FROM_SERVER}),
    ("write after loseConnection in the same callback", lambda clock: factory_of(LoseThenWrite), one_sends("x"),
     {"received": received("client 1")}, {"received": b"hi\r\nwritten after loseConnection\r\n"}),
    ("write after abortConnection", lambda clock: factory_of(AbortThenWrite), one_sends("x"),
     {"received": received("client 1"), "ending": ending("client 1")}, {"received": b"hi\r\n", "ending": RESET}),
    ("loseConnection then abortConnection", lambda clock: factory_of(LoseThenAbort), one_sends("x"),
     {"received": received("client 1"), "ending": ending("client 1")}, {"received": b"hi\r\n", "ending": RESET}),
    ("writes in connectionLost are dropped", lambda clock: factory_of(WritesInLost), connect_send_then("close"),
     {"received": received("client 1")}, {"received": b"hi\r\n"}),
    # the client closing
    ("the client closes cleanly", lambda clock: factory_of(Relay), connect_send_then("close"),
     {"ending": ending("client 1"), "other": received("client 2")},
     {"ending": CLOSED_BY_ITSELF, "other": b"hi\r\nx\r\n"}),
    ("the client resets", lambda clock: factory_of(Relay), connect_send_then("abort"),
     {"ending": ending("client 1")}, {"ending": CLOSED_BY_ITSELF}),
    # errors in the factory's and the protocols' code
    ("buildProtocol returns None", lambda clock: EveryOther("none"),
     lambda room: [room.connect(), room.connect(), room.connect().send(b"ok\n")],
     {"made": lambda room: room.client("client 2").made, "ending": ending("client 2")},
     {"made": True, "ending": EOF_FROM_SERVER}),
    ("buildProtocol raises", lambda clock: EveryOther("raise"),
     lambda room: [room.connect(), room.connect(), room.connect().send(b"ok\n")],
     {"ending": ending("client 2"), "errors": lambda room: len(room.errors)},
     {"ending": EOF_FROM_SERVER, "errors": 1}),
    ("connectionMade raises: the connection keeps working", lambda clock: factory_of(RaisesInMade),
     one_sends("echo me\n"),
     {"received": received("client 1"), "ending": ending("client 1")},
     {"received": b"hi\r\necho me\n", "ending": STILL_OPEN}),
    ("dataReceived raises: dropped, what it wrote is lost", lambda clock: factory_of(RaisesInData),
     lambda room: [room.connect(), room.connect().send(b"boom")],
     {"received": received("client 2"), "ending": ending("client 2"), "other": ending("client 1")},
     {"received": b"hi\r\n", "ending": EOF_FROM_SERVER, "other": STILL_OPEN}),
    ("dataReceived and connectionLost both raise: both kept", lambda clock: factory_of(RaisesInDataAndLost),
     one_sends("boom"), {"errors": lambda room: [f.type.__name__ for f in room.errors]},
     {"errors": ["ValueError", "AttributeError"]}),
    ("connectionLost raises", lambda clock: factory_of(RaisesInLost), connect_send_then("close"),
     {"errors": lambda room: len(room.errors)}, {"errors": 1}),
    ("abortConnection then an exception: closed in order", lambda clock: factory_of(AbortThenRaise),
     one_sends("x"), {"ending": ending("client 1")}, {"ending": EOF_FROM_SERVER}),
    # flow control
    ("pauseProducing: what waits arrives in one read", lambda clock: factory_of(PausesOnce, clock),
     pause_then_resume, {"received": received("client 1")}, {"received": b"firstsecondthird"}),
    # the Spread server
    ("spread: welcome and broadcast", lambda clock: SpreadFactory(),
     lambda room: [room.connect(), room.connect(), room.connect(), room.client("client 1").send("hello\n")],
     {"b": received("client 2")}, {"b": welcome(2) + b"client 1: hello\r\n"}),
    ("spread: a line cut into bytes and a split character", lambda clock: SpreadFactory(),
     lambda room: [room.connect(), room.connect().send("你好\r\nclo", chunks="bytes"),
                   room.client("client 2").send("se\n", chunks="split-utf8")],
     {"ending": ending("client 2")}, {"ending": EOF_FROM_SERVER}),
    ("spread: close on its own line", lambda clock: SpreadFactory(),
     lambda room: [room.connect(), room.connect().send("hi\n CLOSE \n")],
     {"ending": ending("client 2"), "a": lambda room: room.client("client 1").lines[-1]},
     {"ending": EOF_FROM_SERVER, "a": "client 2: hi"}),
    ("spread: max_clients refuses through buildProtocol", lambda clock: SpreadFactory(max_clients=1),
     lambda room: [room.connect(), room.connect()],
     {"ending": ending("client 2"), "received": received("client 2")}, {"ending": EOF_FROM_SERVER, "received": b""}),
    ("spread: invalid UTF-8 and terminal escapes", lambda clock: SpreadFactory(),
     lambda room: [room.connect(), room.connect().send(b"caf\xc3 \x1b[2Jok\x07\n")],
     {"a": lambda room: room.client("client 1").lines[-1]}, {"a": "client 2: caf\ufffd ok"}),
    ("spread: an over-long line gets an error, the next line goes", lambda clock: SpreadFactory(max_line=20),
     lambda room: [room.connect(), room.connect().send(b"z" * 30 + b"\nshort\n")],
     {"a": lambda room: room.client("client 1").lines[-1]}, {"a": "client 2: short"}),
    ("spread: the rate limit slows, loses nothing", lambda clock: SpreadFactory(rate=10, burst=2, clock=clock),
     rate_limited, {"b": lambda room: room.client("client 2").lines[1:]},
     {"b": [f"client 1: m{i}" for i in range(6)]}),
    ("spread: a client that never reads is dropped, the others lose nothing",
     lambda clock: SpreadFactory(max_backlog=200_000), flood,
     {"slow": ending("client 2"), "c": lambda room: len(room.client("client 3").lines)},
     {"slow": RESET, "c": 1 + 40 * 50}),
    # the lessons' own protocols
    ("lesson 04: Closer, lose and abort", lambda clock: factory_of(Closer),
     lambda room: [room.connect().send(b"lose\n"), room.connect().send(b"abort\n")],
     {"gentle": received("client 1"), "abrupt": received("client 2"), "endings": lambda room: [
         c.ending for c in room.all_clients]},
     {"gentle": b"bye\n", "abrupt": b"", "endings": [EOF_FROM_SERVER, RESET]}),
    ("lesson 06: a str written in connectionMade", lambda clock: Py2Factory(),
     lambda room: [room.connect(), room.connect().send(b"hello")],
     {"errors": lambda room: [f.type.__name__ for f in room.errors], "first": received("client 1"),
      "endings": lambda room: [c.ending for c in room.all_clients]},
     # both stay open, but connectionMade stopped before adding them to the list: nothing is spread
     {"errors": ["TypeError", "TypeError"], "first": b"", "endings": [STILL_OPEN, STILL_OPEN]}),
    ("lesson 03: a factory that refuses a fourth, then lets one in", lambda clock: AtMostThree(),
     lambda room: [room.connect(), room.connect(), room.connect(), room.connect(),
                   room.client("client 2").abort(), room.connect()],
     {"endings": lambda room: [c.ending for c in room.all_clients], "count": lambda room: room.factory.count},
     {"endings": [STILL_OPEN, CLOSED_BY_ITSELF, STILL_OPEN, EOF_FROM_SERVER, STILL_OPEN], "count": 3}),
    ("lesson 02: a command compared with a whole chunk", lambda clock: factory_of(CloseOnCommand),
     lambda room: [room.connect().send(b"close\n"), room.connect().send(b"close\n", chunks=[2])],
     {"endings": lambda room: [c.ending for c in room.all_clients]}, {"endings": [EOF_FROM_SERVER, STILL_OPEN]}),
    # the seed's flaws
    ("seed: close as a whole chunk closes and is still spread", lambda clock: seed.SpreadFactory(),
     lambda room: [room.connect(), room.connect().send(b"close")],
     {"a": received("client 1"), "ending": ending("client 2")},
     {"a": "欢迎来到Spread Site, 你是第1个客户端用户!\nclose".encode(), "ending": EOF_FROM_SERVER}),
    ("seed: close cut in two is not seen", lambda clock: seed.SpreadFactory(),
     lambda room: [room.connect(), room.connect().send(b"close", chunks=[3])],
     {"ending": ending("client 2")}, {"ending": STILL_OPEN}),
    ("seed: close with a line end is not seen", lambda clock: seed.SpreadFactory(),
     lambda room: [room.connect(), room.connect().send(b"close\r\n")],
     {"ending": ending("client 2")}, {"ending": STILL_OPEN}),
]
HIDDEN = {"spread: a client that never reads is dropped, the others lose nothing": ("client 2",)}


def run(room_class, make_factory, play, facts, hidden):
    seed.clients.clear()
    if room_class is MemoryRoom:
        clock = Clock()
        probe = Probe(make_factory(clock))
        room = MemoryRoom(probe.factory, clock=clock, raise_errors=False)
    else:
        from twisted.internet import reactor

        probe = Probe(make_factory(reactor))
        room = LiveRoom(probe.factory, raise_errors=False, timeout=10)
    try:
        play(room)
        room.settle()
        return observe(room, probe, hidden), {what: fact(room) for what, fact in facts.items()}
    finally:
        room.close()
        seed.clients.clear()


@pytest.mark.parametrize("name, make_factory, play, facts, expected", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_the_memory_room_observes_what_tcp_does(request, capsys, name, make_factory, play, facts, expected):
    hidden = HIDDEN.get(name, ())
    live, live_facts = run(LiveRoom, make_factory, play, facts, hidden)
    memory, memory_facts = run(MemoryRoom, make_factory, play, facts, hidden)
    assert live_facts == expected  # what real TCP shows, pinned
    assert memory == live
    assert memory_facts == live_facts
    report_count(request.config, "scenarios run in a memory room and a live room", 1)


def test_the_table_holds_at_least_twenty_scenarios():
    assert len(SCENARIOS) >= 20
    assert len({s[0] for s in SCENARIOS}) == len(SCENARIOS)
