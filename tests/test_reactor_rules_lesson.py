"""Lesson 09's checker, `check_patient`, tested both ways (right answers
written differently from the solution accepted, misconceptions rejected with
the hint naming each), and the lesson's claims about a blocked reactor,
threads and Deferreds checked over real TCP."""

from __future__ import annotations

import re
import threading
import time

import pytest
from conftest import report_count
from lesson_runs import run_lesson
from twisted.internet import defer, task
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, serverFromString
from twisted.internet.error import CannotListenError, ConnectionRefusedError
from twisted.internet.protocol import Protocol

from spreadlab import LiveRoom, SpreadFactory, Spreader, Terminal, blocking_call, start_reactor
from spreadlab.teaching.exercises import check_patient
from spreadlab.teaching.solutions.reactor import PatientFactory

pytestmark = pytest.mark.timeout(180)


def factory_for(line_received):
    protocol = type("Answer", (Spreader,), {"lineReceived": line_received})
    return type("AnswerFactory", (SpreadFactory,), {"protocol": protocol})


# --- right answers ----------------------------------------------------------------------------------


def with_defer_later(self, line):
    if line.strip() == b"/slow":
        task.deferLater(self.factory.clock, 2, self.sendLine, b"done")
        return
    super(type(self), self).lineReceived(line)


def defer_later_then_callback(self, line):
    if line.rstrip(b"\r") != b"/slow":
        return super(type(self), self).lineReceived(line)
    later = task.deferLater(self.factory.clock, 2)
    later.addCallback(lambda _: self.transport.write(b"done\r\n"))


def awaiting(self, line):
    if line.strip() == b"/slow":
        async def answer():
            await task.deferLater(self.factory.clock, 2)
            self.sendLine(b"done")
        defer.ensureDeferred(answer())
    else:
        super(type(self), self).lineReceived(line)


def lambda_and_write(self, line):
    if line.strip() != b"/slow":
        super(type(self), self).lineReceived(line)
    else:
        self.factory.clock.callLater(2.0, lambda: self.transport.write(b"done\n"))


RIGHT = [("solution", PatientFactory), ("deferLater", factory_for(with_defer_later)),
         ("deferLater + callback", factory_for(defer_later_then_callback)), ("await", factory_for(awaiting)),
         ("lambda, transport.write", factory_for(lambda_and_write))]


@pytest.mark.parametrize("name, answer", RIGHT, ids=[r[0] for r in RIGHT])
def test_right_answers_are_accepted(name, answer, request):
    report = check_patient(answer)
    assert report, str(report)
    if answer is not PatientFactory:
        report_count(request.config, "right answers accepted")


# --- wrong answers --------------------------------------------------------------------------------


def sleeps(self, line):
    if line.strip() == b"/slow":
        time.sleep(2)
        self.sendLine(b"done")
        return
    super(type(self), self).lineReceived(line)


def calls_it_now(self, line):
    if line.strip() == b"/slow":
        self.factory.clock.callLater(2, self.sendLine(b"done"))  # the result, not the function
        return
    super(type(self), self).lineReceived(line)


def other_clock(self, line):
    from twisted.internet import reactor

    if line.strip() == b"/slow":
        reactor.callLater(2, self.sendLine, b"done")  # not the factory's clock: a test cannot move it
        return
    super(type(self), self).lineReceived(line)


def spreads_the_command(self, line):
    if line.strip() == b"/slow":
        self.factory.clock.callLater(2, self.sendLine, b"done")
    super(type(self), self).lineReceived(line)  # no return: /slow is spread too


def busy_waits(self, line):
    if line.strip() == b"/slow":
        until = self.factory.clock.seconds() + 2
        start = time.monotonic()
        while self.factory.clock.seconds() < until and time.monotonic() - start < 2:
            pass  # a loop instead of a sleep: it holds the reactor all the same
        self.sendLine(b"done")
        return
    super(type(self), self).lineReceived(line)


def tells_everyone(self, line):
    if line.strip() == b"/slow":
        def answer():
            for client in self.factory.clients:
                client.sendLine(b"done")  # the answer is for the one who asked
        self.factory.clock.callLater(2, answer)
        return
    super(type(self), self).lineReceived(line)


def exact_bytes(self, line):
    if line == b"/slow":  # telnet's b"/slow\r" is not recognised
        self.factory.clock.callLater(2, self.sendLine, b"done")
        return
    super(type(self), self).lineReceived(line)


def sends_str(self, line):
    if line.strip() == b"/slow":
        self.factory.clock.callLater(2, self.sendLine, "done")  # str: a transport carries bytes
        return
    super(type(self), self).lineReceived(line)


