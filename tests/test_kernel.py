"""A live room inside a real Jupyter kernel.

Starts an IPython kernel with jupyter_client, as JupyterLab does, runs cells
in it and reads the messages JupyterLab would read.  Shows that output from
protocol code lands under the cell that made the room (by the messages'
parent header, which is what JupyterLab uses to place output), that the
reactor keeps serving after an exception in protocol code, that
``reactor.run()`` explains itself, and that a kernel whose reactor's thread
pool is busy still shuts down by itself in under two seconds (measured
without the fix: a pool thread started from a cell is not a daemon thread,
and the kernel had to be killed).  And that reactor-side code prints under
the cell that scheduled it: the timers of two rooms' protocols under each
room's cell, a cell's own ``reactor.callLater`` under that cell, while
another cell runs; that a timer's error reaches its room's ``settle()``;
and that a reactor blocked by a protocol is reported as such.
"""

from __future__ import annotations

import queue
import time

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
from jupyter_client.manager import start_new_kernel  # noqa: E402

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(120)]

MAKE_ROOM = """
from twisted.internet.protocol import Factory, Protocol
from spreadlab.rooms.live import LiveRoom

class Loud(Protocol):
    def dataReceived(self, data):
        print("protocol got", data)
        if b"boom" in data:
            1 / 0

room = LiveRoom(Factory.forProtocol(Loud))
first = room.connect()
"""

USE_ROOM = """
first.send(b"hi\\n")
first.send(b"boom\\n")
second = room.connect()
second.send(b"still serving\\n")
print("cell done;", "first connected:", first.connected, "errors:", len(room.errors))
"""

THREAD_POOL = """
import time
from twisted.internet import reactor
from twisted.internet.threads import deferToThread
from spreadlab.rooms.background import blocking_call

print("from a pool thread:", blocking_call(deferToThread, lambda: sum(range(10))))
# As a learner would type it, from the cell's own thread: a worker thread
# made here would be a non-daemon thread (threads inherit it from the thread
# that makes them) and, busy for a minute, would keep the kernel from exiting.
sleeping = deferToThread(time.sleep, 60)
time.sleep(0.2)
print("pool threads are daemon threads:", all(t.daemon for t in reactor.getThreadPool().threads))
"""

PLAIN_LISTEN = """
from spreadlab.rooms.background import blocking_call, start_reactor
reactor = start_reactor()  # this cell is now where reactor-side output goes
port = blocking_call(reactor.listenTCP, 0, Factory.forProtocol(Loud), interface="127.0.0.1")
"""

TALK_TO_PLAIN = """
import socket, time
with socket.create_connection(("127.0.0.1", port.getHost().port)) as s:
    s.sendall(b"plain\\n")
    time.sleep(0.3)
"""

A_CELL_RUN_TWICE = """
made = globals().setdefault("made", [])
made.append(LiveRoom(Factory.forProtocol(Loud)))
made[-1].connect()
"""

RUN_AGAIN = """
from twisted.internet import reactor
reactor.run()
"""


class Kernel:
    """A kernel and every IOPub message it sent, in order."""

    def __init__(self) -> None:
        self.manager, self.client = start_new_kernel(startup_timeout=60)
        self.messages: list[dict] = []

    def run(self, code: str, timeout: float = 30, cell_id: str | None = None) -> tuple[str, dict]:
        """Run one cell (with the cell id JupyterLab would send, if given);
        return its msg_id and its execute_reply content."""
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}
        request = self.client.session.msg("execute_request", content,
                                          metadata={"cellId": cell_id} if cell_id else {})
        self.client.shell_channel.send(request)
        msg_id = request["header"]["msg_id"]
        deadline = time.monotonic() + timeout
        idle = False
        while not idle:
            try:
                msg = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"cell did not finish within {timeout} s:\n{code}")
            self.messages.append(msg)
            idle = (msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
                    and msg["parent_header"].get("msg_id") == msg_id)
        while True:  # skip replies to earlier requests (kernel_info at start)
            reply = self.client.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                return msg_id, reply["content"]

    def output(self, msg_id: str, name: str | None = None) -> str:
        """The stream text that carries *msg_id* as its parent (the text
        JupyterLab shows under that cell)."""
        return "".join(
            m["content"]["text"]
            for m in self.messages
            if m["msg_type"] == "stream"
            and m["parent_header"].get("msg_id") == msg_id
            and (name is None or m["content"]["name"] == name)
        )

    def position(self, msg_id: str, name: str, text: str) -> int:
        """Where, among every message, the first *name* stream message under
        *msg_id* that contains *text* came (the order JupyterLab shows)."""
        return next(i for i, m in enumerate(self.messages)
                    if m["msg_type"] == "stream" and m["parent_header"].get("msg_id") == msg_id
                    and m["content"]["name"] == name and text in m["content"]["text"])


