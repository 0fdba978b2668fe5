"""Solutions for the Spread Site lessons (05 Spread Site, 06 Going live).

``MySpreadFactory`` is the Spread server built again for Python 3 (lesson 06),
``NickFactory`` adds ``/nick NAME`` (lesson 06, going further) and
``IdleFactory`` drops clients silent for 30 seconds and ``WhoFactory``
answers ``/who`` (lesson 07).
"""

from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineReceiver

from ...servers.spread import WELCOME, SpreadFactory, Spreader

__all__ = ["MySpreader", "MySpreadFactory", "NickSpreader", "NickFactory", "IdleSpreader", "IdleFactory",
           "WhoSpreader", "WhoFactory"]


class MySpreader(LineReceiver):
    delimiter = b"\n"  # nc ends a line with \n, telnet with \r\n

    def connectionMade(self):
        self.factory.numProtocols += 1
        self.factory.clients.append(self)
        welcome = WELCOME.format(n=self.factory.numProtocols)
        self.transport.write(welcome.encode("utf-8") + b"\r\n")

    def connectionLost(self, reason):
        self.factory.numProtocols -= 1
        self.factory.clients.remove(self)

    def lineReceived(self, line):
        line = line.rstrip(b"\r")
        if line == b"close":
            self.transport.loseConnection()
            return
        for client in self.factory.clients:
            if client is not self:
                client.transport.write(line + b"\r\n")


class MySpreadFactory(Factory):
    protocol = MySpreader

    def __init__(self):
        self.numProtocols = 0
        self.clients = []


class NickSpreader(MySpreader):
    name = b"anonymous"

    def lineReceived(self, line):
        line = line.rstrip(b"\r")
        if line.startswith(b"/nick"):
            name = line[len(b"/nick"):].strip()
            if name:
                self.name = name
            return
        if line == b"close":
            self.transport.loseConnection()
            return
        for client in self.factory.clients:
            if client is not self:
                client.transport.write(self.name + b": " + line + b"\r\n")


class NickFactory(MySpreadFactory):
    protocol = NickSpreader


class IdleSpreader(Spreader):
    idle = 30  # seconds

    def connectionMade(self):
        super().connectionMade()
        self.timer = self.factory.clock.callLater(self.idle, self.transport.loseConnection)

    def lineReceived(self, line):
        if self.timer.active():
            self.timer.reset(self.idle)
        super().lineReceived(line)

    def connectionLost(self, reason):
        if self.timer.active():
            self.timer.cancel()
        super().connectionLost(reason)


class IdleFactory(SpreadFactory):
    protocol = IdleSpreader


class WhoSpreader(Spreader):
    def lineReceived(self, line):
        if line.rstrip(b"\r") == b"/who":
            names = ", ".join(client.name for client in self.factory.clients)
            self.transport.write(names.encode("utf-8") + b"\r\n")
            return
        super().lineReceived(line)


class WhoFactory(SpreadFactory):
    protocol = WhoSpreader
