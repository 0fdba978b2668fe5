"""The checkers of lessons 02-04, tested both ways.

A correct solution passes every check; each typical mistake fails the step
about it, with that step's hint (the concept, not the answer), and the
checker itself never raises.
"""

from __future__ import annotations

import pytest
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.basic import LineReceiver

from spreadlab import WELCOME
from spreadlab.teaching.exercises import (
    check_counting_factory,
    check_goodbye,
    check_line_counter,
    check_peer_report,
    check_refusing_factory,
    check_shouting_echo,
)
from spreadlab.teaching.solutions import factory as factory_solutions
from spreadlab.teaching.solutions import protocol as protocol_solutions
from spreadlab.teaching.solutions import transport as transport_solutions


def failed(report) -> dict[str, object]:
    """{what: result} for each failed step."""
    return {r.what: r for r in report.failed}


def assert_fails(report, step: str, hint_words: str, seen_words: str = "") -> None:
    misses = failed(report)
    assert step in misses, f"expected {step!r} to fail:\n{report}"
    assert hint_words in misses[step].hint
    assert seen_words in misses[step].seen
    assert not report.passed


def test_checkers_are_exported():
    import spreadlab.teaching.exercises as exercises

    for name in ("check_shouting_echo", "check_line_counter", "check_counting_factory",
                 "check_refusing_factory", "check_goodbye", "check_peer_report"):
        assert name in exercises.__all__


# --- lesson 02: the shouting echo ---------------------------------------------

def test_shouting_echo_solution_passes():
    report = check_shouting_echo(protocol_solutions.ShoutingEcho)
    assert report.passed, str(report)
    assert len(report.results) == 4


def test_shouting_echo_writing_str_fails_with_bytes_hint():
    class WritesStr(Protocol):
        def dataReceived(self, data):
            self.transport.write(data.decode().upper())

    report = check_shouting_echo(WritesStr)
    assert_fails(report, "a line comes back in upper case", "transport.write takes bytes",
                 "TypeError: Data must be bytes")
    seen = failed(report)["a line comes back in upper case"].seen
    assert "in dataReceived" in seen  # the learner's own line, not Twisted's
    assert ".upper()" not in failed(report)["a line comes back in upper case"].hint  # the concept, not the answer


def test_shouting_echo_decoding_each_chunk_fails_on_split_character():
    class DecodesChunks(Protocol):
        def dataReceived(self, data):
            self.transport.write(data.decode("utf-8").upper().encode("utf-8"))

    report = check_shouting_echo(DecodesChunks)
    assert_fails(report, "Chinese text cut inside a character still comes back whole",
                 "a chunk may end inside one", "UnicodeDecodeError")
    assert len(report.failed) == 1


def test_shouting_echo_waiting_for_whole_message_fails_on_chunks():
    class OneChunkOneMessage(Protocol):
        def dataReceived(self, data):
            if data.endswith(b"\n"):
                self.transport.write(data.upper())

    report = check_shouting_echo(OneChunkOneMessage)
    assert_fails(report, "every chunk is answered, even one byte at a time", "TCP is a stream")


def test_shouting_echo_writing_to_everyone_fails():
    everyone = []

    class Broadcasts(Protocol):
        def connectionMade(self):
            everyone.append(self)

        def dataReceived(self, data):
            for client in everyone:
                client.transport.write(data.upper())

    report = check_shouting_echo(Broadcasts)
    assert_fails(report, "each client hears only its own echo", "self.transport", "client 2 received b'HI\\n'")


# --- lesson 02: the line counter -------------------------------------------------

def test_line_counter_solution_passes():
    report = check_line_counter(protocol_solutions.LineCounter)
    assert report.passed, str(report)


def test_line_counter_with_line_receiver_passes():
    class Counter(LineReceiver):
        delimiter = b"\n"

        def connectionMade(self):
            self.n = 0

        def lineReceived(self, line):
            self.n += 1
            self.sendLine(b"%d" % self.n)

    assert check_line_counter(Counter).passed


