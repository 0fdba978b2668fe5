"""Every checker, tried with answers written the way learners write them.

For each exercise: right answers written differently from the solution must
pass (other line ends, a line answered whole or as it arrives, other data
structures); wrong answers that embody a real misconception must fail, at the
check about it, with a hint that names the misconception (asserted on the
text the learner reads).  The run prints how many of each were tried.
"""

from __future__ import annotations

import pytest
from conftest import report_count
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.basic import LineOnlyReceiver, LineReceiver
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure

from spreadlab import MemoryRoom, SpreadFactory, Spreader, WELCOME
from spreadlab.teaching.exercises import (
    check_counting_factory,
    check_goodbye,
    check_idle_timeout,
    check_line_counter,
    check_nick_command,
    check_peer_report,
    check_refusing_factory,
    check_shouting_echo,
    check_spread_factory,
    check_who_command,
    check_your_tests,
)
from spreadlab.teaching.solutions import factory as solved_factory
from spreadlab.teaching.solutions import spread as solved
from spreadlab.teaching.solutions import testing as solved_tests

RIGHT: dict[str, list] = {}  # checker name -> [(label, answer)]
WRONG: dict[str, list] = {}  # checker name -> [(label, answer, check that fails, words of its hint)]
CHECKERS = {}


def right(checker, label):
    def add(answer):
        RIGHT.setdefault(checker.__name__, []).append((label, answer))
        CHECKERS[checker.__name__] = checker
        return answer
    return add


def wrong(checker, label, step, hint_words):
    def add(answer):
        WRONG.setdefault(checker.__name__, []).append((label, answer, step, hint_words))
        CHECKERS[checker.__name__] = checker
        return answer
    return add


UPPER = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


# --- 02: the shouting echo ------------------------------------------------------------

@right(check_shouting_echo, "a translation table, chunk by chunk")
class TranslateEcho(Protocol):
    def dataReceived(self, data):
        self.transport.write(data.translate(UPPER))


@right(check_shouting_echo, "LineReceiver, a whole line at a time")
class LineEcho(LineReceiver):
    delimiter = b"\n"

    def lineReceived(self, line):
        self.sendLine(line.upper())


@right(check_shouting_echo, "its own buffer, whole lines decoded, answered with \\r\\n")
class BufferedEcho(Protocol):
    def connectionMade(self):
        self.buffer = b""

    def dataReceived(self, data):
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            self.transport.write(line.decode("utf-8").upper().encode("utf-8") + b"\r\n")


@right(check_shouting_echo, "writeSequence of the upper-cased chunk")
class SequenceEcho(Protocol):
    def dataReceived(self, data):
        self.transport.writeSequence([bytes(data).upper()])


@wrong(check_shouting_echo, "writes str", "hello comes back as HELLO", "transport.write takes bytes")
class WritesStrEcho(Protocol):
    def dataReceived(self, data):
        self.transport.write(data.decode().upper())


@wrong(check_shouting_echo, "decodes each chunk", "Chinese text cut inside a character comes back whole",
       "a chunk may end inside a UTF-8 character")
class DecodesChunksEcho(Protocol):
    def dataReceived(self, data):
        self.transport.write(data.decode("utf-8").upper().encode("utf-8"))


@wrong(check_shouting_echo, "decodes each chunk, errors replaced",
       "Chinese text cut inside a character comes back whole",
       "decoding a chunk on its own breaks it")
class ReplacesEcho(Protocol):
    def dataReceived(self, data):
        self.transport.write(data.decode("utf-8", "replace").upper().encode("utf-8"))


@wrong(check_shouting_echo, "one chunk is one message",
       "a line sent one byte at a time comes back whole, in upper case",
       "never assume one call is one line")
class OneChunkEcho(Protocol):
    def dataReceived(self, data):
        if data.endswith(b"\n"):
            self.transport.write(data.upper())


@wrong(check_shouting_echo, "answers only the first line of a chunk",
       "a line sent one byte at a time comes back whole, in upper case", "never assume one call is one line")
class FirstLineEcho(Protocol):
    def dataReceived(self, data):
        self.transport.write(data.split(b"\n")[0].upper() + b"\n")


@wrong(check_shouting_echo, "a buffer on the class, shared by every connection",
       "two clients at once: each hears its own line, even when their pieces interleave", "not on the class")
class SharedBufferEcho(Protocol):
    pieces = []

    def dataReceived(self, data):
        self.pieces.append(data)
        if data.endswith(b"\n"):
            self.transport.write(b"".join(self.pieces).upper())
            self.pieces.clear()


_EVERYONE = []


@wrong(check_shouting_echo, "writes to every connection", "two clients at once: each hears its own line, even when "
       "their pieces interleave", "answer through self.transport only")
class BroadcastEcho(Protocol):
    def connectionMade(self):
        _EVERYONE.append(self)

    def dataReceived(self, data):
        for other in _EVERYONE:
            other.transport.write(data.upper())


@wrong(check_shouting_echo, "adds a line end of its own", "hello comes back as HELLO", "and nothing more")
class ExtraLineEndEcho(Protocol):
    def dataReceived(self, data):
        self.transport.write(data.upper() + b"\n")


@wrong(check_shouting_echo, "str() of the bytes", "hello comes back as HELLO", "str() of bytes is how Python prints")
class ShoutingEchoStrOfBytes(Protocol):
    def dataReceived(self, data):
        self.transport.write(str(data).upper().encode("utf-8"))


@wrong(check_shouting_echo, "title case", "hello comes back as HELLO", "every letter")
class TitleEcho(Protocol):
    def dataReceived(self, data):
        self.transport.write(data.title())


@wrong(check_shouting_echo, "LineReceiver's default delimiter", "hello comes back as HELLO", "delimiter = b'\\n'")
class DefaultDelimiterEcho(LineReceiver):
    def lineReceived(self, line):
        self.sendLine(line.upper())


# --- 02: the line counter ---------------------------------------------------------------

@right(check_line_counter, "LineReceiver and sendLine")
class LineReceiverCounter(LineReceiver):
    delimiter = b"\n"

    def connectionMade(self):
        self.n = 0

    def lineReceived(self, line):
        self.n += 1
        self.sendLine(b"%d" % self.n)


@right(check_line_counter, "byte by byte, answering with \\r\\n")
class ByteCounter(Protocol):
    count = 0  # a default on the class; += makes it the instance's own

    def dataReceived(self, data):
        for byte in data:
            if byte == ord("\n"):
                self.count += 1
                self.transport.write(str(self.count).encode() + b"\r\n")


@right(check_line_counter, "its own buffer, split on b'\\n'")
class BufferCounter(Protocol):
    def connectionMade(self):
        self.buffer, self.seen = b"", 0

    def dataReceived(self, data):
        self.buffer += data
        while b"\n" in self.buffer:
            _line, self.buffer = self.buffer.split(b"\n", 1)
            self.seen += 1
            self.transport.write(f"{self.seen}\n".encode("ascii"))


@wrong(check_line_counter, "counts telnet's b'\\r\\n' only", "one line sent whole is answered 1",
       "nc ends a line with b'\\n' alone")
class CountsCrLf(Protocol):
    def connectionMade(self):
        self.lines = 0

    def dataReceived(self, data):
        for _ in range(data.count(b"\r\n")):
            self.lines += 1
            self.transport.write(b"%d\n" % self.lines)


