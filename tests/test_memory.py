"""The memory room: chunking, TCP-like closing, factory start/stop, determinism."""

from __future__ import annotations

import pytest
from twisted.internet.error import ConnectionAborted, ConnectionDone, ConnectionLost
from twisted.internet.protocol import Factory, Protocol

from spreadlab import MemoryRoom, SpreadFactory, cut
from spreadlab import trace as T


class Recorder(Protocol):
    """Remembers every call the transport makes on it."""

    def __init__(self):
        self.calls = []
        self.chunks = []

    def connectionMade(self):
        self.calls.append("connectionMade")

    def dataReceived(self, data):
        self.calls.append("dataReceived")
        self.chunks.append(data)

    def connectionLost(self, reason):
        self.calls.append("connectionLost")
        self.reason = reason


class Echo(Protocol):
    def dataReceived(self, data):
        self.transport.write(data)


def test_cut_modes():
    data = "ab你".encode()
    assert cut(data) == [data]
    assert cut(data, "whole") == [data]
    assert cut(data, "bytes") == [b"a", b"b", b"\xe4", b"\xbd", b"\xa0"]
    assert cut(data, 2) == [b"ab", b"\xe4\xbd", b"\xa0"]
    assert cut(data, [1, 3]) == [b"a", b"b\xe4\xbd", b"\xa0"]
    assert cut(data, "split-utf8") == [b"ab\xe4", b"\xbd\xa0"]
    assert cut(b"ascii", "split-utf8") == [b"ascii"]
    assert cut(b"") == []
    with pytest.raises(ValueError):
        cut(data, "sideways")
    with pytest.raises(ValueError):
        cut(data, 0)


@pytest.mark.parametrize("chunks", [None, "bytes", 3, [1, 1, 5], "split-utf8"])
def test_the_protocol_sees_exactly_the_chunks_chosen(chunks):
    room = MemoryRoom(Factory.forProtocol(Recorder))
    client = room.connect()
    data = "欢迎 close\r\n".encode()
    client.send(data, chunks=chunks)
    assert client.protocol.chunks == cut(data, chunks)
    assert room.trace.received_from(client.name) == data


def test_several_sends_merge_into_one_stream():
    room = MemoryRoom(Factory.forProtocol(Recorder))
    client = room.connect()
    client.send(b"one\n", b"two\n")
    assert client.protocol.chunks == [b"one\ntwo\n"]


def test_str_is_sent_as_utf8_like_a_terminal():
    room = MemoryRoom(Factory.forProtocol(Echo))
    client = room.connect()
    client.send("你好\n")
    assert client.received == "你好\n".encode()


def test_writing_str_to_a_transport_fails_as_on_real_tcp():
    class WritesStr(Protocol):
        def connectionMade(self):
            self.transport.write("hello")

    room = MemoryRoom(Factory.forProtocol(WritesStr))
    with pytest.raises(TypeError):
        room.connect()
    # Twisted's Port.doRead logs an error in connectionMade; the connection stays open.
    assert room.trace.kinds("client 1")[-1] == T.ERROR
    assert room.client("client 1").connected


def test_lifecycle_order_and_peer_addresses():
    room = MemoryRoom(Factory.forProtocol(Recorder))
    a, b = room.connect(), room.connect()
    a.send(b"x")
    a.close()
    assert a.protocol.calls == ["connectionMade", "dataReceived", "connectionLost"]
    assert a.protocol.transport.getPeer() != b.protocol.transport.getPeer()
    assert a.protocol.transport.getHost().port == 8007
    assert room.trace.kinds("client 1") == [T.CONNECT, T.MADE, T.RECEIVED, T.EOF, T.LOST]


def test_server_loseConnection_ends_in_connectionDone_after_the_callback_returns():
    seen = []

    class Quitter(Protocol):
        def dataReceived(self, data):
            self.transport.loseConnection()
            seen.append(self.transport.connected)  # still connected inside the call

        def connectionLost(self, reason):
            seen.append(reason.type)

    room = MemoryRoom(Factory.forProtocol(Quitter))
    client = room.connect()
    client.send(b"bye")
    assert seen == [True, ConnectionDone]
    assert not client.connected