def test_line_counter_comparing_with_str_fails_with_bytes_hint():
    class StrNewline(Protocol):
        n = 0

        def dataReceived(self, data):
            for _ in range(data.count("\n")):  # str in a bytes method
                self.n += 1
                self.transport.write(b"%d\n" % self.n)

    report = check_line_counter(StrNewline)
    assert_fails(report, "one line sent whole is counted", "bytes never equal str", "TypeError")


def test_line_counter_bytes_equal_str_silently_fails():
    class EqualsStr(Protocol):
        n = 0

        def dataReceived(self, data):
            if data == "hello\n":  # never true on Python 3
                self.n += 1
                self.transport.write(b"%d\n" % self.n)

    report = check_line_counter(EqualsStr)
    assert_fails(report, "one line sent whole is counted", "bytes never equal str", "received b''")


def test_line_counter_counting_calls_fails_on_both_cuts():
    class CountsCalls(Protocol):
        n = 0

        def dataReceived(self, data):  # assumes one chunk = one line
            self.n += 1
            self.transport.write(b"%d\n" % self.n)

    report = check_line_counter(CountsCalls)
    assert_fails(report, "two lines merged into one chunk are both counted", "one dataReceived call can carry several lines")
    assert_fails(report, "a line cut into one-byte chunks is counted once", "a call is not a line")
    assert "one line sent whole is counted" not in failed(report)


def test_line_counter_one_line_per_chunk_fails_on_merged_lines():
    class EndsWithNewline(Protocol):
        n = 0

        def dataReceived(self, data):
            if data.endswith(b"\n"):
                self.n += 1
                self.transport.write(b"%d\n" % self.n)

    report = check_line_counter(EndsWithNewline)
    assert list(failed(report)) == ["two lines merged into one chunk are both counted"]


def test_line_counter_global_count_fails():
    count = {"lines": 0}

    class GlobalCount(Protocol):
        def dataReceived(self, data):
            for _ in range(data.count(b"\n")):
                count["lines"] += 1
                self.transport.write(b"%d\n" % count["lines"])

    report = check_line_counter(GlobalCount)
    assert_fails(report, "each connection counts its own lines", "one Protocol instance per connection")


def test_line_counter_writing_int_fails_with_bytes_hint():
    class WritesText(Protocol):
        def connectionMade(self):
            self.n = 0

        def dataReceived(self, data):
            for _ in range(data.count(b"\n")):
                self.n += 1
                self.transport.write(f"{self.n}\n")

    report = check_line_counter(WritesText)
    assert_fails(report, "one line sent whole is counted", "What you write must be bytes too", "Data must be bytes")


# --- lesson 03: the counting factory ---------------------------------------------

def test_counting_factory_solution_passes():
    report = check_counting_factory(factory_solutions.CountingFactory)
    assert report.passed, str(report)


class _Counted(Protocol):
    def connectionMade(self):
        self.factory.numProtocols += 1
        self.factory.clients.append(self)
        self.transport.write(WELCOME.format(n=self.factory.numProtocols).encode("utf-8") + b"\n")

    def connectionLost(self, reason):
        self.factory.numProtocols -= 1
        self.factory.clients.remove(self)


def test_counting_factory_with_a_list_passes():
    class ListFactory(Factory):
        protocol = _Counted

        def __init__(self):
            self.numProtocols = 0
            self.clients = []

    assert check_counting_factory(ListFactory).passed


