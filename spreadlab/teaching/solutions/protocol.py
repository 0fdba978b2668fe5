"""Solutions to lesson 02 (Protocol)."""

from twisted.internet.protocol import Protocol

__all__ = ["ShoutingEcho", "LineCounter"]


class ShoutingEcho(Protocol):
    """Writes back every chunk, upper-cased, as soon as it arrives.

    It stays in bytes: ``bytes.upper()`` changes only the ASCII letters a-z,
    so half a Chinese character passes through untouched and the client's
    terminal puts the two halves together again."""

    def dataReceived(self, data):
        self.transport.write(data.upper())


class LineCounter(Protocol):
    """Answers each complete line with how many lines this connection has sent."""

    def connectionMade(self):
        self.lines = 0

    def dataReceived(self, data):
        for _ in range(data.count(b"\n")):
            self.lines += 1
            self.transport.write(b"%d\n" % self.lines)