@wrong(check_line_counter, "LineReceiver's default delimiter", "one line sent whole is answered 1",
       "set delimiter = b'\\n'")
class CountsWithDefaultDelimiter(LineReceiver):
    lines = 0

    def lineReceived(self, line):
        self.lines += 1
        self.sendLine(b"%d" % self.lines)


@wrong(check_line_counter, "answers without a line end", "one line sent whole is answered 1",
       "End each answer with a line end")
class CountsWithoutLineEnd(Protocol):
    def connectionMade(self):
        self.lines = 0

    def dataReceived(self, data):
        for _ in range(data.count(b"\n")):
            self.lines += 1
            self.transport.write(str(self.lines).encode("ascii"))


@wrong(check_line_counter, "counts calls", "three lines in one chunk are answered 1, 2, 3", "not each call")
class CallCounter(Protocol):
    n = 0

    def dataReceived(self, data):
        self.n += 1
        self.transport.write(b"%d\n" % self.n)


@wrong(check_line_counter, "one answer per chunk, with the total", "three lines in one chunk are answered 1, 2, 3",
       "answer each line in it")
class TotalPerChunkCounter(Protocol):
    n = 0

    def dataReceived(self, data):
        if b"\n" in data:
            self.n += data.count(b"\n")
            self.transport.write(b"%d\n" % self.n)


@wrong(check_line_counter, "looks for '\\n' (str) in bytes", "one line sent whole is answered 1",
       "bytes methods take bytes arguments")
class StrCounter(Protocol):
    n = 0

    def dataReceived(self, data):
        for _ in range(data.count("\n")):
            self.n += 1
            self.transport.write(b"%d\n" % self.n)


@wrong(check_line_counter, "writes the number itself", "one line sent whole is answered 1",
       "transport.write takes bytes")
class IntCounter(Protocol):
    n = 0

    def dataReceived(self, data):
        for _ in range(data.count(b"\n")):
            self.n += 1
            self.transport.write(self.n)


_TOTAL = {"lines": 0}


@wrong(check_line_counter, "a count in a global", "three lines in one chunk are answered 1, 2, 3",
       "not on the class or in a global")
class GlobalCounter(Protocol):
    def dataReceived(self, data):
        for _ in range(data.count(b"\n")):
            _TOTAL["lines"] += 1
            self.transport.write(b"%d\n" % _TOTAL["lines"])


@wrong(check_line_counter, "a count on the class", "each connection counts its own lines", "not on the class")
class ClassCounter(Protocol):
    n = 0

    def connectionMade(self):
        type(self).n = 0

    def dataReceived(self, data):
        for _ in range(data.count(b"\n")):
            type(self).n += 1
            self.transport.write(b"%d\n" % type(self).n)


@wrong(check_line_counter, "decodes each chunk to count", "a Chinese line cut inside a character is counted",
       "a chunk may end inside a UTF-8 character")
class DecodingCounter(Protocol):
    n = 0

    def dataReceived(self, data):
        for _ in range(data.decode("utf-8").count("\n")):
            self.n += 1
            self.transport.write(b"%d\n" % self.n)


@wrong(check_line_counter, "counts with splitlines()", "a line cut into pieces is counted once, when its end arrives",
       "A piece of a line is not a line")
class SplitlinesCounter(Protocol):
    n = 0

    def dataReceived(self, data):
        for _ in data.splitlines():
            self.n += 1
            self.transport.write(b"%d\n" % self.n)


# --- 03: the counting factory ------------------------------------------------------------

class _Counted(Protocol):
    def connectionMade(self):
        self.factory.numProtocols += 1
        self.factory.clients.append(self)
        self.transport.write(WELCOME.format(n=self.factory.numProtocols).encode("utf-8") + b"\n")

    def connectionLost(self, reason):
        self.factory.numProtocols -= 1
        self.factory.clients.remove(self)


def _counting(protocol, clients=list, **attrs):
    def __init__(self):
        self.numProtocols = 0
        self.clients = clients()
    return type("CountingFactory", (Factory,), {"protocol": protocol, "__init__": __init__, **attrs})


class _CountedCRLF(_Counted):
    def connectionMade(self):
        self.factory.numProtocols = self.factory.numProtocols + 1
        self.factory.clients.append(self)
        self.transport.write(WELCOME.format(n=self.factory.numProtocols).encode("utf-8") + b"\r\n")


right(check_counting_factory, "a list, welcome ended by \\r\\n")(_counting(_CountedCRLF))


class _ByPeer(Protocol):
    def connectionMade(self):
        self.factory.clients[self] = self.transport.getPeer()
        self.factory.numProtocols = len(self.factory.clients)
        self.transport.write(("%s\n" % WELCOME.format(n=self.factory.numProtocols)).encode("utf-8"))

    def connectionLost(self, reason):
        del self.factory.clients[self]
        self.factory.numProtocols = len(self.factory.clients)


right(check_counting_factory, "a dict keyed by protocol")(_counting(_ByPeer, dict))


class _FromLength(Protocol):
    def connectionMade(self):
        self.factory.clients.add(self)
        self.transport.write(WELCOME.format(n=self.factory.numProtocols).encode() + b"\n")

    def connectionLost(self, reason):
        self.factory.clients.discard(self)


@right(check_counting_factory, "numProtocols as a property, len(clients)")
class LengthFactory(Factory):
    protocol = _FromLength

    def __init__(self):
        self.clients = set()

    @property
    def numProtocols(self):
        return len(self.clients)


_SHARED = []


class _GlobalCounted(_Counted):
    def connectionMade(self):
        self.factory.numProtocols += 1
        _SHARED.append(self)
        self.transport.write(WELCOME.format(n=self.factory.numProtocols).encode("utf-8") + b"\n")

    def connectionLost(self, reason):
        self.factory.numProtocols -= 1
        _SHARED.remove(self)


@wrong(check_counting_factory, "the seed's global list", "two servers keep separate counts and clients",
       "not in a global")
class GlobalListFactory(Factory):
    protocol = _GlobalCounted
    clients = _SHARED

    def __init__(self):
        self.numProtocols = 0


@wrong(check_counting_factory, "clients = [] on the class", "two servers keep separate counts and clients",
       "class attribute such as clients = []")
class ClassListFactory(Factory):
    protocol = _Counted
    clients = []

    def __init__(self):
        self.numProtocols = 0


class _NeverLeaves(_Counted):
    def connectionLost(self, reason):
        pass


wrong(check_counting_factory, "never counts down", "numProtocols and clients follow connections as they come and go",
      "connectionLost is called however a connection ends")(_counting(_NeverLeaves))

class _CleanCloseOnly(_Counted):
    def connectionLost(self, reason):
        if reason.check(ConnectionDone):  # a reset is not counted down
            super().connectionLost(reason)


wrong(check_counting_factory, "counts down on a clean close only",
      "numProtocols and clients follow connections as they come and go", "closed or reset")(_counting(_CleanCloseOnly))


class _WelcomeFirst(_Counted):
    def connectionMade(self):
        self.transport.write(WELCOME.format(n=self.factory.numProtocols).encode("utf-8") + b"\n")
        self.factory.numProtocols += 1
        self.factory.clients.append(self)


wrong(check_counting_factory, "welcomes before counting",
      "each client is welcomed with its number, in the blog's words, in UTF-8", "The newcomer counts too")(
    _counting(_WelcomeFirst))


