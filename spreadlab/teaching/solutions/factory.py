"""Solutions to lesson 03 (Factory)."""

from twisted.internet.protocol import Factory, Protocol

from ...servers.spread import WELCOME

__all__ = ["Counted", "CountingFactory", "AtMostThree"]


class Counted(Protocol):
    """Tells its factory when it arrives and when it leaves."""

    def connectionMade(self):
        self.factory.numProtocols += 1
        self.factory.clients.add(self)
        welcome = WELCOME.format(n=self.factory.numProtocols)
        self.transport.write(welcome.encode("utf-8") + b"\n")

    def connectionLost(self, reason):
        self.factory.numProtocols -= 1
        self.factory.clients.discard(self)


class CountingFactory(Factory):
    """Owns the server's state: how many are connected, and who."""

    protocol = Counted

    def __init__(self):
        self.numProtocols = 0
        self.clients = set()


class AtMostThree(CountingFactory):
    """Refuses a connection while three clients are connected."""

    def buildProtocol(self, addr):
        if self.numProtocols >= 3:
            return None  # turned away: Twisted closes the connection at once
        return super().buildProtocol(addr)
