"""The blog's Spread Site server, as literally as Python 3 allows.

Kept on purpose, flaws and all, so the lessons can show each one happen.
Only what Python 3 refuses outright was changed: ``print`` is a function,
and the welcome is encoded to bytes before ``transport.write`` (which takes
bytes only).  The flaws that remain, each demonstrated in the tests and in
the Spread Site lesson:

1. ``clients`` is a module-global list: two factories (two servers in one
   process) share it, so clients of one server receive the other's messages.
2. ``data == b"close"`` compares a whole chunk of a TCP stream, which has no
   message boundaries: ``close`` split over two chunks is not seen, nor is
   ``close\\r\\n`` from telnet or ``close\\n`` from ``nc``.
3. There is no ``return`` after ``loseConnection()``: the word ``close`` is
   still spread to everyone else.
4. Whatever chunk arrives is relayed as is: no framing, no sender's name,
   no check of what the bytes contain.
5. The welcome's number is ``numProtocols``, a head count, not an id: after
   a client leaves, the next one is told the same number as one still
   connected (two clients are both "你是第3个").

Use `spreadlab.servers.spread` for the server done right.
"""

from twisted.internet.protocol import Factory, Protocol

#: The blog's code as it was written, for Python 2 (line breaks restored).
PY2_SOURCE = '''\
# coding=utf-8
from twisted.internet.protocol import Protocol
from twisted.internet.protocol import Factory
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet import reactor

clients = []

class Spreader(Protocol):
    def __init__(self, factory):
        self.factory = factory

    def connectionMade(self):
        self.factory.numProtocols = self.factory.numProtocols + 1
        self.transport.write(
            "欢迎来到Spread Site, 你是第%s个客户端用户!\\n" % (self.factory.numProtocols)
        )
        print "new connect: %d" % (self.factory.numProtocols)
        clients.append(self)

    def connectionLost(self, reason):
        self.factory.numProtocols = self.factory.numProtocols - 1
        clients.remove(self)
        print "lost connect: %d" % (self.factory.numProtocols)

    def dataReceived(self, data):
        if data == "close":
            self.transport.loseConnection()
        for client in clients:
            if client != self:
                client.transport.write(data)
            else:
                print data

class SpreadFactory(Factory):
    def __init__(self):
        self.numProtocols = 0

    def buildProtocol(self, addr):
        return Spreader(self)

endpoint = TCP4ServerEndpoint(reactor, 8007)
endpoint.listen(SpreadFactory())
reactor.run()
'''

clients = []  # flaw 1: shared by every factory in the process


class Spreader(Protocol):
    def __init__(self, factory):
        self.factory = factory

    def connectionMade(self):
        self.factory.numProtocols = self.factory.numProtocols + 1
        self.transport.write(
            ("欢迎来到Spread Site, 你是第%s个客户端用户!\n" % (self.factory.numProtocols)).encode("utf-8")
        )
        print("new connect: %d" % (self.factory.numProtocols))
        clients.append(self)

    def connectionLost(self, reason):
        self.factory.numProtocols = self.factory.numProtocols - 1
        clients.remove(self)
        print("lost connect: %d" % (self.factory.numProtocols))

    def dataReceived(self, data):
        if data == b"close":  # flaw 2: a chunk is not a message
            self.transport.loseConnection()  # flaw 3: no return after this
        for client in clients:
            if client != self:
                client.transport.write(data)  # flaw 4: relayed as is
            else:
                print(data)


class SpreadFactory(Factory):
    def __init__(self):
        self.numProtocols = 0

    def buildProtocol(self, addr):
        return Spreader(self)


def main(port: int = 8007) -> None:  # pragma: no cover - runs forever
    """Run the seed server as the blog did (blocks; Ctrl-C to stop)."""
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ServerEndpoint

    endpoint = TCP4ServerEndpoint(reactor, port)
    endpoint.listen(SpreadFactory())
    reactor.run()
