"""Lesson 08's server program, run for real: the script the lesson writes
with ``%%writefile`` is taken from the notebook, run as a process of its own
(`spreadlab.rooms.program.ServerProgram`), joined by a terminal client and by
a real Twisted client (lesson 10's `Visitor`), and stopped with Ctrl-C.  Each
claim the lesson makes about the program, its log and its ports is checked
here, over real TCP on loopback; the lesson itself is executed and its
printed numbers are checked too."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from lesson_runs import run_lesson
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol

from spreadlab import WELCOME, blocking_call, start_reactor
from spreadlab.rooms.program import ServerProgram, run_program
from spreadlab.rooms.terminal import Terminal
from spreadlab.teaching.solutions.client import Visitor

pytestmark = pytest.mark.timeout(120)

LESSON = Path(__file__).parent.parent / "notebooks" / "08-server-program.ipynb"


def lesson_script(name: str = "spread_server.py") -> str:
    """The source the lesson writes to *name* with %%writefile."""
    for cell in nbformat.read(LESSON, 4).cells:
        first, _, rest = cell.source.partition("\n")
        if cell.cell_type == "code" and first.strip() == f"%%writefile {name}":
            return rest
    raise AssertionError(f"lesson 08 writes no {name}")


@pytest.fixture
def script(tmp_path) -> Path:
    path = tmp_path / "spread_server.py"
    path.write_text(lesson_script(), encoding="utf-8")
    return path


@pytest.fixture
def programs():
    """Start programs; whatever happens, they are stopped."""
    started: list[ServerProgram] = []

    def start(*args, **kwargs) -> ServerProgram:
        started.append(ServerProgram(*args, **kwargs))
        return started[-1]

    yield start
    for program in started:
        program.stop()


def test_the_lessons_script_serves_a_terminal_and_a_twisted_client(script, programs):
    from twisted.internet import reactor

    server = programs(script, "tcp:0:interface=127.0.0.1")
    log = server.new_log()
    assert re.search(rf"\[-\] SpreadSite starting on {server.port}\b", log), log  # logPrefix()
    assert "Starting factory <__main__.SpreadSite object" in log, log  # doStart, noisy
    assert re.search(r"listen\(\) returned <Deferred at \w+ current result: <<class 'twisted.internet.tcp.Port'>",
                     log), log  # already fired, with the port
    assert f"listening on IPv4Address(type='TCP', host='127.0.0.1', port={server.port})" in log, log

    start_reactor()
    with server.connect() as alice:
        assert alice.read_line() == WELCOME.format(n=1)
        visitor = Visitor("你好 from Twisted", wanted=1)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", server.port)
        blocking_call(connectProtocol, endpoint, visitor)
        assert alice.read_line() == "client 2: 你好 from Twisted"
        alice.type("hello, visitor")
        blocking_call(lambda: visitor.done)
        assert visitor.welcome == WELCOME.format(n=2)
        assert visitor.heard == ["client 1: hello, visitor"]
        server.wait_for(r"client 2 disconnected \(Connection was closed cleanly\.\)")


def test_ctrl_c_stops_it_and_the_reactor_drops_open_connections(script, programs):
    server = programs(script, "tcp:0:interface=127.0.0.1")
    bob = server.connect()
    bob.read_line()
    server.wait_for("client 1 connected")
    server.new_log()
    assert server.interrupt() == 0  # react: exit status 0
    log = server.new_log(settle=0.1)
    order = ["Received SIGINT, shutting down.",
             "client 1 disconnected (Connection to the other side was lost in a non-clean fashion",
             f"(TCP Port {server.port} Closed)",
             "Stopping factory <__main__.SpreadSite object",
             "Main loop terminated."]
    signal_, dropped, closed, stopping, ended = (log.find(line) for line in order)
    assert -1 not in (signal_, dropped, closed, stopping, ended), log
    assert signal_ < min(dropped, closed) and max(dropped, closed) < ended and closed < stopping < ended, log
    bob.wait_until_closed()
    assert bob.closed_by_server
    bob.close()


def test_on_a_taken_port_react_ends_the_program_with_status_1(script, programs):
    holder = programs(script, "tcp:0:interface=127.0.0.1")
    with pytest.raises(RuntimeError) as raised:
        programs(script, f"tcp:{holder.port}:interface=127.0.0.1")
    text = str(raised.value)
    assert "exited with status 1" in text
    assert "CannotListenError" in text and "Address already in use" in text
    assert "main function encountered error" in text


BLOG_STYLE = textwrap.dedent("""\
    import sys
    from twisted.internet import reactor
    from twisted.internet.endpoints import serverFromString
    from twisted.logger import globalLogBeginner, textFileLogObserver
    from spreadlab import SpreadFactory

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    serverFromString(reactor, sys.argv[1]).listen(SpreadFactory())
    reactor.run()
