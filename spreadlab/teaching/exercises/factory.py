"""Checkers for lesson 03, Factory.

- `check_counting_factory`: a factory that keeps the server's state itself,
  ``numProtocols`` (clients connected now) and ``clients`` (their
  protocols), and whose protocol welcomes each client with its number, in
  the seed's words;
- `check_refusing_factory`: a factory that lets at most three clients in at
  a time (``buildProtocol`` returns ``None`` for a fourth) and lets a new one
  in when someone leaves.

Each takes the learner's Factory class (it is called with no arguments),
runs it in `MemoryRoom`\\ s and returns a `Report`.
"""

from __future__ import annotations

from ...rooms.memory import MemoryRoom
from ...servers.spread import WELCOME
from .protocol import _learner_code, _name, _show
from .report import Report, expect

__all__ = ["check_counting_factory", "check_refusing_factory"]

_GLOBAL_HINT = (
    "Keep what one server knows on self, the factory instance (create it in __init__), "
    "not in a global list or on the class: two servers in one process would share it."
)


def _welcome(n: int) -> bytes:
    return WELCOME.format(n=n).encode("utf-8") + b"\n"


def check_counting_factory(factory_class) -> Report:
    """Check a factory with ``numProtocols`` and ``clients`` kept up to date,
    whose protocol writes ``WELCOME.format(n=numProtocols)`` in UTF-8 and a
    b"\\n" to each new client."""
    report = Report(f"{_name(factory_class)}: a factory that counts its clients")
    with report.step(
        "a new factory starts with numProtocols == 0 and no clients",
        hint="State that belongs to the whole server lives on the factory: create numProtocols and "
             "clients in the factory's __init__.",
    ):
        with _learner_code():
            factory = factory_class()
            count, clients = factory.numProtocols, len(factory.clients)
        expect(count == 0 and clients == 0,
               f"a new factory has numProtocols == {count!r} and {clients} clients")
    with report.step(
        "each client is welcomed with its number, in UTF-8",
        hint="In connectionMade, count the client first, then write WELCOME.format(n=...) encoded as "
             "UTF-8 bytes, ending in b'\\n'. A protocol reaches its factory as self.factory.",
    ):
        with _learner_code():
            room = MemoryRoom(factory_class())
            clients = [room.connect() for _ in range(3)]
        _close_quietly(room)
        for number, client in enumerate(clients, 1):
            expect(client.received == _welcome(number),
                   f"{client.name} received {_show(client.received)}, not {_show(_welcome(number))}")
    with report.step(
        "numProtocols and clients follow connections as they come and go",
        hint="Count up and remember the client in connectionMade. connectionLost is called however a "
             "connection ends, cleanly or not: that is where a client is forgotten and the count goes down.",
    ):
        with _learner_code():
            factory = factory_class()
            room = MemoryRoom(factory)
            one, two, three = room.connect(), room.connect(), room.connect()
        _expect_state(factory, [one, two, three], "after 3 clients connected")
        with _learner_code():
            one.close()
        _expect_state(factory, [two, three], "after client 1 closed its connection")
        with _learner_code():
            two.abort()
        _expect_state(factory, [three], "after client 2's connection was reset")
        _close_quietly(room)
    with report.step("two servers keep separate counts and clients", hint=_GLOBAL_HINT):
        with _learner_code():
            first, second = factory_class(), factory_class()
            room1, room2 = MemoryRoom(first), MemoryRoom(second)
            a, b = room1.connect(), room1.connect()
            c = room2.connect()
        _expect_state(first, [a, b], "on server 1 (2 clients), with server 2 running beside it")
        _expect_state(second, [c], "on server 2 (1 client), with server 1 running beside it")
    return report


def _close_quietly(room) -> None:
    """Stop a room so that its clients do not linger in a learner's global
    list into the next check; errors here belong to no check."""
    room.raise_errors = False
    room.close()


def _expect_state(factory, connected, when: str) -> None:
    protocols = [c.protocol for c in connected]
    count = factory.numProtocols
    expect(count == len(protocols), f"{when}: numProtocols == {count!r}, not {len(protocols)}")
    held = list(factory.clients)
    same = len(held) == len(protocols) and all(any(p is q for q in held) for p in protocols)
    expect(same, f"{when}: factory.clients holds {len(held)} protocols, not exactly the {len(protocols)} connected")


def check_refusing_factory(factory_class) -> Report:
    """Check a factory that accepts at most three connected clients at a time."""
    report = Report(f"{_name(factory_class)}: a factory that refuses a fourth client")
    with report.step(
        "three clients are let in",
        hint="buildProtocol must return a protocol for each connection it accepts: "
             "super().buildProtocol(addr) builds self.protocol() and sets its .factory.",
    ):
        with _learner_code():
            room = MemoryRoom(factory_class())
            clients = [room.connect() for _ in range(3)]
        refused = [c.name for c in clients if c.refused]
        expect(not refused, f"refused: {', '.join(refused)}")
    with report.step(
        "a fourth is refused while three are connected",
        hint="Returning None from buildProtocol refuses a connection. The factory must know how many "
             "clients are connected now.",
    ):
        with _learner_code():
            room = MemoryRoom(factory_class())
            for _ in range(3):
                room.connect()
            fourth = room.connect()
        expect(fourth.refused, "the fourth client was let in")
    with report.step(
        "when one leaves, a new client gets in",
        hint="Count down when a connection ends (in connectionLost, which runs however it ends), "
             "so that its place is free again.",
    ):
        with _learner_code():
            room = MemoryRoom(factory_class())
            one, two, _ = room.connect(), room.connect(), room.connect()
            one.close()
            after_close = room.connect()
            two.abort()
            after_abort = room.connect()
        expect(not after_close.refused, "client 1 closed its connection, then a new client was refused")
        expect(not after_abort.refused, "client 2's connection was reset, then a new client was refused")
    with report.step(
        "a refused connection does not take a place",
        hint="A refused connection never gets a protocol, so it never gets connectionLost either: "
             "count only the connections you accept (in connectionMade).",
    ):
        with _learner_code():
            room = MemoryRoom(factory_class())
            one = room.connect()
            room.connect(), room.connect()
            room.connect(), room.connect()  # both refused
            one.close()
            newcomer = room.connect()
        expect(not newcomer.refused,
               "3 clients in, 2 refused, client 1 left: the next client was refused")
    with report.step("two servers each let three in", hint=_GLOBAL_HINT):
        with _learner_code():
            room1, room2 = MemoryRoom(factory_class()), MemoryRoom(factory_class())
            for _ in range(3):
                room1.connect()
            theirs = [room2.connect() for _ in range(3)]
        refused = sum(c.refused for c in theirs)
        expect(not refused, f"server 1 had 3 clients; server 2 refused {refused} of its first 3")
    return report
