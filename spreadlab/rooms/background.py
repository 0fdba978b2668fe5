"""Twisted's reactor in a background thread, for notebooks.

A Jupyter kernel's main thread belongs to the kernel, so the reactor runs in a
daemon thread of its own, started once by `start_reactor` and kept running
until the process ends: a reactor cannot be restarted, so "stopping a server"
means stopping to listen and disconnecting, never ``reactor.stop()``.

Everything that touches the reactor from the notebook goes through the reactor
thread: `blocking_call` waits for the answer (with a timeout), `submit`
returns a ``concurrent.futures.Future``.  Both refuse to be called from the
reactor thread itself, where waiting would deadlock.

The traps of Twisted in Jupyter, measured on this machine, and what this
module does about each:

- ``reactor.run()`` in a cell would block the kernel, and a second one raises
  ``ReactorAlreadyRunning``; once the background reactor runs, ``reactor.run``
  and ``reactor.stop`` explain why they are not needed instead.
- ``reactor.callLater`` from the kernel's thread did not wake the reactor
  (the call fired ~2 s late), and Twisted's timed calls are lists and a
  counter that only the reactor thread may change (from a cell, under
  contention, the count of cancelled calls lost ~1000 updates).  Called
  from another thread, ``callLater`` now adds the call in the reactor thread
  and returns a `DelayedCallFromThread`, whose ``cancel``, ``reset`` and
  ``delay`` run there too: it works from a cell as a learner expects.
- The reactor's thread pool (``deferToThread``, ``callInThread``) made
  non-daemon threads when called from a cell (a thread inherits that from the
  thread that makes it), and Python waits for those before it exits: the
  kernel had to be killed.  The pool's threads are daemon threads here.
- Output printed in the reactor thread landed in whatever cell was running,
  or in the cell that last started a room.  ipykernel keeps the cell a
  thread's output belongs to in ``contextvars``; ``callLater`` and
  ``callFromThread`` now capture their caller's context and run the call in
  it (`spreadlab.rooms.cell_output`), so a timer prints under the cell, or
  the room, that set it, and its error reaches that room's ``errors``.  A
  live room routes its protocols' calls to its cell; what has no
  caller (a plain ``listenTCP``'s protocols, Twisted's own log) goes to the
  cell that last called `start_reactor`.  Outside IPython all of it goes to
  the process's stdout and stderr.
- Protocol code that blocks the reactor thread (``time.sleep`` in
  ``dataReceived``) made every wait time out with a message about the
  network; timeouts now say that the reactor thread is busy, and in which
  function of the learner's (`reactor_busy_in`).
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import linecache
import os
import sys
import sysconfig
import threading
import traceback
import warnings
from typing import Any, Callable

import twisted
from twisted.internet.defer import Deferred
from twisted.internet.error import ReactorAlreadyRunning
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import ILogObserver, LogLevel, formatEvent, globalLogBeginner, globalLogPublisher
from twisted.python import threadable
from zope.interface import implementer, provider

from ..i18n import N_, _
from .cell_output import _SHOWN, CellOutput, InCallersContext, _set_thread_parent

__all__ = [
    "start_reactor",
    "blocking_call",
    "submit",
    "in_reactor_thread",
    "reactor_busy_in",
    "CellOutput",
    "InReactorThread",
    "ReactorRunsInBackground",
    "ReactorStopped",
    "DEFAULT_TIMEOUT",
    "because_busy",
]

#: Seconds `blocking_call` waits before giving up.
DEFAULT_TIMEOUT = 10.0

_lock = threading.RLock()
_thread: threading.Thread | None = None
_prepared = False  # the pool, the log observer and the guards are in place


class InReactorThread(RuntimeError):
    """A call that waits for the reactor was made from the reactor thread."""


class ReactorStopped(RuntimeError):
    """The reactor was stopped; it cannot run again in this process."""


class ReactorRunsInBackground(ReactorAlreadyRunning):
    """``reactor.run()`` or ``reactor.stop()`` was called while spreadlab
    runs the reactor in its background thread."""


_RUN_EXPLAINED = N_("""\
reactor.run() is not needed here: the reactor is already running, in a \
background thread that spreadlab started, and it serves everything you \
listen on or connect to right away.  (It would also block this notebook \
until the kernel is restarted, and a reactor can run only once per process.)
To stop a server, stop listening: room.stop(), or port.stopListening().  \
To start afresh, restart the kernel.""")

_STOP_EXPLAINED = N_("""\
reactor.stop() refused: the reactor runs in spreadlab's background thread \
for as long as this kernel lives, because a stopped reactor can never be \
started again in the same process (ReactorNotRestartable).
To stop a server, stop listening and disconnect: room.stop(), or \
port.stopListening() and transport.loseConnection().  To start afresh, \
restart the kernel.""")


class NoReactorInBrowser(RuntimeError):
    """Raised in a browser tab (JupyterLite's Pyodide, ``sys.platform == "emscripten"``),
    which has no sockets and no threads, so no reactor: a short message, no traceback."""

    def _render_traceback_(self) -> list[str]:  # what IPython shows instead of a traceback
        return [f"{type(self).__name__}: {self}"]


_NO_REACTOR_IN_BROWSER = N_("""\
this needs Twisted's reactor (a live room, a real port, the classroom server), \
which cannot run in a browser tab: it has no network sockets and no threads. \
MemoryRoom works here; run this cell in JupyterLab (make lab) for real TCP.""")


def _reactor():
    if sys.platform == "emscripten":
        raise NoReactorInBrowser(_(_NO_REACTOR_IN_BROWSER))
    from twisted.internet import reactor

    return reactor


def in_reactor_thread() -> bool:
    """Is the calling thread the running reactor's thread?  Any thread."""
    return bool(_reactor().running) and threadable.isInIOThread()


def _refuse_in_reactor(what: str) -> None:
    if in_reactor_thread():
        raise InReactorThread(_(
            "{function}() was called from the reactor thread, where it would wait "
            "for itself forever.  Code running in the reactor thread (a "
            "protocol's method, a callback) can call the function directly, "
            "and return its Deferred if it has one.").format(function=what))


# --- Twisted's log, shown in the cell ------------------------------------------


@provider(ILogObserver)
def _show_problems(event: dict) -> None:
    """Show warnings and errors logged by Twisted (with their traceback) on
    stderr, in the cell whose output the logging thread is routed to."""
    level = event.get("log_level")
    if level not in (LogLevel.warn, LogLevel.error, LogLevel.critical):
        return
    failure = event.get("log_failure")
    legacy = event.get("failure")  # twisted.python.log.err(): already in log_text
    for f in (failure, legacy):
        if f is not None and getattr(f.value, _SHOWN, False):
            return
    text = formatEvent(event)
    if failure is not None:
        text = f"{text}\n{failure.getTraceback()}"
    if threading.current_thread() is _thread:
        text = f"[reactor thread] {text}"
    try:
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
        sys.stderr.flush()
    except Exception:
        pass  # never let a broken stream break the reactor


def _observe_logs() -> None:
    if getattr(globalLogBeginner, "_temporaryObserver", None) is not None:
        # Logging has not begun: begin it, replacing Twisted's start-up
        # observer (which prints critical events only, without routing).
        # Keep Python's own display of warnings as it was.
        showwarning = warnings.showwarning
        globalLogBeginner.beginLoggingTo([_show_problems], discardBuffer=True, redirectStandardIO=False)
        warnings.showwarning = showwarning
    else:
        globalLogPublisher.addObserver(_show_problems)


# --- the reactor thread --------------------------------------------------------


def start_reactor(timeout: float = 5.0, *, claim_output: bool = True):
    """Start Twisted's global reactor in a daemon thread, once, and return it.

    Safe to call again from any cell: the running reactor is returned.
    Code in the reactor thread prints under the cell that scheduled it
    (`InCallersContext`; a live room's protocols under the room's cell);
    with *claim_output*, the calling cell also becomes the place for what
    has no such cell (the protocols of a plain ``listenTCP``, errors logged
    by Twisted itself).  Raises `ReactorStopped` if the reactor was stopped
    (restart the kernel).  Any thread; from the reactor thread it just
    returns the reactor.
    """
    reactor = _reactor()
    if in_reactor_thread():
        return reactor
    _ensure_running(timeout)
    output = CellOutput.here()
    if claim_output and output._shell is not None:
        started = threading.Event()

        def route_reactor_thread() -> None:
            # Not reset on purpose: from now on this thread's output goes there.
            _set_thread_parent(output._shell, output._parent)
            started.set()

        # Not reactor.callFromThread: that would run it in a copy of this
        # cell's context, and the setting would not outlive the call.
        _original(reactor, "callFromThread")(route_reactor_thread)
        started.wait(timeout)
    return reactor


def _ensure_running(timeout: float = 5.0):
    """Start the reactor thread unless the reactor already runs (started by
    us, or by someone else in a thread of their own).  Any thread but the
    reactor's."""
    global _thread, _prepared
    reactor = _reactor()
    with _lock:
        if not _prepared:
            _keep_pool_from_blocking_exit(reactor)
            _observe_logs()
            _guard(reactor)
            _prepared = True
        if reactor.running:
            return reactor
        if getattr(reactor, "_startedBefore", False):
            raise ReactorStopped(_(
                "The Twisted reactor was stopped and cannot run again in this "
                "process (ReactorNotRestartable).  Restart the kernel "
                "(Kernel > Restart Kernel) to start afresh."))
        running = threading.Event()
        reactor.callWhenRunning(running.set)
        _thread = threading.Thread(
            target=_run, args=(reactor,), name="Twisted reactor (spreadlab)", daemon=True
        )
        _thread.start()
        if not running.wait(timeout):
            raise TimeoutError(f"the reactor thread did not start within {timeout} s")
    return reactor


def _run(reactor) -> None:
    try:
        type(reactor).run(reactor, installSignalHandlers=False)
    except BaseException:
        traceback.print_exc()


def _keep_pool_from_blocking_exit(reactor) -> None:
    """Make the reactor's thread pool start daemon threads.

    Python waits for every non-daemon thread before it exits, and the pool's
    threads only end when the reactor stops, which here it never does: a
    kernel that had used ``deferToThread`` could not shut down."""
    pool = reactor.getThreadPool()
    pool.threadFactory = functools.partial(threading.Thread, daemon=True)
    for thread in list(getattr(pool, "threads", [])):
        if thread.is_alive() and not thread.daemon:
            warnings.warn(
                "the reactor's thread pool already has a non-daemon thread; "
                "the kernel may take longer to shut down",
                RuntimeWarning,
                stacklevel=3,
            )
            break


def _guard(reactor) -> None:
    """Replace, on this reactor object only, ``run`` and ``stop`` by
    explanations; make ``callLater`` and ``callFromThread`` run what they
    are given in the context of their caller (`InCallersContext`); and make
    ``callLater`` from another thread run in the reactor thread
    (`DelayedCallFromThread`)."""
    if getattr(reactor, "_spreadlab_guarded", False):
        return
    original_call_later = reactor.callLater
    original_call_from_thread = reactor.callFromThread
    reactor._spreadlab_originals = {"callLater": original_call_later, "callFromThread": original_call_from_thread}

    def run(*args, **kwargs):
        raise ReactorRunsInBackground(_(_RUN_EXPLAINED))

    def stop():
        raise ReactorRunsInBackground(_(_STOP_EXPLAINED))

    def callLater(delay, f, *args, **kwargs):
        later = InCallersContext(f, "reactor.callLater")
        if threadable.isInIOThread() or not reactor.running:
            return original_call_later(delay, later, *args, **kwargs)
        # Twisted's timed calls are kept in lists the reactor thread changes
        # without a lock: add this one there, counted from now.
        due = reactor.seconds() + delay
        call = blocking_call(lambda: original_call_later(max(0.0, due - reactor.seconds()), later, *args, **kwargs))
        return DelayedCallFromThread(call)

    def callFromThread(f, *args, **kwargs):
        original_call_from_thread(InCallersContext(f, "reactor.callFromThread"), *args, **kwargs)

    callLater.__doc__ = original_call_later.__doc__
    callFromThread.__doc__ = original_call_from_thread.__doc__
    reactor.run = run
    reactor.stop = stop
    reactor.callLater = callLater
    reactor.callFromThread = callFromThread
    reactor._spreadlab_guarded = True


def _original(reactor, name: str) -> Callable[..., Any]:
    """The reactor's own method *name*, as it was before `_guard`."""
    return getattr(reactor, "_spreadlab_originals", {}).get(name) or getattr(reactor, name)


@implementer(IDelayedCall)
class DelayedCallFromThread:
    """What ``reactor.callLater`` returns to a thread other than the
    reactor's: the real ``DelayedCall``, made in the reactor thread, whose
    ``cancel``, ``reset`` and ``delay`` also run there (they change the
    reactor's timed calls, which only the reactor thread may touch), waiting
    for them.  Reading it (``active()``, ``getTime()``) works from any
    thread."""

    def __init__(self, call) -> None:
        self._call = call

    def getTime(self) -> float:
        return self._call.getTime()

    def active(self) -> bool:
        return self._call.active()

    def cancel(self) -> None:
        self._in_reactor(self._call.cancel)

    def reset(self, secondsFromNow: float) -> None:
        self._in_reactor(self._call.reset, secondsFromNow)

    def delay(self, secondsLater: float) -> None:
        self._in_reactor(self._call.delay, secondsLater)

    def _in_reactor(self, method: Callable[..., None], *args) -> None:
        if in_reactor_thread():
            method(*args)
        else:
            blocking_call(method, *args)

    def __getattr__(self, name: str):
        return getattr(self._call, name)  # func, args, kw, called, cancelled

    def __repr__(self) -> str:
        return repr(self._call)


# --- a reactor thread that is kept busy ----------------------------------------

# Where Twisted, spreadlab and Python's own modules live: code elsewhere is
# the learner's (a notebook cell, a file of theirs).
_LIBRARIES = tuple(
    {os.path.dirname(twisted.__file__) + os.sep, os.path.dirname(os.path.dirname(__file__)) + os.sep}
    | {sysconfig.get_path(name) + os.sep for name in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def _is_yours(frame) -> bool:
    """Is *frame* running code of the learner's (a notebook cell, a file of
    theirs), rather than Twisted's, spreadlab's or Python's?"""
    filename = frame.f_code.co_filename
    return not (filename.startswith(_LIBRARIES) or filename.startswith("<frozen"))


def _where(frame) -> str:
    """"line 4: time.sleep(3)", the line *frame* is at."""
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno, frame.f_globals).strip()
    if line:
        return _("line {number}: {code}").format(number=frame.f_lineno, code=line)
    return _("line {number} of {file}").format(number=frame.f_lineno, file=frame.f_code.co_filename)


def reactor_busy_in(patience: float = 0.2) -> str | None:
    """If the reactor thread is kept busy by the learner's code (it does
    not take a call within *patience* seconds, and their code is on its
    stack), say in which function: "the reactor thread is busy in your
    dataReceived (line 4: time.sleep(3))".  None otherwise: a reactor that
    is merely slow (a loaded machine) is not blamed.  Any thread but the
    reactor's (None there)."""
    thread = _thread
    if thread is None or not thread.is_alive() or in_reactor_thread():
        return None
    answered = threading.Event()
    _original(_reactor(), "callFromThread")(answered.set)
    if answered.wait(patience):
        return None
    frame = sys._current_frames().get(thread.ident)
    yours = []  # the innermost run of the learner's frames, innermost first
    while frame is not None:
        if _is_yours(frame):
            yours.append(frame)
        elif yours:
            break  # the code that called theirs (Twisted's, for a protocol's method)
        frame = frame.f_back
    if not yours:
        return None
    inner, outer = yours[0], yours[-1]
    if inner is outer:
        busy = _("the reactor thread is busy in your {function} ({where})")
    else:
        # Translators: {function} is the learner's method the reactor called; {inner} a function it called.
        busy = _("the reactor thread is busy in your {function}, in {inner} ({where})")
    busy = busy.format(function=outer.f_code.co_name, inner=inner.f_code.co_name, where=_where(inner))
    return _("{busy}: while it runs, the reactor cannot read, write or run timers for anyone.  "
             "Wait with reactor.callLater or task.deferLater instead of time.sleep, and move "
             "long work to a thread with threads.deferToThread").format(busy=busy)


def because_busy(busy: str | None, what: str) -> str:
    """*what* did not happen in time, blamed on *busy* (`reactor_busy_in`'s
    answer) when there is one: "the reactor thread is busy in ...; so *what*"."""
    return _("{busy}; so {what}").format(busy=busy, what=what) if busy else what


# --- calling into the reactor thread ------------------------------------------


def submit(f: Callable[..., Any], *args, **kwargs) -> concurrent.futures.Future:
    """Call ``f(*args, **kwargs)`` in the reactor thread, without waiting.

    Returns a ``concurrent.futures.Future`` for the result: *f*'s return
    value, or the result of the Deferred or coroutine it returns, or the
    exception it raised (with its traceback).  Cancelling the future before
    *f* starts prevents the call.  Starts the reactor if needed.  Any thread
    but the reactor's (`InReactorThread` there).
    """
    _refuse_in_reactor("submit")
    reactor = _reactor() if _reactor().running else start_reactor()
    future: concurrent.futures.Future = concurrent.futures.Future()

    def call() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = f(*args, **kwargs)
            if inspect.iscoroutine(result):
                result = Deferred.fromCoroutine(result)
        except BaseException as exc:
            future.set_exception(exc)
            return
        if not isinstance(result, Deferred):
            future.set_result(result)
            return
        future._deferred = result  # so that a timeout can cancel it

        def done(value):
            if not future.done():
                future.set_result(value)

        def failed(failure):
            if not future.done():
                future.set_exception(failure.value)

        result.addCallbacks(done, failed)

    reactor.callFromThread(call)
    return future


def blocking_call(f: Callable[..., Any], *args, timeout: float | None = DEFAULT_TIMEOUT, **kwargs):
    """Call ``f(*args, **kwargs)`` in the reactor thread and wait for it.

    Returns *f*'s result; if *f* returns a Deferred or a coroutine, waits for
    it and returns what it gives.  An exception raised there is raised here,
    with its traceback.  After *timeout* seconds (``None``: no limit) raises
    ``TimeoutError`` and cancels a Deferred that is still waiting.  (To pass
    *f* an argument called ``timeout``, wrap it in a lambda.)  Starts the
    reactor if needed.  Any thread but the reactor's: from there it raises
    `InReactorThread` instead of waiting for itself.
    """
    _refuse_in_reactor("blocking_call")
    future = submit(f, *args, **kwargs)
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        if future.done():  # the call itself raised TimeoutError
            raise
        future.cancel()

        def cancel() -> None:
            deferred = getattr(future, "_deferred", None)
            if deferred is not None and not future.done():
                deferred.cancel()

        _reactor().callFromThread(cancel)
        name = getattr(f, "__qualname__", repr(f))
        raise TimeoutError(because_busy(reactor_busy_in(), _(
            "{name} did not finish within {timeout} s in the reactor thread"
            " (a Deferred still waiting was cancelled)").format(name=name, timeout=timeout))) from None
