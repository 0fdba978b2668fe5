"""spreadlab: learn Twisted's Protocol, Factory and Transport by building the
Spread Site broadcast server, in JupyterLab.

One import brings the helpers a lesson needs::

    from spreadlab import *

- rooms, where a real factory builds real protocols for clients: `MemoryRoom`
  (in memory, deterministic) and `LiveRoom` (real TCP on loopback, the reactor
  in a background thread: `start_reactor`, `blocking_call`, `submit`);
- the Spread Site server done right: `SpreadFactory` and `Spreader`
  (the blog's original, flaws and all, is `spreadlab.seed`);
- what happened in a room: `Trace` and its `Event`s;
- seeing it: `Board` (live), `Timeline` (replay), `sequence_svg` (static);
- checking yourself: `quiz`, and the checkers in `spreadlab.exercises`.

The widgets and the reactor thread are imported on first use, so that
``python -m spreadlab serve`` does not load IPython and ipywidgets.
"""

import importlib

from .memory import MemoryClient, MemoryRoom, cut
from .spread import WELCOME, SpreadFactory, Spreader
from .trace import Event, Trace

#: Names imported from their module the first time they are asked for.
_LAZY = {
    "Board": "board", "show": "board",
    "Timeline": "timeline",
    "sequence_svg": "diagram",
    "LiveRoom": "live", "LiveClient": "live",
    "start_reactor": "background", "blocking_call": "background", "submit": "background",
    "quiz": "quiz",
}

__all__ = [
    "MemoryRoom", "MemoryClient", "cut",
    "LiveRoom", "LiveClient", "start_reactor", "blocking_call", "submit",
    "SpreadFactory", "Spreader", "WELCOME",
    "Trace", "Event",
    "Board", "Timeline", "show", "sequence_svg",
    "quiz",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'spreadlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
