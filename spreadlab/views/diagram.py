"""A static sequence diagram of a trace, as inline SVG.

``sequence_svg(trace)`` draws one lifeline for the server and one per
client, and one row per event: an arrow for every chunk the server received
(client → server) and every write (server → client), labelled with the
bytes; the closes and ``connectionLost`` marked where they happened.  A
trace that is the last expression of a cell shows as this diagram
(``Trace._repr_html_``).

Why SVG and not Mermaid: JupyterLab 4 renders Mermaid itself, but exported
HTML and nbconvert slides render it with JavaScript fetched from a CDN, so
offline (or with scripts blocked) a Mermaid diagram is a blank box or raw
source.  Inline SVG is plain markup: it shows in JupyterLab, in exported
HTML and in slides with no kernel, no JavaScript and no network.  (JupyterLab
sanitises the HTML of an *untrusted* notebook, one reopened with outputs
saved elsewhere, and drops the SVG there until the cell is run again; the
lessons are stored without outputs.)

Every byte from a client is escaped (`spreadlab.servers.safety.html_text`), so a
client cannot put markup or script into the page.  Its words are in the
learner's language (`spreadlab.i18n`); Twisted's names stay as they are.
Pure function, any thread.
"""

from __future__ import annotations

from ..i18n import _
from ..rooms import trace as T
from ..servers.safety import html_text
from .scene import SENT_COLOUR, WRITE_COLOUR, kind_label

_MONO = "ui-monospace,SFMono-Regular,Menlo,Consolas,monospace"
_LEFT = 60  # room for the event numbers
_COLUMN = 230  # between two lifelines
_TOP = 56  # below the lifeline heads
_ROW = 30
_CLOSE_COLOUR = "#495057"
_ABORT_COLOUR = "#c92a2a"


