"""The broadcast board: a live picture of a room, with controls, in ipywidgets.

``Board(room)`` works on any room with the shared interface (a
`spreadlab.MemoryRoom` or a live room over TCP): the server in the middle,
each client as a card with what it received, the message spread last drawn
from its sender through the server to its receivers, and buttons to add a
client, send a line from one (cut into chunks as you choose), and close or
abort it.

Threads and bursts: the board listens to the room's trace, which a live room
records from the reactor thread.  The listener only raises a flag; a
`Redrawer` then draws in the kernel's thread, on its asyncio loop, at most
``rate`` times a second, however many events arrived.  A burst of 10,000
messages costs one or a few redraws, each card keeps only its last lines,
and the trace keeps everything for Python.  The loop runs when the kernel is
idle, so the board redraws between cells (or during an ``await``), never in
the middle of one.  Controls act through the room's own API, which for a
live room hands the work to the reactor thread.  Running a board's cell
again closes the board its earlier run made (`spreadlab.views.rerun`).

Only stock ipywidgets 8 widgets, no custom JavaScript; every byte a client
sent is escaped before it reaches HTML (`spreadlab.views.scene`).  Labels,
buttons and status lines are in the learner's language (`spreadlab.i18n`),
looked up when the board is built or drawn.
"""

from __future__ import annotations

import ipywidgets as widgets

from ..i18n import N_, _
from ..rooms.core import Client, Room
from ..rooms.trace import Trace, show_bytes
from ..servers.safety import html_text
from .redraw import Redrawer, close_all
from .rerun import replace_earlier_run
from .scene import Scene, bytes_html, scene_html
from .timeline import Timeline

__all__ = ["Board", "Still", "show", "CHUNKINGS", "Redrawer", "close_all"]

#: How a line typed on the board is cut before it reaches ``dataReceived``.
CHUNKINGS = [
    (N_("in one chunk"), "whole"),
    (N_("one byte at a time"), "bytes"),
    (N_("in 3-byte chunks"), 3),
    (N_("cut inside a UTF-8 character"), "split-utf8"),
]


def _lookup(room: Room, name: str) -> Client:
    """The connected client of *room* called *name*."""
    client = room.client(name)
    if not client.connected:
        raise KeyError(_("{name} is not connected ({ending})").format(name=name, ending=_(client.ending)))
    return client


