"""Performance runs for spreadlab: each prints figures and ratios against a
baseline measured in the same run.  They are not tests (nothing here asserts a
time); run them all with ``make bench`` or ``python -m benchmarks.run``.

- `benchmarks.bench_live`: the Spread server over real TCP on loopback, against
  a minimal Twisted fan-out server and a minimal asyncio one;
- `benchmarks.bench_memory`: a `MemoryRoom` with its trace, against a raw loop
  over bare StringTransports;
- `benchmarks.bench_lessons`: each notebook run top to bottom in a fresh
  kernel, against an empty notebook;
- `benchmarks.bench_calls`: a blocking call into the reactor thread, and kernel
  shutdown with a live room running;
- `benchmarks.bench_board` (the board's own benchmark, where it exists).
"""

import os as _os
import sys as _sys
import types as _types


def _bare_spreadlab() -> None:
    """Import ``spreadlab``'s modules without running its ``__init__`` (which
    pulls in the widgets, and everything else, for a lesson's one import):
    the benchmarks measure the modules they name, and start faster.

    ``BENCH_SPREADLAB=/some/dir/spreadlab`` measures another copy of the
    library (an older commit, for before/after figures); the servers
    started as subprocesses inherit it."""
    if "spreadlab" in _sys.modules:
        return
    here = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
    path = _os.environ.get("BENCH_SPREADLAB") or _os.path.join(here, "spreadlab")
    package = _types.ModuleType("spreadlab")
    package.__path__ = [_os.path.abspath(path)]
    package.__file__ = _os.path.join(package.__path__[0], "__init__.py")

    def __getattr__(name):  # ``from spreadlab import Board``: run the real __init__ then
        where = _os.path.join(package.__path__[0], name)
        if _os.path.exists(where + ".py") or _os.path.isdir(where):
            raise AttributeError(name)  # a submodule: the import system loads it
        del package.__getattr__
        with open(package.__file__, encoding="utf-8") as source:
            exec(compile(source.read(), package.__file__, "exec"), package.__dict__)
        try:
            return package.__dict__[name]
        except KeyError:
            raise AttributeError(name) from None

    package.__getattr__ = __getattr__
    _sys.modules["spreadlab"] = package


_bare_spreadlab()