class _EverConnected(_Counted):
    def connectionMade(self):
        self.factory.numProtocols += 1
        self.factory.ever += 1
        self.factory.clients.append(self)
        self.transport.write(WELCOME.format(n=self.factory.ever).encode("utf-8") + b"\n")


wrong(check_counting_factory, "welcomes with a number that only goes up",
      "a newcomer is welcomed with the number of clients connected now", "not a number that only goes up")(
    _counting(_EverConnected, ever=0))

class _WelcomesInStr(_Counted):
    def connectionMade(self):
        self.factory.numProtocols += 1
        self.factory.clients.append(self)
        self.transport.write(WELCOME.format(n=self.factory.numProtocols) + "\n")


wrong(check_counting_factory, "writes the welcome as str",
      "each client is welcomed with its number, in the blog's words, in UTF-8", "transport.write takes bytes")(
    _counting(_WelcomesInStr))


# --- 03: the refusing factory --------------------------------------------------------------

CountingFactory = solved_factory.CountingFactory


@right(check_refusing_factory, "len(self.clients) >= 3")
class ByLength(CountingFactory):
    def buildProtocol(self, addr):
        if len(self.clients) >= 3:
            return None
        return super().buildProtocol(addr)


class _UnfinishedCounting(Factory):
    """Exercise 1's starting point, unchanged: nothing counts."""

    protocol = type("Counted", (Protocol,), {})

    def __init__(self):
        self.numProtocols = 0
        self.clients = set()


@wrong(check_refusing_factory, "right, on an exercise 1 that does not count yet",
       "a fourth client is closed at once while three are connected", "check_counting_factory(CountingFactory)")
class AtMostThreeOnAnUnfinishedCount(_UnfinishedCounting):
    def buildProtocol(self, addr):
        if self.numProtocols >= 3:
            return None
        return super().buildProtocol(addr)


@right(check_refusing_factory, "returns only while there is room (None by default)")
class WhileRoom(CountingFactory):
    limit = 3

    def buildProtocol(self, addr):
        if self.numProtocols < self.limit:
            return super().buildProtocol(addr)


class _SaysFull(solved_factory.Counted):
    def connectionMade(self):
        super().connectionMade()
        if self.factory.numProtocols > 3:
            self.transport.write(b"full, try later\n")
            self.transport.loseConnection()


@right(check_refusing_factory, "lets in, says 'full' and closes in connectionMade")
class SaysFull(CountingFactory):
    protocol = _SaysFull


@wrong(check_refusing_factory, "unchanged starting point",
       "a fourth client is closed at once while three are connected",
       "To begin")
class StarterAtMostThree(CountingFactory):
    def buildProtocol(self, addr):
        return super().buildProtocol(addr)


@wrong(check_refusing_factory, "lets four in (> 3)", "a fourth client is closed at once while three are connected",
       ">= 3, not > 3")
class OffByOne(CountingFactory):
    def buildProtocol(self, addr):
        if self.numProtocols > 3:
            return None
        return super().buildProtocol(addr)


class _Leaves(Protocol):
    def connectionLost(self, reason):
        self.factory.connected -= 1


@wrong(check_refusing_factory, "counts in buildProtocol", "a connection closed at once takes no place",
       "not every call to buildProtocol")
class CountsInBuild(Factory):
    protocol = _Leaves

    def __init__(self):
        self.connected = 0

    def buildProtocol(self, addr):
        self.connected += 1
        if self.connected > 3:
            return None
        return super().buildProtocol(addr)


class _Arrives(Protocol):
    def connectionMade(self):
        self.factory.connected += 1


@wrong(check_refusing_factory, "never counts down", "when one leaves, closed or reset, a new client gets in",
       "Count down when a connection ends")
class NeverCountsDown(Factory):
    protocol = _Arrives

    def __init__(self):
        self.connected = 0

    def buildProtocol(self, addr):
        return None if self.connected >= 3 else super().buildProtocol(addr)


class _ClassCount(Protocol):
    def connectionMade(self):
        type(self.factory).connected += 1

    def connectionLost(self, reason):
        type(self.factory).connected -= 1


@wrong(check_refusing_factory, "the count on the class", "two servers each let three in", "class attribute")
class ClassCountFactory(Factory):
    protocol = _ClassCount
    connected = 0

    def buildProtocol(self, addr):
        return None if self.connected >= 3 else super().buildProtocol(addr)


@wrong(check_refusing_factory, "builds but does not return", "a fourth client is closed at once while three are "
       "connected", "buildProtocol must return a protocol")
class ForgetsReturn(CountingFactory):
    def buildProtocol(self, addr):
        if self.numProtocols < 3:
            super().buildProtocol(addr)


# --- 04: goodbye -------------------------------------------------------------------------------

@right(check_goodbye, "writes goodbye\\r\\n itself, strip()")
class GoodbyeCRLF(LineReceiver):
    delimiter = b"\n"

    def lineReceived(self, line):
        if line.strip() == b"bye":
            self.transport.write(b"goodbye\r\n")
            self.transport.loseConnection()
            return
        self.sendLine(line)


@right(check_goodbye, "its own buffer, stops once disconnecting")
class GoodbyeBuffered(Protocol):
    def connectionMade(self):
        self.buffer = b""

    def dataReceived(self, data):
        self.buffer += data
        while b"\n" in self.buffer and not self.transport.disconnecting:
            line, self.buffer = self.buffer.split(b"\n", 1)
            if line.rstrip(b"\r") == b"bye":
                self.transport.write(b"goodbye\n")
                self.transport.loseConnection()
            else:
                self.transport.write(line + b"\n")


@right(check_goodbye, "LineOnlyReceiver, decoded and lower-cased")
class GoodbyeDecoded(LineOnlyReceiver):
    delimiter = b"\n"

    def lineReceived(self, line):
        if line.decode("utf-8", "replace").strip().lower() == "bye":
            self.sendLine(b"goodbye")
            self.transport.loseConnection()
        else:
            self.sendLine(line.rstrip(b"\r"))


class _GoodbyeBase(LineReceiver):
    delimiter = b"\n"


def _goodbye(body):
    return type("Goodbye", (_GoodbyeBase,), {"lineReceived": body})


def _starter(self, line):
    self.sendLine(line)


def _aborts(self, line):
    if line.rstrip(b"\r") == b"bye":
        self.sendLine(b"goodbye")
        self.transport.abortConnection()
        return
    self.sendLine(line)


def _no_return(self, line):
    if line.rstrip(b"\r") == b"bye":
        self.sendLine(b"goodbye")
        self.transport.loseConnection()
    self.sendLine(line)


def _no_strip(self, line):
    if line == b"bye":
        self.sendLine(b"goodbye")
        self.transport.loseConnection()
        return
    self.sendLine(line)


def _str_bye(self, line):
    if line.strip() == "bye":
        self.sendLine(b"goodbye")
        self.transport.loseConnection()
        return
    self.sendLine(line)


def _sends_str(self, line):
    if line.rstrip(b"\r") == b"bye":
        self.sendLine("goodbye")
        self.transport.loseConnection()
        return
    self.sendLine(line)


def _never_closes(self, line):
    self.sendLine(b"goodbye" if line.strip() == b"bye" else line)