class Board(widgets.VBox):
    """A live picture of *room* with controls; display it as a cell's last
    expression.

    ``lines``: lines kept on each client's card; ``rate``: most redraws per
    second; ``max_cards``: cards drawn (the connected clients first).  Build
    it, use its controls and read it from the kernel's thread.  Useful
    attributes: ``picture`` (the HTML widget), ``scene`` (what is drawn),
    ``redraws``, and the controls ``add_button``, ``sender``, ``line``,
    ``chunking``, ``send_button``, ``close_button``, ``abort_button``,
    ``status``.
    """

    def __init__(self, room: Room, *, lines: int = 8, rate: float = 10.0, max_cards: int = 8) -> None:
        self.room = room
        self.trace = room.trace
        self.scene = Scene(keep=lines)
        self.max_cards = max_cards

        self.picture = widgets.HTML()
        self.add_button = widgets.Button(description=_("add a client"), icon="plus")
        # Translators: the board's sender menu: the client a line is sent from.
        self.sender = widgets.Dropdown(description=_("from"), options=[], layout=widgets.Layout(width="170px"))
        self.sender.style.description_width = "40px"
        self.line = widgets.Text(placeholder=_("a line to send"), layout=widgets.Layout(width="260px"))
        self.chunking = widgets.Dropdown(options=[(_(label), how) for label, how in CHUNKINGS], value="whole",
                                         layout=widgets.Layout(width="230px"))
        self.send_button = widgets.Button(description=_("send"), icon="paper-plane", button_style="primary")
        # Translators: a button: the chosen client closes its connection cleanly.
        self.close_button = widgets.Button(description=_("close"),
                                           tooltip=_("the client closes its side: the server reads end-of-file"))
        # Translators: a button: the chosen client resets its connection (RST).
        self.abort_button = widgets.Button(description=_("abort"), button_style="danger",
                                           tooltip=_("reset the connection"))
        self.status = widgets.HTML()

        self.add_button.on_click(lambda _: self._act(self._add))
        self.send_button.on_click(lambda _: self._act(self._send))
        self.close_button.on_click(lambda _: self._act(lambda: self._close(abort=False)))
        self.abort_button.on_click(lambda _: self._act(lambda: self._close(abort=True)))

        send_row = [self.sender, self.line, self.chunking, self.send_button]
        controls = widgets.VBox(
            [
                widgets.HBox(send_row),
                widgets.HBox([self.add_button, self.close_button, self.abort_button]),
            ]
        )
        controls.add_class("spreadlab-board-controls")  # slides show the picture only
        super().__init__([self.picture, controls, self.status])

        self._redrawer = Redrawer(self._draw, rate=rate)
        self._unsubscribe = self.trace.subscribe(self._on_event)
        self._redrawer.request()
        self._redrawer.flush()  # draw what the room already holds, now
        replace_earlier_run(self)  # a cell run again: its earlier board stops

    # --- reading ----------------------------------------------------------------

    @property
    def redraws(self) -> int:
        """How many times the picture was drawn."""
        return self._redrawer.redraws

    def transcript(self, name: str) -> list[str]:
        """The lines shown on *name*'s card, as text (control and
        undecodable bytes as ``\\xNN``)."""
        return [show_bytes(line, None) for line in self.scene.cards[name].lines]

    def hidden(self, name: str) -> int:
        """How many earlier lines *name*'s card no longer shows."""
        return self.scene.cards[name].hidden

    def flush(self) -> bool:
        """Draw now what is pending.  In a notebook the kernel's loop does this
        by itself; call it from a script or a test.  Kernel's thread."""
        return self._redrawer.flush()

    def snapshot(self) -> "Still":
        """A still picture of the room as it is now: plain HTML that stays as
        it was (in the notebook, in exported HTML and slides) while the board
        moves on.  Kernel's thread."""
        self._redrawer.request()
        self._redrawer.flush()
        return Still(self.picture.value)

    def timeline(self):
        """A `spreadlab.views.timeline.Timeline` over this room's trace."""
        return Timeline(self.room)

    def close(self) -> None:
        """Stop listening to the room and close the widgets."""
        self._unsubscribe()
        self._redrawer.stop()
        close_all(self)

    # --- drawing (kernel's thread) ----------------------------------------------

    def _on_event(self, event) -> None:
        # Any thread (the reactor's for a live room): only ask for a drawing.
        self._redrawer.request()

    def _draw(self) -> None:
        try:
            self._draw_room()
        except Exception as error:  # on the kernel's loop nobody would see it: show it here
            problem = _("the board could not draw: {error}").format(error=f"{type(error).__name__}: {error}")
            self.status.value = f'<span style="color:#c92a2a">{html_text(problem)}</span>'

    def _draw_room(self) -> None:
        self.scene.extend(self.trace.events[self.scene.applied :])
        factory = self.room.factory
        self.picture.value = scene_html(
            self.scene,
            server=type(factory).__name__,
            num_protocols=getattr(factory, "numProtocols", None),  # a counting factory's, if it keeps one
            max_cards=self.max_cards,
            caption=_address_caption(self.room),
            tags={c.name: _terminal() for c in self.room.all_clients if c.external},
        )
        options = [
            (f"{c.name}{_terminal()}" if c.external else c.name, c.name)
            for c in self.room.clients
        ]
        if list(self.sender.options) != options:
            chosen = self.sender.value
            names = [name for _, name in options]
            self.sender.options = options
            # keep the choice if that client is still here, else the first one
            self.sender.value = chosen if chosen in names else (names[0] if names else None)

    # --- controls (kernel's thread) -----------------------------------------

    def _act(self, action) -> None:
        """Run a control's action; show its outcome (or error) on the board."""
        try:
            message = action()
        except Exception as error:  # a learner's protocol may raise: show it here
            self.status.value = (
                f'<span style="color:#c92a2a">{html_text(type(error).__name__)}: {html_text(str(error))}</span>'
            )
        else:
            self.status.value = message or ""
        self._redrawer.request()

    def _add(self) -> str:
        client = self.room.connect()
        if client.refused:
            return _("no protocol for {name}: its connect succeeded, then it read {ending}").format(
                name=html_text(client.name), ending=html_text(_(client.ending)))
        self.sender.options = list(self.sender.options) + [(client.name, client.name)]
        self.sender.value = client.name
        return _("{name} connected").format(name=html_text(client.name))

    def _send(self) -> str:
        name = self.sender.value
        if not name:
            return html_text(_("add a client first"))
        text = self.line.value
        client = _lookup(self.room, name)
        client.send(text + "\n", chunks=self.chunking.value)
        self.line.value = ""
        # Translators: {name} is a client's name; {text} the line it sent.
        return _("{name} sent “{text}”").format(name=html_text(name), text=bytes_html(text.encode("utf-8"), 60))

    def _close(self, abort: bool) -> str:
        name = self.sender.value
        if not name:
            return html_text(_("no client chosen"))
        client = _lookup(self.room, name)
        client.abort() if abort else client.close()
        done = _("{name} aborted") if abort else _("{name} closed")
        return done.format(name=html_text(name))


class Still:
    """A picture that does not change: shows as its HTML in a notebook."""

    def __init__(self, html: str) -> None:
        self.html = html

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return "<a still picture of a spreadlab board>"


def _address_caption(room: Room) -> str:
    """For a live room, how a terminal client joins it."""
    command = room.connect_command
    if not command:
        return ""
    join = html_text(_("join from a terminal:"))
    return (f'<div style="font-size:12px;color:#495057;margin-top:4px">{join} '
            f"<code>{html_text(command)}</code></div>")


def _terminal() -> str:
    """What follows the name of a client that joined from a terminal: " (terminal)"; no space
    before a full-width bracket ("（终端）"), as Chinese writes it."""
    # Translators: after a client's name: it connected from a terminal (nc), not from the board.
    word = _("(terminal)")
    return word if word[:1] in "（【" else " " + word


def show(what, **options):
    """A board for a room, or a timeline for a trace."""
    if isinstance(what, Trace):
        return Timeline(what, **options)
    return Board(what, **options)