def test_live_room_in_a_kernel_output_errors_and_a_quick_shutdown():
    kernel = Kernel()
    try:
        cell_a, reply = kernel.run(MAKE_ROOM)
        assert reply["status"] == "ok", reply
        cell_b, reply = kernel.run(USE_ROOM)
        assert reply["status"] == "ok", reply

        # Printed by protocol code while cell B ran, shown under cell A.
        time.sleep(0.3)  # the kernel sends stream output in batches
        kernel.run("pass")
        out_a, err_a = kernel.output(cell_a, "stdout"), kernel.output(cell_a, "stderr")
        assert "protocol got b'hi\\n'" in out_a
        assert "protocol got b'still serving\\n'" in out_a
        assert "ZeroDivisionError in dataReceived of client 1" in err_a
        assert "the reactor keeps serving" in err_a
        assert "1 / 0" in err_a  # the traceback shows the learner's line
        assert err_a.count("ZeroDivisionError: division by zero") == 1  # shown once
        # What the protocol printed before it raised shows above the error, as it happened.
        assert (kernel.position(cell_a, "stdout", "protocol got b'boom")
                < kernel.position(cell_a, "stderr", "ZeroDivisionError in dataReceived"))
        out_b = kernel.output(cell_b)
        assert "cell done; first connected: False errors: 1" in out_b
        assert "protocol got" not in out_b and "ZeroDivisionError" not in out_b

        cell_c, reply = kernel.run(THREAD_POOL)
        assert reply["status"] == "ok", reply
        assert "from a pool thread: 45" in kernel.output(cell_c)
        assert "pool threads are daemon threads: True" in kernel.output(cell_c)

        # Without a room: output goes to the cell that last called start_reactor.
        cell_d, reply = kernel.run(PLAIN_LISTEN)
        assert reply["status"] == "ok", reply
        cell_e, reply = kernel.run(TALK_TO_PLAIN)
        assert reply["status"] == "ok", reply
        time.sleep(0.3)
        kernel.run("pass")
        assert "protocol got b'plain\\n'" in kernel.output(cell_d)
        assert "protocol got" not in kernel.output(cell_e)

        # Running the same cell again stops the room its first run made.
        kernel.run(A_CELL_RUN_TWICE, cell_id="cell-f")
        second_run, reply = kernel.run(A_CELL_RUN_TWICE, cell_id="cell-f")
        assert reply["status"] == "ok", reply
        assert "that an earlier run of this cell made" in kernel.output(second_run)
        check, _ = kernel.run("print([room.listening for room in made], room.listening)")
        assert "[False, True] True" in kernel.output(check)  # the room of cell A is not touched

        started = time.monotonic()
        _, reply = kernel.run(RUN_AGAIN, timeout=10)
        assert time.monotonic() - started < 5  # an explanation, not a hang
        assert reply["status"] == "error"
        assert reply["ename"] == "ReactorRunsInBackground"
        assert "already running, in a background thread" in reply["evalue"]
    finally:
        # Shut down as JupyterLab does (a shutdown request), and time the
        # kernel's process until it has exited.
        process = kernel.manager.provisioner.process
        started = time.monotonic()
        kernel.client.shutdown()
        try:
            process.wait(timeout=10)
        except Exception:
            pass
        shutdown = time.monotonic() - started
        kernel.client.stop_channels()
        kernel.manager.shutdown_kernel(now=True)  # cleans up; kills it if it is still there
    print(f"kernel shutdown took {shutdown:.2f} s")
    # It exited by itself, not killed, and before a front end's patience ends (jupyter_client waits
    # shutdown_wait_time, 5 s, then kills): a reactor thread that held the process would be killed.
    # How quick is the benchmarks' business, not a test's (this machine may be loaded).
    assert process.returncode == 0, "the kernel did not exit by itself after a shutdown request"
    assert shutdown < kernel.manager.shutdown_wait_time, f"kernel shutdown took {shutdown:.2f} s"