def test_counting_factory_global_list_fails_with_factory_hint():
    shared = []  # the seed's module-global list

    class GlobalProtocol(_Counted):
        def connectionMade(self):
            self.factory.numProtocols += 1
            shared.append(self)
            self.transport.write(WELCOME.format(n=self.factory.numProtocols).encode("utf-8") + b"\n")

        def connectionLost(self, reason):
            self.factory.numProtocols -= 1
            shared.remove(self)

    class GlobalListFactory(Factory):
        protocol = GlobalProtocol
        clients = shared

        def __init__(self):
            self.numProtocols = 0

    report = check_counting_factory(GlobalListFactory)
    assert_fails(report, "two servers keep separate counts and clients", "not in a global list",
                 "factory.clients holds 3 protocols, not exactly the 2 connected")
    assert len(report.failed) == 1  # one server alone works: only sharing shows the flaw


def test_counting_factory_not_counting_down_fails():
    class NeverForgets(_Counted):
        def connectionLost(self, reason):
            pass

    class Forgetful(Factory):
        protocol = NeverForgets

        def __init__(self):
            self.numProtocols = 0
            self.clients = []

    report = check_counting_factory(Forgetful)
    assert_fails(report, "numProtocols and clients follow connections as they come and go",
                 "connectionLost is called however a connection ends", "after client 1 closed")
    assert len(report.failed) == 1


def test_counting_factory_writing_str_fails_with_utf8_hint():
    class WritesStr(_Counted):
        def connectionMade(self):
            self.factory.numProtocols += 1
            self.factory.clients.append(self)
            self.transport.write(WELCOME.format(n=self.factory.numProtocols))

    class StrFactory(Factory):
        protocol = WritesStr

        def __init__(self):
            self.numProtocols = 0
            self.clients = []

    report = check_counting_factory(StrFactory)
    assert_fails(report, "each client is welcomed with its number, in UTF-8", "encoded as UTF-8 bytes",
                 "Data must be bytes")


def test_counting_factory_without_init_state_fails():
    class NoState(Factory):
        protocol = _Counted

    report = check_counting_factory(NoState)
    assert_fails(report, "a new factory starts with numProtocols == 0 and no clients",
                 "create numProtocols and clients in the factory's __init__", "AttributeError")


# --- lesson 03: the refusing factory ----------------------------------------------

def test_refusing_factory_solution_passes():
    report = check_refusing_factory(factory_solutions.AtMostThree)
    assert report.passed, str(report)


def test_refusing_factory_that_never_refuses_fails():
    report = check_refusing_factory(factory_solutions.CountingFactory)
    assert list(failed(report)) == ["a fourth is refused while three are connected"]
    assert "Returning None from buildProtocol" in report.failed[0].hint


def test_refusing_factory_not_counting_down_fails():
    class NoCountDown(Protocol):
        def connectionMade(self):
            self.factory.connected += 1

    class Forgetful(Factory):
        protocol = NoCountDown

        def __init__(self):
            self.connected = 0

        def buildProtocol(self, addr):
            if self.connected >= 3:
                return None
            return super().buildProtocol(addr)

    report = check_refusing_factory(Forgetful)
    assert_fails(report, "when one leaves, a new client gets in", "Count down when a connection ends")


def test_refusing_factory_counting_refused_connections_fails():
    class Leaves(Protocol):
        def connectionLost(self, reason):
            self.factory.connected -= 1

    class CountsInBuild(Factory):
        protocol = Leaves

        def __init__(self):
            self.connected = 0

        def buildProtocol(self, addr):
            self.connected += 1  # counted even when refused below
            if self.connected > 3:
                return None
            return super().buildProtocol(addr)

    report = check_refusing_factory(CountsInBuild)
    assert list(failed(report)) == ["a refused connection does not take a place"]
    assert "never gets connectionLost" in report.failed[0].hint


def test_refusing_factory_class_attribute_count_fails_with_factory_hint():
    class Shared(Protocol):
        def connectionMade(self):
            type(self.factory).connected += 1  # on the class: shared by every factory

        def connectionLost(self, reason):
            type(self.factory).connected -= 1

    class ClassCount(Factory):
        protocol = Shared
        connected = 0

        def buildProtocol(self, addr):
            if self.connected >= 3:
                return None
            return super().buildProtocol(addr)

    report = check_refusing_factory(ClassCount)
    assert_fails(report, "two servers each let three in", "not in a global list or on the class",
                 "server 2 refused 3")


