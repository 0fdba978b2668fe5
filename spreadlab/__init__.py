"""spreadlab: learn Twisted's Protocol, Factory and Transport by building the
Spread Site broadcast server, in JupyterLab.

One import brings the helpers a lesson needs::

    from spreadlab import *

- rooms, where a real factory builds real protocols for clients: `MemoryRoom`
  (in memory, deterministic) and `LiveRoom` (real TCP on loopback, the reactor
  in a background thread: `start_reactor`, `blocking_call`, `submit`);
- the Spread Site server done right: `SpreadFactory` and `Spreader`
  (the blog's original, flaws and all, is `spreadlab.servers.seed`);
- what happened in a room: `Trace` and its `Event`s;
- seeing it: `Board` (live), `Timeline` (replay), `sequence_svg` (static);
- checking yourself: `quiz`, and the checkers in `spreadlab.teaching.exercises`;
- the learner's language: `set_language("zh-CN")` (or `"en"`), at the top of a lesson.

The widgets and the reactor thread are imported on first use, so that
``python -m spreadlab serve`` does not load IPython and ipywidgets.
"""

import importlib
import sys

from .rooms.memory import MemoryClient, MemoryRoom, cut
from .servers.spread import WELCOME, SpreadFactory, Spreader
from .rooms.trace import Event, Trace
from .i18n import set_language

#: Names imported from their module the first time they are asked for.
_LAZY = {
    "Board": "views.board", "show": "views.board",
    "Timeline": "views.timeline",
    "sequence_svg": "views.diagram",
    "LiveRoom": "rooms.live", "LiveClient": "rooms.live",
    "start_reactor": "rooms.background", "blocking_call": "rooms.background",
    "submit": "rooms.background",
    "ServerProgram": "rooms.program", "run_program": "rooms.program", "Terminal": "rooms.terminal",
    "quiz": "teaching.quiz",
}
#: Modules a lesson may import by their short name (``from spreadlab import seed``).
_MODULES = {
    "seed": "servers.seed", "spread": "servers.spread", "safety": "servers.safety",
    "core": "rooms.core", "memory": "rooms.memory", "live": "rooms.live", "trace": "rooms.trace",
    "background": "rooms.background",
    "exercises": "teaching.exercises", "solutions": "teaching.solutions",
}

__all__ = [
    "MemoryRoom", "MemoryClient", "cut",
    "LiveRoom", "LiveClient", "start_reactor", "blocking_call", "submit",
    "ServerProgram", "run_program", "Terminal",
    "SpreadFactory", "Spreader", "WELCOME",
    "Trace", "Event",
    "Board", "Timeline", "show", "sequence_svg",
    "quiz", "set_language",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif name in _MODULES:
        value = importlib.import_module(f".{_MODULES[name]}", __name__)
    else:
        raise AttributeError(f"module 'spreadlab' has no attribute {name!r}")
    globals()[name] = value
    return value


def _draw_trace(trace: Trace) -> str:
    """A trace in a notebook: the static sequence diagram (imported on first use)."""
    from .views.diagram import sequence_svg

    return sequence_svg(trace)


Trace.html_renderer = staticmethod(_draw_trace)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_MODULES))


if sys.platform == "emscripten":  # the browser edition (JupyterLite): its two cell magics
    from .publish.browser import register as _register_browser_magics

    _register_browser_magics()
