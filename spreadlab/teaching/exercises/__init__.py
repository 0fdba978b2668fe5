"""Self-checking exercises: run a checker on what you wrote, read the hints.

Each lesson's checkers live in a module of their own (``protocol``,
``factory``, ``transport``, ``spread``, ``testing``) and are all importable
from here::

    from spreadlab.teaching.exercises import check_shouting_echo
    check_shouting_echo(ShoutingEcho)

A checker returns a `Report`: it shows which behaviours passed and, for each
that did not, what was seen and a hint that names the misconception.  Each
checker is a table of cases (`cases`), judged on what clients receive and
whether they are still connected, never on exact bytes where more than one
answer is right; an unchanged starting point scores zero with a hint to begin.
"""

from .report import Miss, Report, Result, expect

__all__ = ["Miss", "Report", "Result", "expect"]

# Each lesson's module adds its checkers to __all__.
from . import protocol, factory, transport, spread, testing  # noqa: E402

_name = None
for _module in (protocol, factory, transport, spread, testing):
    for _name in getattr(_module, "__all__", []):
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)
del _module, _name

from .client import check_visitor  # noqa: E402  (lesson 10, Clients)
__all__.append("check_visitor")
from .reactor import check_patient  # noqa: E402  (lesson 09, The reactor's rules)
__all__.append("check_patient")
from .program import check_server_program  # noqa: E402  (lesson 08, A server program)
__all__.append("check_server_program")