def _calls_connection_lost(self, line):
    if line.rstrip(b"\r") == b"bye":
        self.sendLine(b"goodbye")
        self.connectionLost(ConnectionDone())  # a learner's guess at how to close: Twisted's callback
        return
    self.sendLine(line)


def _calls_connection_lost_with_a_failure(self, line):
    if line.rstrip(b"\r") == b"bye":
        self.sendLine(b"goodbye")
        self.connectionLost(Failure(ConnectionDone()))
        return
    self.sendLine(line)


for _label, _body, _step, _words in (
    ("unchanged starting point", _starter, "bye is answered with goodbye, then the connection closes", "To begin"),
    ("abortConnection", _aborts, "bye is answered with goodbye, then the connection closes",
     "abortConnection resets the connection at once"),
    ("no return after loseConnection", _no_return, "bye is answered with goodbye, then the connection closes",
     "loseConnection does not end your method"),
    ("telnet's \\r left on the line", _no_strip, "lines from telnet (ending in \\r\\n) are understood, bye too",
     "Strip it before comparing"),
    ("compares bytes with str", _str_bye, "bye is answered with goodbye, then the connection closes",
     "b'bye' != 'bye'"),
    ("answers goodbye but never closes", _never_closes, "bye is answered with goodbye, then the connection closes",
     "close the connection"),
    ("sendLine given str", _sends_str, "bye is answered with goodbye, then the connection closes",
     "sendLine, like transport.write, takes bytes"),
    ("calls connectionLost to close", _calls_connection_lost,
     "bye is answered with goodbye, then the connection closes", "connectionLost is Twisted's to call"),
    ("calls connectionLost with a Failure to close", _calls_connection_lost_with_a_failure,
     "bye is answered with goodbye, then the connection closes", "connectionLost is Twisted's to call"),
):
    wrong(check_goodbye, _label, _step, _words)(_goodbye(_body))


@wrong(check_goodbye, "bye found anywhere in the line", "other lines are echoed, and the connection stays open",
       "compare the whole line (==)")
class GoodbyeContains(LineReceiver):
    delimiter = b"\n"

    def lineReceived(self, line):
        if b"bye" in line:
            self.sendLine(b"goodbye")
            self.transport.loseConnection()
            return
        self.sendLine(line)


@wrong(check_goodbye, "LineReceiver's default delimiter", "bye is answered with goodbye, then the connection closes",
       "nc ends its lines with b'\\n' alone")
class GoodbyeDefaultDelimiter(LineReceiver):
    def lineReceived(self, line):
        _no_strip(self, line)


@wrong(check_goodbye, "one chunk is one line", "bye cut into pieces is still understood", "A chunk is not a line")
class GoodbyeChunks(Protocol):
    def dataReceived(self, data):
        if data.strip() == b"bye":
            self.transport.write(b"goodbye\n")
            self.transport.loseConnection()
            return
        self.transport.write(data)


@wrong(check_goodbye, "echoes each chunk as it arrives", "bye is answered with goodbye, then the connection closes",
       "decide on a whole line before echoing it")
class GoodbyeEchoesAtOnce(Protocol):
    def connectionMade(self):
        self.buffer = b""

    def dataReceived(self, data):
        self.transport.write(data)
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            if line.strip() == b"bye":
                self.transport.write(b"goodbye\n")
                self.transport.loseConnection()


@wrong(check_goodbye, "its own buffer, goes on after bye", "lines after bye in the same chunk are not answered",
       "loseConnection does not stop your code")
class GoodbyeGoesOn(Protocol):
    buffer = b""

    def dataReceived(self, data):
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            if line.strip() == b"bye":
                self.transport.write(b"goodbye\n")
                self.transport.loseConnection()
            else:
                self.transport.write(line + b"\n")


@wrong(check_goodbye, "one buffer on the class for every connection", "two clients at once: each one's pieces make "
       "its own lines", "not on the class or in a global")
class GoodbyeSharedBuffer(LineReceiver):
    delimiter = b"\n"
    waiting = []  # what arrived without its line end yet: on the class, shared

    def dataReceived(self, data):
        *lines, rest = (b"".join(self.waiting) + data).split(b"\n")
        self.waiting[:] = [rest]
        for line in lines:
            if self.transport.disconnecting:
                return
            self.lineReceived(line.rstrip(b"\r"))

    def lineReceived(self, line):
        if line == b"bye":
            self.sendLine(b"goodbye")
            self.transport.loseConnection()
        else:
            self.sendLine(line)


# --- 04: who am I --------------------------------------------------------------------------

@right(check_peer_report, "%-formatting")
class PercentWhoAmI(Protocol):
    def connectionMade(self):
        peer = self.transport.getPeer()
        self.transport.write(b"you are %s:%d\n" % (peer.host.encode(), peer.port))


@right(check_peer_report, "bytes joined, answered with \\r\\n")
class JoinedWhoAmI(Protocol):
    def connectionMade(self):
        peer = self.transport.getPeer()
        self.transport.write(b"you are " + peer.host.encode("ascii") + b":" + str(peer.port).encode() + b"\r\n")


@right(check_peer_report, "LineReceiver.sendLine with str.format")
class FormatWhoAmI(LineReceiver):
    delimiter = b"\n"

    def connectionMade(self):
        self.sendLine("you are {0.host}:{0.port}".format(self.transport.getPeer()).encode())


@wrong(check_peer_report, "getHost", "a client is told its own address as soon as it connects",
       "getPeer() is the other end")
class HostWhoAmI(Protocol):
    def connectionMade(self):
        here = self.transport.getHost()
        self.transport.write(f"you are {here.host}:{here.port}\n".encode())


@wrong(check_peer_report, "the address object printed", "a client is told its own address as soon as it connects",
       ".host and .port")
class ObjectWhoAmI(Protocol):
    def connectionMade(self):
        self.transport.write(f"you are {self.transport.getPeer()}\n".encode())


@wrong(check_peer_report, "waits for the client to speak", "a client is told its own address as soon as it connects",
       "connectionMade runs when the connection is ready")
class LateWhoAmI(Protocol):
    def dataReceived(self, data):
        peer = self.transport.getPeer()
        self.transport.write(f"you are {peer.host}:{peer.port}\n".encode())


@wrong(check_peer_report, "the address written out by hand", "each client is told its own address",
       "written out by hand")
class HandWrittenWhoAmI(Protocol):
    def connectionMade(self):
        self.transport.write(b"you are 127.0.0.1:50001\n")


@wrong(check_peer_report, "the first client's address kept on the class", "each client is told its own address",
       "kept from an earlier client")
class CachedWhoAmI(Protocol):
    text = None

    def connectionMade(self):
        if CachedWhoAmI.text is None:
            peer = self.transport.getPeer()
            CachedWhoAmI.text = f"you are {peer.host}:{peer.port}\n".encode()
        self.transport.write(CachedWhoAmI.text)


@wrong(check_peer_report, "writes str", "a client is told its own address as soon as it connects",
       "transport.write takes bytes")
class StrWhoAmI(Protocol):
    def connectionMade(self):
        peer = self.transport.getPeer()
        self.transport.write(f"you are {peer.host}:{peer.port}\n")


# --- 06: the Spread server ---------------------------------------------------------------------

def _spread_variant(**methods):
    protocol = type("Variant", (solved.MySpreader,), methods)
    return type("VariantFactory", (solved.MySpreadFactory,), {"protocol": protocol})


