"""One ordered record of what happened in a room.

Every room (in memory or live over TCP) records the same kinds of events, in
the order they happened, stamped with a logical clock: the first event is at
time 1, the next at 2, and so on.  The same trace is printed for a learner,
asserted on by the tests, replayed by the board's timeline and drawn as a
sequence diagram.

Recording is thread-safe: a live room records from the reactor thread while a
notebook reads the trace from the kernel's thread.
"""

from __future__ import annotations

import threading
import time as _time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ..i18n import _
from ..servers.safety import is_invisible

# The kinds of event.  What the server's protocol and transport did is named
# in the words of Twisted's API; what came over the wire from the client is
# named as what it is on the wire (a connect, an end-of-file, a reset).
CONNECT = "connect"  # a client's connection arrived (the kernel accepted it)
NO_PROTOCOL = "no protocol"  # buildProtocol returned None or raised: the socket is closed
MADE = "connectionMade"  # the protocol's connectionMade was called
RECEIVED = "dataReceived"  # a chunk of bytes was handed to dataReceived
WRITE = "write"  # the protocol wrote bytes to its transport
LOSE = "loseConnection"  # the server asked for a clean close
ABORT = "abortConnection"  # the server asked for an immediate close (a reset)
EOF = "end-of-file"  # the client closed its side cleanly (FIN), as the server read it
RESET = "reset"  # the client reset the connection (RST), as the server saw it
ERROR = "error"  # the factory's or the protocol's code raised (detail: what, where)
LOST = "connectionLost"  # the protocol's connectionLost was called (detail: the reason)
REFUSED = NO_PROTOCOL  # the older name (it was never a TCP refusal)

KINDS = (CONNECT, NO_PROTOCOL, MADE, RECEIVED, WRITE, LOSE, ABORT, EOF, RESET, ERROR, LOST)
_KINDS = frozenset(KINDS)
_monotonic = _time.monotonic


def show_bytes(data: bytes, limit: int | None = 60) -> str:
    """Render bytes for a human: readable UTF-8 text where it decodes, with
    every control character, every invisible character (a bidirectional
    control, a zero-width character, a line separator) and every
    undecodable byte shown as an escape (``\\n``, ``\\x1b``,
    ``\\u202e``, ``\\xff``), never dropped.  Long data is cut at
    *limit* characters with an ellipsis."""
    out = []
    text = data.decode("utf-8", errors="surrogateescape")
    for ch in text:
        if 0xDC80 <= ord(ch) <= 0xDCFF:  # a byte that is not UTF-8
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\\":
            out.append("\\\\")
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
            out.append(f"\\x{ord(ch):02x}")
        elif is_invisible(ch):  # would reorder or hide the text around it
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    rendered = "".join(out)
    if limit is not None and len(rendered) > limit:
        rendered = rendered[: limit - 1] + "…"
    return rendered


@dataclass(frozen=True)
class Event:
    """One thing that happened.

    ``time`` is the logical clock (1, 2, 3, ...); ``kind`` one of ``KINDS``;
    ``client`` the name of the connection it concerns ("client 1");
    ``data`` the exact bytes for ``dataReceived`` and ``write``; ``detail``
    a short explanation (the reason of a ``connectionLost``, who asked for a
    close); ``at`` the wall-clock time (``time.monotonic()``) it was recorded.
    """

    time: int
    kind: str
    client: str
    data: bytes = b""
    detail: str = ""
    at: float = field(default=0.0, compare=False)

    def __str__(self) -> str:
        text = f"{self.time:>4}  {self.client:<10} {self.kind:<15}"
        if self.kind in (RECEIVED, WRITE):
            text += f'"{show_bytes(self.data)}"'
        if self.detail:
            text += f"  ({self.detail})"
        return text.rstrip()


def _check_kind(kind: object) -> None:
    """Refuse anything that is not one of `KINDS`."""
    try:
        known = kind in _KINDS
    except TypeError:  # unhashable: not a kind either
        known = False
    if not known:
        raise ValueError(f"unknown event kind {kind!r}; expected one of {KINDS}")


_RECORDED = object()  # marks an Event made by `record` in `Trace._unmade`


