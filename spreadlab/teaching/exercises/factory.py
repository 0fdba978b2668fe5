"""Checkers for lesson 03, Factory.

- `check_counting_factory`: a factory that keeps the server's state itself,
  ``numProtocols`` (clients connected now) and ``clients`` (their
  protocols), and whose protocol welcomes each client with its number, in
  the seed's words;
- `check_refusing_factory`: a factory that lets at most three clients in at
  a time (``buildProtocol`` returns ``None`` for a fourth: Twisted then
  closes that connection at once, the client reads end-of-file) and lets a
  new one in when someone leaves.

Each takes the learner's Factory class (called with no arguments) and is a
table of cases (see `cases`).
"""

from __future__ import annotations

from collections.abc import Mapping

from ...i18n import N_, _
from ...servers.spread import WELCOME
from .cases import Case, lines_in, run_cases, show
from .report import Report, expect

__all__ = ["check_counting_factory", "check_refusing_factory"]

_SHARED_HINT = N_(
    "Keep what one server knows on self, the factory instance (create it in __init__), not in a global or "
    "in a class attribute such as clients = [] on the class: two servers in one process would share it."
)


def _welcome(n: int) -> bytes:
    return WELCOME.format(n=n).encode("utf-8")


def _holds_exactly(factory, protocols) -> bool:
    """*factory*.clients holds exactly *protocols* (as a set, a list, or a
    dict keyed by them or holding them as values)."""
    held = factory.clients
    views = [list(held.keys()), list(held.values())] if isinstance(held, Mapping) else [list(held)]
    return any(len(view) == len(protocols) and all(any(p is q for q in view) for p in protocols) for view in views)


def _expect_state(factory, connected, when: str) -> None:
    """*factory*'s numProtocols and clients are exactly the *connected* clients'
    (*when*, an `N_` text, says at which moment)."""
    protocols = [c.protocol for c in connected]
    count = factory.numProtocols
    expect(count == len(protocols), _("{when}: numProtocols == {count}, not {wanted}").format(
        when=_(when), count=repr(count), wanted=len(protocols)))
    expect(_holds_exactly(factory, protocols),
           _("{when}: factory.clients holds {count} entries, not exactly the {wanted} connected protocols").format(
               when=_(when), count=len(factory.clients), wanted=len(protocols)))


# --- the counting factory ------------------------------------------------------------


def _welcomes_each_with_its_number(trial) -> None:
    clients = trial.clients(3)
    got = [lines_in(c.received) for c in clients]
    seen = "; ".join(_("{client} received {got}").format(client=c.name, got=show(c.received)) for c in clients)
    expect(got != [[_welcome(0)]] * 3, seen,
           _("To begin: in connectionMade, count the newcomer on the factory (self.factory is the factory) and "
             "remember it in self.factory.clients; then welcome it with WELCOME.format(n=...) and that count."))
    expect(got != [[_welcome(n)] for n in range(3)], seen,
           _("The newcomer counts too: add it to numProtocols before writing the welcome."))
    expect(got == [[_welcome(n)] for n in (1, 2, 3)] and all(c.received.endswith(b"\n") for c in clients), seen)


def _follows_comings_and_goings(trial) -> None:
    factory = trial.make_factory()
    _expect_state(factory, [], N_("a new factory"))
    room = trial.room(factory)
    one, two, three = trial.clients(3, room)
    _expect_state(factory, [one, two, three], N_("after 3 clients connected"))
    one.close()
    _expect_state(factory, [two, three], N_("after client 1 closed its connection"))
    two.abort()
    _expect_state(factory, [three], N_("after client 2's connection was reset"))


def _welcomes_with_the_count_now(trial) -> None:
    room = trial.room()
    one, two, three = trial.clients(3, room)
    one.close()
    two.abort()
    four, wanted = room.connect(), _welcome(2) + b"\n"
    expect(lines_in(four.received) == [_welcome(2)],
           _("after client 1 closed and client 2 was reset, client 4 received {got}, not {wanted}").format(
               got=show(four.received), wanted=show(wanted)))


def _two_servers_count_apart(trial) -> None:
    first, second = trial.make_factory(), trial.make_factory()
    a, b = trial.clients(2, trial.room(first))
    (c,) = trial.clients(1, trial.room(second))
    _expect_state(first, [a, b], N_("on server 1 (2 clients), with server 2 running beside it"))
    _expect_state(second, [c], N_("on server 2 (1 client), with server 1 running beside it"))


COUNTING_FACTORY = [
    Case(N_("each client is welcomed with its number, in the blog's words, in UTF-8"),
         N_("In connectionMade, count the client first, then write WELCOME.format(n=...) encoded as UTF-8 bytes, "
            "ending in b'\\n'. A protocol reaches its factory as self.factory."),
         _welcomes_each_with_its_number, first=True),
    Case(N_("numProtocols and clients follow connections as they come and go"),
         N_("Count up and remember the client in connectionMade. connectionLost is called however a connection "
            "ends, closed or reset: that is where a client is forgotten and the count goes down."),
         _follows_comings_and_goings),
    Case(N_("two servers keep separate counts and clients"), _SHARED_HINT, _two_servers_count_apart),
    Case(N_("a newcomer is welcomed with the number of clients connected now"),
         N_("n is how many are connected now, the newcomer included: numProtocols, which goes down when "
            "someone leaves, not a number that only goes up."),
         _welcomes_with_the_count_now),
]


