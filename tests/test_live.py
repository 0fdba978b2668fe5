"""Live rooms over real loopback TCP, no mocks: the Spread server with real
clients made by Twisted and raw sockets from outside, and the same scenario
giving the same result in a memory room and a live room."""

from __future__ import annotations

import socket
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.protocol import Factory, Protocol

from spreadlab import trace as T
from spreadlab.rooms.background import blocking_call, start_reactor
from spreadlab.rooms.live import LiveRoom, PortInUse
from spreadlab.rooms.memory import MemoryRoom
from spreadlab.servers.spread import WELCOME, SpreadFactory

pytestmark = pytest.mark.timeout(60)


def welcome(n: int) -> bytes:
    return WELCOME.format(n=n).encode("utf-8") + b"\r\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def raw_client(room: LiveRoom) -> socket.socket:
    """A terminal-like client from outside, on a plain socket."""
    return socket.create_connection(("127.0.0.1", room.port), timeout=5)


def read_until(sock: socket.socket, ending: bytes, limit: float = 5) -> bytes:
    data = b""
    deadline = time.monotonic() + limit
    while not data.endswith(ending):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def room():
    room = LiveRoom(SpreadFactory())
    try:
        yield room
    finally:
        room.stop()


# --- the Spread server, live ----------------------------------------------------


def test_listens_on_loopback_on_a_port_the_system_chose(room):
    assert room.host == "127.0.0.1" and room.port > 0
    assert room.address == f"127.0.0.1:{room.port}"
    assert room.connect_command == f"nc 127.0.0.1 {room.port}"
    assert f"on 127.0.0.1:{room.port}" in repr(room)


def test_welcome_bytes(room):
    first, second = room.connect(), room.connect()
    assert first.received == welcome(1)
    assert second.received == welcome(2)
    assert second.lines == ["欢迎来到Spread Site, 你是第2个客户端用户!"]


def test_broadcast_among_real_clients(room):
    a, b, c = room.connect(), room.connect(), room.connect()
    a.send("hello\n")
    b.send("hi a\n")
    c.send("你好\n")
    assert a.lines[1:] == ["client 2: hi a", "client 3: 你好"]
    assert b.lines[1:] == ["client 1: hello", "client 3: 你好"]
    assert c.lines[1:] == ["client 1: hello", "client 2: hi a"]
    assert room.factory.numProtocols == 3


def test_chunks_arrive_as_cut(room):
    a, b = room.connect(), room.connect()
    a.send("你好\n", chunks="split-utf8")
    a.send("abc\n", chunks="bytes")
    received = [e.data for e in room.trace.of(T.RECEIVED, "client 1")]
    assert received == [b"\xe4", "你好\n".encode()[1:], b"a", b"b", b"c", b"\n"]
    assert b.lines[1:] == ["client 1: 你好", "client 1: abc"]


def test_close_command(room):
    a, b = room.connect(), room.connect()
    a.send("close\n")
    assert not a.connected and room.clients == [b]
    assert room.factory.numProtocols == 1
    assert room.trace.kinds("client 1")[-3:] == [T.RECEIVED, T.LOSE, T.LOST]
    assert b.lines == [welcome(2).decode().strip()]  # "close" was not spread


def test_counts_after_close_abort_and_reset(room):
    a, b, c, d = (room.connect() for _ in range(4))
    outsider = raw_client(room)
    read_until(outsider, b"\r\n")
    room.settle()
    assert room.factory.numProtocols == 5

    a.close()  # a clean close from the client (FIN)
    assert room.factory.numProtocols == 4
    assert "ConnectionDone" in room.trace.of(T.LOST, "client 1")[0].detail

    b.abort()  # the client resets (RST)
    assert room.factory.numProtocols == 3
    assert "ConnectionLost" in room.trace.of(T.LOST, "client 2")[0].detail

    blocking_call(c.protocol.transport.abortConnection)  # the server aborts
    room.settle()
    assert room.factory.numProtocols == 2 and not c.connected

    # A terminal client whose connection is reset.
    outsider.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    outsider.close()
    deadline = time.monotonic() + 5
    while room.factory.numProtocols != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert room.factory.numProtocols == 1
    assert [client.name for client in room.clients] == ["client 4"]
    d.send("still here\n")  # and the server still serves