class _BufferSpreader(Protocol):
    def connectionMade(self):
        self.buffer = b""
        self.factory.numProtocols += 1
        self.factory.clients.add(self)
        self.transport.write(WELCOME.format(n=self.factory.numProtocols).encode("utf-8") + b"\n")

    def connectionLost(self, reason):
        self.factory.numProtocols -= 1
        self.factory.clients.discard(self)

    def dataReceived(self, data):
        self.buffer += data
        while b"\n" in self.buffer and not self.transport.disconnecting:
            line, self.buffer = self.buffer.split(b"\n", 1)
            line = line.strip()
            if line == b"close":
                self.transport.loseConnection()
                continue
            for client in self.factory.clients:
                if client.transport is not self.transport:
                    client.transport.write(line + b"\n")


@right(check_spread_factory, "its own buffer, a set, lines ended by \\n")
class BufferSpreadFactory(Factory):
    protocol = _BufferSpreader

    def __init__(self):
        self.numProtocols = 0
        self.clients = set()


class _StrSpreader(solved.MySpreader):
    def lineReceived(self, line):
        text = line.decode("utf-8").strip()
        if text == "close":
            self.transport.loseConnection()
        else:
            for client in self.factory.clients:
                if client != self:
                    client.sendLine(f"client {self.factory.clients.index(self) + 1} says {text}".encode("utf-8"))


right(check_spread_factory, "lines decoded to str, sent with sendLine")(
    type("StrSpreadFactory", (solved.MySpreadFactory,), {"protocol": _StrSpreader}))
right(check_spread_factory, "the library's SpreadFactory")(SpreadFactory)


class _PortSpreader(LineReceiver):
    delimiter = b"\n"

    def connectionMade(self):
        self.factory.clients[self] = b"port %d" % self.transport.getPeer().port
        self.factory.numProtocols = len(self.factory.clients)
        self.sendLine(WELCOME.format(n=self.factory.numProtocols).encode("utf-8"))

    def connectionLost(self, reason):
        self.factory.clients.pop(self, None)
        self.factory.numProtocols = len(self.factory.clients)

    def lineReceived(self, line):
        line = line.rstrip(b"\r")
        if line.strip().lower() == b"close":
            return self.transport.loseConnection()
        said = self.factory.clients[self] + b" says: " + line
        for other in self.factory.clients:
            if other is not self:
                other.sendLine(said)


@right(check_spread_factory, "clients in a dict, named by their port, sendLine")
class PortSpreadFactory(Factory):
    protocol = _PortSpreader

    def __init__(self):
        self.clients = {}
        self.numProtocols = 0


def _spread_to_all(self, line):
    line = line.rstrip(b"\r")
    if line == b"close":
        self.transport.loseConnection()
        return
    for client in self.factory.clients:
        client.transport.write(line + b"\r\n")


def _compare_with_str(self, line):
    line = line.rstrip(b"\r")
    if line == "close":
        self.transport.loseConnection()
        return
    for client in self.factory.clients:
        if client is not self:
            client.transport.write(line + b"\r\n")


def _close_no_return(self, line):
    line = line.rstrip(b"\r")
    if line == b"close":
        self.transport.loseConnection()
    for client in self.factory.clients:
        if client is not self:
            client.transport.write(line + b"\r\n")


def _keeps_the_cr(self, line):
    if line.strip() == b"close":
        self.transport.loseConnection()
        return
    for client in self.factory.clients:
        if client is not self:
            client.transport.write(line + b"\r\n")


def _welcome_str(self):
    self.factory.numProtocols += 1
    self.factory.clients.append(self)
    self.transport.write(WELCOME.format(n=self.factory.numProtocols) + "\r\n")


def _lost_nothing(self, reason):
    pass


def _close_counts_down(self, line):
    if line.rstrip(b"\r") == b"close":
        self.factory.numProtocols -= 1
        self.factory.clients.remove(self)
    solved.MySpreader.lineReceived(self, line)


for _label, _methods, _step, _words in (
    ("unchanged starting point", {"lineReceived": lambda self, line: None},
     "a line from one client reaches every other client, and not the sender", "To begin"),
    ("forgot to skip the sender", {"lineReceived": _spread_to_all},
     "a line from one client reaches every other client, and not the sender", "client is not self"),
    ("compares bytes with str", {"lineReceived": _compare_with_str},
     "close (from telnet: close\\r\\n) disconnects the sender", "bytes never equal a str"),
    ("no return after loseConnection", {"lineReceived": _close_no_return},
     "the word close is not spread to the others", "unless you return"),
    ("telnet's \\r spread", {"lineReceived": _keeps_the_cr},
     "a line from one client reaches every other client, and not the sender", "jump back to the start of the line"),
    ("writes the welcome as str", {"connectionMade": _welcome_str},
     "a line from one client reaches every other client, and not the sender", "transport.write takes bytes"),
    ("counts down only on close", {"connectionLost": _lost_nothing, "lineReceived": _close_counts_down},
     "numProtocols counts down when a client closes its connection (Ctrl-C in nc)",
     "every connection ends in connectionLost"),
    ("telnet's line end only", {"delimiter": b"\r\n"},
     "a line ended by \\n alone (as nc sends it) is spread", "nc with \\n only"),
):
    wrong(check_spread_factory, _label, _step, _words)(_spread_variant(**_methods))


def _close_before_stripping(self, line):
    if line == b"close":
        self.transport.loseConnection()
        return
    for client in self.factory.clients:
        if client is not self:
            client.transport.write(line + b"\n")


def _welcome_with_send_line(self):
    self.factory.numProtocols += 1
    self.factory.clients.append(self)
    self.sendLine(WELCOME.format(n=self.factory.numProtocols))


wrong(check_spread_factory, "close compared before stripping telnet's \\r",
      "close (from telnet: close\\r\\n) disconnects the sender", "the line is b'close\\r': strip the \\r")(
    _spread_variant(lineReceived=_close_before_stripping))
wrong(check_spread_factory, "the welcome as str, through sendLine",
      "a line from one client reaches every other client, and not the sender", "encode text before you send it")(
    _spread_variant(connectionMade=_welcome_with_send_line))


@pytest.mark.parametrize("answer, mistake", [(_compare_with_str, "bytes never equal a str"),
                                             (_close_before_stripping, "strip the \\r")])
def test_a_close_that_never_matches_is_named_in_every_close_check(answer, mistake):
    """When close is never recognised, the later close checks (cut in two, not
    spread, counted down) fail too: their hints send the learner back to that
    mistake, not to chunks or to a missing return."""
    report = check_spread_factory(_spread_variant(lineReceived=answer))
    close_checks = [r for r in report.failed if "close" in r.what]
    assert len(close_checks) >= 3, report
    for result in close_checks:
        assert mistake in result.hint or "close checks above" in result.hint, f"{result.what}: {result.hint}"
        assert "unless you return" not in result.hint and "a chunk is not" not in result.hint, result.hint


class _CountedByLength(LineReceiver):
    delimiter = b"\n"

    def connectionMade(self):
        self.factory.clients.append(self)
        self.sendLine(WELCOME.format(n=len(self.factory.clients)).encode("utf-8"))

    def connectionLost(self, reason):
        self.factory.clients.remove(self)

    def lineReceived(self, line):
        solved.MySpreader.lineReceived(self, line)