def test_no_reading_after_loseConnection():
    class Quitter(Recorder):
        def dataReceived(self, data):
            super().dataReceived(data)
            self.transport.loseConnection()

    room = MemoryRoom(Factory.forProtocol(Quitter))
    client = room.connect()
    client.send(b"abc", chunks="bytes")
    assert client.protocol.chunks == [b"a"]


def test_writes_after_loseConnection_still_arrive_before_the_close():
    class Goodbye(Protocol):
        def dataReceived(self, data):
            self.transport.loseConnection()
            self.transport.write(b"goodbye\n")  # like real TCP: flushed, then closed

    room = MemoryRoom(Factory.forProtocol(Goodbye))
    client = room.connect()
    client.send(b"x")
    assert client.received == b"goodbye\n"


@pytest.mark.parametrize(
    "action, reason",
    [
        ("server-abort", ConnectionAborted),
        ("client-close", ConnectionDone),
        ("client-abort", ConnectionLost),
        ("server-lose", ConnectionDone),
    ],
)
def test_close_reasons_match_real_tcp(action, reason):
    room = MemoryRoom(Factory.forProtocol(Recorder))
    client = room.connect()
    if action == "server-abort":
        client.protocol.transport.abortConnection()
    elif action == "server-lose":
        client.protocol.transport.loseConnection()
    elif action == "client-close":
        client.close()
    else:
        client.abort()
    room.settle()
    assert client.protocol.reason.type is reason
    assert client.protocol.calls.count("connectionLost") == 1


def test_writes_after_an_abort_are_dropped():
    room = MemoryRoom(Factory.forProtocol(Echo))
    client = room.connect()
    client.protocol.transport.abortConnection()
    client.protocol.transport.write(b"too late")
    room.settle()
    assert client.received == b""


def test_refused_connection_is_visible():
    class Refuser(Factory):
        def buildProtocol(self, addr):
            return None

    room = MemoryRoom(Refuser())
    client = room.connect()
    assert client.refused and not client.connected
    assert room.clients == []
    assert room.trace.kinds() == [T.CONNECT, T.REFUSED]
    with pytest.raises(RuntimeError):
        client.send(b"hello")


def test_factory_is_started_and_stopped_like_a_listening_port():
    events = []

    class Noted(Factory):
        protocol = Protocol

        def startFactory(self):
            events.append("start")

        def stopFactory(self):
            events.append("stop")

    factory = Noted()
    room = MemoryRoom(factory)
    assert events == ["start"] and factory.numPorts == 1
    room.connect()
    room.close()
    assert events == ["start", "stop"] and factory.numPorts == 0
    assert room.clients == []


def test_paused_transport_holds_chunks_until_resumed():
    room = MemoryRoom(Factory.forProtocol(Recorder))
    client = room.connect()
    client.protocol.transport.pauseProducing()
    client.send(b"abc", chunks="bytes")
    assert client.protocol.chunks == []
    client.protocol.transport.resumeProducing()
    room.settle()
    # They waited in TCP's buffers: one read takes them all (it used to say
    # [b"a", b"b", b"c"], which TCP does not do).
    assert client.protocol.chunks == [b"abc"]


def test_an_exception_in_protocol_code_drops_that_connection_and_is_raised():
    class Broken(Protocol):
        def dataReceived(self, data):
            1 / 0

    room = MemoryRoom(Factory.forProtocol(Broken))
    a, b = room.connect(), room.connect()
    with pytest.raises(ZeroDivisionError):
        a.send(b"x")
    assert not a.connected and b.connected
    assert "ZeroDivisionError" in room.trace.of(T.LOST, "client 1")[0].detail


def test_errors_can_be_only_recorded():
    class Broken(Protocol):
        def dataReceived(self, data):
            raise ValueError("bad")

    room = MemoryRoom(Factory.forProtocol(Broken), raise_errors=False)
    client = room.connect()
    client.send(b"x")
    assert not client.connected
    assert room.errors[0].type is ValueError


def scenario():
    room = MemoryRoom(SpreadFactory())
    a, b, c = room.connect(), room.connect(), room.connect()
    a.send("你好\nclo", chunks="split-utf8")
    a.send("se\n")
    b.send(b"x" * 10 + b"\n", chunks=3)
    c.abort()
    return room


