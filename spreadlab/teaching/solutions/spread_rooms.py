"""Solution for lesson 08 (A server program): the Spread server on every
endpoint given on the command line, with one factory; a port it cannot get
ends the program with the error.  Run it as
``python spread_rooms.py tcp:8007:interface=127.0.0.1 tcp:8008:interface=127.0.0.1``;
``check_server_program(path of this file)`` passes."""

import sys

from twisted.internet import defer, endpoints, task
from twisted.logger import globalLogBeginner, textFileLogObserver

from spreadlab import SpreadFactory


def main(reactor, *where):
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    factory = SpreadFactory()
    listening = [endpoints.serverFromString(reactor, w).listen(factory) for w in where]
    everywhere = defer.gatherResults(listening, consumeErrors=True)
    return everywhere.addCallback(lambda ports: defer.Deferred())  # serve until Ctrl-C


if __name__ == "__main__":
    task.react(main, sys.argv[1:])
