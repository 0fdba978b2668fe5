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
- ``reactor.callLater`` from the kernel's thread does not wake the reactor
  (the call fired ~2 s late): calls from other threads now wake it.
- The reactor's thread pool (``deferToThread``, ``callInThread``) made
  non-daemon threads when called from a cell (a thread inherits that from the
  thread that makes it), and Python waits for those before it exits: the
  kernel had to be killed.  The pool's threads are daemon threads here.
- Output printed in the reactor thread landed in whatever cell was running:
  it now goes to the cell that started the reactor or the server (a
  `CellOutput`), and errors logged by Twisted are shown there with their
  traceback.  Outside IPython they go to the process's stderr.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import inspect
import sys
import threading
import traceback
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from twisted.internet.defer import Deferred
from twisted.internet.error import ReactorAlreadyRunning
from twisted.logger import ILogObserver, LogLevel, formatEvent, globalLogBeginner, globalLogPublisher
from twisted.python import threadable
from zope.interface import provider

__all__ = [
    "start_reactor",
    "blocking_call",
    "submit",
    "in_reactor_thread",
    "CellOutput",
    "InReactorThread",
    "ReactorRunsInBackground",
    "ReactorStopped",
    "DEFAULT_TIMEOUT",
]

#: Seconds `blocking_call` waits before giving up.
DEFAULT_TIMEOUT = 10.0

_lock = threading.RLock()
_thread: threading.Thread | None = None
_prepared = False  # the pool, the log observer and the guards are in place
_SHOWN = "_spreadlab_shown"  # set on exceptions already shown to the learner
_OUR_FILES = {__file__, __file__.replace("background.py", "live.py")}


class InReactorThread(RuntimeError):
    """A call that waits for the reactor was made from the reactor thread."""


class ReactorStopped(RuntimeError):
    """The reactor was stopped; it cannot run again in this process."""


class ReactorRunsInBackground(ReactorAlreadyRunning):
    """``reactor.run()`` or ``reactor.stop()`` was called while spreadlab
    runs the reactor in its background thread."""


_RUN_EXPLAINED = """\
reactor.run() is not needed here: the reactor is already running, in a \
background thread that spreadlab started, and it serves everything you \
listen on or connect to right away.  (It would also block this notebook \
until the kernel is restarted, and a reactor can run only once per process.)
To stop a server, stop listening: room.stop(), or port.stopListening().  \
To start afresh, restart the kernel."""

_STOP_EXPLAINED = """\
reactor.stop() refused: the reactor runs in spreadlab's background thread \
for as long as this kernel lives, because a stopped reactor can never be \
started again in the same process (ReactorNotRestartable).
To stop a server, stop listening and disconnect: room.stop(), or \
port.stopListening() and transport.loseConnection().  To start afresh, \
restart the kernel."""


class NoReactorInBrowser(RuntimeError):
    """Raised in a browser tab (JupyterLite's Pyodide, ``sys.platform == "emscripten"``),
    which has no sockets and no threads, so no reactor: a short message, no traceback."""

    def _render_traceback_(self) -> list[str]:  # what IPython shows instead of a traceback
        return [f"{type(self).__name__}: {self}"]


_NO_REACTOR_IN_BROWSER = """\
this needs Twisted's reactor (a live room, a real port, the classroom server), \
which cannot run in a browser tab: it has no network sockets and no threads. \
MemoryRoom works here; run this cell in JupyterLab (make lab) for real TCP."""


def _reactor():
    if sys.platform == "emscripten":
        raise NoReactorInBrowser(_NO_REACTOR_IN_BROWSER)
    from twisted.internet import reactor

    return reactor


def in_reactor_thread() -> bool:
    """Is the calling thread the running reactor's thread?  Any thread."""
    return bool(_reactor().running) and threadable.isInIOThread()


def _refuse_in_reactor(what: str) -> None:
    if in_reactor_thread():
        raise InReactorThread(
            f"{what}() was called from the reactor thread, where it would wait "
            "for itself forever.  Code running in the reactor thread (a "
            "protocol's method, a callback) can call the function directly, "
            "and return its Deferred if it has one."
        )


# --- where reactor-side output goes ------------------------------------------


def _ipython_shell():
    """The running IPython kernel's shell, or None (plain Python, pytest)."""
    if "IPython" not in sys.modules:
        return None
    try:
        shell = sys.modules["IPython"].get_ipython()
    except Exception:
        return None
    if shell is None or not hasattr(shell, "get_parent"):
        return None  # a terminal IPython: its output needs no routing
    return shell


def _set_thread_parent(shell, parent) -> tuple:
    """Send the calling thread's output to the cell whose request is
    *parent*; returns tokens for `_reset_thread_parent`.  Any thread.

    ipykernel 7.4 has ``shell.set_thread_parent`` for this.  Older ones (7.3
    is the newest for Python 3.10) keep the same per-thread context variables
    (``_parent_header``) on the shell, its display hook and publisher and the
    output streams, but no public call to set them for one thread only:
    ``shell.set_parent`` would also move every other thread's output.
    """
    setter = getattr(shell, "set_thread_parent", None)
    if setter is not None:
        return setter(parent)
    from jupyter_client.session import extract_header

    header = extract_header(parent)
    tokens = []
    for obj, value in [(shell, parent), (shell.displayhook, header), (shell.display_pub, header),
                       (sys.stdout, header), (sys.stderr, header)]:
        var = getattr(obj, "_parent_header", None)
        if isinstance(var, contextvars.ContextVar):
            tokens.append((var.reset, var.set(value)))
    return tuple(tokens)


