"""The correct Spread server, driven through a memory room."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from spreadlab import MemoryRoom, SpreadFactory
from spreadlab import trace as T


def welcome(n: int) -> bytes:
    return f"欢迎来到Spread Site, 你是第{n}个客户端用户!\r\n".encode("utf-8")


@pytest.fixture
def room():
    with MemoryRoom(SpreadFactory()) as room:
        yield room


def test_welcome_is_the_seeds_text_in_utf8_with_the_count(room):
    first, second = room.connect(), room.connect()
    assert first.received == welcome(1)
    assert second.received == welcome(2)
    assert first.lines == ["欢迎来到Spread Site, 你是第1个客户端用户!"]


@pytest.mark.parametrize("n", [2, 3, 7])
def test_a_line_reaches_the_other_n_minus_1_clients_and_not_the_sender(room, n):
    clients = [room.connect() for _ in range(n)]
    clients[0].send(b"hello\n")
    assert clients[0].lines[1:] == []  # no echo
    for other in clients[1:]:
        assert other.lines[-1] == "client 1: hello"
    writes = room.trace.of(T.WRITE)
    assert sum(e.data == b"client 1: hello\r\n" for e in writes) == n - 1


def test_crlf_and_lf_are_both_line_ends(room):
    a, b = room.connect(), room.connect()
    a.send(b"from telnet\r\nfrom nc\n")
    assert b.lines[1:] == ["client 1: from telnet", "client 1: from nc"]


def test_a_line_cut_anywhere_arrives_whole(room):
    a, b = room.connect(), room.connect()
    a.send("你好, world\n", chunks="bytes")
    a.send("再见\n", chunks="split-utf8")
    assert b.lines[1:] == ["client 1: 你好, world", "client 1: 再见"]


def test_a_partial_line_waits_for_its_end(room):
    a, b = room.connect(), room.connect()
    a.send(b"half a li")
    assert b.lines[1:] == []
    a.send(b"ne\n")
    assert b.lines[1:] == ["client 1: half a line"]


@pytest.mark.parametrize("word", [b"close", b"CLOSE", b"  Close \t", b"close\r"])
def test_close_on_a_line_of_its_own_disconnects_only_that_client(room, word):
    a, b = room.connect(), room.connect()
    a.send(word + b"\n")
    assert not a.connected and b.connected
    assert room.factory.numProtocols == 1
    assert b.lines[1:] == []  # "close" is a command, not spread
    assert room.trace.of(T.LOST, "client 1")[0].detail.startswith("ConnectionDone")


def test_close_inside_a_sentence_is_just_text(room):
    a, b = room.connect(), room.connect()
    a.send(b"please close the door\n")
    assert a.connected
    assert b.lines[-1] == "client 1: please close the door"


def test_lines_after_close_in_the_same_chunk_are_not_spread(room):
    a, b = room.connect(), room.connect()
    a.send(b"bye\nclose\nnot sent\n")
    assert b.lines[1:] == ["client 1: bye"]


@pytest.mark.parametrize("how", ["close", "abort", "server-lose", "server-abort", "command"])
def test_the_count_goes_down_however_a_client_leaves(room, how):
    a, b, c = room.connect(), room.connect(), room.connect()
    assert room.factory.numProtocols == 3
    if how == "close":
        b.close()
    elif how == "abort":
        b.abort()
    elif how == "server-lose":
        b.protocol.transport.loseConnection()
        room.settle()
    elif how == "server-abort":
        b.protocol.transport.abortConnection()
        room.settle()
    else:
        b.send(b"close\r\n")
    assert not b.connected
    assert room.factory.numProtocols == 2
    assert [p.name for p in room.factory.clients] == ["client 1", "client 3"]
    a.send(b"still here\n")
    assert c.lines[-1] == "client 1: still here"
    assert b"still here" not in b.received


def test_senders_are_named_so_a_terminal_user_can_tell_them_apart(room):
    a, b, c = room.connect(), room.connect(), room.connect()
    a.send(b"one\n")
    b.send(b"two\n")
    assert c.lines[1:] == ["client 1: one", "client 2: two"]


def test_names_stay_unique_after_someone_leaves(room):
    a, b = room.connect(), room.connect()
    a.close()
    c = room.connect()
    c.send(b"hi\n")
    assert b.lines[-1] == "client 3: hi"
    assert c.received.startswith(welcome(2))  # "you are user number 2": the count, as in the seed


def test_an_over_long_line_gets_an_error_and_the_next_lines_still_work():
    room = MemoryRoom(SpreadFactory(max_line=32))
    a, b = room.connect(), room.connect()
    a.send(b"x" * 100 + b"\nshort\n", chunks=7)
    assert a.lines[1:] == ["error: line longer than 32 bytes, not sent"]
    assert b.lines[1:] == ["client 1: short"]
    assert a.connected


def test_an_over_long_line_without_an_end_is_skipped_until_its_end():
    room = MemoryRoom(SpreadFactory(max_line=16))
    a, b = room.connect(), room.connect()
    a.send(b"y" * 40)
    a.send(b"y" * 40)
    a.send(b"yyy\nok\n")
    assert a.lines[1:] == ["error: line longer than 16 bytes, not sent"]
    assert b.lines[1:] == ["client 1: ok"]


def test_a_line_at_the_limit_is_fine():
    room = MemoryRoom(SpreadFactory(max_line=16))
    a, b = room.connect(), room.connect()
    a.send(b"z" * 16 + b"\n")
    assert b.lines[1:] == ["client 1: " + "z" * 16]


def test_invalid_utf8_is_replaced_not_a_crash(room):
    a, b = room.connect(), room.connect()
    a.send(b"caf\xc3 \xff\xfe ok\n")
    assert b.lines[-1] == "client 1: caf\ufffd \ufffd\ufffd ok"
    b.received.decode("utf-8")  # what b received is valid UTF-8


def test_terminal_escapes_and_controls_never_reach_others(room):
    a, b = room.connect(), room.connect()
    a.send(b"\x1b[2J\x1b]0;pwned\x07red \x1b[31mtext\x1b[0m\x07\x08\x00\tend\n")
    assert b.lines[-1] == "client 1: red text\tend"
    assert b"\x1b" not in b.received


def test_max_clients_refuses_through_buildProtocol_returning_none():
    room = MemoryRoom(SpreadFactory(max_clients=2))
    a, b, c = room.connect(), room.connect(), room.connect()
    assert c.refused and not c.connected
    assert room.trace.kinds("client 3") == [T.CONNECT, T.REFUSED]
    assert room.factory.numProtocols == 2
    a.close()
    d = room.connect()
    assert d.connected and not d.refused


def test_a_flooding_client_is_slowed_not_dropped_and_nothing_is_lost():
    clock = Clock()
    room = MemoryRoom(SpreadFactory(rate=2, burst=2, clock=clock))
    a, b = room.connect(), room.connect()
    a.send(b"".join(b"m%d\n" % i for i in range(6)))
    received_at_once = len(b.lines) - 1
    assert received_at_once < 6  # slowed...
    for _ in range(10):
        clock.advance(1)
    assert b.lines[1:] == [f"client 1: m{i}" for i in range(6)]  # ...but nothing lost, in order
    assert a.connected


def test_a_client_that_stops_reading_is_dropped_and_others_lose_nothing():
    room = MemoryRoom(SpreadFactory(max_backlog=100))
    a, slow, c = room.connect(), room.connect(), room.connect()
    # The transport says its buffer is full, as TCP's does when a peer stops reading.
    slow.protocol.transport.producer.pauseProducing()
    for i in range(20):
        a.send(b"message %d\n" % i)
    assert not slow.connected
    assert room.trace.of(T.ABORT, slow.name)
    assert c.lines[1:] == [f"client 1: message {i}" for i in range(20)]


def test_two_factories_do_not_share_clients():
    one, two = MemoryRoom(SpreadFactory()), MemoryRoom(SpreadFactory())
    a, b = one.connect(), one.connect()
    x, y = two.connect(), two.connect()
    a.send(b"only for room one\n")
    assert b.lines[-1] == "client 1: only for room one"
    assert all("room one" not in line for line in x.lines + y.lines)


def test_the_factory_builds_protocols_as_lesson_03_teaches():
    """Factory.buildProtocol makes ``self.protocol()`` and sets ``.factory``:
    a Spreader subclass with an ``__init__`` of its own (no factory argument)
    works, and every protocol reaches its factory."""
    from spreadlab import Spreader

    class Tagged(Spreader):
        def __init__(self):
            self.tag = "mine"

    class TaggedFactory(SpreadFactory):
        protocol = Tagged

    factory = TaggedFactory(max_line=10)
    with MemoryRoom(factory) as room:
        a, b = room.connect(), room.connect()
        a.send(b"a line far over ten bytes\nok\n")
        assert a.protocol.tag == "mine" and a.protocol.factory is factory
        assert b.lines[1:] == ["client 1: ok"]  # the factory's max_line reached the protocol
        assert a.lines[1].startswith("error: line longer than 10 bytes")