def test_refusing_factory_returning_nothing_fails():
    class ForgetsReturn(factory_solutions.CountingFactory):
        def buildProtocol(self, addr):
            if self.numProtocols < 3:
                super().buildProtocol(addr)  # built, but not returned

    report = check_refusing_factory(ForgetsReturn)
    assert_fails(report, "three clients are let in", "buildProtocol must return a protocol", "client 1")


# --- lesson 04: goodbye -----------------------------------------------------------

def test_goodbye_solution_passes():
    report = check_goodbye(transport_solutions.Goodbye)
    assert report.passed, str(report)


def test_goodbye_hand_made_buffer_passes():
    class Buffered(Protocol):
        def connectionMade(self):
            self.buffer = b""

        def dataReceived(self, data):
            self.buffer += data
            while b"\n" in self.buffer and not self.transport.disconnecting:
                line, self.buffer = self.buffer.split(b"\n", 1)
                if line.strip() == b"bye":
                    self.transport.write(b"goodbye\n")
                    self.transport.loseConnection()
                else:
                    self.transport.write(line + b"\n")

    report = check_goodbye(Buffered)
    assert report.passed, str(report)


def test_goodbye_stub_only_echoes():
    class Stub(LineReceiver):
        delimiter = b"\n"

        def lineReceived(self, line):
            self.sendLine(line)

    report = check_goodbye(Stub)
    assert [r.what for r in report.results if r.passed] == ["other lines are echoed and the connection stays open"]


def test_goodbye_abort_fails_with_clean_close_hint():
    class Aborts(transport_solutions.Goodbye):
        def lineReceived(self, line):
            if line.rstrip(b"\r") == b"bye":
                self.sendLine(b"goodbye")
                self.transport.abortConnection()
                return
            self.sendLine(line)

    report = check_goodbye(Aborts)
    assert_fails(report, "the close is clean: loseConnection, not abortConnection",
                 "throws away bytes not sent yet", "abortConnection")


def test_goodbye_no_return_after_lose_connection_fails():
    class NoReturn(LineReceiver):  # the seed's flaw 3
        delimiter = b"\n"

        def lineReceived(self, line):
            if line.rstrip(b"\r") == b"bye":
                self.sendLine(b"goodbye")
                self.transport.loseConnection()
            self.sendLine(line)

    report = check_goodbye(NoReturn)
    assert_fails(report, "bye itself is not echoed", "loseConnection does not end your method",
                 "received b'goodbye\\nbye\\n'")
    assert "bye is answered with goodbye, then the connection closes" not in failed(report)


def test_goodbye_chunk_is_not_a_line_fails():
    class ChunkIsMessage(Protocol):  # the seed's flaw 2
        def dataReceived(self, data):
            if data == b"bye\n":
                self.transport.write(b"goodbye\n")
                self.transport.loseConnection()
                return
            self.transport.write(data)

    report = check_goodbye(ChunkIsMessage)
    assert_fails(report, "bye cut into pieces is still understood", "A chunk is not a line")
    assert_fails(report, "lines after bye in the same chunk are not answered", "handle no more data")


def test_goodbye_telnet_line_end_fails_with_strip_hint():
    class NoStrip(LineReceiver):
        delimiter = b"\n"

        def lineReceived(self, line):
            if line == b"bye":
                self.sendLine(b"goodbye")
                self.transport.loseConnection()
                return
            self.sendLine(line)

    report = check_goodbye(NoStrip)
    assert list(failed(report)) == ["bye from telnet (bye\\r\\n) is understood"]
    assert "strip the b'\\r'" in report.failed[0].hint