@wrong(check_spread_factory, "the welcome's number from len(clients), no numProtocols",
       "numProtocols counts down when a client sends close", "keep it on the factory (self.numProtocols = 0")
class LengthFactory(Factory):
    protocol = _CountedByLength

    def __init__(self):
        self.clients = []


class _TellsWhoLeft(solved.MySpreader):
    def connectionLost(self, reason):
        solved.MySpreader.connectionLost(self, reason)
        for client in self.factory.clients:
            client.transport.write(b"* a client closed its connection\r\n")


right(check_spread_factory, "tells the others when a client has closed its connection")(
    type("TellsWhoLeftFactory", (solved.MySpreadFactory,), {"protocol": _TellsWhoLeft}))


@wrong(check_spread_factory, "a buildProtocol of its own that forgets the factory",
       "a line from one client reaches every other client, and not the sender", "self.factory is None")
class ForgetfulFactory(solved.MySpreadFactory):
    def buildProtocol(self, addr):
        return solved.MySpreader()


class _EmptySpreader(LineReceiver):
    delimiter = b"\n"


wrong(check_spread_factory, "empty classes (lesson 06's starting point, as it is being rewritten)",
      "a line from one client reaches every other client, and not the sender", "To begin: write lineReceived")(
    type("MySpreadFactory", (Factory,), {"protocol": _EmptySpreader}))


class _NoClientsYet(LineReceiver):
    delimiter = b"\n"

    def lineReceived(self, line):
        for client in self.factory.clients:
            if client is not self:
                client.sendLine(line.rstrip(b"\r"))


wrong(check_spread_factory, "spreads, but no factory state yet",
      "a line from one client reaches every other client, and not the sender", "create numProtocols and clients")(
    type("MySpreadFactory", (Factory,), {"protocol": _NoClientsYet}))


class _ChunkSpreader(solved.MySpreader):
    def dataReceived(self, data):
        if data.strip() == b"close":
            self.transport.loseConnection()
            return
        for client in self.factory.clients:
            if client is not self:
                client.transport.write(data)


wrong(check_spread_factory, "one chunk is one message", "a half line is not spread until its end arrives",
      "a chunk is not a message")(type("ChunkFactory", (solved.MySpreadFactory,), {"protocol": _ChunkSpreader}))


class _SharedPieces(solved.MySpreader):
    pieces = []

    def dataReceived(self, data):
        self.pieces.append(data)
        if data.endswith(b"\n"):
            whole, self.pieces[:] = b"".join(self.pieces), []
            for line in whole.split(b"\n")[:-1]:
                self.lineReceived(line)


wrong(check_spread_factory, "one buffer for every connection",
      "two clients typing at once: each one's line arrives whole",
      "never one shared by every connection")(
    type("SharedPiecesFactory", (solved.MySpreadFactory,), {"protocol": _SharedPieces}))

_GLOBAL_CLIENTS = []


class _GlobalSpreader(solved.MySpreader):
    def connectionMade(self):
        self.factory.numProtocols += 1
        _GLOBAL_CLIENTS.append(self)
        self.transport.write(WELCOME.format(n=self.factory.numProtocols).encode() + b"\r\n")

    def connectionLost(self, reason):
        self.factory.numProtocols -= 1
        _GLOBAL_CLIENTS.remove(self)

    def lineReceived(self, line):
        self.factory.clients = _GLOBAL_CLIENTS
        solved.MySpreader.lineReceived(self, line)


wrong(check_spread_factory, "clients in a global list", "two servers do not share their clients", "not in a global")(
    type("GlobalFactory", (solved.MySpreadFactory,), {"protocol": _GlobalSpreader}))


# --- 06: /nick ------------------------------------------------------------------------------------

def _nick_variant(line_received):
    protocol = type("Nick", (solved.MySpreader,), {"name": b"anonymous", "lineReceived": line_received})
    return type("NickFactory", (solved.MySpreadFactory,), {"protocol": protocol})


def _nick_split(self, line):
    words = line.strip().split(None, 1)
    if words[:1] == [b"/nick"]:
        if len(words) == 2:
            self.name = words[1]
        return
    if line.strip() == b"close":
        self.transport.loseConnection()
        return
    for client in self.factory.clients:
        if client is not self:
            client.transport.write(self.name + b": " + line.strip() + b"\n")


def _nick_str(self, line):
    text = line.decode("utf-8", "replace").rstrip("\r")
    command, _, rest = text.partition(" ")
    if command == "/nick":
        self.nick = rest.strip() or getattr(self, "nick", "anonymous")
        return
    if text == "close":
        self.transport.loseConnection()
        return
    said = f"<{getattr(self, 'nick', 'anonymous')}> {text}\r\n".encode("utf-8")
    for client in self.factory.clients:
        if client is not self:
            client.transport.write(said)


def _nick_on_top(self, line):
    if line.startswith(b"/nick ") and line[6:].strip():
        self.name = line[6:].strip()
        return
    if line.startswith(b"/nick"):
        return
    solved.NickSpreader.lineReceived(self, line)


def _nick_starter(self, line):
    solved.MySpreader.lineReceived(self, line)


def _nick_on_factory(self, line):
    line = line.rstrip(b"\r")
    if line.startswith(b"/nick"):
        self.factory.name = line[6:].strip() or b"anonymous"
        return
    for client in self.factory.clients:
        if client is not self:
            client.transport.write(getattr(self.factory, "name", b"anonymous") + b": " + line + b"\r\n")


def _nick_crashes(self, line):
    line = line.rstrip(b"\r")
    if line.startswith(b"/nick"):
        self.name = line.split()[1]
        return
    solved.NickSpreader.lineReceived(self, line)


def _nick_keeps_cr(self, line):
    if line.startswith(b"/nick "):
        self.name = line[6:]
        return
    solved.NickSpreader.lineReceived(self, line)


def _nick_spread_too(self, line):
    stripped = line.rstrip(b"\r")
    if stripped.startswith(b"/nick ") and stripped[6:]:
        self.name = stripped[6:]
    solved.NickSpreader.lineReceived(self, b"said " + line if stripped.startswith(b"/nick") else line)


for _label, _body in (("split(None, 1)", _nick_split), ("the name kept as str, shown as <alice>", _nick_str),
                      ("on top of the solution's", _nick_on_top)):
    right(check_nick_command, _label)(_nick_variant(_body))

for _label, _body, _step, _words in (
    ("unchanged starting point", _nick_starter, "after /nick alice, the others see alice: hello", "To begin"),
    ("the name on the factory", _nick_on_factory, "each client keeps its own name", "protocol instance (self)"),
    ("crashes on a bare /nick", _nick_crashes, "/nick with no name does not crash the connection",
     "an exception in lineReceived"),
    ("telnet's \\r kept in the name", _nick_keeps_cr, "/nick alice from telnet (\\r\\n) names alice, without the \\r",
     "strip it before taking the name"),
    ("the command spread too", _nick_spread_too, "/nick alice is not spread to the others", "stop there"),
):
    wrong(check_nick_command, _label, _step, _words)(_nick_variant(_body))


# --- 07: the idle timeout ----------------------------------------------------------------------------

def _idle(protocol):
    return type("IdleFactory", (SpreadFactory,), {"protocol": protocol})


