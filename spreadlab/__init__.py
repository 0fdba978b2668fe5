"""spreadlab: learn Twisted's Protocol, Factory and Transport by building the
Spread Site broadcast server, in JupyterLab.

One import brings the helpers a lesson needs::

    from spreadlab import *

"""

from .memory import MemoryClient, MemoryRoom, cut
from .spread import SpreadFactory, Spreader, WELCOME
from .trace import Event, Trace

__all__ = ["MemoryClient", "MemoryRoom", "cut", "SpreadFactory", "Spreader", "WELCOME", "Event", "Trace"]
__version__ = "0.1.0"

# The broadcast board, its timeline and the static diagram (issue 4).
from .board import Board, show  # noqa: E402
from .diagram import sequence_svg  # noqa: E402
from .timeline import Timeline  # noqa: E402

__all__ += ["Board", "Timeline", "show", "sequence_svg"]

# Live rooms over TCP, and the reactor in a background thread (issue 3).
from .background import blocking_call, start_reactor, submit  # noqa: E402
from .live import LiveClient, LiveRoom  # noqa: E402

__all__ += ["LiveRoom", "LiveClient", "start_reactor", "blocking_call", "submit"]