TWO_TICKING_ROOMS = """
from twisted.internet import reactor
from twisted.internet.protocol import Factory, Protocol
from spreadlab.rooms.live import LiveRoom

class Ticker(Protocol):
    def connectionMade(self):
        reactor.callLater(0.5, print, "tick from", self.factory.label)
        reactor.callLater(0.5, self.fail)

    def fail(self):
        raise ValueError("the timer of " + self.factory.label)

def ticking(label):
    factory = Factory.forProtocol(Ticker)
    factory.label = label
    return factory

room{n} = LiveRoom(ticking("room {n}"), raise_errors=True)
room{n}.connect()
"""

TIMERS_FROM_A_CELL = """
later = reactor.callLater(0.4, print, "later, from the cell that set it")
failing = reactor.callLater(0.4, lambda: 1 / 0)
never = reactor.callLater(0.4, print, "cancelled, never printed")
never.cancel()
"""

BLOCKED_REACTOR = """
import time
class Sleepy(Protocol):
    def dataReceived(self, data):
        time.sleep(3)

sleepy = LiveRoom(Factory.forProtocol(Sleepy), timeout=1)
sleepy.connect().send(b"hello\\n")
"""


def test_reactor_side_output_goes_to_the_cell_that_scheduled_it():
    # Measured before the fix: both rooms' timer prints and errors appeared
    # under the second room's cell (the last to start a room), and the
    # cell's own callLater printed there too; room 1's settle() raised
    # nothing.
    kernel = Kernel()
    try:
        cell_1, reply = kernel.run(TWO_TICKING_ROOMS.replace("{n}", "1"))
        assert reply["status"] == "ok", reply
        cell_2, reply = kernel.run(TWO_TICKING_ROOMS.replace("{n}", "2"))
        assert reply["status"] == "ok", reply
        busy, reply = kernel.run("import time; time.sleep(1.2)")  # the timers fire meanwhile
        assert reply["status"] == "ok", reply
        time.sleep(0.3)
        kernel.run("pass")
        out_1, err_1 = kernel.output(cell_1, "stdout"), kernel.output(cell_1, "stderr")
        out_2, err_2 = kernel.output(cell_2, "stdout"), kernel.output(cell_2, "stderr")
        assert "tick from room 1" in out_1 and "room 2" not in out_1
        assert "tick from room 2" in out_2 and "room 1" not in out_2
        assert "ValueError: the timer of room 1" in err_1 and "room 2" not in err_1
        assert "ValueError: the timer of room 2" in err_2 and "room 1" not in err_2
        assert kernel.output(busy) == ""

        _, reply = kernel.run("room1.settle()")
        assert reply["status"] == "error" and reply["ename"] == "ValueError", reply
        assert "the timer of room 1" in reply["evalue"]

        cell_timers, reply = kernel.run(TIMERS_FROM_A_CELL)
        assert reply["status"] == "ok", reply
        busy, reply = kernel.run("time.sleep(1)")
        assert reply["status"] == "ok", reply
        time.sleep(0.3)
        kernel.run("pass")
        assert "later, from the cell that set it" in kernel.output(cell_timers, "stdout")
        assert "ZeroDivisionError" in kernel.output(cell_timers, "stderr")
        assert kernel.output(busy) == ""
        assert all("never printed" not in m["content"].get("text", "") for m in kernel.messages)

        blocked, reply = kernel.run(BLOCKED_REACTOR)
        assert reply["status"] == "error" and reply["ename"] == "TimeoutError", reply
        assert "the reactor thread is busy in your dataReceived" in reply["evalue"], reply["evalue"]
        assert "time.sleep(3)" in reply["evalue"]
    finally:
        kernel.client.stop_channels()
        kernel.manager.shutdown_kernel(now=True)