""")


def test_on_a_taken_port_the_blogs_reactor_run_keeps_running_listening_nowhere(script, programs, tmp_path):
    """The lesson's claim about the reactor.run() version: the error is only
    logged, and the program runs on."""
    holder = programs(script, "tcp:0:interface=127.0.0.1")
    blog = tmp_path / "blog_style.py"
    blog.write_text(BLOG_STYLE, encoding="utf-8")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, str(blog), f"tcp:{holder.port}:interface=127.0.0.1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        time.sleep(2.0)
        assert process.poll() is None, "the blog-style program ended"
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=10)[0].decode()
    assert "Unhandled error in Deferred" in output and "CannotListenError" in output, output


def test_an_endpoint_without_interface_listens_on_every_interface():
    """The blog's TCP4ServerEndpoint(reactor, 8007) has no interface: it
    listens on all of them (0.0.0.0), as the lesson says."""
    from twisted.internet import reactor

    start_reactor()

    port = blocking_call(TCP4ServerEndpoint(reactor, 0).listen, Factory.forProtocol(Protocol))
    try:
        assert port.getHost().host == "0.0.0.0"
    finally:
        blocking_call(port.stopListening)


def test_the_lesson_runs_and_prints_what_it_says(tmp_path):
    """Lesson 08 executed in a fresh kernel, with the optional exercise's
    folded solution typed in: its numbers are Twisted's, and the checker
    passes the solution."""
    work = tmp_path / "notebooks"
    work.mkdir()
    printed, shown = run_lesson("08-server-program", work, solved=True)
    assert "spread_rooms.py: one server on every endpoint: all 6 checks passed" in shown, shown
    for claim in ["numPorts: 2  startFactory calls: 1",  # doStart: startFactory once for two ports
                  "numPorts: 1  stopFactory calls: 0",  # one port stopped: not yet
                  "client 1: still here after port A stopped listening",  # stopListening keeps clients
                  "a new client on port A: [Errno 111] Connection refused",
                  "numPorts: 0  stopFactory calls: 1",
                  "clients still connected: 2",  # stopFactory is not "no clients left"
                  "exit status: 0",
                  "Received SIGINT, shutting down.",
                  "exited with status 1",
                  "an IListeningPort? True"]:
        assert claim in printed, f"lesson 08 did not print {claim!r}:\n{printed}"
    assert (work / "spread_server.py").exists()


def test_the_chinese_lesson_runs_in_its_own_folder_and_prints_what_it_says(tmp_path):
    """The Chinese edition of lesson 08, run where it lives (a ``notebooks/zh-CN/``), with its
    folded solution (参考答案) typed in: the programs it writes with %%writefile land next to it
    and run from there, its Chinese prints carry Twisted's numbers, and the checker passes."""
    work = tmp_path / "notebooks" / "zh-CN"
    work.mkdir(parents=True)
    printed, shown = run_lesson("08-server-program", work, solved=True, edition="zh-CN")
    assert shown.count("✔") == 6 and "✘" not in shown, shown  # the checker's six checks, in either language
    for claim in ["listen() 返回了 <Deferred at",  # listen() fired before it returned: a current result
                  "current result: <<class 'twisted.internet.tcp.Port'>",
                  "是 IListeningPort 吗？ True",
                  "numPorts： 2  startFactory 调用次数： 1",
                  "numPorts： 1  stopFactory 调用次数： 0",
                  "still here after port A stopped listening",
                  "端口 A 上的新客户端： [Errno 111] Connection refused",
                  "numPorts： 0  stopFactory 调用次数： 1",
                  "仍然连接着的客户端： 2",
                  "退出状态： 0",
                  "Received SIGINT, shutting down.",
                  "main function encountered error",  # the taken port: react ends the program
                  "Address already in use"]:
        assert claim in printed, f"zh-CN lesson 08 did not print {claim!r}:\n{printed}"
    assert (work / "spread_server.py").exists() and (work / "spread_rooms.py").exists()
    assert not (work.parent / "spread_server.py").exists(), "the Chinese lesson wrote its program into the English folder"


