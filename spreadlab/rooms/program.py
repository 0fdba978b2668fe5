"""Programs run as processes of their own, as a terminal would run them.

``python spread_server.py`` in JupyterLab's terminal is how a learner runs
the server program that lesson 08 writes.  A notebook that must also run top
to bottom unattended cannot type into a terminal, so `ServerProgram` does the
same from a cell: it starts the script with this Python, keeps everything it
prints (its log), learns the port from Twisted's own log line
(``SpreadFactory starting on 41234``), hands out `Terminal` clients (what
``nc`` would be), and stops it with Ctrl-C (SIGINT), as a terminal user would.
`run_program` runs a program that ends by itself (a client, lesson 10) and
returns what it printed.

Nothing is left running: starting the same script with the same arguments
again (running the cell again) stops the earlier process, and every process
still running when the kernel (or the test run) exits is stopped then.

Use it from one thread (the notebook's); it does not touch the reactor.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..i18n import _
from .terminal import Terminal

__all__ = ["ServerProgram", "run_program", "STARTING"]

#: Twisted's log line when a port starts listening: ``<factory's logPrefix()> starting on <port>``
#: (``twisted.internet.tcp.Port.startListening``).
STARTING = re.compile(r"\] (?P<prefix>\S+) starting on (?P<port>\d+)")

_running: dict[tuple, "ServerProgram"] = {}  # by (script, args): the programs started and not stopped


class ServerProgram:
    """``python SCRIPT ARGS...`` in a process of its own, started now.

    Waits (up to *timeout* seconds) until the program's log says a port is
    listening, and sets ``port`` to it; raises ``RuntimeError`` with the
    program's output if it exits or stays silent instead.  ``host`` is where
    `connect` connects (loopback by default).
    """

    def __init__(self, script: str | os.PathLike, *args: str, host: str = "127.0.0.1",
                 timeout: float = 15.0) -> None:
        self.script = Path(script).resolve()
        self.args = [str(a) for a in args]
        self.host = host
        self.timeout = timeout
        self._output = bytearray()
        self._eof = False  # the program's output has ended
        self._changed = threading.Condition()
        self._key = (self.script, tuple(self.args))
        earlier = _running.pop(self._key, None)
        if earlier is not None:
            earlier.stop()
            print(_("(stopped the {script} started earlier, pid {pid})").format(script=self.script.name,
                                                                                 pid=earlier.pid))
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, str(self.script), *self.args], cwd=self.script.parent, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            preexec_fn=_as_from_a_terminal if os.name == "posix" else None,
        )
        _running[self._key] = self
        threading.Thread(target=self._collect, name=f"output of {self.script.name}", daemon=True).start()
        try:
            found = self.wait_for(STARTING, what=_("start listening (Twisted's log line "
                                                   "'<factory> starting on <port>' did not appear)"))
        except RuntimeError:
            self.stop()
            raise
        self.port = int(found["port"])
        self._shown = 0

    def listening_ports(self, count: int, timeout: float | None = None) -> list[int]:
        """Wait until the log says *count* ports are listening; return them
        all, in order.  ``RuntimeError`` with the log if the program exits
        first or *timeout* passes."""
        found = self.wait_for(rf"(?s)(?:{STARTING.pattern}.*){{{count}}}", timeout,
                              what=_("start listening on {count} ports").format(count=count))
        return [int(m["port"]) for m in STARTING.finditer(found.string)]

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    # --- its output --------------------------------------------------------------

    @property
    def log(self) -> str:
        """Everything the program has printed so far (its log), decoded."""
        with self._changed:
            return self._output.decode("utf-8", errors="replace")

    def new_log(self, settle: float = 0.3) -> str:
        """What the program printed since the last `new_log`, once it has
        printed nothing for *settle* seconds (what it logs comes a moment
        after what it does)."""
        with self._changed:
            size = len(self._output)
            while self._changed.wait(settle) and len(self._output) != size:
                size = len(self._output)
            text = self._output[self._shown:].decode("utf-8", errors="replace")
            self._shown = len(self._output)
        return text

    def wait_for(self, pattern: str | re.Pattern, timeout: float | None = None, what: str = "") -> re.Match:
        """Wait until the log matches *pattern*; return the match.
        ``RuntimeError`` with the log if the program exits first or
        *timeout* passes (saying it did not do *what*)."""
        pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        with self._changed:
            while True:
                found = pattern.search(self._output.decode("utf-8", errors="replace"))
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and self._eof):
                    break
                self._changed.wait(min(left, 0.2))
        if self.running:
            state = _("is still running")
        else:
            state = _("exited with status {status}").format(status=self.process.returncode)
        what = what or _("print {pattern}").format(pattern=repr(pattern.pattern))
        # Translators: {script} is a file name; {state} "is still running" or "exited with status 1";
        # {what} what it did not do ("start listening on 2 ports"); the program's output follows.
        raise RuntimeError(_("{script} {state} and did not {what} within {limit} s.  Its output:").format(
            script=self.script.name, state=state, what=what, limit=f"{limit:g}") + f"\n{self.log}")

    def _collect(self) -> None:
        stream = self.process.stdout
        while chunk := stream.read1(65536):
            with self._changed:
                self._output += chunk
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    # --- its clients ---------------------------------------------------------------

    def connect(self, timeout: float = 5.0) -> Terminal:
        """A new terminal client, as ``nc HOST PORT`` in a terminal would be."""
        return Terminal(self.host, self.port, timeout=timeout)

    @property
    def connect_command(self) -> str:
        """What a terminal user types to join."""
        return f"nc {self.host} {self.port}"

    # --- stopping --------------------------------------------------------------------

    def interrupt(self, timeout: float | None = None) -> int:
        """Press Ctrl-C: send SIGINT, wait for the program to exit, and
        return its exit status.  ``TimeoutError`` if it does not exit."""
        if self.running:
            self.process.send_signal(signal.SIGINT)
        try:
            status = self.process.wait(self.timeout if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(_("{script} did not exit after Ctrl-C").format(script=self.script.name)) from None
        self._forget()
        with self._changed:  # and its last words are read
            self._changed.wait_for(lambda: self._eof, 2.0)
        return status

    def stop(self) -> None:
        """Stop the program whatever it does: Ctrl-C, then a kill after a
        few seconds."""
        try:
            self.interrupt(timeout=3.0)
        except TimeoutError:
            self.process.kill()
            self.process.wait()
            self._forget()

    def _forget(self) -> None:
        if _running.get(self._key) is self:
            del _running[self._key]

    def __enter__(self) -> "ServerProgram":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"listening on {self.host}:{self.port}" if self.running else f"exited ({self.process.returncode})"
        return f"<ServerProgram {self.script.name} pid {self.pid}, {state}>"


def run_program(script: str | os.PathLike, *args: str, timeout: float = 30.0) -> str:
    """Run ``python SCRIPT ARGS...`` to its end, as typed in a terminal, and
    return what it printed.  ``RuntimeError`` with its output if it exits
    with an error status, ``TimeoutError`` (after killing it) if it runs
    longer than *timeout* seconds."""
    script = Path(script).resolve()
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    try:
        done = subprocess.run([sys.executable, str(script), *map(str, args)], cwd=script.parent, env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout, preexec_fn=_as_from_a_terminal if os.name == "posix" else None)
    except subprocess.TimeoutExpired as expired:
        output = (expired.output or b"").decode("utf-8", errors="replace")
        raise TimeoutError(_("{script} was still running after {timeout} s.  Its output:").format(
            script=script.name, timeout=f"{timeout:g}") + f"\n{output}") from None
    output = done.stdout.decode("utf-8", errors="replace")
    if done.returncode:
        raise RuntimeError(_("{script} exited with status {status}.  Its output:").format(
            script=script.name, status=done.returncode) + f"\n{output}")
    return output


def _as_from_a_terminal() -> None:
    """In the child, before the script starts.  Ctrl-C works as in a
    terminal even if the kernel ignores SIGINT (an ignored signal stays
    ignored across exec, and Twisted then leaves it alone); and on Linux the
    child is sent SIGTERM if the kernel dies without running its exit
    handlers (a kill -9)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if sys.platform == "linux":
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@atexit.register
def _stop_all() -> None:
    for program in list(_running.values()):
        program.stop()
