"""Where the output of reactor-side code goes: the notebook cell that
scheduled that code.

ipykernel sends what a thread prints to the cell whose request is the
thread's "parent", and keeps that parent in ``contextvars`` (per thread and
per context).  The reactor runs in a thread of its own
(`spreadlab.rooms.background`), so without help its prints and errors land
in whatever cell happens to be running.  Two tools keep them where they
belong:

- `CellOutput`: a cell, captured while it runs (`CellOutput.here`), whose
  `routed` block sends the calling thread's output there; a live room wraps
  every call into protocol code in it;
- `InCallersContext`: a function to be called later in the reactor thread
  (``reactor.callLater``, ``reactor.callFromThread``), with a copy of the
  context of the code that scheduled it, so that it prints under that code's
  cell, and its error reaches that code's `CellOutput` (a room's ``errors``).

Outside a Jupyter kernel nothing is routed: output goes to the process's
stdout and stderr.
"""

from __future__ import annotations

import contextvars
import os
import sys
import traceback
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from twisted.python.failure import Failure

from ..i18n import _

__all__ = ["CellOutput", "InCallersContext"]

_SHOWN = "_spreadlab_shown"  # set on exceptions already shown to the learner
# Frames of these files are left out of the tracebacks shown to the learner.
_OUR_FILES = {os.path.join(os.path.dirname(__file__), name) for name in ("cell_output.py", "background.py", "live.py")}


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
    if not tokens:
        return
    resetter = getattr(shell, "reset_thread_parent", None)
    if resetter is not None:
        resetter(tokens)
        return
    for reset, token in reversed(tokens):
        reset(token)


#: The `CellOutput` the code running now reports to: set by `CellOutput.routed`
#: (a live room sets it around every call into protocol code), and carried,
#: with the rest of the context, into the calls that code schedules.
_reporting_to: contextvars.ContextVar["CellOutput | None"] = contextvars.ContextVar(
    "spreadlab_reporting_to", default=None
)


class CellOutput:
    """The notebook cell that reactor-side output belongs to.

    Made with `here` in the kernel's thread while a cell runs; used in the
    reactor thread with `routed`, so that ``print`` and tracebacks from
    protocol code appear under that cell rather than under whichever cell
    happens to be running.  Outside a Jupyter kernel it does nothing and
    output goes to the process's stdout and stderr.

    *keep*, if given, is called (reactor thread) with the ``Failure`` of an
    exception raised by a call that code routed here scheduled (a timer a
    protocol set): a live room keeps them in its ``errors``.
    """

    def __init__(self, shell=None, parent=None, keep: Callable[[Failure], None] | None = None) -> None:
        self._shell = shell
        self._parent = parent
        self._keep = keep

    @classmethod
    def here(cls, keep: Callable[[Failure], None] | None = None) -> "CellOutput":
        """The output of the cell running now.  Kernel's thread."""
        shell = _ipython_shell()
        if shell is None:
            return cls(keep=keep)
        return cls(shell, shell.get_parent(), keep)

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
        Calls scheduled from within the block (``reactor.callLater``) report
        here too.  Reactor thread (any thread works)."""
        reporting = _reporting_to.set(self)
        tokens = _set_thread_parent(self._shell, self._parent) if self._shell is not None and self._parent else ()
        try:
            yield
        finally:
            _reset_thread_parent(self._shell, tokens)
            _reporting_to.reset(reporting)

    def show(self, text: str) -> None:
        """Write *text* to stderr in this cell.  Any thread.  What was printed
        before it is sent first: the kernel sends stdout in batches, so an
        error shown at once would appear above the prints that preceded it."""
        with self.routed():
            sys.stdout.flush()
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
        self.show(_("{where}; the reactor keeps serving:").format(where=where) + "\n" + text)
        try:
            setattr(exc, _SHOWN, True)
        except Exception:
            pass


class InCallersContext:
    """*f*, to be called later in the reactor thread, in the context of the
    code that scheduled it (``contextvars``, where ipykernel keeps the cell
    a thread's output belongs to): so a timer set by a cell or by protocol
    code prints under that cell, whichever cell runs when it fires.

    An exception it raises is shown there, with its traceback, and given to
    the `CellOutput` that code reported to (a live room keeps it in its
    ``errors``); then raised again for Twisted to handle as it does.  Made
    in any thread; called in the reactor thread.
    """

    def __init__(self, f: Callable[..., Any], how: str) -> None:
        self.f = f
        self.how = how
        self._context = contextvars.copy_context()

    def __call__(self, *args, **kwargs):
        return self._context.run(self._call, *args, **kwargs)

    def _call(self, *args, **kwargs):
        try:
            return self.f(*args, **kwargs)
        except Exception as exc:
            if not getattr(exc, _SHOWN, False):
                output = _reporting_to.get() or CellOutput()
                if output._keep is not None:
                    output._keep(Failure())
                name = getattr(self.f, "__qualname__", None) or repr(self.f)
                # Translators: {error} is an exception's class; {function} what raised it; {how} what called it.
                output.show_exception(exc, _("{error} in {function}, called by {how}").format(
                    error=type(exc).__name__, function=name, how=self.how))
            raise

    @property
    def __wrapped__(self) -> Callable[..., Any]:
        return self.f

    def __repr__(self) -> str:
        return repr(self.f)
