"""The fan-out servers that `bench_live` measures, each run in its own process:

    python -m benchmarks._servers KIND [--port 0]

prints ``PORT <n>`` on stdout once it listens on 127.0.0.1, and runs until it
is terminated or its standard input closes (so it never outlives the
benchmark).  KIND is one of:

- ``spread``: spreadlab's `SpreadFactory` on the default Twisted reactor,
  as the library ships it (no log observer installed, as in a notebook);
- ``twisted-min``: the smallest Twisted fan-out server that speaks the same
  protocol (LineReceiver, a welcome line, ``client N: `` prefix), with no
  checks, trace or logging: the cost of everything spreadlab adds;
- ``asyncio-min``: the same with asyncio streams, as a user might write it
  instead (``readline`` per client, ``write`` to every other writer).

Every server sends one welcome line on connect and relays each line as
``client N: <line>\\r\\n`` to every other client.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading


def _exit_when_stdin_closes() -> None:
    def watch():
        try:
            while os.read(0, 65536):
                pass
        finally:
            os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _announce(port: int) -> None:
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()


def serve_spread(port: int, **options) -> None:
    from twisted.internet import reactor

    from spreadlab.servers.spread import SpreadFactory

    listening = reactor.listenTCP(port, SpreadFactory(**options), backlog=1024, interface="127.0.0.1")
    reactor.callWhenRunning(_announce, listening.getHost().port)
    reactor.run()


def serve_twisted_min(port: int) -> None:
    from twisted.internet import reactor
    from twisted.internet.protocol import Factory
    from twisted.protocols.basic import LineReceiver

    class Fan(LineReceiver):
        delimiter = b"\n"

        def connectionMade(self):
            factory = self.factory
            factory.count += 1
            self.prefix = b"client %d: " % factory.count
            factory.clients.append(self)
            self.transport.write(b"welcome\r\n")

        def connectionLost(self, reason):
            self.factory.clients.remove(self)

        def lineReceived(self, line):
            if line.endswith(b"\r"):
                line = line[:-1]
            data = self.prefix + line + b"\r\n"
            for client in self.factory.clients:
                if client is not self:
                    client.transport.write(data)

    factory = Factory.forProtocol(Fan)
    factory.clients = []
    factory.count = 0
    listening = reactor.listenTCP(port, factory, backlog=1024, interface="127.0.0.1")
    reactor.callWhenRunning(_announce, listening.getHost().port)
    reactor.run()


def serve_asyncio_min(port: int) -> None:
    import asyncio

    clients = []
    count = 0

    async def handle(reader, writer):
        nonlocal count
        count += 1
        prefix = b"client %d: " % count
        clients.append(writer)
        writer.write(b"welcome\r\n")
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                data = prefix + line.rstrip(b"\r\n") + b"\r\n"
                for other in clients:
                    if other is not writer:
                        other.write(data)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            clients.remove(writer)
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        _announce(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


SERVERS = {"spread": serve_spread, "twisted-min": serve_twisted_min, "asyncio-min": serve_asyncio_min}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(SERVERS))
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    _exit_when_stdin_closes()
    SERVERS[args.kind](args.port)


if __name__ == "__main__":
    main()