def test_goodbye_comparing_with_str_never_closes():
    class StrBye(LineReceiver):
        delimiter = b"\n"

        def lineReceived(self, line):
            if line.strip() == "bye":  # bytes never equal str
                self.sendLine(b"goodbye")
                self.transport.loseConnection()
                return
            self.sendLine(line)

    report = check_goodbye(StrBye)
    assert_fails(report, "bye is answered with goodbye, then the connection closes", "loseConnection",
                 "received b'bye\\n'")


# --- lesson 04: who am I -----------------------------------------------------------

def test_peer_report_solution_passes():
    report = check_peer_report(transport_solutions.WhoAmI)
    assert report.passed, str(report)


def test_peer_report_get_host_fails_with_peer_hint():
    class UsesHost(Protocol):
        def connectionMade(self):
            here = self.transport.getHost()
            self.transport.write(f"you are {here.host}:{here.port}\n".encode())

    report = check_peer_report(UsesHost)
    assert_fails(report, "the line names the client's address, not the server's", "getPeer() is the other end",
                 "8007 is the server's port")


def test_peer_report_printing_the_address_object_fails_with_host_port_hint():
    class WholeObject(Protocol):
        def connectionMade(self):
            self.transport.write(f"you are {self.transport.getPeer()}\n".encode())

    report = check_peer_report(WholeObject)
    assert list(failed(report)) == ["it reads you are host:port, for each client its own"]
    assert ".host and .port" in report.failed[0].hint


def test_peer_report_writing_in_data_received_fails():
    class Late(Protocol):
        def dataReceived(self, data):
            self.transport.write(b"you are ...\n")

    report = check_peer_report(Late)
    assert_fails(report, "a client gets a line as soon as it connects", "connectionMade")


@pytest.mark.parametrize("checker", [check_shouting_echo, check_line_counter, check_goodbye, check_peer_report,
                                     check_counting_factory, check_refusing_factory])
def test_checkers_never_raise_on_broken_code(checker):
    class Broken(Protocol, Factory):
        def __init__(self, *args):
            raise RuntimeError("half-written")

    report = checker(Broken)
    assert not report.passed
    assert all("RuntimeError: half-written" in r.seen for r in report.failed)


# --- the solutions folded away in the notebooks pass their checkers ---------------

def _notebook_solutions():
    """(notebook, class name, source) for each <details> solution in lessons 02-04."""
    import json
    import pathlib
    import re

    folder = pathlib.Path(__file__).parent.parent / "notebooks"
    found = []
    for name in ("02-protocol.ipynb", "03-factory.ipynb", "04-transport.ipynb"):
        nb = json.loads((folder / name).read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown" and "<summary>Solution</summary>" in text:
                source = re.search(r"```python\n(.*?)```", text, re.S).group(1)
                last_class = re.findall(r"^class (\w+)", source, re.M)[-1]
                found.append((name, last_class, source))
    return found


CHECKERS_BY_CLASS = {
    "ShoutingEcho": check_shouting_echo,
    "LineCounter": check_line_counter,
    "Counted": None,  # checked through CountingFactory below
    "AtMostThree": check_refusing_factory,
    "Goodbye": check_goodbye,
    "WhoAmI": check_peer_report,
}


def test_every_notebook_solution_passes_its_checker():
    solutions = _notebook_solutions()
    assert len(solutions) == 6
    namespace = {"Protocol": Protocol, "Factory": Factory, "LineReceiver": LineReceiver, "WELCOME": WELCOME}
    for notebook, name, source in solutions:
        exec(compile(source, f"<{notebook} solution>", "exec"), namespace)
        if name == "Counted":  # the notebook's CountingFactory uses the solution's Counted
            class CountingFactory(Factory):
                protocol = namespace["Counted"]

                def __init__(self):
                    self.numProtocols = 0
                    self.clients = set()

            namespace["CountingFactory"] = CountingFactory
            report = check_counting_factory(CountingFactory)
        else:
            report = CHECKERS_BY_CLASS[name](namespace[name])
        assert report.passed, f"{notebook}: the solution for {name} fails:\n{report}"
