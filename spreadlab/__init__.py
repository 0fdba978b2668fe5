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
"""

from .memory import MemoryClient, MemoryRoom, cut
from .spread import WELCOME, SpreadFactory, Spreader
from .trace import Event, Trace
from .board import Board, show
from .diagram import sequence_svg
from .timeline import Timeline
from .background import blocking_call, start_reactor, submit
from .live import LiveClient, LiveRoom
from .quiz import quiz

__all__ = [
    "MemoryRoom", "MemoryClient", "cut",
    "LiveRoom", "LiveClient", "start_reactor", "blocking_call", "submit",
    "SpreadFactory", "Spreader", "WELCOME",
    "Trace", "Event",
    "Board", "Timeline", "show", "sequence_svg",
    "quiz",
]
__version__ = "0.1.0"
