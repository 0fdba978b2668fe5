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

from ...rooms.program import ServerProgram
from ...rooms.terminal import Terminal
from .report import Report, Result, expect

__all__ = ["check_server_program"]

ANYWHERE = "tcp:0:interface=127.0.0.1"  # a port the system chooses, on loopback
PATIENCE = 3.0  # seconds, once the program listens somewhere: listening is immediate
ENDED_HINT = ("the program ended before it listened anywhere: the last lines of its output, above, say why "
              "(a Python error names the file and line to fix); run it in a terminal to see it all")


@contextlib.contextmanager
def _running(script: Path, *endpoints: str):
    """The script started with *endpoints*; stopped afterwards whatever
    happened.  A script that exits or stays silent fails the step."""
    try:
        program = ServerProgram(script, *endpoints, timeout=20)
    except RuntimeError as error:
        message = str(error)
        expect(False, _last_lines(message), ENDED_HINT if "exited with status" in message else "")
    try:
        yield program
    finally:
        program.stop()


def _last_lines(text: str, n: int = 6) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:1] + (["..."] if len(lines) > n + 1 else []) + lines[1:][-n:])


def check_server_program(script) -> Report:
    """Check a server program: pass the path of the script
    (``"spread_rooms.py"``)."""
    script = Path(script)
    report = Report(f"{script.name}: one server on every endpoint")
    if not script.exists():
        report.results.append(Result(f"{script.name} exists", False, f"there is no file {script}",
                                     "run the %%writefile cell first: it saves the script next to the notebook"))
        return report

    with contextlib.ExitStack() as stack:
        program, ports = None, []
        with report.step("it listens on every endpoint given on its command line",
                         hint="main(reactor, *where) gets every endpoint string: listen with the factory on each "
                              "one (endpoints.serverFromString(reactor, w).listen(factory)), not only where[0]"):
            program = stack.enter_context(_running(script, ANYWHERE, ANYWHERE))
            try:
                ports = program.listening_ports(2, timeout=PATIENCE)
            except RuntimeError as error:
                expect(False, _last_lines(str(error)))
            expect(len(set(ports)) == 2, f"the log names the ports {ports}")
        if report.results[-1].passed:
            _serving_checks(report, program, ports)
        else:
            report.results.append(Result(
                "it keeps serving, one chat and one factory on both ports, Ctrl-C (4 checks)", False,
                "not checked yet: they need the program listening on two ports first",
                "make the check above pass, then run the checker again"))

    with report.step("a port it cannot get ends the program with an error (exit status 1)",
                     hint="listen() reports a port it cannot get through its Deferred: combine the Deferreds "
                          "(defer.gatherResults; a DeferredList fails only with fireOnOneErrback=True) or await "
                          "each one, and make main's result depend on them, so "
                          "that react logs the error and ends the program; a Deferred nobody looks at only "
                          "reaches the log"):
        _taken_port(script)

    return report


def _serving_checks(report: Report, program: ServerProgram, ports: list[int]) -> None:
    """The steps that need the program listening on two ports."""
    with report.step("it keeps serving once it listens",
                     hint="react ends the program when main's Deferred fires: once every port listens, go on "
                          "with a Deferred that never fires (the lesson's serve), so it serves until Ctrl-C"):
        with contextlib.suppress(subprocess.TimeoutExpired):
            program.process.wait(0.5)
        expect(program.running, f"the program ended by itself, with status {program.process.returncode}, "
                                 "right after it started listening")
    if not report.results[-1].passed:
        report.results.append(Result(
            "one chat, one factory, Ctrl-C (3 checks)", False,
            "not checked: they need the program still running, and it had ended",
            "make the check above pass, then run the checker again"))
        return

    with report.step("one chat: a line typed on one port reaches a client of the other",
                     hint="a factory is one server: what its clients share (the list of clients) lives on it. "
                          "Make one factory and listen with that same factory on every endpoint"):
        with Terminal(program.host, ports[0]) as alice, Terminal(program.host, ports[1]) as bob:
            alice.read_line()
            bob.read_line()
            alice.type("across the ports")
            try:
                heard = bob.read_line(timeout=3)
            except (TimeoutError, ConnectionError) as error:
                heard = f"nothing ({error})"
            expect(heard.endswith("across the ports"),
                   f"Alice on port {ports[0]} typed a line; Bob on port {ports[1]} received {heard!r}")

    with report.step("one factory: startFactory runs once for both ports (one 'Starting factory' line)",
                     hint="each port calls its factory's doStart; a factory started twice is two factories, "
                          "two servers. Make the factory once, before listening"):
        starts = len(re.findall(r"Starting factory", program.log))
        expect(starts == 1, f"the log says 'Starting factory' {starts} times")

    with report.step("Ctrl-C ends it with exit status 0",
                     hint="let task.react run the reactor: it stops it on Ctrl-C and exits with status 0"):
        status = program.interrupt()
        expect(status == 0, f"after Ctrl-C the program exited with status {status}")


def _taken_port(script: Path, patience: float = PATIENCE) -> None:
    """The script with a free endpoint and one whose port is held."""
    with socket.create_server(("127.0.0.1", 0)) as holder:
        taken = holder.getsockname()[1]
        try:
            program = ServerProgram(script, ANYWHERE, f"tcp:{taken}:interface=127.0.0.1", timeout=20)
        except RuntimeError as error:  # it ended before listening anywhere
            message = str(error)
            expect("exited with status" in message and "exited with status 0" not in message,
                   _last_lines(message))
            expect("CannotListenError" in message or "Address already in use" in message,
                   "it ended, but not because of the taken port: " + _last_lines(message), ENDED_HINT)
            return
        try:
            try:
                status = program.process.wait(patience)
            except subprocess.TimeoutExpired:
                expect(False, f"{patience:g} s after it was given port {taken}, which is in use, the program "
                              "was still running")
            expect(status != 0, f"the program ended with status {status}, as if all was well")
        finally:
            program.stop()
