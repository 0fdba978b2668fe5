"""``python -m spreadlab serve``: the Spread server for a classroom.

The instructor runs it in a terminal; students join with ``nc HOST PORT`` or
``telnet HOST PORT``, and whatever one of them types is spread to all the
others.  It listens on loopback only unless told otherwise (``--host
0.0.0.0`` opens it to the network, with a warning), limits how much any one
client can cost the others (``spreadlab.servers.spread.SpreadFactory``'s options),
logs one readable line per connect, message and disconnect through
``twisted.logger``, and stops cleanly on Ctrl-C.

Here the reactor runs in the main thread, as in any Twisted program; the
notebooks use `spreadlab.rooms.background` instead.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
import time

from twisted.logger import (
    FileLogObserver,
    FilteringLogObserver,
    LogLevel,
    PredicateResult,
    formatEvent,
    globalLogBeginner,
)

from .servers.spread import SpreadFactory

DEFAULT_PORT = 8007  # the seed's


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2  # pragma: no cover - argparse requires a command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m spreadlab", description="spreadlab's command line.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the Spread server for terminal clients (nc, telnet)",
        description="Run the Spread Site server: what one client sends is spread to all the others. "
        "Students connect with `nc HOST PORT` or `telnet HOST PORT`.",
    )
    serve.add_argument(
        "endpoint", nargs="?",
        help="a Twisted server endpoint string, such as tcp:8007:interface=127.0.0.1 "
        "(instead of --port and --host; note that tcp:8007 alone listens on all interfaces)",
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help="TCP port (default %(default)s; 0: any free port)")
    serve.add_argument(
        "--host", default="127.0.0.1",
        help="address to listen on (default %(default)s, this machine only; "
        "0.0.0.0 lets anyone on the network connect)",
    )
    serve.add_argument("--max-clients", type=int, default=100, metavar="N",
                       help="refuse connections beyond N clients (default %(default)s)")
    serve.add_argument("--max-line", type=int, default=4096, metavar="BYTES",
                       help="longest line relayed; longer ones get an error back (default %(default)s)")
    serve.add_argument("--max-backlog", type=int, default=1 << 20, metavar="BYTES",
                       help="bytes waiting for a client that does not read before it is dropped "
                       "(default %(default)s)")
    serve.add_argument("--rate", type=float, default=10.0, metavar="LINES_PER_SEC",
                       help="lines per second a client may send before it is slowed down "
                       "(default %(default)s; 0: no limit)")
    serve.add_argument("--burst", type=int, default=None, metavar="LINES",
                       help="lines a client may send at once before the rate applies (default: twice the rate)")
    serve.add_argument("--verbose", action="store_true", help="also log Twisted's own informational messages")
    return parser


def serve(args: argparse.Namespace) -> int:
    """Listen, log, run the reactor until Ctrl-C.  Main thread."""
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ServerEndpoint, TCP6ServerEndpoint, serverFromString
    from twisted.internet.error import CannotListenError

    _console_streams()
    factory = ClassroomFactory(
        max_clients=args.max_clients or None,
        max_line=args.max_line,
        max_backlog=args.max_backlog,
        rate=args.rate or None,
        burst=args.burst,
    )
    if args.endpoint:
        try:
            endpoint = serverFromString(reactor, args.endpoint)
        except (ValueError, TypeError, KeyError) as error:
            print(f"error: not a server endpoint string: {args.endpoint!r} ({error}); "
                  "for example tcp:8007:interface=127.0.0.1", file=sys.stderr)
            return 2
    elif ":" in args.host:
        endpoint = TCP6ServerEndpoint(reactor, args.port, backlog=511, interface=args.host)
    else:
        endpoint = TCP4ServerEndpoint(reactor, args.port, backlog=511, interface=args.host)
    globalLogBeginner.beginLoggingTo([_console_observer(sys.stdout, args.verbose)], redirectStandardIO=False)

    status = {"code": 0}

    def listening(port) -> None:
        _banner(port.getHost(), args)
        reactor.addSystemEventTrigger("before", "shutdown", _goodbye, reactor, factory)

    def failed(failure) -> None:
        status["code"] = 1
        if failure.check(CannotListenError):
            error = failure.value
            where = f"{error.interface or 'all interfaces'} port {error.port}"
            print(f"error: cannot listen on {where}: {error.socketError}.", file=sys.stderr)
            if getattr(error.socketError, "errno", None) == errno.EADDRINUSE:
                print("Another program (another spreadlab serve?) holds that port: stop it, "
                      "or choose another port with --port.", file=sys.stderr)
        else:
            print(f"error: {failure.getErrorMessage()}", file=sys.stderr)
        reactor.callWhenRunning(reactor.stop)

    endpoint.listen(factory).addCallbacks(listening, failed)
    reactor.run()
    if status["code"] == 0:
        print("stopped.", flush=True)
    return status["code"]


def _console_streams() -> None:
    """Line-buffered output that never fails on a character the console
    cannot show (client names and messages are UTF-8 text)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True, errors="backslashreplace")
        except (AttributeError, ValueError):
            pass


