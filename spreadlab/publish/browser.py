"""The browser edition's two cell magics, for lessons run in JupyterLite (Pyodide).

``%%expect_error``
    Runs the cell; if it raises, the traceback is printed (as a stream, as JupyterLab
    would show it) and the cell still succeeds.  JupyterLite cancels every queued cell
    after a cell fails, even one tagged ``raises-exception``, so a lesson's deliberate
    failure would otherwise end a learner's Run All there.
``%%needs_network``
    Does not run the cell; says that it needs Twisted's reactor and real TCP, which a
    browser tab does not have, and where it does run.

`spreadlab.publish.lite_lessons` puts them at the top of those cells when it builds the
browser edition; ``import spreadlab`` registers them when it runs in Pyodide
(``sys.platform == "emscripten"``).  What they say is in the learner's language
(`spreadlab.i18n`), looked up when shown.  Called from the kernel's (only) thread.
"""

from __future__ import annotations

import sys

from ..i18n import N_, _

__all__ = ["NEEDS_NETWORK_MESSAGE", "expect_error", "needs_network", "register"]

NEEDS_NETWORK_MESSAGE = N_(
    "This cell needs real network connections (Twisted's reactor, sockets, threads or a "
    "shell), which a browser tab does not have, so it is not run here. The in-memory cells "
    "around it work in the browser; to run this one, open the lesson in JupyterLab "
    "(make lab, see the README)."
)


def expect_error(line: str, cell: str) -> None:
    """Run ``cell``; show the error it raises without failing the cell."""
    shell = _shell()
    shown = []

    def show(etype, evalue, stb) -> None:
        shown.append(etype)
        print(shell.InteractiveTB.stb2text(stb), file=sys.stderr)

    shell._showtraceback = show  # instead of an error reply, which stops Run All
    try:
        shell.run_cell(cell, store_history=False)
    finally:
        del shell._showtraceback
    if shown:
        print(_("(This error is part of the lesson: the next cells still run.)"))


def needs_network(line: str, cell: str):
    """Show why ``cell`` does not run in the browser (an HTML box and plain text)."""
    import html

    from IPython.display import display

    message = _(NEEDS_NETWORK_MESSAGE)
    display({"text/plain": message,
             "text/html": '<div class="spreadlab-needs-network" style="border-left: 4px solid #c80; '
                          'padding: .4em .8em; background: #fff8e6">'
                          f"&#9888; {html.escape(message)}</div>"}, raw=True)


def _shell():
    from IPython import get_ipython

    return get_ipython()


def register(shell=None) -> bool:
    """Register the magics in the running IPython shell; False if there is none."""
    shell = shell or _shell()
    if shell is None:
        return False
    shell.register_magic_function(expect_error, "cell")
    shell.register_magic_function(needs_network, "cell")
    return True