class _NewCallEachLine(Spreader):
    def connectionMade(self):
        super().connectionMade()
        self.timer = self.factory.clock.callLater(30, self.transport.abortConnection)

    def lineReceived(self, line):
        if self.timer.active():
            self.timer.cancel()
            self.timer = self.factory.clock.callLater(30, self.transport.abortConnection)
        super().lineReceived(line)

    def connectionLost(self, reason):
        if self.timer.active():
            self.timer.cancel()
        super().connectionLost(reason)


class _Mixin(Spreader, TimeoutMixin):
    def connectionMade(self):
        self.callLater = self.factory.clock.callLater
        self.setTimeout(30)
        super().connectionMade()

    def lineReceived(self, line):
        self.resetTimeout()
        super().lineReceived(line)

    def connectionLost(self, reason):
        self.setTimeout(None)
        super().connectionLost(reason)


class _Deadline(Spreader):
    """Checks every second whether the last line is 30 s old."""

    def connectionMade(self):
        super().connectionMade()
        self.last = self.factory.clock.seconds()
        self.tick = self.factory.clock.callLater(1, self.check)

    def check(self):
        if self.factory.clock.seconds() - self.last >= 30:
            self.transport.loseConnection()
        else:
            self.tick = self.factory.clock.callLater(1, self.check)

    def lineReceived(self, line):
        self.last = self.factory.clock.seconds()
        super().lineReceived(line)

    def connectionLost(self, reason):
        if self.tick.active():
            self.tick.cancel()
        super().connectionLost(reason)


for _label, _protocol in (("a new callLater for each line, abortConnection", _NewCallEachLine),
                          ("Twisted's TimeoutMixin", _Mixin), ("a ticking check of the last line's time", _Deadline)):
    right(check_idle_timeout, _label)(_idle(_protocol))


class _NoReset(solved.IdleSpreader):
    def lineReceived(self, line):
        Spreader.lineReceived(self, line)


class _TimerOnFactory(solved.IdleSpreader):
    def connectionMade(self):
        Spreader.connectionMade(self)
        if getattr(self.factory, "timer", None) is not None and self.factory.timer.active():
            self.factory.timer.cancel()
        self.factory.timer = self.timer = self.factory.clock.callLater(self.idle, self.transport.loseConnection)


class _NoCancel(solved.IdleSpreader):
    def connectionLost(self, reason):
        Spreader.connectionLost(self, reason)


class _CancelWithoutAsking(solved.IdleSpreader):
    def connectionLost(self, reason):
        self.timer.cancel()
        Spreader.connectionLost(self, reason)


_REACTOR_CALLS = []  # cancelled between runs: the reactor may run later in this process (live tests)


class _OnTheReactor(solved.IdleSpreader):
    def connectionMade(self):
        Spreader.connectionMade(self)
        from twisted.internet import reactor
        self.timer = reactor.callLater(self.idle, self.transport.loseConnection)
        _REACTOR_CALLS.append(self.timer)


class _CalledNow(solved.IdleSpreader):
    def connectionMade(self):
        Spreader.connectionMade(self)
        self.timer = self.factory.clock.callLater(self.idle, self.transport.loseConnection())


class _Milliseconds(solved.IdleSpreader):
    idle = 30_000  # thought callLater counts milliseconds


for _label, _protocol, _step, _words in (
    ("milliseconds given to callLater", _Milliseconds,
     "a silent client is still there just before 30 s, and gone just after", "callLater takes seconds"),
    ("the reactor's callLater, not the factory's clock", _OnTheReactor,
     "a silent client is still there just before 30 s, and gone just after", "went to the reactor"),
    ("loseConnection() called, its result scheduled", _CalledNow,
     "a silent client is still there just before 30 s, and gone just after", "without calling it"),
    ("no timer at all", Spreader, "a silent client is still there just before 30 s, and gone just after",
     "factory.clock"),
    ("never restarted", _NoReset, "a line starts the countdown again", "DelayedCall.reset"),
    ("one timer on the factory", _TimerOnFactory, "each client has its own countdown", "protocol instance (self)"),
    ("never cancelled", _NoCancel, "no timer is left behind when a client leaves", "cancel it in connectionLost"),
    ("cancelled without asking", _CancelWithoutAsking,
     "a silent client is still there just before 30 s, and gone just after", ".active() first"),
):
    wrong(check_idle_timeout, _label, _step, _words)(_idle(_protocol))


# --- 07: /who ------------------------------------------------------------------------------------------

def _who(line_received):
    return _idle(type("Who", (Spreader,), {"lineReceived": line_received}))


def _who_bytes(self, line):
    if line.strip() == b"/who":
        self.sendLine(b" ".join(c.name.encode() for c in self.factory.clients))
        return
    Spreader.lineReceived(self, line)


def _who_here(self, line):
    if line.decode("utf-8", "replace").strip().lower() == "/who":
        self.transport.write(("here: " + ", ".join(sorted(c.name for c in self.factory.clients)) + "\n").encode())
    else:
        Spreader.lineReceived(self, line)


def _who_numbered(self, line):
    if line.rstrip(b"\r") != b"/who":
        return Spreader.lineReceived(self, line)
    self.transport.write(b"".join(b"%s; " % c.name.encode() for c in self.factory.clients).rstrip(b"; ") + b"\r\n")


def _who_no_strip(self, line):
    if line == b"/who":
        self.transport.write(", ".join(c.name for c in self.factory.clients).encode() + b"\r\n")
        return
    Spreader.lineReceived(self, line)


def _who_to_all(self, line):
    if line.rstrip(b"\r") == b"/who":
        names = ", ".join(c.name for c in self.factory.clients).encode() + b"\r\n"
        for client in self.factory.clients:
            client.transport.write(names)
        return
    Spreader.lineReceived(self, line)


def _who_count(self, line):
    if line.rstrip(b"\r") == b"/who":
        self.transport.write(b"%d connected\r\n" % len(self.factory.clients))
        return
    Spreader.lineReceived(self, line)


def _who_and_spread(self, line):
    if line.rstrip(b"\r") == b"/who":
        self.transport.write(", ".join(c.name for c in self.factory.clients).encode() + b"\r\n")
    Spreader.lineReceived(self, line)


class _NamesKeptApart(Spreader):
    """Keeps its own list of names, added on arrival and never removed."""

    def connectionMade(self):
        super().connectionMade()
        self.factory.__dict__.setdefault("names", []).append(self.name)

    def lineReceived(self, line):
        if line.rstrip(b"\r") == b"/who":
            self.transport.write(", ".join(self.factory.names).encode() + b"\r\n")
            return
        super().lineReceived(line)


for _label, _body in (("names joined as bytes, strip()", _who_bytes), ("decoded, lower-cased, sorted", _who_here),
                      ("names joined by hand", _who_numbered)):
    right(check_who_command, _label)(_who(_body))

for _label, _body, _step, _words in (
    ("unchanged starting point", Spreader.lineReceived,
     "/who answers the sender with one line naming everyone connected", "To begin"),
    ("telnet's \\r left on", _who_no_strip, "/who from telnet (ended by \\r\\n) works too", "trailing \\r"),
    ("answers everyone", _who_to_all, "/who is not spread to the others", "stop there"),
    ("a count, not names", _who_count, "/who answers the sender with one line naming everyone connected", "names"),
    ("answers and spreads", _who_and_spread, "/who is not spread to the others", "stop there"),
):
    wrong(check_who_command, _label, _step, _words)(_who(_body))