def test_max_clients_refuses(room):
    room.factory.max_clients = 1
    a = room.connect()
    b = room.connect()
    assert a.connected and b.refused and not b.connected
    assert room.trace.kinds("client 2") == [T.CONNECT, T.REFUSED]
    assert room.clients == [a]


def test_a_terminal_client_from_outside_is_seen_and_traced(room):
    a = room.connect()
    with raw_client(room) as outsider:
        assert read_until(outsider, b"\r\n") == welcome(2)
        outsider.sendall(b"hello from nc\n")
        assert a.wait_for_lines(2)[1] == "client 2: hello from nc"
        a.send("hi nc\n")
        assert read_until(outsider, b"\r\n") == b"client 1: hi nc\r\n"
        them = room.client("client 2")
        assert them.external and them.connected and them in room.clients
        assert room.trace.received_from("client 2") == b"hello from nc\n"
        assert them.lines == ["欢迎来到Spread Site, 你是第2个客户端用户!", "client 1: hi nc"]
        with pytest.raises(RuntimeError, match="from outside"):
            them.send("no")
    deadline = time.monotonic() + 5
    while them.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    assert room.trace.kinds("client 2")[-1] == T.LOST


def test_wait_for_lines_times_out_saying_what_arrived(room):
    a = room.connect()
    with pytest.raises(TimeoutError, match="client 1 has 1 lines, not 2"):
        a.wait_for_lines(2, timeout=0.2)


def test_stop_closes_everything_and_waits():
    stops = []

    class Counting(SpreadFactory):
        def stopFactory(self):
            stops.append(True)

    room = LiveRoom(Counting())
    a, b = room.connect(), room.connect()
    outsider = raw_client(room)
    read_until(outsider, b"\r\n")
    started = time.monotonic()
    with outsider:
        room.stop()
        assert time.monotonic() - started < 2
        assert read_until(outsider, b"\r\n") == b""  # closed by the server
    assert not room.listening and room.clients == [] and not a.connected
    assert room.factory.numProtocols == 0 and stops == [True]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", room.port), timeout=5)
    with pytest.raises(RuntimeError, match="stopped"):
        room.connect()
    room.stop()  # twice is fine


def test_context_manager():
    with LiveRoom(SpreadFactory()) as room:
        room.connect().send("x\n")
    assert not room.listening


# --- fixed ports ----------------------------------------------------------------------


def test_rerunning_a_fixed_port_room_replaces_it(capsys):
    port = free_port()
    endpoint = f"tcp:{port}:interface=127.0.0.1"
    first = LiveRoom(SpreadFactory(), endpoint)
    old = first.connect()
    try:
        second = LiveRoom(SpreadFactory(), endpoint)  # the same cell, run again
        try:
            assert second.port == port and second.listening
            assert not first.listening and not old.connected
            assert f"stopped the room that was on port {port}" in capsys.readouterr().out
            assert second.connect().received == welcome(1)
        finally:
            second.stop()
    finally:
        first.stop()


def test_a_port_held_by_another_program_is_reported():
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(PortInUse) as info:
            LiveRoom(SpreadFactory(), f"tcp:{port}:interface=127.0.0.1")
    message = str(info.value)
    assert f"port {port} is already in use by another program" in message
    assert "choose another port" in message


def test_a_port_held_by_a_plain_listen_in_this_process_is_reported():
    reactor = start_reactor()
    port = blocking_call(reactor.listenTCP, 0, SpreadFactory(), interface="127.0.0.1")
    try:
        number = port.getHost().port
        with pytest.raises(PortInUse, match=f"port {number} is already in use by a listening port in this kernel"):
            LiveRoom(SpreadFactory(), f"tcp:{number}:interface=127.0.0.1")
    finally:
        blocking_call(port.stopListening)


# --- errors in protocol code ---------------------------------------------------------


