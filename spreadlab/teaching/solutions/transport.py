"""Solutions to lesson 04 (Transport)."""

from twisted.internet.protocol import Protocol
from twisted.protocols.basic import LineReceiver

__all__ = ["Goodbye", "WhoAmI"]


class Goodbye(LineReceiver):
    """Echoes lines; on ``bye`` says goodbye and closes cleanly."""

    delimiter = b"\n"

    def lineReceived(self, line):
        if line.rstrip(b"\r") == b"bye":
            self.sendLine(b"goodbye")
            self.transport.loseConnection()
            return
        self.sendLine(line)


class WhoAmI(Protocol):
    """Tells each client its own address as soon as it connects."""

    def connectionMade(self):
        peer = self.transport.getPeer()
        self.transport.write(f"you are {peer.host}:{peer.port}\n".encode("ascii"))