def test_the_same_scenario_gives_the_same_trace():
    first, second = scenario(), scenario()
    assert first.trace.text() == second.trace.text()
    assert [(e.time, e.kind, e.client, e.data, e.detail) for e in first.trace] == [
        (e.time, e.kind, e.client, e.data, e.detail) for e in second.trace
    ]


def test_a_clock_given_to_the_room_is_the_one_advance_moves():
    from twisted.internet.task import Clock

    clock = Clock()
    room = MemoryRoom(SpreadFactory(rate=1, burst=1, clock=clock), clock=clock)
    a, b = room.connect(), room.connect()
    a.send(b"1\n2\n3\n")
    assert b.lines[1:] == ["client 1: 1"]
    room.advance(5)
    assert b.lines[1:] == ["client 1: 1", "client 1: 2", "client 1: 3"]


# --- what the memory room used to get wrong (issue 10), as TCP does it ----------------


class Greeter(Protocol):
    def connectionMade(self):
        self.transport.write(b"hi\r\n")


def test_write_then_abort_in_one_callback_sends_nothing_and_resets():
    class ByeThenAbort(Greeter):
        def dataReceived(self, data):
            self.transport.write(b"bye\r\n")
            self.transport.abortConnection()

    room = MemoryRoom(Factory.forProtocol(ByeThenAbort))
    client = room.connect().send(b"x")
    assert client.received == b"hi\r\n"  # "bye" was in Twisted's buffer: discarded
    assert client.ending == "reset"
    assert room.trace.kinds("client 1")[-3:] == [T.WRITE, T.ABORT, T.LOST]


def test_an_exception_in_connectionMade_is_kept_and_the_connection_keeps_working():
    class Fragile(Greeter):
        def connectionMade(self):
            super().connectionMade()
            raise ValueError("oops")

        def dataReceived(self, data):
            self.transport.write(data)

    room = MemoryRoom(Factory.forProtocol(Fragile), raise_errors=False)
    client = room.connect()
    client.send(b"still here\n")
    assert client.connected and client.ending == "still open"
    assert client.received == b"hi\r\nstill here\n"
    assert [f.type for f in room.errors] == [ValueError]


def test_buildProtocol_returning_None_is_an_end_of_file_not_a_refusal():
    class NoProtocol(Factory):
        def buildProtocol(self, addr):
            return None

    room = MemoryRoom(NoProtocol())
    client = room.connect()
    assert client.made and client.ending == "end-of-file from the server"
    assert room.trace.kinds() == [T.CONNECT, T.NO_PROTOCOL]
    assert "buildProtocol returned None: the server closed the connection" in str(room.trace)


def test_every_error_is_kept_and_raised_none_dropped():
    class TwiceBroken(Protocol):
        def dataReceived(self, data):
            raise ValueError("bad data")

        def connectionLost(self, reason):
            raise AttributeError("bad close")

    room = MemoryRoom(Factory.forProtocol(TwiceBroken))
    client = room.connect()
    with pytest.raises(Exception) as raised:
        client.send(b"x")
    group = raised.value
    assert [type(e) for e in group.exceptions] == [ValueError, AttributeError]
    assert [f.type for f in room.errors] == [ValueError, AttributeError]  # kept after raising
    assert [e.detail for e in room.trace.of(T.ERROR)] == [
        "in dataReceived: ValueError: bad data", "in connectionLost: AttributeError: bad close"]
    room.settle()  # raised once: not again


def test_a_client_close_and_reset_are_named_as_on_the_wire():
    room = MemoryRoom(Factory.forProtocol(Recorder))
    a, b = room.connect(), room.connect()
    a.close()
    b.abort()
    text = str(room.trace)
    assert "client 1   end-of-file      (from the client)" in text
    assert "client 2   reset            (by the client)" in text
    assert "loseConnection" not in text and "abortConnection" not in text
    assert a.ending == b.ending == "closed by itself"


def test_an_exception_in_a_timed_call_is_kept_and_the_next_call_still_runs():
    from twisted.internet.task import Clock

    clock, fired = Clock(), []
    room = MemoryRoom(Factory.forProtocol(Echo), clock=clock)
    clock.callLater(1, lambda: 1 / 0)
    clock.callLater(1, fired.append, "second")
    with pytest.raises(ZeroDivisionError):
        room.advance(2)
    assert fired == ["second"]
    assert [f.type for f in room.errors] == [ZeroDivisionError]
