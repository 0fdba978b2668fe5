"""A terminal client, as ``nc HOST PORT`` is one, for a notebook to type into.

`Terminal` is a plain TCP socket (no Twisted): what it is given is sent with a
line end, as ``nc`` sends what you type when you press Enter, and what
arrives is kept as bytes and read as lines.  Lessons use it to be the
students of a server that runs in another process (`spreadlab.rooms.program`),
and tests use it to check a server from outside the way a student would.

Use it from one thread (the notebook's); it does not need the reactor.
"""

from __future__ import annotations

import socket
import time

from ..i18n import _

__all__ = ["Terminal"]


class Terminal:
    """A TCP connection to *host*:*port* that types lines and reads lines.

    ``timeout`` is how long a read waits for the server before raising
    ``TimeoutError`` (saying what did arrive).
    """

    def __init__(self, host: str, port: int, *, timeout: float = 5.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.received = b""
        self.closed_by_server = False
        self._lines_read = 0  # by read_line
        self._socket = socket.create_connection((host, port), timeout=timeout)

    # --- typing -------------------------------------------------------------

    def type(self, line: str | bytes) -> "Terminal":
        """Send *line* and a ``\\n`` (what pressing Enter in ``nc`` sends).
        ``str`` is encoded as UTF-8.  Returns the terminal, for chaining."""
        data = line.encode("utf-8") if isinstance(line, str) else bytes(line)
        self._socket.sendall(data + b"\n")
        return self

    def close(self) -> None:
        """Hang up (quitting ``nc``): a clean close, the server sees
        ``ConnectionDone``."""
        self._socket.close()

    # --- reading ------------------------------------------------------------

    @property
    def lines(self) -> list[str]:
        """The complete lines received so far, decoded (undecodable bytes as
        U+FFFD), without their line ends."""
        text = self.received.decode("utf-8", errors="replace")
        return [line.removesuffix("\r") for line in text.split("\n")[:-1]]

    def wait_for_lines(self, n: int, timeout: float | None = None) -> list[str]:
        """Wait until *n* complete lines have arrived in all; return them all."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.lines) < n:
            left = deadline - time.monotonic()
            if self.closed_by_server:
                raise ConnectionError(_("the server closed the connection after {count} line(s): {lines}").format(
                    count=len(self.lines), lines=repr(self.lines)))
            if left <= 0:
                raise TimeoutError(_("{count} line(s) arrived, not {wanted}: {lines}").format(
                    count=len(self.lines), wanted=n, lines=repr(self.lines)))
            self._read(left)
        return self.lines

    def read_line(self, timeout: float | None = None) -> str:
        """Wait for the next line not read by `read_line` yet and return it."""
        line = self.wait_for_lines(self._lines_read + 1, timeout)[self._lines_read]
        self._lines_read += 1
        return line

    def wait_until_closed(self, timeout: float | None = None) -> bytes:
        """Wait until the server closes the connection; return all that
        arrived."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.closed_by_server:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(_("the server did not close the connection"))
            self._read(left)
        return self.received

    def _read(self, timeout: float) -> None:
        self._socket.settimeout(max(timeout, 0.001))
        try:
            data = self._socket.recv(65536)
        except socket.timeout:
            return
        if data:
            self.received += data
        else:
            self.closed_by_server = True

    def __repr__(self) -> str:
        return f"<Terminal to {self.host}:{self.port}, {len(self.lines)} lines received>"

    def __enter__(self) -> "Terminal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