def sequence_svg(trace: T.Trace, *, limit: int = 300, label: int = 30) -> str:
    """The sequence diagram of *trace* as a self-contained HTML fragment (an
    ``<svg>`` in a scrolling ``<div>``).

    At most *limit* events are drawn (the first ones; a note says how many
    more the trace holds); labels show at most *label* characters of the
    bytes, with undecodable bytes and control characters as ``\\xNN``; hover
    an arrow to see more of them."""
    events = trace.events
    shown = events[:limit]
    clients = list(dict.fromkeys(e.client for e in shown))
    x = {"server": _LEFT + _COLUMN / 2}
    for i, name in enumerate(clients, start=1):
        x[name] = _LEFT + _COLUMN / 2 + i * _COLUMN
    width = int(_LEFT + _COLUMN * (len(clients) + 1) + 120)
    more = len(events) - len(shown)
    height = int(_TOP + _ROW * (len(shown) + (1 if more else 0)) + 30)

    parts = [
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    for name, cx in x.items():
        fill = "#f1f3f5" if name == "server" else "#e7f5ff"
        head = _("server") if name == "server" else name
        parts.append(
            f'<line x1="{cx}" y1="{_TOP - 14}" x2="{cx}" y2="{height - 10}" stroke="#adb5bd" '
            f'stroke-dasharray="4 4"/>'
            f'<rect x="{cx - 80}" y="8" width="160" height="30" rx="6" fill="{fill}" stroke="#343a40"/>'
            f'<text x="{cx}" y="28" text-anchor="middle" font-size="13" font-weight="bold" '
            f'fill="#212529">{html_text(head)}</text>'
        )
    for row, event in enumerate(shown):
        y = _TOP + _ROW * row + _ROW / 2 + 4
        parts.append(
            f'<text x="{_LEFT - 10}" y="{y + 4}" text-anchor="end" font-size="11" fill="#868e96">'
            f"{event.time}</text>"
        )
        parts.append(_row(event, x, y, label))
    if more:
        y = _TOP + _ROW * len(shown) + _ROW / 2 + 8
        note = _("… and {count} more events (the trace keeps them all: print(trace))").format(count=f"{more:,}")
        parts.append(f'<text x="{_LEFT}" y="{y}" font-size="12" fill="#495057">{html_text(note)}</text>')
    if not events:
        nothing = html_text(_("nothing happened yet"))
        parts.append(f'<text x="{_LEFT}" y="{_TOP + 20}" font-size="12" fill="#495057">{nothing}</text>')
    label = html_text(_("sequence diagram of {count} events").format(count=len(events)))
    return (
        '<div class="spreadlab-diagram" style="overflow-x:auto;max-width:100%">'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{label}" '
        f'style="font-family:{_MONO}">' + "".join(parts) + "</svg></div>"
    )


def _row(event: T.Event, x: dict, y: float, label: int) -> str:
    server, client = x["server"], x[event.client]
    title = f"{event.time} {event.client} {kind_label(event.kind)}"
    if event.kind in (T.RECEIVED, T.WRITE):
        text = f"“{html_text(T.show_bytes(event.data, label))}”"
        title += f' "{T.show_bytes(event.data, 300)}"'
        if event.kind == T.RECEIVED:
            body = _arrow(client, server, y, SENT_COLOUR, text)
        else:
            body = _arrow(server, client, y, WRITE_COLOUR, text)
    elif event.kind == T.CONNECT:
        body = _arrow(client, server, y, _CLOSE_COLOUR, html_text(kind_label(event.kind)), dashed=True)
    elif event.kind == T.NO_PROTOCOL:
        # Translators: the server built no protocol for a connection, so the client reads end-of-file.
        body = _arrow(server, client, y, _ABORT_COLOUR, html_text(_("no protocol: end-of-file")), dashed=True)
    elif event.kind == T.MADE:
        body = _note(client, y, "connectionMade", "#2b8a3e")
    elif event.kind == T.ERROR:
        body = _note(client, y, f"{kind_label(event.kind)} {event.detail}"[:label + 20], _ABORT_COLOUR)
    elif event.kind in (T.LOSE, T.ABORT):  # the server's protocol asked for it
        colour = _ABORT_COLOUR if event.kind == T.ABORT else _CLOSE_COLOUR
        body = _arrow(server, client, y, colour, event.kind, dashed=True)
    elif event.kind in (T.EOF, T.RESET):  # what came from the client, on the wire
        colour = _ABORT_COLOUR if event.kind == T.RESET else _CLOSE_COLOUR
        body = _arrow(client, server, y, colour, html_text(kind_label(event.kind)), dashed=True)
    else:  # connectionLost
        reason = event.detail.split(":")[0]
        body = (
            _note(client, y, f"connectionLost({reason})" if reason else "connectionLost", _CLOSE_COLOUR)
            + f'<text x="{client}" y="{y + 5}" text-anchor="middle" font-size="16" '
            f'fill="{_ABORT_COLOUR}">✕</text>'
        )
    if event.detail:
        title += f" ({event.detail})"
    return f"<g><title>{html_text(title)}</title>{body}</g>"


def _arrow(x0: float, x1: float, y: float, colour: str, text: str, dashed: bool = False) -> str:
    """A horizontal arrow from x0 to x1 at height y, *text* (already escaped)
    above its middle."""
    direction = 1 if x1 > x0 else -1
    tip = x1 - direction * 2
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    return (
        f'<line x1="{x0}" y1="{y}" x2="{tip - direction * 8}" y2="{y}" stroke="{colour}" stroke-width="2"{dash}/>'
        f'<polygon points="{tip},{y} {tip - direction * 10},{y - 5} {tip - direction * 10},{y + 5}" fill="{colour}"/>'
        f'<text x="{(x0 + x1) / 2}" y="{y - 6}" text-anchor="middle" font-size="12" fill="{colour}">{text}</text>'
    )


def _note(cx: float, y: float, text: str, colour: str) -> str:
    """A small label beside a client's lifeline (a call on its protocol)."""
    return (
        f'<text x="{cx + 10}" y="{y + 4}" font-size="11" fill="{colour}">'
        f"{html_text(text)}</text>"
    )