class Fragile(Protocol):
    def dataReceived(self, data):
        if b"boom" in data:
            raise ValueError("cannot handle boom")
        for other in self.factory.everyone:
            if other is not self:
                other.transport.write(data)

    def connectionMade(self):
        self.factory.everyone.append(self)

    def connectionLost(self, reason):
        self.factory.everyone.remove(self)


def fragile_factory():
    factory = Factory.forProtocol(Fragile)
    factory.everyone = []
    return factory


def test_an_exception_in_protocol_code_is_shown_once_and_the_server_keeps_serving(capsys):
    with LiveRoom(fragile_factory()) as room:
        a, b, c = room.connect(), room.connect(), room.connect()
        a.send("boom\n")
        assert not a.connected
        assert len(room.errors) == 1 and room.errors[0].check(ValueError)
        assert room.trace.kinds("client 1")[-3:] == [T.RECEIVED, T.ERROR, T.LOST]
        assert "ValueError" in room.trace.of(T.LOST, "client 1")[0].detail
        b.send("still serving\n")
        assert c.received == b"still serving\n"
        err = capsys.readouterr().err
    assert "ValueError in dataReceived of client 1" in err
    assert "the reactor keeps serving" in err
    assert 'raise ValueError("cannot handle boom")' in err  # the learner's line
    assert err.count("ValueError: cannot handle boom") == 1  # not again by Twisted's log


def test_raise_errors_raises_at_the_next_operation_as_a_memory_room_does(capsys):
    with LiveRoom(fragile_factory(), raise_errors=True) as room:
        a = room.connect()
        with pytest.raises(ValueError, match="cannot handle boom"):
            a.send("boom\n")
        room.settle()  # raised once only


def test_prints_from_protocol_code_reach_the_output(capsys):
    class Chatty(Protocol):
        def dataReceived(self, data):
            print("server got", data)

    with LiveRoom(Factory.forProtocol(Chatty)) as room:
        room.connect().send(b"hi\n")
    assert "server got b'hi\\n'" in capsys.readouterr().out


def test_calls_from_the_reactor_thread_are_refused(room):
    from spreadlab.rooms.background import InReactorThread

    with pytest.raises(InReactorThread):
        blocking_call(room.settle)


# --- the same scenario in memory and live ------------------------------------------------


def scenario(room):
    """Connect, send with awkward cuts, close, abort; return what each saw."""
    a, b, c = room.connect(), room.connect(), room.connect()
    a.send("hello\n", "world\n")  # two sends merged
    b.send("你好，世界\n", chunks="split-utf8")
    c.send("byte by byte\n", chunks="bytes")
    a.send("\x1b[31mred\x1b[0m and \xff\n".encode("latin-1"))
    b.send("close\n")
    c.send(b"x" * 5000 + b"\nafter the long line\n", chunks=[1000, 3000])
    c.abort()
    d = room.connect()
    a.send("bye\n")
    room.settle()
    lines = {client.name: client.lines for client in (a, b, c, d)}
    events = [(e.kind, e.client, e.data) for e in room.trace]
    count = room.factory.numProtocols
    room.close()
    return lines, events, count


def test_memory_and_live_rooms_agree():
    memory = scenario(MemoryRoom(SpreadFactory()))
    live = scenario(LiveRoom(SpreadFactory()))
    assert live[0] == memory[0]  # every client received the same lines
    assert live[1] == memory[1]  # the same trace, event for event
    assert live[2] == memory[2] == 2
    assert "client 2: 你好，世界" in live[0]["client 1"]
    assert "client 1: red and \ufffd" in live[0]["client 3"]
    assert "client 3: after the long line" in live[0]["client 1"]  # not held back


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 2), st.text(max_size=20).map(lambda s: s.replace("\n", " ") + "\n"),
                          st.sampled_from([None, "bytes", "split-utf8", 3])), max_size=6))
def test_memory_and_live_rooms_agree_on_any_chat(messages):
    def chat(room):
        with room:
            clients = [room.connect() for _ in range(3)]
            for who, text, chunks in messages:
                clients[who].send(text, chunks=chunks)
            room.settle()
            return [c.lines for c in clients], [(e.kind, e.client, e.data) for e in room.trace]

    assert chat(LiveRoom(SpreadFactory())) == chat(MemoryRoom(SpreadFactory()))
