"""``python -m spreadlab serve`` as a classroom would use it: the server runs
as a subprocess and the tests talk to it as ``nc`` would, with raw sockets on
loopback, sending what a careless or hostile student might."""

from __future__ import annotations

import argparse
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from twisted.internet.address import IPv4Address

from spreadlab import __main__ as cli
from spreadlab.servers.spread import WELCOME

pytestmark = pytest.mark.timeout(90)


class Server:
    """``python -m spreadlab serve --port 0 ARGS`` with its console in files."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.out_path, self.err_path = folder / "stdout.txt", folder / "stderr.txt"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "spreadlab", "serve", "--port", "0", *args], stdout=out, stderr=err
            )
        self.port = int(self.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))

    @property
    def output(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str, timeout: float = 15) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output)
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"{pattern!r} not in the server's output:\n{self.output}\n{self.err_path.read_text()}")

    def memory(self) -> int:
        """The server's resident memory, in bytes."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024

    def interrupt(self, timeout: float = 10) -> int:
        """Ctrl-C, and wait for the process to end."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def serve(tmp_path):
    """Start servers with options; whatever happens, they are stopped."""
    servers: list[Server] = []

    def start(*args: str) -> Server:
        folder = tmp_path / f"server{len(servers)}"
        folder.mkdir()
        servers.append(Server(folder, *args))
        return servers[-1]

    try:
        yield start
    finally:
        for server in servers:
            server.kill()


class Peer:
    """A terminal client: a socket and a thread that reads all it gets."""

    def __init__(self, port: int, receive_buffer: int | None = None, read: bool = True) -> None:
        self.sock = socket.socket()
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.data = bytearray()
        self.count = 0  # complete lines in data
        self.closed = threading.Event()
        self._changed = threading.Condition()
        if read:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while chunk := self.sock.recv(1 << 16):
                with self._changed:
                    start = max(0, len(self.data) - 1)  # a b"\r\n" may straddle chunks
                    self.data += chunk
                    self.count += self.data.count(b"\r\n", start)
                    self._changed.notify_all()
        except OSError:
            pass
        finally:
            self.closed.set()
            with self._changed:
                self._changed.notify_all()

    @property
    def lines(self) -> list[bytes]:
        return bytes(self.data).split(b"\r\n")[:-1]

    def wait_for_lines(self, n: int, timeout: float = 10) -> list[bytes]:
        with self._changed:
            self._changed.wait_for(lambda: self.count >= n or self.closed.is_set(), timeout)
        assert len(self.lines) >= n, f"{len(self.lines)} lines, not {n}: {self.lines[-3:]!r}"
        return self.lines

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reading thread
        except OSError:
            pass
        self.sock.close()


@pytest.fixture
def peers():
    made: list[Peer] = []

    def connect(port: int, **options) -> Peer:
        made.append(Peer(port, **options))
        if options.get("read", True):
            made[-1].wait_for_lines(1)  # the welcome
        return made[-1]

    try:
        yield connect
    finally:
        for peer in made:
            peer.close()


def welcome(n: int) -> bytes:
    return WELCOME.format(n=n).encode("utf-8")


# --- starting, logging, stopping ------------------------------------------------------


def test_banner_logs_and_a_clean_ctrl_c(serve, peers):
    server = serve()
    assert f"Connect with:  nc 127.0.0.1 {server.port}    or:  telnet 127.0.0.1 {server.port}" in server.output
    a, b = peers(server.port), peers(server.port)
    assert a.lines == [welcome(1)] and b.lines == [welcome(2)]
    a.send(b"hello\n")
    assert b.wait_for_lines(2)[1] == b"client 1: hello"
    b.close()
    server.wait_for(r"client 2 disconnected")

    started = time.monotonic()
    assert server.interrupt() == 0
    assert time.monotonic() - started < 3
    assert a.closed.wait(5)
    assert a.lines[-1] == "服务器关闭 · server stopping, goodbye".encode("utf-8")
    log = [line.split("  ", 1)[1] for line in server.output.splitlines() if re.match(r"\d\d:\d\d:\d\d  ", line)]
    assert log[0].startswith("client 1 connected from 127.0.0.1:") and log[0].endswith("; 1 connected")
    assert log[1].startswith("client 2 connected from 127.0.0.1:")
    assert log[2:] == [
        "client 1: hello",
        "client 2 disconnected (Connection was closed cleanly.); 1 connected",
        "client 1 disconnected (Connection was closed cleanly.); 0 connected",
    ]
    assert server.output.endswith("stopped.\n")


def test_an_endpoint_string_instead_of_host_and_port(serve, peers):
    server = serve("tcp:0:interface=127.0.0.1")
    assert peers(server.port).lines == [welcome(1)]


def test_a_port_in_use_is_reported(serve, tmp_path):
    server = serve()
    done = subprocess.run(
        [sys.executable, "-m", "spreadlab", "serve", "--port", str(server.port)],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1 port {server.port}" in done.stderr
    assert "choose another port with --port" in done.stderr


def test_max_clients_refuses_the_next_and_then_admits_again(serve, peers):
    server = serve("--max-clients", "2")
    a, b = peers(server.port), peers(server.port)
    third = Peer(server.port)
    try:
        assert third.closed.wait(5) and third.data == b""  # refused: closed at once
        server.wait_for(r"refused 127\.0\.0\.1:\d+: 2 clients already connected \(the maximum\)")
    finally:
        third.close()
    b.close()
    server.wait_for(r"client 2 disconnected")
    assert peers(server.port).lines == [welcome(2)]  # a place is free again


def test_listening_on_all_interfaces_prints_a_warning(capsys):
    # The banner alone, so that the test never opens a port beyond loopback.
    args = argparse.Namespace(max_clients=100, max_line=4096, rate=10.0)
    cli._banner(IPv4Address("TCP", "0.0.0.0", 8007), args)
    out, err = capsys.readouterr()
    assert "(all network interfaces)" in out
    assert "WARNING: listening on all network interfaces: anyone who can reach this machine on port 8007" in err
    cli._banner(IPv4Address("TCP", "127.0.0.1", 8007), args)
    out, err = capsys.readouterr()
    assert "(this machine only)" in out and err == ""


# --- what peers can send ----------------------------------------------------------------


def test_terminal_escapes_and_control_characters_never_reach_others(serve, peers):
    server = serve()
    sender, receiver = peers(server.port), peers(server.port)
    sender.send(b"\x1b[2J\x1b[H\x1b]0;pwned\x07hi\x08\x07\x00 there\tok\x1b[31m!\r\n")
    assert receiver.wait_for_lines(2)[1] == b"client 1: hi there\tok!"
    assert "\x1b" not in server.output  # nor the instructor's console


def test_invalid_utf8_is_replaced(serve, peers):
    server = serve()
    sender, receiver = peers(server.port), peers(server.port)
    sender.send(b"caf\xe9 \xff\xfe ok \xe4\xbd\n")
    assert receiver.wait_for_lines(2)[1] == "client 1: caf\ufffd \ufffd\ufffd ok \ufffd".encode("utf-8")


def test_an_over_long_line_is_answered_and_not_relayed(serve, peers):
    server = serve("--max-line", "100")
    sender, receiver = peers(server.port), peers(server.port)
    sender.send(b"x" * 500 + b"\nshort\n")  # the long line and the next in one packet
    sender.send(b"y" * 300)  # a long line in several packets
    time.sleep(0.1)
    sender.send(b"y" * 300 + b"\nafter\n")
    assert receiver.wait_for_lines(3)[1:] == [b"client 1: short", b"client 1: after"]
    assert sender.wait_for_lines(3)[1:] == [b"error: line longer than 100 bytes, not sent"] * 2
    time.sleep(0.2)
    assert len(receiver.lines) == 3


def test_a_client_that_never_reads_is_dropped_and_costs_no_one_a_message(serve, peers):
    server = serve("--max-backlog", "262144", "--rate", "0")
    talkers = [peers(server.port) for _ in range(2)]
    listener = peers(server.port)
    sleeper = peers(server.port, receive_buffer=4096, read=False)  # connects, never reads
    time.sleep(0.2)
    before = server.memory()

    # The others chat briskly, 100 kB a round, reading everything as they go:
    # 8 MB in all for the sleeper, who reads none of it.
    rounds, batch, line = 80, 50, b"z" * 1000
    expected = []
    for r in range(rounds):
        for i in range(r * batch, (r + 1) * batch):
            for n, talker in enumerate(talkers):
                talker.send(b"%d %d " % (n, i) + line + b"\n")
                expected.append(b"client %d: %d %d " % (n + 1, n, i) + line)
        listener.wait_for_lines(1 + len(expected))
    # Every message, each talker's in the order it sent them.
    for n in (1, 2):
        mine = [e for e in expected if e.startswith(b"client %d:" % n)]
        assert [got for got in listener.lines[1:] if got.startswith(b"client %d:" % n)] == mine
        other = talkers[2 - n]  # the other talker hears this one
        assert other.wait_for_lines(1 + len(mine))[1:] == mine
    assert not any(peer.closed.is_set() for peer in (*talkers, listener))

    found = server.wait_for(r"client 4 is not reading; dropped after (\d+) bytes waiting")
    assert int(found.group(1)) <= 262144 + 2000
    grown = server.memory() - before
    print(f"server memory grew by {grown / 2**20:.1f} MB while 8 MB were sent to a client that never read")
    assert grown < 4 * 2**20
    sleeper.sock.settimeout(5)
    with pytest.raises(ConnectionResetError):  # what was on its way, then the reset
        while sleeper.sock.recv(1 << 16):
            pass


def test_a_flooding_client_is_slowed_and_others_are_not(serve, peers):
    server = serve("--rate", "20", "--burst", "5")
    flooder, polite, listener = peers(server.port), peers(server.port), peers(server.port)
    flood = 60
    started = time.monotonic()
    flooder.send(b"".join(b"flood %d\n" % i for i in range(flood)))
    for i in range(5):
        sent = time.monotonic()
        polite.send(b"polite %d\n" % i)
        deadline = sent + 1.5  # the flood takes 2.75 s to get through
        while b"client 2: polite %d" % i not in listener.lines and time.monotonic() < deadline:
            time.sleep(0.005)
        assert time.monotonic() < deadline, "a polite message was held up by the flood"
        time.sleep(0.1)

    after = time.monotonic() - started
    floods = [line for line in listener.lines if line.startswith(b"client 1:")]
    assert len(floods) <= 5 + 20 * after + 5  # the burst, then 20 lines a second
    assert listener.wait_for_lines(1 + flood + 5, timeout=15)  # slowed, but nothing is lost
    floods = [line for line in listener.lines if line.startswith(b"client 1:")]
    assert floods == [b"client 1: flood %d" % i for i in range(flood)]
    assert time.monotonic() - started > (flood - 5) / 20 * 0.8
    assert not flooder.closed.is_set()


def test_500_clients_each_receive_a_broadcast(serve):
    server = serve("--max-clients", "600", "--rate", "0")
    n = 500
    selector = selectors.DefaultSelector()
    sockets, received = [], {}
    try:
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
            sockets.append(sock)
            received[sock] = b""

        def read_until(done, timeout):
            deadline = time.monotonic() + timeout
            while not done() and time.monotonic() < deadline:
                for key, _ in selector.select(0.1):
                    chunk = key.fileobj.recv(4096)
                    received[key.fileobj] += chunk
            return done()

        assert read_until(lambda: all(d.endswith(b"\r\n") for d in received.values()), 30)
        welcomes = sorted(int(re.search(rb"(\d+)", d.split(b"Site")[1]).group(1)) for d in received.values())
        assert welcomes == list(range(1, n + 1))

        for sock in sockets:
            received[sock] = b""
        started = time.monotonic()
        sockets[0].sendall(b"hello, all 499 of you\n")
        others = sockets[1:]
        assert read_until(lambda: all(received[s] == b"client 1: hello, all 499 of you\r\n" for s in others), 30)
        print(f"broadcast reached {n - 1} clients in {time.monotonic() - started:.2f} s")
        assert received[sockets[0]] == b""
    finally:
        for sock in sockets:
            sock.close()
        selector.close()