def test_nothing_is_left_running_when_the_kernel_is_killed(script, tmp_path):
    """A kernel killed with kill -9 runs no exit handler; its server
    program still ends (Linux: the parent-death signal)."""
    if sys.platform != "linux":
        pytest.skip("the parent-death signal is Linux's")
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""\
            import time
            from spreadlab.rooms.program import ServerProgram
            server = ServerProgram({str(script)!r}, "tcp:0:interface=127.0.0.1")
            print(server.pid, flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), f"the server program {child} outlived its kernel"


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_running_the_same_cell_again_replaces_the_program(script, programs):
    first = programs(script, "tcp:0:interface=127.0.0.1")
    second = programs(script, "tcp:0:interface=127.0.0.1")
    assert not first.running and second.running
    other = programs(script, "tcp:0:interface=127.0.0.1:backlog=5")  # other arguments: both run
    assert second.running and other.running


def test_run_program_returns_the_output_or_says_why_not(tmp_path):
    ok = tmp_path / "ok.py"
    ok.write_text("import sys; print('said', sys.argv[1:])", encoding="utf-8")
    assert run_program(ok, "a", "b").strip() == "said ['a', 'b']"
    bad = tmp_path / "bad.py"
    bad.write_text("raise SystemExit('no such server')", encoding="utf-8")
    with pytest.raises(RuntimeError, match="(?s)exited with status 1.*no such server"):
        run_program(bad)


def test_a_terminal_reads_lines_cut_anywhere_and_sees_the_close():
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listener:
        terminal = Terminal("127.0.0.1", listener.getsockname()[1], timeout=2)
        peer, _ = listener.accept()
        for piece in ("你好".encode()[:2], "你好".encode()[2:] + b"\r\nsecond", b" line\n"):
            peer.sendall(piece)
            time.sleep(0.02)
        assert terminal.read_line() == "你好"
        assert terminal.read_line() == "second line"
        terminal.type("typed")
        assert peer.recv(100) == b"typed\n"
        peer.close()
        terminal.wait_until_closed()
        assert terminal.closed_by_server
        with pytest.raises(ConnectionError):
            terminal.read_line()
        terminal.close()


# --- the optional exercise's checker, check_server_program ---------------------------------------

SOLVED = Path(__file__).parent.parent / "spreadlab" / "teaching" / "solutions" / "spread_rooms.py"
HEAD = '''import sys

from twisted.internet import defer, endpoints, task
from twisted.logger import globalLogBeginner, textFileLogObserver

from spreadlab import SpreadFactory


'''
TAIL = '''

if __name__ == "__main__":
    task.react(main, sys.argv[1:])
'''

RIGHT = {
    "awaits each": '''async def main(reactor, *where):
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    factory = SpreadFactory()
    for w in where:
        await endpoints.serverFromString(reactor, w).listen(factory)
    await defer.Deferred()
''',
    "DeferredList": '''def main(reactor, *where):
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    factory = SpreadFactory()
    ports = defer.DeferredList([endpoints.serverFromString(reactor, w).listen(factory) for w in where],
                               fireOnOneErrback=True, consumeErrors=True)
    forever = defer.Deferred()
    return ports.addCallback(lambda results: forever)
''',
    "a chain of callbacks": '''def main(reactor, *where):
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    factory = SpreadFactory()
    chain = defer.succeed(None)
    for w in where:
        chain.addCallback(lambda _, w=w: endpoints.serverFromString(reactor, w).listen(factory))
    chain.addCallback(lambda _: defer.Deferred())
    return chain
''',
}

WRONG = {
    # name: (main, a step that must fail, words its hint must contain)
    "only the first endpoint (the starter)": ('''def main(reactor, *where):
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    factory = SpreadFactory()
    listening = endpoints.serverFromString(reactor, where[0]).listen(factory)
    return listening.addCallback(lambda port: defer.Deferred())
''', "it listens on every endpoint given on its command line", "not only where[0]"),
    "a factory per endpoint": ('''def main(reactor, *where):
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    listening = [endpoints.serverFromString(reactor, w).listen(SpreadFactory()) for w in where]
    return defer.gatherResults(listening).addCallback(lambda ports: defer.Deferred())
''', "one chat: a line typed on one port reaches a client of the other", "a factory is one server"),
    "returns once listening": ('''def main(reactor, *where):
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    factory = SpreadFactory()
    return defer.gatherResults([endpoints.serverFromString(reactor, w).listen(factory) for w in where])
''', "it keeps serving once it listens", "react ends the program when main's Deferred fires"),
    "ignores what listen() returns": ('''def main(reactor, *where):
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    factory = SpreadFactory()
    for w in where:
        endpoints.serverFromString(reactor, w).listen(factory)
    return defer.Deferred()
''', "a port it cannot get ends the program with an error (exit status 1)", "a Deferred nobody looks at"),
    "a DeferredList that never fails": ('''def main(reactor, *where):
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    factory = SpreadFactory()
    ports = defer.DeferredList([endpoints.serverFromString(reactor, w).listen(factory) for w in where])
    return ports.addCallback(lambda results: defer.Deferred())
''', "a port it cannot get ends the program with an error (exit status 1)", "fireOnOneErrback=True"),
    "a Python error": ('''def main(reactor, *where):
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    factory = SpreadFactory(
''', "a port it cannot get ends the program with an error (exit status 1)", "ended before it listened"),
}