def _reset_thread_parent(shell, tokens: tuple) -> None:
    """Undo `_set_thread_parent`.  The thread that called it."""
    resetter = getattr(shell, "reset_thread_parent", None)
    if resetter is not None:
        resetter(tokens)
        return
    for reset, token in reversed(tokens):
        reset(token)


class CellOutput:
    """The notebook cell that reactor-side output belongs to.

    Made with `here` in the kernel's thread while a cell runs; used in the
    reactor thread with `routed`, so that ``print`` and tracebacks from
    protocol code appear under that cell rather than under whichever cell
    happens to be running.  Outside a Jupyter kernel it does nothing and
    output goes to the process's stdout and stderr.
    """

    def __init__(self, shell=None, parent=None) -> None:
        self._shell = shell
        self._parent = parent

    @classmethod
    def here(cls) -> "CellOutput":
        """The output of the cell running now.  Kernel's thread."""
        shell = _ipython_shell()
        if shell is None:
            return cls()
        return cls(shell, shell.get_parent())

    @property
    def cell_id(self) -> str | None:
        """The notebook's id for the cell (JupyterLab sends it; it stays the
        same when the cell is run again), or None.  Any thread."""
        return ((self._parent or {}).get("metadata") or {}).get("cellId")

    @property
    def run_id(self) -> str | None:
        """The id of this run of the cell (its execute request), or None.
        Any thread."""
        return ((self._parent or {}).get("header") or {}).get("msg_id")

    @contextmanager
    def routed(self) -> Iterator[None]:
        """Within the block, output of the calling thread goes to this cell.
        Reactor thread (any thread works)."""
        if self._shell is None or not self._parent:
            yield
            return
        tokens = _set_thread_parent(self._shell, self._parent)
        try:
            yield
        finally:
            _reset_thread_parent(self._shell, tokens)

    def show(self, text: str) -> None:
        """Write *text* to stderr in this cell.  Any thread."""
        with self.routed():
            stream = sys.stderr
            stream.write(text if text.endswith("\n") else text + "\n")
            stream.flush()

    def show_exception(self, exc: BaseException, where: str) -> None:
        """Show an exception raised by protocol code, with its traceback,
        and mark it as shown so that Twisted's log of it is not shown twice.
        Reactor thread."""
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename in _OUR_FILES:
            tb = tb.tb_next  # start the traceback at the learner's code
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        self.show(f"{where}; the reactor keeps serving:\n{text}")
        try:
            setattr(exc, _SHOWN, True)
        except Exception:
            pass


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


def start_reactor(timeout: float = 5.0):
    """Start Twisted's global reactor in a daemon thread, once, and return it.

    Safe to call again from any cell: the running reactor is returned.  Each
    call from a notebook cell makes that cell the place where reactor-side
    output without a room of its own (prints, errors logged by Twisted)
    appears.  Raises `ReactorStopped` if the reactor was stopped (restart the
    kernel).  Any thread; from the reactor thread it just returns the reactor.
    """
    reactor = _reactor()
    if in_reactor_thread():
        return reactor
    _ensure_running(timeout)
    output = CellOutput.here()
    if output._shell is not None:
        started = threading.Event()

        def route_reactor_thread() -> None:
            # Not reset on purpose: from now on this thread's output goes there.
            _set_thread_parent(output._shell, output._parent)
            started.set()

        reactor.callFromThread(route_reactor_thread)
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
            raise ReactorStopped(
                "The Twisted reactor was stopped and cannot run again in this "
                "process (ReactorNotRestartable).  Restart the kernel "
                "(Kernel > Restart Kernel) to start afresh."
            )
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
    explanations, and make ``callLater`` from other threads wake it."""
    if getattr(reactor, "_spreadlab_guarded", False):
        return
    original_call_later = reactor.callLater

    def run(*args, **kwargs):
        raise ReactorRunsInBackground(_RUN_EXPLAINED)

    def stop():
        raise ReactorRunsInBackground(_STOP_EXPLAINED)

    def callLater(delay, f, *args, **kwargs):
        call = original_call_later(delay, f, *args, **kwargs)
        if not threadable.isInIOThread():
            reactor.wakeUp()  # re-computes its timeout, taking this call in
        return call

    callLater.__doc__ = original_call_later.__doc__
    reactor.run = run
    reactor.stop = stop
    reactor.callLater = callLater
    reactor._spreadlab_guarded = True


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
        raise TimeoutError(
            f"{name} did not finish within {timeout} s in the reactor thread"
            " (a Deferred still waiting was cancelled)"
        ) from None
