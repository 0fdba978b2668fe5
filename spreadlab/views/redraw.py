"""Drawing a view at a bounded rate, in the kernel's thread; closing a view.

A view (the board, the timeline) listens to a room's trace, which a live
room records from the reactor thread.  Its listener only raises a flag; a
`Redrawer` then draws in the kernel's thread, on its asyncio loop, at most
``rate`` times a second, however many events arrived, and once more as each
IPython cell finishes so that the cell's output keeps what it drew.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref

import ipywidgets as widgets

class Redrawer:
    """Calls *draw* soon after `request`, at most *rate* times a second.

    `request` may be called from any thread, as often as you like: it only
    raises a flag and, the first time, asks the asyncio loop that was running
    where the Redrawer was made (the kernel's, in a notebook) to draw, no
    sooner than ``1/rate`` seconds after the previous drawing.  *draw* always
    runs in that loop's thread.  Without a running loop (a script, a test)
    nothing is drawn until `flush` is called.  ``redraws`` counts drawings.
    """

    def __init__(self, draw, *, rate: float = 10.0, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._draw = draw
        self.interval = 1.0 / rate
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        self.loop = loop
        self.redraws = 0
        self._pending = False
        self._lock = threading.Lock()
        self._last = -float("inf")
        self._stopped = False
        if loop is not None:
            _flush_when_cells_finish(self)

    def request(self) -> None:
        """Ask for a drawing.  Any thread; cheap enough to call per event."""
        if self._pending or self._stopped:
            return
        with self._lock:
            if self._pending:
                return
            self._pending = True
        if self.loop is not None:
            try:
                self.loop.call_soon_threadsafe(self._arm)
            except RuntimeError:
                pass  # the loop is closed: the kernel is shutting down

    @property
    def pending(self) -> bool:
        """Whether something is waiting to be drawn."""
        return self._pending

    def _arm(self) -> None:
        delay = self._last + self.interval - time.monotonic()
        if delay <= 0:
            self.flush()
        else:
            self.loop.call_later(delay, self.flush)

    def flush(self) -> bool:
        """Draw now if a drawing is pending; returns whether it drew.  Call it
        from the loop's thread (or, without a loop, from the caller's).  In
        IPython it is also called when each cell finishes."""
        with self._lock:
            if not self._pending or self._stopped:
                return False
            self._pending = False
        self._last = time.monotonic()
        self.redraws += 1
        self._draw()
        return True

    def stop(self) -> None:
        """Draw no more: the view is closed.  Any thread."""
        with self._lock:
            self._stopped = True
            self._pending = False
        _flushed_after_cells.discard(self)


# Redrawers to flush when an IPython cell finishes (weakly held: a board that
# is gone is forgotten).
_flushed_after_cells: "weakref.WeakSet[Redrawer]" = weakref.WeakSet()


def _flush_when_cells_finish(redrawer: Redrawer) -> None:
    """In IPython, draw what is pending as each cell finishes (kernel's
    thread): the learner sees the result at once, and the drawing belongs to
    that cell, so a notebook executed by nbclient (exported HTML, slides)
    keeps the board as the cell left it.  The loop's drawing still handles
    what arrives between cells, from the reactor thread."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    _flushed_after_cells.add(redrawer)
    if _after_cell not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("post_run_cell", _after_cell)


def _after_cell(result=None) -> None:
    for redrawer in list(_flushed_after_cells):
        try:
            redrawer.flush()
        except Exception:  # a broken drawing must not break every cell after it
            pass


def close_all(widget) -> None:
    """Close *widget* and every widget inside it."""
    for child in getattr(widget, "children", ()):
        close_all(child)
    widgets.Widget.close(widget)