WRONG = [
    ("sendLine('done')", sends_str, "done arrives 2 s later on the factory's clock, not before", "carries bytes"),
    ("done to everyone", tells_everyone, "done arrives 2 s later on the factory's clock, not before",
     "the one who asked"),
    ("line == b'/slow'", exact_bytes, "done arrives 2 s later on the factory's clock, not before",
     "line.strip()"),
    ("time.sleep", sleeps, "lineReceived returns at once: the reactor is free while /slow waits",
     "time.sleep holds the reactor"),
    ("callLater(f())", calls_it_now, "done arrives 2 s later on the factory's clock, not before",
     "not the result of calling it"),
    ("reactor.callLater", other_clock, "done arrives 2 s later on the factory's clock, not before",
     "self.factory.clock"),
    ("no return", spreads_the_command, "meanwhile the others talk as usual, and /slow itself is not spread",
     "a command is answered, not spread"),
    ("busy loop", busy_waits, "lineReceived returns at once: the reactor is free while /slow waits",
     "holds the reactor's only thread"),
]


@pytest.mark.parametrize("name, line_received, step, named", WRONG, ids=[w[0] for w in WRONG])
def test_wrong_answers_are_rejected_with_the_misconception_named(name, line_received, step, named, request):
    report = check_patient(factory_for(line_received))
    assert not report, f"{name} was accepted:\n{report}"
    misses = {r.what: r.hint for r in report.failed}
    assert step in misses, f"{name}: {step!r} passed:\n{report}"
    assert named in misses[step], misses[step]
    assert "a method your class inherits" not in str(report), str(report)  # the checker's own clients are not the learner's
    report_count(request.config, "wrong answers rejected")


def test_the_starter_scores_zero_with_a_hint_to_begin():
    report = check_patient(factory_for(sleeps))  # the lesson's starter is the blocking /slow
    assert sum(r.passed for r in report.results) == 0
    assert "time.sleep holds the reactor" in report.results[0].hint


# --- the lesson's claims, over real TCP -------------------------------------------------------------


def test_a_sleep_in_one_protocol_delays_every_other_client():
    class Sleepy(SpreadFactory):
        protocol = factory_for(sleeps).protocol

    with LiveRoom(Sleepy()) as room:
        alice, bob, carol = (Terminal(room.host, room.port) for _ in range(3))
        for t in (alice, bob, carol):
            t.read_line()
        start = time.monotonic()
        bob.type("normal")
        carol.read_line()
        normal = time.monotonic() - start
        alice.type("/slow")
        time.sleep(0.2)
        start = time.monotonic()
        bob.type("during")
        carol.read_line()
        during = time.monotonic() - start
        for t in (alice, bob, carol):
            t.close()
    assert normal < 0.5 and during > 1.5, (normal, during)


def test_defer_to_thread_keeps_the_reactor_free_and_its_threads_are_daemons():
    from twisted.internet import threads

    def work():
        time.sleep(1)
        return threading.current_thread().daemon

    start_reactor()
    waiting = blocking_call(lambda: [threads.deferToThread(work)])[0]  # a Deferred, not waited for
    start = time.monotonic()
    assert blocking_call(lambda: "the reactor answers") == "the reactor answers"
    assert time.monotonic() - start < 0.5
    assert blocking_call(lambda: waiting) is True  # the pool thread was a daemon


def test_call_from_thread_runs_in_the_reactor_thread():
    from twisted.internet import reactor
    from twisted.python import threadable

    start_reactor()
    seen = []
    done = threading.Event()

    def in_reactor():
        seen.append(threadable.isInIOThread())
        done.set()

    thread = threading.Thread(target=lambda: reactor.callFromThread(in_reactor))
    thread.start()
    thread.join()
    assert done.wait(5) and seen == [True]


def test_listen_and_connect_deferreds_errback_as_the_lesson_says():
    from twisted.internet import reactor

    start_reactor()
    port = blocking_call(serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen, SpreadFactory())
    number = port.getHost().port
    with pytest.raises(CannotListenError):
        blocking_call(serverFromString(reactor, f"tcp:{number}:interface=127.0.0.1").listen, SpreadFactory())
    blocking_call(port.stopListening)
    with pytest.raises(ConnectionRefusedError):
        blocking_call(connectProtocol, TCP4ClientEndpoint(reactor, "127.0.0.1", number), Protocol())


# --- the lesson itself, with the folded solution typed in ------------------------------------------

