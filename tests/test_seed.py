"""The blog's server (spreadlab.servers.seed) keeps its flaws on purpose: each test
here shows one of them happening in a memory room, as lesson 06 does, and
that the correct server (spreadlab.servers.spread) does not have it."""

from __future__ import annotations

import pytest
from twisted.internet.protocol import Factory

from spreadlab import MemoryRoom, SpreadFactory, seed


@pytest.fixture(autouse=True)
def empty_global_list():
    """The seed's module-global list outlives a room; start and end empty."""
    seed.clients.clear()
    yield
    seed.clients.clear()


def room_of(factory):
    return MemoryRoom(factory)


def test_py2_source_is_the_blogs_text():
    assert 'print "new connect: %d"' in seed.PY2_SOURCE
    assert 'if data == "close":' in seed.PY2_SOURCE
    assert "欢迎来到Spread Site" in seed.PY2_SOURCE
    with pytest.raises(SyntaxError):  # Python 2's print statement
        compile(seed.PY2_SOURCE, "spread_site.py", "exec")


def test_writing_str_to_a_transport_is_a_type_error():
    class Py2Spreader(seed.Spreader):
        def connectionMade(self):
            self.factory.numProtocols += 1
            self.transport.write("欢迎来到Spread Site, 你是第%s个客户端用户!\n" % self.factory.numProtocols)

    class Py2Factory(seed.SpreadFactory):
        def buildProtocol(self, addr):
            return Py2Spreader(self)

    room = room_of(Py2Factory())
    with pytest.raises(TypeError):
        room.connect()
    # Twisted's Port.doRead logs an error in connectionMade; the connection stays open.
    assert [c.name for c in room.clients] == ["client 1"]


def test_close_split_over_two_chunks_is_not_seen(capsys):
    room = room_of(seed.SpreadFactory())
    alice, bob = room.connect(), room.connect()
    alice.send(b"close", chunks=[3])  # b"clo", then b"se"
    assert alice.connected
    assert bob.received.endswith(b"close")  # spread instead, in two pieces
    assert room.trace.of("dataReceived", "client 1")[-2].data == b"clo"


@pytest.mark.parametrize("line", [b"close\r\n", b"close\n"], ids=["telnet", "nc"])
def test_close_with_a_line_end_is_not_seen(line, capsys):
    room = room_of(seed.SpreadFactory())
    alice, bob = room.connect(), room.connect()
    alice.send(line)
    assert alice.connected
    assert bob.received.endswith(line)


def test_two_factories_leak_into_each_other_through_the_global_list(capsys):
    one, two = room_of(seed.SpreadFactory()), room_of(seed.SpreadFactory())
    alice, bob = one.connect(), one.connect()
    carol = two.connect()
    alice.send(b"for server one only")
    assert bob.received.endswith(b"for server one only")
    assert carol.received.endswith(b"for server one only")  # crossed to server two
    assert len(seed.clients) == 3


def test_no_return_after_lose_connection_so_close_is_still_spread(capsys):
    room = room_of(seed.SpreadFactory())
    alice, bob, carol = room.connect(), room.connect(), room.connect()
    alice.send(b"close")  # exactly one chunk, so the comparison holds
    assert not alice.connected  # the close happened...
    assert bob.received.endswith(b"close")  # ...and the word was spread anyway
    assert carol.received.endswith(b"close")
    assert room.factory.numProtocols == 2


def test_the_seed_prints_on_the_server_console(capsys):
    room = room_of(seed.SpreadFactory())
    room.connect().send(b"hi")
    room.connect()
    out = capsys.readouterr().out
    assert "new connect: 1" in out and "new connect: 2" in out


@pytest.mark.parametrize("payload, chunks", [(b"close", [3]), (b"close\r\n", None), (b"close\n", None)])
def test_the_correct_server_sees_every_close(payload, chunks):
    if not payload.endswith(b"\n"):
        payload += b"\n"
    room = room_of(SpreadFactory())
    alice, bob = room.connect(), room.connect()
    alice.send(payload, chunks=chunks)
    assert not alice.connected
    assert bob.lines == [bob.lines[0]]  # the welcome, nothing spread


def test_the_correct_server_keeps_two_servers_apart():
    one, two = room_of(SpreadFactory()), room_of(SpreadFactory())
    alice, bob = one.connect(), one.connect()
    carol = two.connect()
    alice.send(b"hello\n")
    assert bob.lines[-1] == "client 1: hello"
    assert len(carol.lines) == 1
    assert isinstance(one.factory, Factory)


@pytest.mark.parametrize("factory_class", [seed.SpreadFactory, SpreadFactory], ids=["seed", "spread"])
def test_the_welcome_number_is_a_head_count_not_an_id(factory_class, capsys):
    """The fifth flaw (lesson 06): after a client leaves, the next one is told
    the same number as one still connected.  The finished server keeps the
    blog's welcome, but names clients by a number that only goes up."""
    room = room_of(factory_class())
    ann, ben, cat = room.connect(), room.connect(), room.connect()
    ben.close()
    dan = room.connect()
    assert cat.lines[0] == dan.lines[0] == "欢迎来到Spread Site, 你是第3个客户端用户!"
    if factory_class is SpreadFactory:
        dan.send(b"hi\n")
        assert ann.lines[-1] == "client 4: hi"
    room.close()