def check_counting_factory(factory_class) -> Report:
    """Check a factory with ``numProtocols`` and ``clients`` kept up to date,
    whose protocol writes ``WELCOME.format(n=numProtocols)`` in UTF-8 and a
    line end to each new client."""
    title = _("{name}: a factory that counts its clients").format(
        name=getattr(factory_class, "__name__", "CountingFactory"))
    return run_cases(title, COUNTING_FACTORY, factory_class, factory_class,
                     "check_counting_factory(CountingFactory)")


# --- the refusing factory ----------------------------------------------------------------


_RETURN_HINT = N_("buildProtocol must return a protocol for each connection it lets in: "
                  "super().buildProtocol(addr) builds one and sets its .factory.")
_FOURTH_GOT_IN = N_("a fourth client got in while three were connected")


def _full(trial, room, server: str = "", hint: str = _RETURN_HINT) -> list:
    """Three clients let into *room*, and a fourth closed at once; *server*
    (an `N_` text) names the server when there are two; *hint* is the hint
    when fewer than three get in."""
    three = trial.clients(3, room)
    shut = ", ".join(c.name for c in three if not c.connected)
    if server:
        fewer = _("{server}: {clients} closed at once, with fewer than 3 connected").format(
            server=_(server), clients=shut)
        fourth = _("{server}: a fourth client got in while three were connected").format(server=_(server))
    else:
        fewer = _("{clients} closed at once, with fewer than 3 connected").format(clients=shut)
        fourth = _(_FOURTH_GOT_IN)
    expect(not shut, fewer, _(hint))
    expect(not room.connect().connected, fourth)
    return three


def _refuses_a_fourth(trial) -> None:
    room = trial.room()
    three = trial.clients(3, room)
    expect(all(c.connected for c in three),
           _("of 3 clients, {count} got in").format(count=sum(c.connected for c in three)), _(_RETURN_HINT))
    fourth, fifth = room.connect(), room.connect()
    expect(not (fourth.connected and not fifth.connected), _("the fourth client got in; the fifth was closed at once"),
           _("Three connected means full: compare so that the fourth is turned away (>= 3, not > 3)."))
    clients = getattr(room.factory, "clients", ())
    counted = getattr(room.factory, "numProtocols", 0), len(clients) if hasattr(clients, "__len__") else None
    expect(not fourth.connected or counted != (0, 0),
           _("a fourth client got in while three were connected, and numProtocols was still 0, clients empty"),
           _("Nothing counts the clients: AtMostThree inherits its counting from your CountingFactory (exercise 1). "
             "Make check_counting_factory(CountingFactory) pass first, then run this checker again."))
    expect(not fourth.connected, _(_FOURTH_GOT_IN),
           _("To begin: in buildProtocol, return None while three clients are connected: Twisted then closes "
             "that connection at once (the client connects, then reads end-of-file). The count is on the factory."))


def _lets_in_after_a_leave(trial) -> None:
    room = trial.room()
    one, two, _third = trial.clients(3, room)
    one.close()
    expect(room.connect().connected, _("client 1 closed its connection, then a new client was closed at once"))
    two.abort()
    expect(room.connect().connected, _("client 2's connection was reset, then a new client was closed at once"))
    expect(not room.connect().connected, _("three were connected again, and yet one more got in"))


def _refused_take_no_place(trial) -> None:
    room = trial.room()
    one = _full(trial, room)[0]
    expect(not room.connect().connected, _("a fifth client got in while three were connected"))
    one.close()
    expect(room.connect().connected,
           _("3 clients in, 2 closed at once, then client 1 left: the next client was closed at once too"))


def _two_servers_apart(trial) -> None:
    _full(trial, trial.room(), N_("server 1"))
    _full(trial, trial.room(), N_("server 2, with server 1 full beside it"), _SHARED_HINT)


REFUSING_FACTORY = [
    Case(N_("a fourth client is closed at once while three are connected"),
         N_("Returning None from buildProtocol makes Twisted close that connection at once. The factory must know "
            "how many clients are connected now."),
         _refuses_a_fourth, first=True),
    Case(N_("when one leaves, closed or reset, a new client gets in"),
         N_("Count down when a connection ends (in connectionLost, which runs however it ends), so that its place "
            "is free again."),
         _lets_in_after_a_leave),
    Case(N_("a connection closed at once takes no place"),
         N_("A connection turned away never gets a protocol, so it never gets connectionLost either: count only "
            "the connections you let in (in connectionMade), not every call to buildProtocol."),
         _refused_take_no_place),
    Case(N_("two servers each let three in"), _SHARED_HINT, _two_servers_apart),
]


def check_refusing_factory(factory_class) -> Report:
    """Check a factory that lets at most three clients be connected at a time."""
    title = _("{name}: a factory that turns away a fourth client").format(
        name=getattr(factory_class, "__name__", "AtMostThree"))
    return run_cases(title, REFUSING_FACTORY, factory_class, factory_class, "check_refusing_factory(AtMostThree)")
