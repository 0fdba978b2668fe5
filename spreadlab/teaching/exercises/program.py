"""Checker for lesson 08, A server program.

- `check_server_program`: a script that serves the Spread server on every
  endpoint given on its command line (``python spread_rooms.py ENDPOINT
  ENDPOINT...``), with **one** factory, keeps serving until Ctrl-C, and ends
  with an error status when one of its endpoints cannot listen.

The script is judged as a terminal user would find it: run as a process of
its own (`spreadlab.rooms.program.ServerProgram`), on loopback ports the
system chooses, with terminal clients (`spreadlab.rooms.terminal.Terminal`)
on each of its ports, and read through its log.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
from pathlib import Path

from ...i18n import N_, _
from ...rooms.program import ServerProgram
from ...rooms.terminal import Terminal
from .report import Report, Result, expect

__all__ = ["check_server_program"]

ANYWHERE = "tcp:0:interface=127.0.0.1"  # a port the system chooses, on loopback
PATIENCE = 3.0  # seconds, once the program listens somewhere: listening is immediate
ENDED_HINT = N_("the program ended before it listened anywhere: the last lines of its output, above, say why "
                "(a Python error names the file and line to fix); run it in a terminal to see it all")


@contextlib.contextmanager
def _running(script: Path, *endpoints: str):
    """The script started with *endpoints*; stopped afterwards whatever
    happened.  A script that exits or stays silent fails the step."""
    try:
        program = ServerProgram(script, *endpoints, timeout=20)
    except RuntimeError as error:
        message = str(error)
        expect(False, _last_lines(message), _(ENDED_HINT) if _exit_status(message) is not None else "")
    try:
        yield program
    finally:
        program.stop()


def _exit_status(message: str) -> int | None:
    """The exit status a `ServerProgram` error names ("exited with status 1", worded in the
    learner's language as the error is), or None when the program had not exited."""
    wording = re.escape(_("exited with status {status}")).replace(re.escape("{status}"), r"(-?\d+)")
    found = re.search(wording, message)
    return int(found.group(1)) if found else None


def _last_lines(text: str, n: int = 6) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:1] + (["..."] if len(lines) > n + 1 else []) + lines[1:][-n:])


def check_server_program(script) -> Report:
    """Check a server program: pass the path of the script
    (``"spread_rooms.py"``)."""
    script = Path(script)
    report = Report(_("{script}: one server on every endpoint").format(script=script.name))
    if not script.exists():
        report.results.append(Result(_("{script} exists").format(script=script.name), False,
                                     _("there is no file {script}").format(script=script),
                                     N_("run the %%writefile cell first: it saves the script next to the notebook")))
        return report

    with contextlib.ExitStack() as stack:
        program, ports = None, []
        with report.step(N_("it listens on every endpoint given on its command line"),
                         hint=N_("main(reactor, *where) gets every endpoint string: listen with the factory on "
                                 "each one (endpoints.serverFromString(reactor, w).listen(factory)), not only "
                                 "where[0]")):
            program = stack.enter_context(_running(script, ANYWHERE, ANYWHERE))
            try:
                ports = program.listening_ports(2, timeout=PATIENCE)
            except RuntimeError as error:
                expect(False, _last_lines(str(error)))
            expect(len(set(ports)) == 2, _("the log names the ports {ports}").format(ports=ports))
        if report.results[-1].passed:
            _serving_checks(report, program, ports)
        else:
            report.results.append(Result(
                N_("it keeps serving, one chat and one factory on both ports, Ctrl-C (4 checks)"), False,
                N_("not checked yet: they need the program listening on two ports first"),
                _AGAIN_HINT))

    with report.step(N_("a port it cannot get ends the program with an error (exit status 1)"),
                     hint=N_("listen() reports a port it cannot get through its Deferred: combine the Deferreds "
                             "(defer.gatherResults; a DeferredList fails only with fireOnOneErrback=True) or await "
                             "each one, and make main's result depend on them, so "
                             "that react logs the error and ends the program; a Deferred nobody looks at only "
                             "reaches the log")):
        _taken_port(script)

    return report


_AGAIN_HINT = N_("make the check above pass, then run the checker again")


def _serving_checks(report: Report, program: ServerProgram, ports: list[int]) -> None:
    """The steps that need the program listening on two ports."""
    with report.step(N_("it keeps serving once it listens"),
                     hint=N_("react ends the program when main's Deferred fires: once every port listens, go on "
                             "with a Deferred that never fires (the lesson's serve), so it serves until Ctrl-C")):
        with contextlib.suppress(subprocess.TimeoutExpired):
            program.process.wait(0.5)
        expect(program.running, _("the program ended by itself, with status {status}, right after it started "
                                  "listening").format(status=program.process.returncode))
    if not report.results[-1].passed:
        report.results.append(Result(
            N_("one chat, one factory, Ctrl-C (3 checks)"), False,
            N_("not checked: they need the program still running, and it had ended"),
            _AGAIN_HINT))
        return

    with report.step(N_("one chat: a line typed on one port reaches a client of the other"),
                     hint=N_("a factory is one server: what its clients share (the list of clients) lives on it. "
                             "Make one factory and listen with that same factory on every endpoint")):
        with Terminal(program.host, ports[0]) as alice, Terminal(program.host, ports[1]) as bob:
            alice.read_line()
            bob.read_line()
            alice.type("across the ports")
            try:
                heard = bob.read_line(timeout=3)
            except (TimeoutError, ConnectionError) as error:
                heard = _("nothing ({error})").format(error=error)
            expect(heard.endswith("across the ports"),
                   _("Alice on port {alice} typed a line; Bob on port {bob} received {heard}").format(
                       alice=ports[0], bob=ports[1], heard=repr(heard)))

    with report.step(N_("one factory: startFactory runs once for both ports (one 'Starting factory' line)"),
                     hint=N_("each port calls its factory's doStart; a factory started twice is two factories, "
                             "two servers. Make the factory once, before listening")):
        starts = len(re.findall(r"Starting factory", program.log))
        expect(starts == 1, _("the log says 'Starting factory' {count} times").format(count=starts))

    with report.step(N_("Ctrl-C ends it with exit status 0"),
                     hint=N_("let task.react run the reactor: it stops it on Ctrl-C and exits with status 0")):
        status = program.interrupt()
        expect(status == 0, _("after Ctrl-C the program exited with status {status}").format(status=status))


def _taken_port(script: Path, patience: float = PATIENCE) -> None:
    """The script with a free endpoint and one whose port is held."""
    with socket.create_server(("127.0.0.1", 0)) as holder:
        taken = holder.getsockname()[1]
        try:
            program = ServerProgram(script, ANYWHERE, f"tcp:{taken}:interface=127.0.0.1", timeout=20)
        except RuntimeError as error:  # it ended before listening anywhere
            message = str(error)
            expect(_exit_status(message) not in (None, 0), _last_lines(message))
            expect("CannotListenError" in message or "Address already in use" in message,
                   _("it ended, but not because of the taken port: {output}").format(output=_last_lines(message)),
                   _(ENDED_HINT))
            return
        try:
            try:
                status = program.process.wait(patience)
            except subprocess.TimeoutExpired:
                expect(False, _("{seconds:g} s after it was given port {port}, which is in use, the program was "
                                "still running").format(seconds=patience, port=taken))
            expect(status != 0, _("the program ended with status {status}, as if all was well").format(status=status))
        finally:
            program.stop()
