"""A view made by a notebook cell replaces the views that cell's earlier run made.

Running ``Board(room)`` again in the same cell would otherwise leave the
earlier board listening to the room's trace and redrawing a widget that is no
longer shown: after five runs, five listeners and five widget updates per
line.  JupyterLab sends each execute request with the cell's id
(``metadata.cellId``, the same on every run of that cell) and its own
``msg_id`` (new on every run), which is how ipykernel's shell knows the
request it is running (``shell.get_parent()``); the live rooms stop their
earlier runs' rooms the same way.  Outside a kernel, or for a request with
no cell id (nbclient, a button's callback), nothing is replaced.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
#: cell id -> (the run that made them, the views that run made)
_views_of_cell: dict[str, tuple[str, list]] = {}


def running_cell() -> tuple[str | None, str | None]:
    """``(cell id, run id)`` of the notebook cell running now, or
    ``(None, None)`` outside a kernel.  Kernel's thread."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None, None
    shell = get_ipython()
    if shell is None or not hasattr(shell, "get_parent"):
        return None, None
    parent = shell.get_parent() or {}
    return (parent.get("metadata") or {}).get("cellId"), (parent.get("header") or {}).get("msg_id")


def replace_earlier_run(view) -> list:
    """Note *view* as made by the cell running now, and close (``close()``)
    the views an earlier run of that cell made; return those.  Views made by
    the same run (two boards in one cell) are all kept.  Kernel's thread."""
    cell, run = running_cell()
    if not cell or not run:
        return []
    with _lock:
        last_run, views = _views_of_cell.get(cell, (None, []))
        if last_run == run:
            views.append(view)
            return []
        _views_of_cell[cell] = (run, [view])
    for earlier in views:
        earlier.close()
    return views