def _console_observer(stream, verbose: bool):
    """One line per event: the time, then the message (and a traceback for
    a failure).  spreadlab's own events, and warnings and errors from
    anywhere; Twisted's informational chatter only when *verbose*."""

    def line(event: dict) -> str:
        text = formatEvent(event)
        failure = event.get("log_failure")
        if failure is not None:
            text += "\n" + failure.getTraceback()
        stamp = time.strftime("%H:%M:%S", time.localtime(event.get("log_time", time.time())))
        return f"{stamp}  {text}\n"

    def wanted(event: dict) -> PredicateResult:
        if verbose or event.get("log_namespace") == "spreadlab":
            return PredicateResult.yes
        level = event.get("log_level")
        if level in (LogLevel.warn, LogLevel.error, LogLevel.critical):
            return PredicateResult.yes
        return PredicateResult.no

    return FilteringLogObserver(FileLogObserver(stream, line), [wanted])


def _banner(address, args: argparse.Namespace) -> None:
    host, port = address.host, address.port
    everyone = host in ("0.0.0.0", "::", "")
    shown = f"[{host}]" if ":" in host else host
    print(f"Spread Site server listening on {shown}:{port}"
          + (" (all network interfaces)" if everyone else " (this machine only)" if _loopback(host) else ""))
    target = _lan_address() if everyone else host
    print(f"Connect with:  nc {target} {port}    or:  telnet {target} {port}")
    limits = [f"{args.max_clients} clients" if args.max_clients else "no client limit",
              f"lines up to {args.max_line} bytes",
              f"{args.rate:g} lines/s per client" if args.rate else "no rate limit"]
    print("Limits: " + ", ".join(limits) + ".  Ctrl-C stops the server.", flush=True)
    if everyone:
        print(
            f"WARNING: listening on all network interfaces: anyone who can reach this machine "
            f"on port {port} can connect, read what is said and send text to everyone connected.  "
            "Use the default --host 127.0.0.1 unless the class needs to connect over the network.",
            file=sys.stderr, flush=True,
        )


def _loopback(host: str) -> bool:
    return host.startswith("127.") or host == "::1"


def _lan_address() -> str:
    """This machine's address on its network, if it can be found (a UDP
    socket's connect sends nothing); a placeholder otherwise."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: never contacted
            return probe.getsockname()[0]
    except OSError:
        return "<this machine's address>"


class ClassroomFactory(SpreadFactory):
    """A `SpreadFactory` that can say when its last client has gone."""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._waiting: list = []

    def clientLeft(self, client, reason) -> None:
        super().clientLeft(client, reason)
        if not self.clients:
            waiting, self._waiting = self._waiting, []
            for d in waiting:
                d.callback(None)

    def whenEmpty(self):
        """A Deferred that fires once no client is connected.  Reactor thread."""
        from twisted.internet.defer import Deferred, succeed

        if not self.clients:
            return succeed(None)
        d = Deferred()
        self._waiting.append(d)
        return d


def _goodbye(reactor, factory: ClassroomFactory):
    """On Ctrl-C: tell every client, close each connection, and give them up
    to a second to go before the reactor stops (it then drops the rest)."""
    print(f"stopping: closing {len(factory.clients)} connection(s)", flush=True)
    for client in list(factory.clients):
        client.transport.write("服务器关闭 · server stopping, goodbye\r\n".encode("utf-8"))
        client.transport.loseConnection()
    return factory.whenEmpty().addTimeout(1.0, reactor).addErrback(lambda failure: None)


if __name__ == "__main__":
    sys.exit(main())
