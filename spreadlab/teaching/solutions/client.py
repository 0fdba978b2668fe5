"""Solution for lesson 10 (Clients): ``Visitor``, a Spread Site client that
waits for the welcome, says one thing, listens for ``wanted`` lines from the
others and leaves cleanly.  ``check_visitor(Visitor)`` passes."""

from twisted.internet.defer import Deferred
from twisted.protocols.basic import LineReceiver

__all__ = ["Visitor"]


class Visitor(LineReceiver):
    def __init__(self, message, wanted=1):
        self.message = message  # what to say, a str
        self.wanted = wanted  # how many lines from the others to wait for
        self.welcome = None  # the server's first line, as a str
        self.heard = []  # the lines after it, as str
        self.done = Deferred()  # fires when the connection has ended, with why

    def lineReceived(self, line):
        text = line.decode("utf-8")
        if self.welcome is None:
            self.welcome = text
            self.sendLine(self.message.encode("utf-8"))
            return
        self.heard.append(text)
        if len(self.heard) == self.wanted:
            self.transport.loseConnection()

    def connectionLost(self, reason):
        self.done.callback(reason.value)  # ConnectionDone: a clean close