def test_the_lesson_measures_what_it_says(tmp_path):
    """Lesson 09 run as a learner who typed the folded solution: the checker
    passes, and the delays it prints are the ones its text explains."""
    printed, shown = run_lesson("09-reactor-rules", tmp_path, solved=True)
    assert "all 4 checks passed" in shown, shown
    waits = [float(ms) for ms in re.findall(r"Carol waited ([\d.]+) ms", printed)]
    assert len(waits) == 3, printed
    normal, while_sleeping, while_in_a_thread = waits
    assert normal < 500 and while_sleeping > 1500 and while_in_a_thread < 500, waits
    assert "Alice's last lines: ['done', 'client 2: is anyone there?']" in printed
    assert "Alice: alice: a fine name" in printed
    assert "Carol: the server restarts in 5 minutes" in printed
    assert "nothing yet\nhello, Alice" in printed
    assert re.search(r"could not listen: Couldn't listen on 127.0.0.1:\d+: \[Errno 98\] Address already in use", printed)
    assert re.search(r"connected\nrefused: Connection was refused by other side", printed), printed
    assert re.search(r"listened on \d+ and connected to it", printed)


def test_the_errback_example_in_the_text_prints_what_it_says(capsys):
    import nbformat

    from lesson_runs import NOTEBOOKS

    text = next(c.source for c in nbformat.read(NOTEBOOKS / "09-reactor-rules.ipynb", 4).cells
                if c.cell_type == "markdown" and "d.errback(ValueError" in c.source)
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    promised = re.search(r"# prints: (.*)", code).group(1)
    exec(code, {"Deferred": defer.Deferred})
    assert capsys.readouterr().out.strip() == promised


def test_the_chinese_lesson_measures_what_it_says(tmp_path):
    """The Chinese edition of lesson 09, with its folded solution (参考答案) typed in: the
    checker passes, and the delays and results it prints in Chinese are the ones its text explains."""
    printed, shown = run_lesson("09-reactor-rules", tmp_path, solved=True, edition="zh-CN")
    assert shown.count("✔") == 4 and "✘" not in shown, shown  # the checker's four checks, in either language
    waits = [float(ms) for ms in re.findall(r"Carol 等了 ([\d.]+) 毫秒", printed)]
    assert len(waits) == 3, printed
    normal, while_sleeping, while_in_a_thread = waits
    assert normal < 500 and while_sleeping > 1500 and while_in_a_thread < 500, waits
    assert "Alice 收到的最后几行： ['done', 'client 2: is anyone there?']" in printed
    assert "Alice： alice: a fine name" in printed
    assert "Carol： the server restarts in 5 minutes" in printed
    assert "还什么都没有\n你好，Alice" in printed
    assert re.search(r"无法监听：Couldn't listen on 127.0.0.1:\d+: \[Errno 98\] Address already in use", printed)
    assert re.search(r"已连接\n被拒绝：Connection was refused by other side", printed), printed
    assert re.search(r"在 \d+ 上监听过，也连上了它", printed)


def test_the_chinese_errback_example_prints_what_it_says(capsys):
    import nbformat

    from lesson_runs import NOTEBOOKS

    text = next(c.source for c in nbformat.read(NOTEBOOKS / "zh-CN" / "09-reactor-rules.ipynb", 4).cells
                if c.cell_type == "markdown" and "d.errback(ValueError" in c.source)
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    promised = re.search(r"# 打印：(.*)", code).group(1)
    exec(code, {"Deferred": defer.Deferred})
    assert capsys.readouterr().out.strip() == promised


def test_a_blocked_reactor_runs_no_timer_either():
    """The lesson says a sleeping reactor "ran no timer, for anyone": a call
    due in 0.1 s runs only once the sleep is over."""
    from twisted.internet import reactor

    start_reactor()
    fired = threading.Event()
    when = []

    def block():
        start = time.monotonic()
        reactor.callLater(0.1, lambda: (when.append(time.monotonic() - start), fired.set()))
        time.sleep(1.0)

    blocking_call(block)
    assert fired.wait(5)
    assert when[0] >= 1.0, when


def test_stop_listening_returns_a_deferred():
    from twisted.internet import reactor

    start_reactor()
    port = blocking_call(serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen, SpreadFactory())
    stopping = blocking_call(lambda: [port.stopListening()])[0]
    assert isinstance(stopping, defer.Deferred)
    blocking_call(lambda: stopping)


def test_a_timer_given_the_wrong_thing_does_not_fail_later_in_another_cell(capfd):
    """``callLater(2, self.sendLine(b"done"))`` schedules None: checked live, that timer would fire
    two seconds after the checker returned, printing a TypeError under whatever cell runs then.
    The checker cancels the timers its live run left pending."""
    report = check_patient(factory_for(calls_it_now))
    assert not report
    capfd.readouterr()
    time.sleep(3)  # past the two seconds the learner's timer asked for
    out, err = capfd.readouterr()
    assert "not callable" not in out + err, out + err
