"""The room core: the shared interface, and the live room's fault when
buildProtocol raises (it hung and leaked the accepted socket)."""

from __future__ import annotations

import gc
import os

import pytest
from twisted.internet.protocol import Factory, Protocol

from spreadlab.rooms import core
from spreadlab.rooms.live import LiveRoom
from spreadlab.rooms.memory import MemoryRoom

pytestmark = pytest.mark.timeout(60)


class Echo(Protocol):
    def dataReceived(self, data):
        self.transport.write(data)


class RaisesSometimes(Factory):
    """Raises in buildProtocol for every connection but the first."""

    def __init__(self):
        self.count = 0

    def buildProtocol(self, addr):
        self.count += 1
        if self.count > 1:
            raise RuntimeError("no protocol for you")
        return Echo()


def open_sockets() -> int:
    """How many sockets this process has open (Linux)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except FileNotFoundError:  # the directory listing's own descriptor
            pass
    return count


@pytest.mark.parametrize("room_class", [MemoryRoom, LiveRoom])
def test_both_rooms_and_their_clients_have_the_shared_interface(room_class):
    room = room_class(Factory.forProtocol(Echo), raise_errors=False)
    try:
        client = room.connect()
        assert isinstance(room, core.Room) and isinstance(client, core.Client)
        assert client.made and client.ending == core.STILL_OPEN
        client.send(b"hello\n")
        assert client.lines == ["hello"] and repr(client).startswith("<client 1 connected")
        client.close()
        assert client.ending == core.CLOSED_BY_ITSELF and room.clients == []
    finally:
        room.close()


def test_live_buildProtocol_raising_neither_hangs_nor_leaks_the_socket():
    room = LiveRoom(RaisesSometimes(), timeout=3)
    try:
        first = room.connect()
        gc.collect()
        before = open_sockets()
        for _ in range(5):
            client = room.connect()  # used to wait 3 s, then "the room did not settle"
            assert client.made and client.refused
            assert client.ending == core.EOF_FROM_SERVER
        gc.collect()
        assert open_sockets() == before  # every accepted socket was closed
        assert len(room.errors) == 5 and all(f.check(RuntimeError) for f in room.errors)
        assert first.send(b"still serving\n").lines == ["still serving"]
    finally:
        room.close()


class TwiceBroken(Protocol):
    def dataReceived(self, data):
        raise ValueError("bad data")

    def connectionLost(self, reason):
        raise AttributeError("bad close")


@pytest.mark.parametrize("room_class", [MemoryRoom, LiveRoom])
def test_every_error_is_raised_together_and_kept(room_class):
    room = room_class(Factory.forProtocol(TwiceBroken), raise_errors=True)
    try:
        client = room.connect()
        with pytest.raises(core.ProtocolErrors) as raised:
            client.send(b"x")
        assert [type(e) for e in raised.value.exceptions] == [ValueError, AttributeError]
        assert [f.type for f in room.errors] == [ValueError, AttributeError]
        assert client.ending == core.EOF_FROM_SERVER
        room.settle()  # each raised once
    finally:
        room.close()


def test_a_terminal_client_from_outside_has_an_ending_too():
    import socket
    import time

    room = LiveRoom(Factory.forProtocol(Echo))
    try:
        with socket.create_connection(("127.0.0.1", room.port), timeout=5) as outsider:
            deadline = time.monotonic() + 5
            while not room.clients and time.monotonic() < deadline:
                time.sleep(0.01)
            (client,) = room.clients
            assert client.external and client.made and client.ending == core.STILL_OPEN
        deadline = time.monotonic() + 5
        while client.ending == core.STILL_OPEN and time.monotonic() < deadline:
            time.sleep(0.01)
        assert client.ending == core.CLOSED_BY_ITSELF
        assert room.trace.kinds(client.name)[-2:] == ["end-of-file", "connectionLost"]
    finally:
        room.close()


def test_no_room_module_imports_the_reactor_and_a_memory_room_runs_without_it():
    """JupyterLite's Pyodide cannot import twisted.internet.reactor: the
    rooms may not import it when they are imported, and a memory room must
    never need it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import spreadlab, spreadlab.rooms.core, spreadlab.rooms.memory, spreadlab.rooms.trace, spreadlab.rooms.live\n"
        "from twisted.internet.protocol import Factory, Protocol\n"
        "class Echo(Protocol):\n"
        "    def dataReceived(self, data): self.transport.write(data)\n"
        "room = spreadlab.MemoryRoom(Factory.forProtocol(Echo))\n"
        "client = room.connect().send(b'hi')\n"
        "client.close(); room.close()\n"
        "print(client.received, 'twisted.internet.reactor' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["b'hi'", "False"]