class Trace:
    """An ordered, append-only list of `Event`s with a logical clock.

    Iterate it, index it, ``len()`` it, filter it with `of` and print it.
    Listeners registered with `subscribe` are called with each new event,
    from the thread that recorded it (the reactor thread for a live room).
    """

    def __init__(self) -> None:
        self._events: list[Event] = []
        # What `add` recorded with nobody listening, after all of `_events`
        # and not yet made into Events (that happens on the first read): five
        # fields an event, kind, client, data, detail, at, in one flat list.
        # A room recording 100,000 writes then allocates no object the garbage
        # collector has to keep visiting (a tuple an event cost a third of
        # the memory room's time, in collections).
        # (`record` leaves its Event there too, as _RECORDED, event, and
        # three Nones, so that it need not make all the others first.)
        self._unmade: list = []
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[[Event], None], ...] = ()  # replaced, never mutated

    def _make(self) -> None:
        """Turn what waits in `_unmade` into Events.  Hold the lock."""
        unmade, events = self._unmade, self._events
        end = len(unmade)  # `add` may append meanwhile: only take these
        fields = [unmade[field:end:5] for field in range(5)]
        for number, (kind, client, data, detail, at) in enumerate(zip(*fields), len(events) + 1):
            if kind is _RECORDED:  # made by `record`: (_RECORDED, event, None, None, None)
                events.append(client)
            else:
                events.append(Event(number, kind, client, data, detail, at))
        del unmade[:end]

    def record(self, kind: str, client: str, data: bytes = b"", detail: str = "") -> Event:
        """Append one event and tell the listeners.  Any thread."""
        _check_kind(kind)
        data = bytes(data)
        at = _monotonic()
        with self._lock:
            unmade = self._unmade
            place = [None]  # a unique marker: our five fields
            unmade.extend((_RECORDED, place, None, None, None))
            # `add` appends without the lock: find our place from the end
            index = len(unmade) - 4
            while unmade[index] is not place:
                index -= 5
            event = unmade[index] = Event(len(self._events) + index // 5 + 1, kind, client, data, detail, at)
            listeners = self._listeners
        for listener in listeners:
            listener(event)
        return event

    def add(self, kind: str, client: str, data: bytes = b"", detail: str = "") -> None:
        """Like `record`, for the rooms' busy paths: returns nothing, so while
        nobody listens the `Event` is only made when the trace is read.  The
        events, their order and their times are the same.  Any thread."""
        if not self._listeners and type(kind) is str and kind in _KINDS:
            # one extend, atomic: no lock needed (readers make Events under it)
            self._unmade.extend((kind, client, data if type(data) is bytes else bytes(data), detail, _monotonic()))
        else:
            self.record(kind, client, data, detail)  # checks the kind, tells the listeners

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call *listener(event)* for every event recorded from now on.

        Returns a function that unsubscribes it."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    listeners = list(self._listeners)
                    listeners.remove(listener)
                    self._listeners = tuple(listeners)

        return unsubscribe

    # --- reading -----------------------------------------------------------

    @property
    def events(self) -> list[Event]:
        """A copy of the events so far."""
        with self._lock:
            self._make()
            return self._events[:]

    def __len__(self) -> int:
        with self._lock:
            return len(self._events) + len(self._unmade) // 5

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __getitem__(self, index):
        return self.events[index]

    def of(self, kind: str | None = None, client: str | None = None) -> list[Event]:
        """The events of one kind and/or one client, in order."""
        return [
            e
            for e in self.events
            if (kind is None or e.kind == kind) and (client is None or e.client == client)
        ]

    def kinds(self, client: str | None = None) -> list[str]:
        """Just the kinds of event, in order (handy in assertions)."""
        return [e.kind for e in self.of(client=client)]

    def written_to(self, client: str) -> bytes:
        """Every byte the server wrote to *client*, joined."""
        return b"".join(e.data for e in self.of(WRITE, client))

    def received_from(self, client: str) -> bytes:
        """Every byte the server's protocol received from *client*, joined."""
        return b"".join(e.data for e in self.of(RECEIVED, client))

    def text(self) -> str:
        """The whole trace as readable lines, one per event."""
        return "\n".join(str(e) for e in self.events)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"<Trace of {len(self)} events>"

    #: How many events a notebook's plain-text view shows (print() shows all).
    SHOWN = 200

    def _repr_pretty_(self, printer, cycle) -> None:
        if cycle:
            printer.text("Trace(...)")
            return
        events = self.events
        if len(events) <= self.SHOWN:
            printer.text("\n".join(str(e) for e in events))
            return
        hidden = len(events) - self.SHOWN
        printer.text(_("... {count} earlier events (print(trace) shows them all)").format(count=hidden) + "\n")
        printer.text("\n".join(str(e) for e in events[-self.SHOWN:]))

    #: How a notebook draws a trace as HTML; the views layer sets it (to the
    #: static sequence diagram) when ``spreadlab`` is imported, so that this
    #: module never imports a view.  None: the text form only.
    html_renderer = None  # Callable[[Trace], str] | None

    def _repr_html_(self) -> str | None:
        """In a notebook a trace shows as a sequence diagram (static SVG that
        survives export), or as text where no renderer is set."""
        render = type(self).html_renderer
        return render(self) if render is not None else None