def test_a_program_that_ended_is_not_blamed_for_what_could_not_be_checked(tmp_path):
    from spreadlab.teaching.exercises import check_server_program

    script = tmp_path / "spread_rooms.py"
    script.write_text(HEAD + WRONG["returns once listening"][0] + TAIL, encoding="utf-8")
    report = check_server_program(script)
    failed = [r.what for r in report.failed]
    assert failed == ["it keeps serving once it listens", "one chat, one factory, Ctrl-C (3 checks)"], str(report)
    assert "not checked" in report.failed[1].seen and "your code raised" not in str(report)


def test_the_solution_passes_the_checker():
    from spreadlab.teaching.exercises import check_server_program

    report = check_server_program(SOLVED)
    assert report, str(report)
    assert len(report.results) == 6


@pytest.mark.parametrize("name", list(RIGHT))
def test_right_programs_are_accepted(name, tmp_path, request):
    from conftest import report_count
    from spreadlab.teaching.exercises import check_server_program

    script = tmp_path / "spread_rooms.py"
    script.write_text(HEAD + RIGHT[name] + TAIL, encoding="utf-8")
    report = check_server_program(script)
    assert report, str(report)
    report_count(request.config, "right answers accepted")


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_programs_are_rejected_with_the_misconception_named(name, tmp_path, request):
    from conftest import report_count
    from spreadlab.teaching.exercises import check_server_program

    main, step, named = WRONG[name]
    script = tmp_path / "spread_rooms.py"
    script.write_text(HEAD + main + TAIL, encoding="utf-8")
    report = check_server_program(script)
    assert not report, f"{name} was accepted:\n{report}"
    misses = {r.what: r.hint for r in report.failed}
    assert step in misses, f"{name}: {step!r} passed:\n{report}"
    assert named in misses[step], misses[step]
    report_count(request.config, "wrong answers rejected")


def test_the_starter_scores_zero_and_a_missing_script_says_what_to_do(tmp_path):
    from spreadlab.teaching.exercises import check_server_program

    script = tmp_path / "spread_rooms.py"
    script.write_text(HEAD + WRONG["only the first endpoint (the starter)"][0] + TAIL, encoding="utf-8")
    report = check_server_program(script)
    assert sum(r.passed for r in report.results) == 0
    missing = check_server_program(tmp_path / "nowhere.py")
    assert not missing and "%%writefile" in missing.results[0].hint


GOODBYE = textwrap.dedent("""\
    import sys
    from twisted.internet import defer, reactor
    from twisted.internet.protocol import Factory
    from twisted.protocols.basic import LineReceiver

    class Guest(LineReceiver):
        def connectionMade(self):
            self.factory.guests.append(self)
            self.sendLine(b"hi")

        def connectionLost(self, reason):
            self.factory.guests.remove(self)
            if not self.factory.guests and not self.factory.gone.called:
                self.factory.gone.callback(None)

    factory = Factory.forProtocol(Guest)
    factory.guests, factory.gone = [], defer.Deferred()

    def goodbye():
        for guest in list(factory.guests):
            guest.sendLine(b"goodbye")
            guest.transport.loseConnection()
        if sys.argv[1] == "waits":
            return factory.gone  # the reactor waits for it before it drops the connections

    reactor.addSystemEventTrigger("before", "shutdown", goodbye)
    print(reactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port, flush=True)
    reactor.run()
""")


@pytest.mark.parametrize("trigger, received", [("returns", b"hi\r\n"), ("waits", b"hi\r\ngoodbye\r\n")])
def test_a_goodbye_in_a_before_shutdown_trigger_arrives_only_if_the_trigger_waits(trigger, received, tmp_path):
    """Lesson 08, section 6: the reactor drops the connections right after the
    'before' triggers, so a goodbye is only sent when the trigger returns a
    Deferred that fires once the connections have closed."""
    import socket

    path = tmp_path / "goodbye.py"
    path.write_text(GOODBYE, encoding="utf-8")
    process = subprocess.Popen([sys.executable, str(path), trigger], stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            data = client.recv(100)
            process.send_signal(signal.SIGINT)
            assert process.wait(10) == 0
            while chunk := client.recv(100):
                data += chunk
    finally:
        process.kill()
        process.wait()
    assert data == received