wrong(check_who_command, "a list of names of its own, never updated", "a client that has left is not listed",
      "connectionLost")(_idle(_NamesKeptApart))


# --- 11: your tests ------------------------------------------------------------------------------------

def _tests(*functions):
    return list(functions)


def _test_everything_at_once(factory_class):
    first, other = factory_class(), factory_class()
    room, elsewhere = MemoryRoom(first), MemoryRoom(other)
    alice, bob, carol = room.connect(), room.connect(), room.connect()
    dave = elsewhere.connect()
    alice.send(b"hi there\r\n", chunks="bytes")
    assert bob.lines[-1].endswith("hi there") and len(alice.lines) == 1 and len(dave.lines) == 1
    carol.abort()
    assert first.numProtocols == 2
    alice.send(b"close\r\n")
    assert not alice.connected and not any("close" in line for line in bob.lines)


def _test_with_string_transport(factory_class):
    from twisted.internet.testing import StringTransport

    factory = factory_class()
    one, two = factory.buildProtocol(None), factory.buildProtocol(None)
    t1, t2 = StringTransport(), StringTransport()
    one.makeConnection(t1)
    two.makeConnection(t2)
    t1.clear(), t2.clear()
    for byte in b"hello\r\n":
        one.dataReceived(bytes([byte]))
    assert t2.value().endswith(b"hello\r\n") and t1.value() == b""


def _test_count_and_close(factory_class):
    factory = factory_class()
    room = MemoryRoom(factory)
    a, b = room.connect(), room.connect()
    b.abort()
    assert factory.numProtocols == 1
    c = room.connect()
    a.send(b"close\r\n")
    assert c.lines[1:] == []


def _test_servers_apart(factory_class):
    one, two = MemoryRoom(factory_class()), MemoryRoom(factory_class())
    a, b = one.connect(), two.connect()
    a.send(b"x\r\n")
    assert b.received.count(b"\n") == 1


def _test_starts_empty(factory_class):
    factory = factory_class()
    assert factory.numProtocols == 0 and len(factory.clients) == 0


def _test_is_the_class(factory_class):
    assert factory_class is SpreadFactory


def _test_its_name(factory_class):
    assert factory_class.__name__ == "SpreadFactory" and issubclass(factory_class, SpreadFactory)


def _test_own_server(factory_class):
    room = MemoryRoom(SpreadFactory())
    alice, bob = room.connect(), room.connect()
    alice.send(b"close\r\n")
    assert not alice.connected


def _test_str_vs_bytes(factory_class):
    room = MemoryRoom(factory_class())
    alice, bob = room.connect(), room.connect()
    alice.send(b"hi\r\n")
    assert bob.received.endswith("hi\r\n")


def _test_without_parameter():
    room = MemoryRoom(SpreadFactory())
    alice, bob = room.connect(), room.connect()
    alice.send(b"hi\r\n")
    assert bob.lines[-1] == "client 1: hi"


def _test_nothing(factory_class):
    factory_class()


for _label, _tests_given in (
    ("one test that checks everything", _tests(_test_everything_at_once)),
    ("StringTransport, rooms, and a test with no client", _tests(
        _test_with_string_transport, _test_count_and_close, _test_servers_apart, solved_tests.test_no_echo,
        _test_starts_empty)),
    ("the solution's tests, given as a list", [getattr(solved_tests, n) for n in solved_tests.__all__]),
):
    right(check_your_tests, _label)(_tests_given)

for _label, _tests_given, _step, _words in (
    ("only identifies the class", _tests(_test_is_the_class),
     "_test_is_the_class passes on the correct server", "not which class it was given"),
    ("only names the class", _tests(_test_its_name),
     "a test fails on a server that sends every line back to its sender too", "Naming or identifying the class"),
    ("tests its own SpreadFactory", _tests(_test_own_server),
     "a test fails on a server that sends every line back to its sender too", "make the factory from factory_class"),
    ("compares bytes with str", _tests(_test_str_vs_bytes, solved_tests.test_close),
     "_test_str_vs_bytes passes on the correct server", "compare bytes with bytes"),
    ("only the given test", _tests(solved_tests.test_no_echo),
     "a test fails on a server that treats each chunk as a whole message", "chunks="),
    ("a test without the factory_class parameter", _tests(_test_without_parameter),
     "_test_without_parameter passes on the correct server", "takes the factory class to test as its parameter"),
    ("a test that asserts nothing", _tests(_test_nothing),
     "a test fails on a server that sends every line back to its sender too", "connect clients"),
):
    wrong(check_your_tests, _label, _step, _words)(_tests_given)


# --- the tests ------------------------------------------------------------------------------------------

def _forget_shared_state():
    """Empty what the wrong answers share by mistake, between runs."""
    _EVERYONE.clear(), _SHARED.clear(), _GLOBAL_CLIENTS.clear()
    _TOTAL["lines"] = 0
    for call in _REACTOR_CALLS:
        if call.active():
            call.cancel()
    _REACTOR_CALLS.clear()


def _verdict(name, answer):
    checker = CHECKERS[name]
    return checker(*answer) if name == "check_your_tests" else checker(answer)


RIGHT_CASES = [(name, label, answer) for name, rows in RIGHT.items() for label, answer in rows]
WRONG_CASES = [(name, label, answer, step, words)
               for name, rows in WRONG.items() for label, answer, step, words in rows]


def test_every_exercise_is_tried_with_three_right_and_four_wrong_answers():
    assert set(CHECKERS) == {
        "check_shouting_echo", "check_line_counter", "check_counting_factory", "check_refusing_factory",
        "check_goodbye", "check_peer_report", "check_spread_factory", "check_nick_command", "check_idle_timeout",
        "check_who_command", "check_your_tests"}
    for name in CHECKERS:
        assert len(RIGHT.get(name, [])) >= 3, name
        assert len(WRONG.get(name, [])) >= 4, name


@pytest.mark.parametrize("name, label, answer", RIGHT_CASES, ids=[f"{n}: {lbl}" for n, lbl, _ in RIGHT_CASES])
def test_a_right_answer_is_accepted(request, name, label, answer):
    report = _verdict(name, answer)
    assert report.passed, f"{label}:\n{report}"
    report_count(request.config, "right answers accepted")


@pytest.mark.parametrize("name, label, answer, step, words", WRONG_CASES,
                         ids=[f"{n}: {lbl}" for n, lbl, *_ in WRONG_CASES])
def test_a_wrong_answer_is_rejected_with_its_hint(request, name, label, answer, step, words):
    """The first failed check, the one the learner reads first, is the one
    about the misconception, and its hint names it."""
    _forget_shared_state()
    report = _verdict(name, answer)
    _forget_shared_state()
    assert not report.passed, f"{label} was accepted:\n{report}"
    first = report.failed[0]
    assert first.what == step, f"{label}: expected {step!r} to fail first:\n{report}"
    assert words in first.hint, f"{label}: the hint does not name the mistake:\n{report}"
    report_count(request.config, "wrong answers rejected")


def test_a_count_kept_on_self_is_never_told_to_move_it_off_the_class():
    """A counter that counts calls keeps its count per connection: the
    per-connection check must not send it looking for a class attribute
    (its mistake is the stream, told by the check about one chunk)."""
    report = check_line_counter(CallCounter)
    told = [result.what for result in report.failed if "not on the class" in result.hint]
    assert told == [], f"a per-connection count was told to leave the class:\n{report}"
